"""The ledger's operations: accounts, entries and their lifecycle, batches. Nothing here commits.

Every write runs in this order, the same everywhere, so that concurrent writers never deadlock
and never lose an update:

1. the tenant's audit chain head is locked (:func:`~zentra.audit.service.hold_chain`): writers
   of one tenant take turns from here, and a replay is recognized under that lock;
2. the accounts an operation touches are locked in id order and read fresh;
3. the pure checks (:mod:`zentra.ledger.invariants`) run on the request and on the balances the
   operation would leave; a refusal raises before anything is written;
4. postings, then entries are inserted (the database checks the balance again, ADR 0007), and
   each touched account's sums move once, by the aggregated delta (``SET x = x + d``);
5. the change is audited and ``ledger.entry.posted`` goes to the outbox for each entry that
   reached ``posted``, all in the caller's transaction.

Writes need the ``service`` role (``admin`` holds it); reads any role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from rfc8785 import CanonicalizationError
from sqlalchemy.orm import Session

from zentra.audit.service import hold_chain, record_audit
from zentra.events.service import emit_event, emit_events_bulk
from zentra.events.types import LEDGER_ENTRY_POSTED
from zentra.ingest.bulk_values import new_ids
from zentra.kit.canonical import sha256_hex
from zentra.kit.context import ROLES, ActorContext
from zentra.kit.errors import InvalidInput, NotFound, ZentraError
from zentra.kit.ids import new_id
from zentra.kit.money import currency_exponent
from zentra.kit.pagination import clamp_limit, page_of
from zentra.kit.references import reference_key
from zentra.kit.time import as_utc, isoformat, utcnow
from zentra.ledger import repository
from zentra.ledger.entries import (
    DELTA_FIELD,
    NORMAL_SIDE,
    Balances,
    Delta,
    PostingLine,
    content_hash,
    differing_fields,
    entry_content,
    opposite,
)
from zentra.ledger.errors import (
    AccountConflict,
    BatchTooLarge,
    EntryConflict,
    EntryStateConflict,
    entry_conflict,
    refusal,
)
from zentra.ledger.invariants import AccountFacts, check_entry, non_negative_accounts
from zentra.ledger.schemas import MAX_BATCH, AccountRequest, EntryRequest
from zentra.models import LedgerAccount, LedgerEntry

WRITE_ROLE = "service"
PROVIDER_REFERENCE = "provider_reference"


@dataclass(frozen=True, slots=True)
class EntryResult:
    """An entry with its postings, and whether this call created it (False: it existed)."""

    entry: LedgerEntry
    postings: list[PostingLine]
    created: bool


@dataclass(frozen=True, slots=True)
class AccountResult:
    """An account, and whether this call created it."""

    account: LedgerAccount
    created: bool


@dataclass(frozen=True, slots=True)
class AccountBalances:
    """An account's balances in minor units, signed by its normal side (see
    :mod:`zentra.ledger.entries`)."""

    account: LedgerAccount
    posted: int
    pending: int
    available: int


@dataclass(slots=True)
class BatchItem:
    """One entry of a batch: ``created``, ``existing`` (a replay) or ``refused`` (``error``)."""

    index: int
    entry_id: str
    outcome: str
    id: str | None = None
    status: str | None = None
    error: ZentraError | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of :func:`post_entries_batch`, per entry in request order."""

    atomic: bool
    items: list[BatchItem]

    def count(self, outcome: str) -> int:
        """How many entries had ``outcome``."""
        return sum(1 for item in self.items if item.outcome == outcome)


# --- helpers ----------------------------------------------------------------------------------


def _balances(account: LedgerAccount) -> Balances:
    return Balances(
        account.normal_side,
        account.posted_debits,
        account.posted_credits,
        account.pending_debits,
        account.pending_credits,
    )


def _facts(accounts: Iterable[LedgerAccount]) -> dict[str, AccountFacts]:
    return {a.code: AccountFacts(a.code, a.currency, a.non_negative) for a in accounts}


def _hash(content: Mapping[str, Any]) -> str:
    try:
        return content_hash(content)
    except CanonicalizationError as error:  # e.g. a lone surrogate or a huge integer
        raise InvalidInput(f"entry content cannot be hashed: {error}") from error


def _stored_content(entry: LedgerEntry, lines: Sequence[PostingLine]) -> dict[str, Any]:
    return entry_content(
        entry_id=entry.entry_id,
        description=entry.description,
        effective_at=entry.effective_at,
        postings=lines,
        pending=entry.two_phase,
        metadata=entry.metadata_,
        references=entry.references,
    )


def _amounts(lines: Iterable[PostingLine]) -> list[dict[str, Any]]:
    """The amount an entry moves per currency (its debits), sorted by currency."""
    totals: dict[str, int] = {}
    for line in lines:
        if line.direction == "debit":
            totals[line.currency] = totals.get(line.currency, 0) + line.amount
    return [{"currency": c, "amount": totals[c]} for c in sorted(totals)]


def _deltas(
    lines: Iterable[PostingLine], *, before: bool | None, after: bool | None
) -> dict[str, Delta]:
    """Per account code, the delta of moving the lines from one state to another.

    ``before``/``after`` say whether the lines were/will be pending (True), posted (False) or
    not counted (None: not yet recorded, or voided).
    """
    deltas: dict[str, Delta] = {}
    for line in lines:
        delta = Delta()
        if before is not None:
            delta = delta + -Delta.of(line.direction, line.amount, pending=before)
        if after is not None:
            delta = delta + Delta.of(line.direction, line.amount, pending=after)
        deltas[line.account] = deltas.get(line.account, Delta()) + delta
    return deltas


def _check_balances(accounts: Mapping[str, LedgerAccount], deltas: Mapping[str, Delta]) -> None:
    """Refuse when a non-negative account's available balance would go below zero."""
    after = {code: _balances(accounts[code]).apply(delta) for code, delta in deltas.items()}
    violations = non_negative_accounts(after, _facts(accounts.values()))
    if violations:
        raise refusal(violations)


def _apply(
    session: Session,
    tenant_id: str,
    accounts: Mapping[str, LedgerAccount],
    deltas: Mapping[str, Delta],
) -> None:
    repository.apply_deltas(
        session, tenant_id, {accounts[code].id: delta for code, delta in deltas.items()}
    )


def _posted_event(
    entry_key: str,
    entry_id: str,
    effective_at: datetime | str,
    lines: Iterable[PostingLine],
    references: Mapping[str, Any],
    reverses: str | None,
) -> dict[str, Any]:
    """The data of ``ledger.entry.posted`` (``effective_at`` as a datetime or RFC 3339 text)."""
    return {
        "id": entry_key,
        "entry_id": entry_id,
        "status": "posted",
        "effective_at": effective_at if isinstance(effective_at, str) else isoformat(effective_at),
        "amounts": _amounts(lines),
        "references": dict(references),
        "reverses_entry_id": reverses,
    }


def _entry_or_404(
    session: Session, tenant_id: str, entry_id: str, *, lock: bool = False
) -> LedgerEntry:
    entry = repository.get_entry(session, tenant_id, entry_id, lock=lock)
    if entry is None:
        raise NotFound(f"no ledger entry {entry_id}")
    return entry


def _lines(session: Session, entry: LedgerEntry) -> list[PostingLine]:
    return repository.postings_of(session, entry.tenant_id, [entry.id])[entry.id]


# --- accounts ---------------------------------------------------------------------------------


def _open_account(
    session: Session, ctx: ActorContext, request: AccountRequest, *, compare_flags: bool
) -> AccountResult:
    ctx.require_role(WRITE_ROLE)
    currency_exponent(request.currency)
    normal_side = request.normal_side or NORMAL_SIDE[request.type]
    hold_chain(session, ctx.tenant_id)
    existing = repository.get_account(session, ctx.tenant_id, request.code)
    if existing is not None:
        wanted: dict[str, Any] = {"type": request.type, "currency": request.currency}
        if compare_flags:
            wanted |= {"normal_side": normal_side, "non_negative": request.non_negative}
        fields = [name for name, value in wanted.items() if getattr(existing, name) != value]
        if fields:
            raise AccountConflict(
                f"account {request.code} exists with other {', '.join(fields)}",
                field=fields[0],
                fields=fields,
            )
        return AccountResult(existing, created=False)
    account = LedgerAccount(
        id=new_id("acc"),
        tenant_id=ctx.tenant_id,
        code=request.code,
        type=request.type,
        currency=request.currency,
        normal_side=normal_side,
        non_negative=request.non_negative,
        posted_debits=0,
        posted_credits=0,
        pending_debits=0,
        pending_credits=0,
        created_by=ctx.actor,
        created_at=utcnow(),
    )
    repository.add_account(session, account)
    record_audit(
        session,
        ctx,
        "ledger.account.created",
        "ledger_account",
        account.id,
        details={
            "code": account.code,
            "type": account.type,
            "currency": account.currency,
            "normal_side": account.normal_side,
            "non_negative": account.non_negative,
        },
    )
    return AccountResult(account, created=True)


def open_account(session: Session, ctx: ActorContext, request: AccountRequest) -> AccountResult:
    """Create the account, or answer the existing one when ``code`` exists with the same type,
    currency, normal side and flag. Raises :class:`UnknownCurrency`, :class:`AccountConflict`
    (the code exists with other settings, naming them). Audited as ``ledger.account.created``."""
    return _open_account(session, ctx, request, compare_flags=True)


def create_account(session: Session, ctx: ActorContext, request: AccountRequest) -> LedgerAccount:
    """:func:`open_account`, answering the account only."""
    return open_account(session, ctx, request).account


def ensure_account(
    session: Session,
    ctx: ActorContext,
    *,
    code: str,
    type: str,
    currency: str,
    non_negative: bool = False,
) -> LedgerAccount:
    """Get or create the account ``code``. An existing code with another currency or type is an
    :class:`AccountConflict`; its flags are kept as they are."""
    try:
        request = AccountRequest(
            code=code,
            type=type,
            currency=currency,
            non_negative=non_negative,
        )
    except ValidationError as error:
        raise InvalidInput(f"invalid ledger account: {error.errors()[0]['msg']}") from error
    return _open_account(session, ctx, request, compare_flags=False).account


def get_account(session: Session, ctx: ActorContext, code: str) -> LedgerAccount:
    """The tenant's account ``code``; :class:`NotFound` otherwise."""
    ctx.require_role(*ROLES)
    account = repository.get_account(session, ctx.tenant_id, code)
    if account is None:
        raise NotFound(f"no ledger account {code}")
    return account


def get_account_balances(session: Session, ctx: ActorContext, code: str) -> AccountBalances:
    """The account's ``posted``, ``pending`` and ``available`` balances."""
    account = get_account(session, ctx, code)
    balances = _balances(account)
    return AccountBalances(account, balances.posted, balances.pending, balances.available)


def list_accounts(
    session: Session, ctx: ActorContext, *, limit: int | None, cursor: str | None
) -> tuple[list[LedgerAccount], str | None]:
    """A page of the tenant's accounts in creation order."""
    ctx.require_role(*ROLES)
    size = clamp_limit(limit)
    rows = repository.list_accounts(session, ctx.tenant_id, limit=size + 1, after_id=cursor)
    return page_of(rows, size, lambda row: row.id)


# --- entries ----------------------------------------------------------------------------------


def _replayed(
    session: Session, entry: LedgerEntry, content: Mapping[str, Any], digest: str
) -> EntryResult:
    """The stored entry for a request with its ``entry_id``: the same content is a replay."""
    lines = _lines(session, entry)
    if entry.content_hash == digest:
        return EntryResult(entry, lines, created=False)
    raise entry_conflict(entry.entry_id, differing_fields(content, _stored_content(entry, lines)))


def _entry_row(
    ctx: ActorContext,
    request: EntryRequest,
    *,
    key: str,
    digest: str,
    now: datetime,
    reverses: str | None = None,
) -> dict[str, Any]:
    provider_reference = request.references.get(PROVIDER_REFERENCE)
    posted = not request.pending
    return {
        "id": key,
        "tenant_id": ctx.tenant_id,
        "entry_id": request.entry_id,
        "status": "posted" if posted else "pending",
        "description": request.description,
        "effective_at": as_utc(request.effective_at),
        "two_phase": request.pending,
        "metadata": request.metadata,
        "references": request.references,
        "reference_key": reference_key(provider_reference) if provider_reference else None,
        "content_hash": digest,
        "reverses_entry_id": reverses,
        "reversed_by_entry_id": None,
        "created_at": now,
        "created_by": ctx.actor,
        "posted_at": now if posted else None,
        "posted_by": ctx.actor if posted else None,
        "voided_at": None,
        "voided_by": None,
    }


def _posting_rows(
    tenant_id: str, key: str, lines: Sequence[PostingLine], accounts: Mapping[str, LedgerAccount]
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tenant_id,
            "entry_id": key,
            "position": position,
            "account_id": accounts[line.account].id,
            "direction": line.direction,
            "amount": line.amount,
            "currency": line.currency,
        }
        for position, line in enumerate(lines)
    ]


def _create_entry(
    session: Session, ctx: ActorContext, request: EntryRequest, *, reverses: str | None = None
) -> EntryResult:
    content = request.content()
    digest = _hash(content)
    hold_chain(session, ctx.tenant_id)
    existing = repository.get_entry(session, ctx.tenant_id, request.entry_id)
    if existing is not None:
        return _replayed(session, existing, content, digest)
    lines = request.lines()
    locked = repository.accounts_by_codes(
        session, ctx.tenant_id, {line.account for line in lines}, lock=True
    )
    accounts = {account.code: account for account in locked}
    violations = check_entry(lines, _facts(locked))
    if violations:
        raise refusal(violations)
    deltas = _deltas(lines, before=None, after=request.pending)
    _check_balances(accounts, deltas)
    now = utcnow()
    key = new_id("ent")
    repository.insert_entries(
        session,
        [_entry_row(ctx, request, key=key, digest=digest, now=now, reverses=reverses)],
        _posting_rows(ctx.tenant_id, key, lines, accounts),
    )
    _apply(session, ctx.tenant_id, accounts, deltas)
    entry = _entry_or_404(session, ctx.tenant_id, request.entry_id)
    record_audit(
        session,
        ctx,
        "ledger.entry.created",
        "ledger_entry",
        entry.entry_id,
        details={
            "id": entry.id,
            "status": entry.status,
            "postings": len(lines),
            "amounts": _amounts(lines),
            "content_hash": digest,
            "reverses_entry_id": reverses,
        },
    )
    if entry.status == "posted":
        emit_event(
            session,
            ctx.tenant_id,
            LEDGER_ENTRY_POSTED,
            _posted_event(
                entry.id, entry.entry_id, entry.effective_at, lines, entry.references, reverses
            ),
            resource_id=entry.entry_id,
        )
    return EntryResult(entry, lines, created=True)


def create_entry(session: Session, ctx: ActorContext, request: EntryRequest) -> EntryResult:
    """Record an entry: ``posted`` at once, or ``pending`` when ``request.pending``.

    The same ``entry_id`` with the same content answers the stored entry (``created`` False);
    with other content raises :class:`EntryConflict` naming the fields that differ. Raises
    :class:`EntryRefused` (a subclass per first violation, e.g. :class:`UnbalancedEntry`) when
    an invariant does not hold; nothing is written then. Audited as ``ledger.entry.created``;
    a posted entry emits ``ledger.entry.posted``.
    """
    ctx.require_role(WRITE_ROLE)
    return _create_entry(session, ctx, request)


def get_entry(session: Session, ctx: ActorContext, entry_id: str) -> EntryResult:
    """The tenant's entry ``entry_id`` with its postings; :class:`NotFound` otherwise."""
    ctx.require_role(*ROLES)
    entry = _entry_or_404(session, ctx.tenant_id, entry_id)
    return EntryResult(entry, _lines(session, entry), created=False)


def _transition(session: Session, ctx: ActorContext, entry_id: str, target: str) -> EntryResult:
    """Move a pending entry to ``posted`` or ``voided`` (a repeat of a step taken is a no-op)."""
    ctx.require_role(WRITE_ROLE)
    hold_chain(session, ctx.tenant_id)
    entry = _entry_or_404(session, ctx.tenant_id, entry_id, lock=True)
    lines = _lines(session, entry)
    if entry.status == target:
        return EntryResult(entry, lines, created=False)
    if entry.status != "pending":
        hint = "; reverse it instead" if entry.status == "posted" else ""
        raise EntryStateConflict(
            f"entry {entry_id} is {entry.status}: it cannot be {target}{hint}",
            entry_status=entry.status,
        )
    locked = repository.accounts_by_codes(
        session, ctx.tenant_id, {line.account for line in lines}, lock=True
    )
    accounts = {account.code: account for account in locked}
    deltas = _deltas(lines, before=True, after=False if target == "posted" else None)
    _check_balances(accounts, deltas)
    _apply(session, ctx.tenant_id, accounts, deltas)
    now = utcnow()
    entry.status = target
    if target == "posted":
        entry.posted_at, entry.posted_by = now, ctx.actor
    else:
        entry.voided_at, entry.voided_by = now, ctx.actor
    session.flush()
    record_audit(
        session,
        ctx,
        f"ledger.entry.{target}",
        "ledger_entry",
        entry.entry_id,
        details={"id": entry.id, "from": "pending", "to": target, "amounts": _amounts(lines)},
    )
    if target == "posted":
        emit_event(
            session,
            ctx.tenant_id,
            LEDGER_ENTRY_POSTED,
            _posted_event(
                entry.id,
                entry.entry_id,
                entry.effective_at,
                lines,
                entry.references,
                entry.reverses_entry_id,
            ),
            resource_id=entry.entry_id,
        )
    return EntryResult(entry, lines, created=False)


def post_entry(session: Session, ctx: ActorContext, entry_id: str) -> EntryResult:
    """Post a pending entry: its amounts move from the pending to the posted sums. Posting a
    posted entry answers it unchanged; a voided one raises :class:`EntryStateConflict`.
    Audited as ``ledger.entry.posted``; emits ``ledger.entry.posted``."""
    return _transition(session, ctx, entry_id, "posted")


def void_entry(session: Session, ctx: ActorContext, entry_id: str) -> EntryResult:
    """Void a pending entry: its amounts leave the pending sums. Voiding a voided entry answers
    it unchanged; a posted entry cannot be voided (:class:`EntryStateConflict`: reverse it).
    Audited as ``ledger.entry.voided``."""
    return _transition(session, ctx, entry_id, "voided")


def reverse_entry(
    session: Session,
    ctx: ActorContext,
    entry_id: str,
    *,
    reversal_entry_id: str | None = None,
    description: str | None = None,
    effective_at: datetime | None = None,
) -> EntryResult:
    """Reverse a posted entry with its mirror entry (every posting's direction flipped), posted
    at once and linked both ways. The reversal is addressed by ``reversal_entry_id`` (default
    ``{entry_id}:reversal``) and effective at ``effective_at`` (default now).

    Reversing it again answers the existing reversal (``created`` False) unless another
    reversal id is asked for. Raises :class:`EntryStateConflict` for an entry that is not
    posted or is reversed under another id, :class:`EntryConflict` when the reversal id is
    taken, :class:`InsufficientBalance` when a non-negative account cannot give the money back.
    Audited as ``ledger.entry.reversed`` (and the reversal as ``ledger.entry.created``).
    """
    ctx.require_role(WRITE_ROLE)
    hold_chain(session, ctx.tenant_id)
    original = _entry_or_404(session, ctx.tenant_id, entry_id, lock=True)
    if original.reversed_by_entry_id is not None:
        if reversal_entry_id in (None, original.reversed_by_entry_id):
            return get_entry(session, ctx, original.reversed_by_entry_id)
        raise EntryStateConflict(
            f"entry {entry_id} is already reversed by {original.reversed_by_entry_id}",
            entry_status=original.status,
        )
    if original.status != "posted":
        raise EntryStateConflict(
            f"only a posted entry can be reversed; {entry_id} is {original.status}",
            entry_status=original.status,
        )
    target = reversal_entry_id or f"{original.entry_id}:reversal"
    if repository.get_entry(session, ctx.tenant_id, target) is not None:
        raise EntryConflict(f"entry id {target} is taken", field="entry_id", fields=["entry_id"])
    mirrored = [
        PostingLine(line.account, opposite(line.direction), line.amount, line.currency)
        for line in _lines(session, original)
    ]
    try:
        request = EntryRequest(
            entry_id=target,
            description=description or f"Reversal of {original.entry_id}",
            effective_at=effective_at or utcnow(),
            postings=[line.as_json() for line in mirrored],
            pending=False,
            metadata={},
            references=original.references,
        )
    except ValidationError as error:
        raise InvalidInput(f"invalid reversal: {error.errors()[0]['msg']}") from error
    result = _create_entry(session, ctx, request, reverses=original.entry_id)
    original.reversed_by_entry_id = target
    session.flush()
    record_audit(
        session,
        ctx,
        "ledger.entry.reversed",
        "ledger_entry",
        original.entry_id,
        details={"id": original.id, "reversed_by_entry_id": target},
    )
    return result


def list_entries(
    session: Session,
    ctx: ActorContext,
    *,
    limit: int | None,
    cursor: str | None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    account: str | None = None,
    provider_reference: str | None = None,
    status: str | None = None,
) -> tuple[list[EntryResult], str | None]:
    """A page of entries in creation order: effective in ``[effective_from, effective_to)``,
    posting to ``account`` (a code; an unknown code lists nothing), carrying
    ``provider_reference`` (compared normalized), in ``status``."""
    ctx.require_role(*ROLES)
    size = clamp_limit(limit)
    account_id = None
    if account is not None:
        found = repository.get_account(session, ctx.tenant_id, account)
        if found is None:
            return [], None
        account_id = found.id
    rows = repository.list_entries(
        session,
        ctx.tenant_id,
        limit=size + 1,
        after_id=cursor,
        effective_from=as_utc(effective_from) if effective_from else None,
        effective_to=as_utc(effective_to) if effective_to else None,
        account_id=account_id,
        reference_key=reference_key(provider_reference) if provider_reference else None,
        status=status,
    )
    page, next_cursor = page_of(rows, size, lambda row: row.id)
    postings = repository.postings_of(session, ctx.tenant_id, [entry.id for entry in page])
    return [EntryResult(entry, postings[entry.id], created=False) for entry in page], next_cursor


# --- batches ----------------------------------------------------------------------------------


def _prepare(request: EntryRequest) -> tuple[list[PostingLine], dict[str, Any], str]:
    """A request's posting lines, content and content hash, computed once."""
    lines = request.lines()
    content = request.content(lines)
    return lines, content, _hash(content)


def _batch_conflict(
    session: Session,
    ctx: ActorContext,
    request: EntryRequest,
    earlier: EntryRequest | None,
    index: int,
) -> EntryConflict:
    """The conflict of a batch entry whose ``entry_id`` is earlier in the batch (``earlier``)
    or stored, with other content."""
    content = request.content()
    if earlier is not None:
        other = earlier.content()
    else:
        entry = _entry_or_404(session, ctx.tenant_id, request.entry_id)
        other = _stored_content(entry, _lines(session, entry))
    return entry_conflict(
        request.entry_id, differing_fields(content, other), index=index, entry_id=request.entry_id
    )


def post_entries_batch(
    session: Session,
    ctx: ActorContext,
    requests: Sequence[EntryRequest],
    *,
    atomic: bool = True,
) -> BatchResult:
    """Record up to 8,000 entries in one pass.

    Each entry is checked as :func:`create_entry` checks it, in request order, against the
    balances the entries before it leave (a non-negative account is followed entry by entry).
    With ``atomic`` the first refusal or conflict is raised with its ``index`` and ``entry_id``
    and nothing is written; otherwise refused entries are reported and the others recorded.
    An ``entry_id`` already stored (or earlier in the batch) with the same content is
    ``existing``; with other content a conflict.

    The pure work comes first; then postings and entries are inserted in bulk (``COPY`` on
    PostgreSQL, ``executemany`` on SQLite), each touched account is updated once with its
    aggregated delta (in id order), the posted entries' events go to the outbox in one insert,
    and one audit record (``ledger.entries.batch_recorded``) names the batch. No per-entry round
    trip. Raises :class:`BatchTooLarge` above 8,000 entries.
    """
    ctx.require_role(WRITE_ROLE)
    if len(requests) > MAX_BATCH:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} entries, not {len(requests)}")
    prepared = [_prepare(request) for request in requests]
    hold_chain(session, ctx.tenant_id)
    stored = repository.entry_hashes(session, ctx.tenant_id, (r.entry_id for r in requests))
    locked = repository.accounts_by_codes(
        session,
        ctx.tenant_id,
        {line.account for lines, _content, _digest in prepared for line in lines},
        lock=True,
    )
    accounts = {account.code: account for account in locked}
    facts = _facts(locked)
    # Only non-negative accounts need following entry by entry; the others add up at the end.
    running = {a.code: _balances(a) for a in locked if a.non_negative}
    sums: dict[str, list[int]] = {}
    # entry_id -> (id, status, request index) of the entries this batch records
    accepted: dict[str, tuple[str, str, int]] = {}
    items: list[BatchItem] = []
    entry_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    entry_keys = new_ids("ent", len(requests)).to_pylist()
    now = utcnow()

    def refuse(index: int, request: EntryRequest, error: ZentraError) -> None:
        if atomic:
            raise error
        items.append(BatchItem(index, request.entry_id, "refused", error=error))

    for index, (request, (lines, content, digest)) in enumerate(
        zip(requests, prepared, strict=True)
    ):
        earlier = accepted.get(request.entry_id)
        known = stored.get(request.entry_id)
        if earlier is not None or known is not None:
            if earlier is not None:
                key, status, first = earlier
                same = prepared[first][2] == digest
            else:
                assert known is not None
                key, status, stored_digest = known
                same = stored_digest == digest
            if same:
                items.append(BatchItem(index, request.entry_id, "existing", key, status))
            else:
                prior = requests[earlier[2]] if earlier is not None else None
                refuse(index, request, _batch_conflict(session, ctx, request, prior, index))
            continue
        violations = check_entry(lines, facts)
        after: dict[str, Balances] = {}
        if not violations and running:
            followed = [line for line in lines if line.account in running]
            if followed:
                deltas = _deltas(followed, before=None, after=request.pending)
                after = {code: running[code].apply(delta) for code, delta in deltas.items()}
                violations = non_negative_accounts(after, facts)
        if violations:
            refuse(index, request, refusal(violations, index=index, entry_id=request.entry_id))
            continue
        running.update(after)
        for line in lines:
            field = DELTA_FIELD[line.direction, request.pending]
            sums.setdefault(line.account, [0, 0, 0, 0])[field] += line.amount
        key = entry_keys[index]
        row = _entry_row(ctx, request, key=key, digest=digest, now=now)
        accepted[request.entry_id] = (key, row["status"], index)
        entry_rows.append(row)
        posting_rows.extend(_posting_rows(ctx.tenant_id, key, lines, accounts))
        items.append(BatchItem(index, request.entry_id, "created", key, row["status"]))
        if not request.pending:
            event = _posted_event(
                key, request.entry_id, content["effective_at"], lines, request.references, None
            )
            events.append((LEDGER_ENTRY_POSTED, request.entry_id, event))

    result = BatchResult(atomic, items)
    if entry_rows:
        repository.insert_entries(session, entry_rows, posting_rows)
        _apply(session, ctx.tenant_id, accounts, {code: Delta(*v) for code, v in sums.items()})
        if events:
            emit_events_bulk(session, ctx.tenant_id, events)
        created_ids = [row["entry_id"] for row in entry_rows]
        record_audit(
            session,
            ctx,
            "ledger.entries.batch_recorded",
            "ledger_batch",
            sha256_hex("\n".join(created_ids).encode()),
            details={
                "created": len(created_ids),
                "existing": result.count("existing"),
                "refused": result.count("refused"),
                "first_entry_id": created_ids[0],
                "last_entry_id": created_ids[-1],
                "atomic": atomic,
            },
        )
    return result
