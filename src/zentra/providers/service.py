"""Provider connections and the reception of their signed callbacks. Nothing here commits.

Reception (:func:`receive_callback`) in order, each step refusing before anything is written:

1. the connection is the tenant's (else :class:`NotFound`);
2. the provider's signature over the exact body bytes verifies — else one ``security_log`` row
   is added and :class:`InvalidSignature` raised, a recorded refusal the edge commits;
3. the body says what happened (else :class:`MalformedCallback`);
4. a provider event id already stored answers ``duplicate`` and changes nothing;
5. the callback is stored raw, its money (if any) becomes an external record (of no settlement
   file), and the reception is audited;
6. its money or status is correlated into the runs it concerns: a run in review may resolve or
   retype an open exception, a closed run gets a post-close adjustment in the next run
   (:mod:`zentra.reconciliation.correlation`; first, because it locks those runs and runs are
   locked before the audit chain);
7. a lifecycle status it names (if any) is recorded as a movement state event, and every
   unapplied event of that provider reference is applied, in lifecycle order, to the movements
   of the connection's provider with that reference (:func:`apply_movement_state`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from zentra.audit.service import record_audit
from zentra.ingest.hashing import external_record_content_hash
from zentra.kit.canonical import sha256_hex
from zentra.kit.context import ActorContext
from zentra.kit.errors import DuplicateResource, InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.pagination import clamp_limit, page_of
from zentra.kit.references import reference_key
from zentra.kit.time import utcnow
from zentra.models import (
    Callback,
    ExternalRecord,
    MovementStateEvent,
    ProviderConnection,
    ProviderConnectionRoute,
    SecurityLogEntry,
)
from zentra.providers import repository
from zentra.providers.errors import InvalidSignature, MalformedCallback
from zentra.providers.movement_state import apply_events, parse_status
from zentra.providers.normalize import (
    NORMALIZERS,
    NormalizedCallback,
    RecordFields,
    StatusFields,
)
from zentra.providers.payloads import NotJson, parse_json
from zentra.providers.signatures import verify_adyen, verify_standard_webhooks, verify_stripe
from zentra.reconciliation.correlation import CallbackNews, correlate_callback

KINDS = ("stripe", "adyen", "standard_webhooks", "sandbox")
"""``format`` of the settlement file holding a connection's callback records."""
STORED_HEADERS = (
    "content-type",
    "user-agent",
    "stripe-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)
MAX_HEADER_TEXT = 1000
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class CreatedConnection:
    """A new connection and its signing secret, shown this once."""

    connection: ProviderConnection
    signing_secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One inbound callback as it arrived: exact body, lower-case headers, sender address."""

    body: bytes
    headers: Mapping[str, str]
    remote_address: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Received:
    """The stored callback's id, and whether it had been received before."""

    callback_id: str
    duplicate: bool


def _generated_secret() -> str:
    """A Standard Webhooks style secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _signing_secret(kind: str, given: str | None) -> str:
    secret = (given or "").strip()
    if kind == "adyen":
        # Adyen issues the HMAC key in its Customer Area; Zentra cannot make one up.
        if not secret:
            raise InvalidInput("adyen needs its HMAC key as signing_secret", field="signing_secret")
        try:
            key = bytes.fromhex(secret)
        except ValueError:
            key = b""
        if not key:
            raise InvalidInput("an Adyen HMAC key is hexadecimal", field="signing_secret")
        return secret
    if not secret:
        return _generated_secret()
    if len(secret) > MAX_HEADER_TEXT:
        raise InvalidInput("signing_secret is too long", field="signing_secret")
    if kind in ("standard_webhooks", "sandbox"):
        try:
            Webhook(secret)
        except Exception as exc:  # the library raises binascii.Error, EmptyWebhookSecretError...
            raise InvalidInput(
                "a Standard Webhooks secret is whsec_ followed by base64", field="signing_secret"
            ) from exc
    return secret


def create_connection(
    session: Session,
    ctx: ActorContext,
    *,
    name: str,
    kind: str,
    signing_secret: str | None = None,
) -> CreatedConnection:
    """Create a provider connection and its callback route.

    A missing secret is generated (except for Adyen, whose HMAC key must be given). The secret
    is returned once; it is stored as given and should be encrypted at rest later.

    Raises :class:`InvalidInput` (name, kind or secret), :class:`DuplicateResource` (the name is
    taken in the tenant). Requires ``admin``. Audited as ``provider_connection.created``.
    """
    ctx.require_role("admin")
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 100:
        raise InvalidInput("name must be 1 to 100 characters", field="name")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    secret = _signing_secret(kind, signing_secret)
    if repository.find_connection_by_name(session, ctx.tenant_id, clean_name) is not None:
        raise DuplicateResource(f"a provider connection named {clean_name!r} exists", field="name")
    now = utcnow()
    connection_id = new_id("prv")
    connection = ProviderConnection(
        id=connection_id,
        tenant_id=ctx.tenant_id,
        name=clean_name,
        kind=kind,
        signing_secret=secret,
        created_by=ctx.actor,
        created_at=now,
    )
    session.add(connection)
    session.flush()
    session.add(ProviderConnectionRoute(connection_id=connection_id, tenant_id=ctx.tenant_id))
    session.flush()
    record_audit(
        session,
        ctx,
        "provider_connection.created",
        "provider_connection",
        connection_id,
        details={"name": clean_name, "kind": kind},
    )
    return CreatedConnection(connection, secret)


def get_connection(session: Session, ctx: ActorContext, connection_id: str) -> ProviderConnection:
    """The tenant's connection; :class:`NotFound` otherwise (another tenant's too)."""
    ctx.require_role("admin", "auditor")
    connection = repository.get_connection(session, ctx.tenant_id, connection_id)
    if connection is None:
        raise NotFound(f"no provider connection {connection_id}")
    return connection


def list_connections(
    session: Session, ctx: ActorContext, *, limit: int | None, cursor: str | None
) -> tuple[list[ProviderConnection], str | None]:
    """A page of the tenant's connections in creation order."""
    ctx.require_role("admin", "auditor")
    page_size = clamp_limit(limit)
    rows = repository.list_connections(session, ctx.tenant_id, limit=page_size + 1, after_id=cursor)
    return page_of(rows, page_size, lambda row: row.id)


def resolve_connection_tenant(session: Session, connection_id: str) -> str:
    """The tenant a callback for ``connection_id`` belongs to; :class:`NotFound` otherwise."""
    tenant_id = repository.find_route_tenant(session, connection_id)
    if tenant_id is None:
        raise NotFound(f"no provider connection {connection_id}")
    return tenant_id


def headers_digest(headers: Mapping[str, str]) -> str:
    """sha256 of the headers as sorted ``name:value`` lines: evidence without storing them."""
    lines = "\n".join(f"{name}:{value}" for name, value in sorted(headers.items()))
    return hashlib.sha256(lines.encode("utf-8", "replace")).hexdigest()


def _verification_failure(
    connection: ProviderConnection, delivery: Delivery, now: datetime
) -> tuple[str | None, Any]:
    """(reason the signature fails or None, the parsed body when it was parsed to verify)."""
    if connection.kind == "stripe":
        now_seconds = int(now.timestamp())
        return verify_stripe(
            connection.signing_secret, delivery.body, delivery.headers, now_seconds
        ), None
    if connection.kind == "adyen":
        # Adyen signs fields inside the body: it must be read before it can be trusted.
        try:
            payload = parse_json(delivery.body)
        except NotJson:
            return "no_verifiable_signature", None
        return verify_adyen(connection.signing_secret, payload), payload
    return verify_standard_webhooks(
        connection.signing_secret, delivery.body, delivery.headers
    ), None


def _record(
    connection: ProviderConnection,
    normalized: NormalizedCallback,
    record: RecordFields,
    raw: str,
) -> ExternalRecord:
    return ExternalRecord(
        id=new_id("ext"),
        tenant_id=connection.tenant_id,
        # A callback is one document, not a file: no settlement file, line 1 of its body.
        settlement_file_id=None,
        provider=connection.name,
        line=1,
        row_id=normalized.provider_event_id,
        provider_reference=record.provider_reference,
        reference_key=reference_key(record.provider_reference),
        type=record.type,
        amount_minor=record.amount_minor,
        fee_minor=None,
        currency=record.currency,
        booked_at=record.booked_at,
        description=record.description,
        group_key=None,
        counterparty=None,
        raw=raw,
        content_hash=external_record_content_hash(
            provider_reference=record.provider_reference,
            type=record.type,
            amount_minor=record.amount_minor,
            fee_minor=None,
            currency=record.currency,
            booked_at=record.booked_at,
            description=record.description,
            row_id=normalized.provider_event_id,
        ),
    )


def receive_callback(
    session: Session, tenant_id: str, connection_id: str, delivery: Delivery
) -> Received:
    """Verify, deduplicate, store and normalize one inbound callback (see the module docstring).

    Raises :class:`NotFound`, :class:`InvalidSignature` (after adding the security-log row: the
    caller commits it) or :class:`MalformedCallback`. Audited as ``callback.received``.
    """
    connection = repository.get_connection(session, tenant_id, connection_id)
    if connection is None:
        raise NotFound(f"no provider connection {connection_id}")
    now = utcnow()
    reason, payload = _verification_failure(connection, delivery, now)
    if reason is not None:
        session.add(
            SecurityLogEntry(
                id=new_id("sec"),
                tenant_id=tenant_id,
                connection_id=connection_id,
                reason=reason,
                remote_address=(delivery.remote_address or "")[:100] or None,
                headers_sha256=headers_digest(delivery.headers),
                at=now,
            )
        )
        session.flush()
        raise InvalidSignature("the callback signature does not verify")
    if payload is None:
        try:
            payload = parse_json(delivery.body)
        except NotJson as exc:
            raise MalformedCallback("the body is not UTF-8 JSON") from exc
    normalized = NORMALIZERS[connection.kind](payload)
    known = repository.find_callback(
        session, tenant_id, connection_id, normalized.provider_event_id
    )
    if known is not None:
        return Received(known.id, duplicate=True)
    callback = Callback(
        id=new_id("cb"),
        tenant_id=tenant_id,
        connection_id=connection_id,
        provider_event_id=normalized.provider_event_id,
        event_type=normalized.event_type,
        body=delivery.body,
        body_sha256=sha256_hex(delivery.body),
        headers={
            name: delivery.headers[name][:MAX_HEADER_TEXT]
            for name in STORED_HEADERS
            if name in delivery.headers
        },
        external_record_id=None,
        received_at=now,
    )
    try:
        # A concurrent delivery of the same event may win the unique constraint meanwhile.
        with session.begin_nested():
            session.add(callback)
            session.flush()
    except IntegrityError:
        winner = repository.find_callback(
            session, tenant_id, connection_id, normalized.provider_event_id
        )
        if winner is None:
            raise
        return Received(winner.id, duplicate=True)
    record = None
    if normalized.record is not None:
        record = _record(connection, normalized, normalized.record, delivery.body.decode())
        session.add(record)
        session.flush()
        callback.external_record_id = record.id
        session.flush()
    ctx = ActorContext(
        tenant_id=tenant_id, actor=f"provider:{connection_id}", request_id=delivery.request_id
    )
    status = normalized.status
    if record is not None or status is not None:
        # A run of this provider in review (or closed) may be waiting for exactly this news.
        dated = record.booked_at if record is not None else status.occurred_at if status else None
        news = CallbackNews(
            callback_id=callback.id,
            connection_id=connection.id,
            provider=connection.name,
            provider_event_id=normalized.provider_event_id,
            day=(dated or now).date(),
            record=record,
            status=None if status is None else status.status,
            status_reference=None if status is None else status.provider_reference,
        )
        # First: correlation locks the runs it concerns, and runs are locked before the
        # audit chain (correlate_callback); applying the status below appends to the chain.
        correlate_callback(session, ctx, news)
    if status is not None:
        _record_state_event(session, connection, callback, status, now)
        apply_movement_state(session, ctx, connection, reference_key(status.provider_reference))
    record_audit(
        session,
        ctx,
        "callback.received",
        "callback",
        callback.id,
        details={
            "connection_id": connection_id,
            "provider_event_id": normalized.provider_event_id,
            "event_type": normalized.event_type,
            "external_record_id": callback.external_record_id,
        },
    )
    return Received(callback.id, duplicate=False)


def _record_state_event(
    session: Session,
    connection: ProviderConnection,
    callback: Callback,
    status: StatusFields,
    now: datetime,
) -> None:
    session.add(
        MovementStateEvent(
            callback_id=callback.id,
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            provider_event_id=callback.provider_event_id,
            reference_key=reference_key(status.provider_reference),
            status=status.status,
            occurred_at=status.occurred_at or now,
            applied=False,
            recorded_at=now,
        )
    )
    session.flush()


# The two queries below belong in ``providers/repository.py``; they sit here while that module
# is another change's (see the change's report).
def apply_movement_state(
    session: Session, ctx: ActorContext, connection: ProviderConnection, key: str
) -> None:
    """Apply the unapplied state events of reference ``key`` to its movements. Never commits.

    The movements are the tenant's with ``provider`` equal to the connection's name and this
    reference key (usually one). Their status moves with :func:`apply_events`; an event is
    marked applied unless it is held for one of them (a ``refunded`` still waiting for
    ``captured``). Without a movement every event stays held until the movement is imported
    (:func:`apply_held_movement_state`) or another callback of the reference arrives. Each
    status change is audited as ``movement.status_changed``.
    """
    movements = repository.movements_of_reference(session, ctx.tenant_id, connection.name, key)
    if not movements:
        return
    events = repository.unapplied_state_events(session, ctx.tenant_id, connection.id, key)
    if not events:
        return
    statuses = [event.status for event in events]
    held: set[str] = set()
    for movement in movements:
        before = parse_status(movement.status)
        state, still_held = apply_events(before, statuses)
        held.update(still_held)
        if state is None or state == before:
            continue
        record_audit(
            session,
            ctx,
            "movement.status_changed",
            "movement",
            movement.id,
            details={"from": movement.status, "to": state, "reference_key": key},
        )
        movement.status = state
    consumed = [event.callback_id for event in events if event.status not in held]
    repository.mark_state_events_applied(session, ctx.tenant_id, consumed)
    session.flush()


def apply_held_movement_state(session: Session, ctx: ActorContext) -> None:
    """Apply held state events whose movements exist now (called after a movements import, in
    its transaction): a callback that arrived before its movement is not lost."""
    for connection, key in repository.held_references_with_movements(session, ctx.tenant_id):
        apply_movement_state(session, ctx, connection, key)
