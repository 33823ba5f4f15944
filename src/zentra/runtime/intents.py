"""Payment intents through the runtime state machine, in the caller's transaction.

:func:`submit_intent` runs one intent from ``accepted`` to ``evidenced`` (or ``rejected``) at
once, each step kept in the trace with its time and announced as ``runtime.intent.state_changed``
in the same transaction (the outbox)::

    accepted      the contract is valid (the schema) and the intent_id is new
    controlled    policy (runtime/policy.py): every check's result is kept as evidence
    ledgered      source -> reserved_balance, posted (runtime/flows.py)
    routed        the first usable rail of the first matching route (runtime/routing.py);
                  the rail assigns the provider reference, and the movement is created
    synchronized  the transitions above are in the outbox, with this one
    evidenced     actor, scope, policy result and time sealed with the tenant's Ed25519 key

The rail is chosen *before* money is reserved, so an intent with no usable rail is rejected
without a posting; the ledger step runs in a savepoint, so a refusal by the ledger (an account
of another currency, a non-negative source without funds) rolls back whatever it wrote and the
intent is rejected ``ledger_refused``. A rejected intent posts nothing, is still sealed with its
evidence, and keeps its place in the audit chain.

``intent_id`` is the idempotency key: the same id with the same content answers the stored
intent (whatever state it reached); with other content :class:`DuplicateResource` names the
fields that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import INTENT_STATE_CHANGED
from zentra.ingest.hashing import movement_content_hash
from zentra.kit.canonical import canonical_hash
from zentra.kit.context import ActorContext
from zentra.kit.errors import Conflict, DuplicateResource, NotFound, ZentraError
from zentra.kit.ids import new_id
from zentra.kit.pagination import clamp_limit, page_of
from zentra.kit.references import reference_key
from zentra.kit.time import as_utc, isoformat, utcnow
from zentra.ledger.schemas import EntryRequest, PostingIn
from zentra.ledger.service import create_entry, ensure_account
from zentra.models import Movement
from zentra.models.runtime import Intent
from zentra.runtime import flows, repository
from zentra.runtime.evidence import (
    IntentKey,
    evidence_digest,
    seal_intent_evidence,
    verify_intent_evidence,
)
from zentra.runtime.policy import IntentFacts, PolicyDecision, evaluate_policy
from zentra.runtime.routing import RailState, RouteDecision, choose_rail
from zentra.runtime.sandbox import sandbox_reference
from zentra.runtime.schemas import IntentIn
from zentra.runtime.settings import READ_ROLES, load_policy, load_routes
from zentra.runtime.states import REJECTED, trace_step

MOVEMENT_TYPE = "payment"
MOVEMENT_STATUS = "pending"


@dataclass(frozen=True, slots=True)
class SubmittedIntent:
    """The intent, and whether this request created it (False: a replay)."""

    intent: Intent
    created: bool


class _Run:
    """One intent on its way through the state machine: trace, events and clock."""

    def __init__(self, session: Session, ctx: ActorContext, intent: Intent) -> None:
        self.session = session
        self.ctx = ctx
        self.intent = intent
        self.announced: list[str] = []

    def now(self) -> datetime:
        # Steps are ordered in time as well as in the list: a clock that stepped back (NTP)
        # must not make a later step look earlier.
        now = utcnow()
        trace = self.intent.trace
        if trace:
            last = datetime.fromisoformat(trace[-1]["at"].replace("Z", "+00:00"))
            if now <= last:
                now = last + timedelta(microseconds=1)
        return now

    def step(self, state: str, detail: dict[str, Any]) -> datetime:
        """Append the step, move the status and announce it in the outbox."""
        before = self.intent.trace[-1]["state"] if self.intent.trace else None
        at = self.now()
        self.intent.trace = trace_step(self.intent.trace, state, at, detail)
        self.intent.status = state
        self.intent.updated_at = at
        data: dict[str, Any] = {
            "intent_id": self.intent.intent_id,
            "from": before,
            "to": state,
            "at": isoformat(at),
        }
        if state == REJECTED:
            data["reason"] = self.intent.reason
        emit_event(
            self.session, self.ctx.tenant_id, INTENT_STATE_CHANGED, data, resource_id=self.intent.id
        )
        self.announced.append(state)
        return at


def _differing_fields(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    return sorted(name for name in set(new) | set(old) if new.get(name) != old.get(name))


def _replay(existing: Intent, body: IntentIn) -> SubmittedIntent:
    content = body.content()
    if canonical_hash(content) == existing.content_hash:
        return SubmittedIntent(existing, created=False)
    fields = _differing_fields(content, existing.content)
    raise DuplicateResource(
        f"intent {existing.intent_id} exists with other {', '.join(fields)}",
        field=fields[0] if fields else "intent_id",
        fields=fields,
    )


def submit_intent(session: Session, ctx: ActorContext, body: IntentIn) -> SubmittedIntent:
    """Run a new intent through the state machine, or answer the stored one (see the module
    docstring). Requires ``service``. Raises :class:`DuplicateResource` (same id, other
    content; or an imported movement already carries the id). Audited as
    ``runtime.intent.submitted`` with the policy result."""
    ctx.require_role("service")
    existing = repository.find_intent(session, ctx.tenant_id, body.intent_id)
    if existing is not None:
        return _replay(existing, body)
    if repository.movement_exists(session, ctx.tenant_id, body.intent_id):
        raise DuplicateResource(
            f"a movement {body.intent_id} exists already: an intent's movement takes its id",
            field="intent_id",
        )
    content = body.content()
    now = utcnow()
    intent = Intent(
        id=new_id("itn"),
        tenant_id=ctx.tenant_id,
        intent_id=body.intent_id,
        content=content,
        content_hash=canonical_hash(content),
        scope=body.scope,
        amount_minor=body.amount,
        currency=body.currency,
        source=body.source,
        destination=body.destination,
        status="accepted",
        reason=None,
        rail=None,
        provider_reference=None,
        movement_id=None,
        ledger_entries=[],
        trace=[],
        policy={},
        evidence={},
        actor=ctx.actor,
        accepted_on=now.date(),
        settled_at=None,
        created_at=now,
        updated_at=now,
    )
    try:
        # A concurrent request with the same intent_id may win the unique key meanwhile: then
        # this one is a replay of it (or a conflict with it), never a second intent.
        with session.begin_nested():
            session.add(intent)
            session.flush()
    except IntegrityError:
        winner = repository.find_intent(session, ctx.tenant_id, body.intent_id)
        if winner is None:
            raise
        return _replay(winner, body)
    run = _Run(session, ctx, intent)
    run.step(
        "accepted",
        {"contract": "valid", "money_model": body.money_model, "primitives": body.primitives},
    )
    session.flush()

    decision = _control(session, ctx, intent)
    intent.policy = decision.as_json()
    if decision.reason is not None:
        _reject(run, decision.reason, "controlled", {"policy": decision.as_json()["evidence"]})
    else:
        run.step("controlled", {"policy": "passed", "evidence": decision.as_json()["evidence"]})
        _ledger_and_route(run, decision)
    if intent.status != REJECTED:
        run.step("synchronized", {"events": list(run.announced), "outbox": "same transaction"})
    _seal(run)
    record_audit(
        session,
        ctx,
        "runtime.intent.submitted",
        "intent",
        intent.id,
        details={
            "intent_id": intent.intent_id,
            "status": intent.status,
            "reason": intent.reason,
            "amount": intent.amount_minor,
            "currency": intent.currency,
            "source": intent.source,
            "destination": intent.destination,
            "rail": intent.rail,
            "policy": intent.policy.get("evidence", []),
        },
        policy_result=decision.result,
        outcome="rejected" if intent.status == REJECTED else "success",
    )
    session.flush()
    return SubmittedIntent(intent, created=True)


def _control(session: Session, ctx: ActorContext, intent: Intent) -> PolicyDecision:
    # The day's total is read under the source's lock: two intents checked at once take turns.
    repository.lock_source_day(session, ctx.tenant_id, intent.source, intent.currency)
    total = repository.source_total_on(
        session,
        ctx.tenant_id,
        intent.source,
        intent.currency,
        intent.accepted_on,
        excluding=intent.id,
    )
    facts = IntentFacts(
        scope=intent.scope,
        amount=intent.amount_minor,
        currency=intent.currency,
        source=intent.source,
        destination=intent.destination,
        source_total_today=total,
    )
    return evaluate_policy(load_policy(session, ctx.tenant_id), facts)


def _reject(run: _Run, reason: str, stage: str, detail: dict[str, Any]) -> None:
    run.intent.reason = reason
    run.step(REJECTED, {"stage": stage, "reason": reason, **detail})


def _route(session: Session, ctx: ActorContext, intent: Intent) -> RouteDecision:
    routes = load_routes(session, ctx.tenant_id)
    names = sorted({rail for rule in routes.rules for rail in rule.rails})
    connections = repository.connections_by_name(session, ctx.tenant_id, names)
    health = repository.rail_health(session, ctx.tenant_id, names)
    rails = {
        name: RailState(kind=connection.kind, status=health.get(name, "up"))
        for name, connection in connections.items()
    }
    return choose_rail(routes, intent.amount_minor, intent.currency, rails)


def _ledger_and_route(run: _Run, decision: PolicyDecision) -> None:
    session, ctx, intent = run.session, run.ctx, run.intent
    route = _route(session, ctx, intent)
    if route.rail is None:
        _reject(run, route.reason or "no_rail_available", "routed", {"route": route.as_json()})
        return
    at = run.now()
    system = system_accounts(session, ctx.tenant_id, intent.currency)
    planned = flows.reservation(
        intent.intent_id, intent.source, intent.amount_minor, intent.currency, at, system
    )
    try:
        with session.begin_nested():
            post_planned_entry(session, ctx, planned, system)
    except ZentraError as refused:
        _reject(
            run,
            "ledger_refused",
            "ledgered",
            {"ledger": {"code": refused.code, "detail": refused.detail}},
        )
        return
    intent.ledger_entries = [planned.entry_id]
    run.step(
        "ledgered",
        {
            "entry_id": planned.entry_id,
            "from": intent.source,
            "to": system.reserved,
            "amount": intent.amount_minor,
            "currency": intent.currency,
        },
    )
    reference = sandbox_reference(route.rail, intent.intent_id)
    movement_at = run.now()
    _create_movement(session, ctx, intent, route.rail, reference, planned.entry_id, movement_at)
    intent.rail = route.rail
    intent.provider_reference = reference
    intent.movement_id = intent.intent_id
    run.step(
        "routed",
        {**route.as_json(), "provider_reference": reference, "movement_id": intent.movement_id},
    )


def system_accounts(session: Session, tenant_id: str, currency: str) -> flows.SystemAccounts:
    """The codes of the flow's system accounts in ``currency`` for this tenant
    (:func:`zentra.runtime.flows.system_account_code`)."""
    existing = repository.account_currencies(session, tenant_id, list(flows.SYSTEM_ACCOUNTS))
    reserved, settlement, payout_clearing, provider_fees = (
        flows.system_account_code(base, currency, existing.get(base))
        for base in flows.SYSTEM_ACCOUNTS
    )
    return flows.SystemAccounts(reserved, settlement, payout_clearing, provider_fees)


def post_planned_entry(
    session: Session, ctx: ActorContext, planned: flows.PlannedEntry, system: flows.SystemAccounts
) -> None:
    """Create the accounts ``planned`` names that the tenant lacks, then post it (a replay of
    the same entry is a no-op). System accounts never go below zero; the intent's own
    accounts are created as plain balances. Raises the ledger's refusals (``AccountConflict``
    for a code that exists in another currency, ``InsufficientBalance``...)."""
    currency = planned.postings[0].currency
    for code in dict.fromkeys(line.account for line in planned.postings):
        ensure_account(
            session,
            ctx,
            code=code,
            type=flows.ACCOUNT_TYPE,
            currency=currency,
            non_negative=code in system.codes,
        )
    references = {}
    if planned.provider_reference is not None:
        references["provider_reference"] = planned.provider_reference
    create_entry(
        session,
        ctx,
        EntryRequest(
            entry_id=planned.entry_id,
            description=planned.description,
            effective_at=planned.effective_at,
            postings=[PostingIn(**line.as_json()) for line in planned.postings],
            pending=False,
            metadata=planned.metadata,
            references=references,
        ),
    )


def _create_movement(
    session: Session,
    ctx: ActorContext,
    intent: Intent,
    rail: str,
    reference: str,
    entry_id: str,
    at: datetime,
) -> None:
    metadata = {"intent_id": intent.intent_id, "source": intent.source}
    metadata["destination"] = intent.destination
    session.add(
        Movement(
            id=new_id("mov"),
            tenant_id=ctx.tenant_id,
            movement_id=intent.intent_id,
            type=MOVEMENT_TYPE,
            provider=rail,
            provider_reference=reference,
            reference_key=reference_key(reference),
            amount_minor=intent.amount_minor,
            currency=intent.currency,
            status=MOVEMENT_STATUS,
            occurred_at=at,
            occurred_on=at.date(),
            ledger_entry_id=entry_id,
            metadata_=metadata,
            content_hash=movement_content_hash(
                movement_id=intent.intent_id,
                type=MOVEMENT_TYPE,
                provider=rail,
                provider_reference=reference,
                amount_minor=intent.amount_minor,
                currency=intent.currency,
                status=MOVEMENT_STATUS,
                occurred_at=at,
                ledger_entry_id=entry_id,
                metadata=metadata,
            ),
            created_at=at,
        )
    )
    session.flush()


def _signing_key(session: Session, tenant_id: str) -> IntentKey:
    key = repository.latest_signing_key(session, tenant_id)
    if key is None:
        raise Conflict("the workspace has no signing key to seal evidence with")
    return IntentKey(key.id, key.public_key, key.private_key)


def _seal(run: _Run) -> None:
    """Seal the intent's evidence; an accepted intent reaches ``evidenced`` doing so."""
    intent = run.intent
    key = _signing_key(run.session, run.ctx.tenant_id)
    if intent.status != REJECTED:
        run.step("evidenced", {"key_id": key.key_id})
    timestamp = intent.trace[-1]["at"]
    document = {
        "intent_id": intent.intent_id,
        "tenant": intent.tenant_id,
        "actor": intent.actor,
        "scope": intent.scope,
        "timestamp": timestamp,
        "status": intent.status,
        "reason": intent.reason,
        "intent": {
            "amount": intent.amount_minor,
            "currency": intent.currency,
            "source": intent.source,
            "destination": intent.destination,
            "money_model": intent.content.get("money_model"),
            "primitives": intent.content.get("primitives"),
        },
        "policy": intent.policy,
        "route": None if intent.rail is None else {"rail": intent.rail},
        "ledger_entries": list(intent.ledger_entries),
        "movement": None
        if intent.movement_id is None
        else {
            "movement_id": intent.movement_id,
            "provider": intent.rail,
            "provider_reference": intent.provider_reference,
        },
        "trace": intent.trace,
    }
    intent.evidence = seal_intent_evidence(document, key)


def get_intent(session: Session, ctx: ActorContext, intent_id: str) -> Intent:
    """The tenant's intent; :class:`NotFound` otherwise (another tenant's too)."""
    ctx.require_role(*READ_ROLES)
    intent = repository.find_intent(session, ctx.tenant_id, intent_id)
    if intent is None:
        raise NotFound(f"no intent {intent_id}")
    return intent


def list_intents(
    session: Session,
    ctx: ActorContext,
    *,
    limit: int | None,
    cursor: str | None,
    status: str | None = None,
    source: str | None = None,
    rail: str | None = None,
) -> tuple[list[Intent], str | None]:
    """A page of the tenant's intents in creation order."""
    ctx.require_role(*READ_ROLES)
    size = clamp_limit(limit)
    rows = repository.list_intents(
        session,
        ctx.tenant_id,
        limit=size + 1,
        after_id=cursor,
        status=status,
        source=source,
        rail=rail,
    )
    return page_of(rows, size, lambda row: row.id)


def intent_movements(
    session: Session, ctx: ActorContext, intents: list[Intent]
) -> dict[str, Movement]:
    """The movements of ``intents``, by movement id."""
    ids = [intent.movement_id for intent in intents if intent.movement_id is not None]
    return repository.movements_by_id(session, ctx.tenant_id, ids)


def intent_json(intent: Intent, movement: Movement | None) -> dict[str, Any]:
    """The public shape of an intent (SPEC 5)."""
    evidence = intent.evidence
    return {
        "intent_id": intent.intent_id,
        "status": intent.status,
        "reason": intent.reason,
        "amount": intent.amount_minor,
        "currency": intent.currency,
        "source": intent.source,
        "destination": intent.destination,
        "scope": intent.scope,
        "trace": intent.trace,
        "route": None if intent.rail is None else {"rail": intent.rail},
        "ledger_entries": list(intent.ledger_entries),
        "movement": None
        if movement is None
        else {
            "movement_id": movement.movement_id,
            "type": movement.type,
            "provider": movement.provider,
            "provider_reference": movement.provider_reference,
            "amount": movement.amount_minor,
            "currency": movement.currency,
            "status": movement.status,
            "occurred_at": isoformat(movement.occurred_at),
        },
        "evidence": {
            "actor": evidence.get("actor"),
            "scope": evidence.get("scope"),
            "policy": evidence.get("policy"),
            "timestamp": evidence.get("timestamp"),
            "signature": evidence.get("signature"),
            "digest": evidence_digest(evidence) if evidence else None,
        },
        "settled_at": None if intent.settled_at is None else isoformat(as_utc(intent.settled_at)),
        "created_at": isoformat(intent.created_at),
        "links": {
            "self": f"/runtime/intents/{intent.intent_id}",
            "evidence": f"/runtime/intents/{intent.intent_id}/evidence",
        },
    }


def evidence_json(session: Session, ctx: ActorContext, intent: Intent) -> dict[str, Any]:
    """The sealed evidence document of ``intent``, with its verification: the signature holds
    (``signature_valid``) and the key that made it is one of the workspace's (``key_known``)."""
    document = intent.evidence
    signature = document.get("signature") or {}
    key = repository.signing_key(session, ctx.tenant_id, str(signature.get("key_id") or ""))
    return {
        "intent_id": intent.intent_id,
        "document": document,
        "digest": evidence_digest(document),
        "signature_valid": verify_intent_evidence(document),
        "key_known": key is not None and key.public_key == signature.get("public_key"),
    }
