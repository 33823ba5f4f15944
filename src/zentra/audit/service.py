"""Append to and verify a tenant's audit chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from zentra.audit import repository
from zentra.kit.canonical import canonical_json, sha256_hex
from zentra.kit.context import ActorContext
from zentra.kit.ids import new_id
from zentra.kit.time import isoformat, utcnow
from zentra.models import AuditEvent

GENESIS_HASH = "0" * 64


def _chained_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return sha256_hex(prev_hash.encode() + canonical_json(body))


def _hashed_body(event: AuditEvent) -> dict[str, Any]:
    """The fields the hash covers: everything but the hash itself."""
    return {
        "id": event.id,
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "at": isoformat(event.at),
        "actor": event.actor,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "scope": event.scope,
        "policy_result": event.policy_result,
        "request_id": event.request_id,
        "idempotency_key": event.idempotency_key,
        "outcome": event.outcome,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def start_chain(session: Session, tenant_id: str) -> None:
    """Create the empty chain of a new tenant (its head at sequence 0)."""
    repository.insert_head(session, tenant_id, GENESIS_HASH)


def hold_chain(session: Session, tenant_id: str) -> None:
    """Lock the tenant's chain head until the transaction ends.

    Every audited write locks the head when it appends. A writer that also locks other rows
    (the ledger locks its accounts) calls this first, so that every writer takes the head
    before those rows and no two writers wait on each other in opposite orders.
    """
    repository.lock_head(session, tenant_id)


def record_audit(
    session: Session,
    ctx: ActorContext,
    action: str,
    resource_type: str,
    resource_id: str,
    *,
    details: dict[str, Any] | None = None,
    policy_result: str = "allowed",
    outcome: str = "success",
) -> AuditEvent:
    """Append one record to the tenant's chain, in the caller's transaction.

    The head row is locked first, so concurrent appends of one tenant take turns and every
    sequence number is used exactly once.
    """
    head = repository.lock_head(session, ctx.tenant_id)
    event = AuditEvent(
        id=new_id("aud"),
        tenant_id=ctx.tenant_id,
        seq=head.seq + 1,
        at=utcnow(),
        actor=ctx.actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        scope=f"tenant:{ctx.tenant_id}",
        policy_result=policy_result,
        request_id=ctx.request_id,
        idempotency_key=ctx.idempotency_key,
        outcome=outcome,
        details=details or {},
        prev_hash=head.hash,
    )
    event.hash = _chained_hash(head.hash, _hashed_body(event))
    session.add(event)
    head.seq = event.seq
    head.hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """One place where the chain does not hold."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """The result of walking a tenant's chain from genesis to its head."""

    valid: bool
    checked: int
    head_seq: int
    head_hash: str
    breaks: list[ChainBreak]

    def as_json(self) -> dict[str, Any]:
        """The public shape answered by ``GET /audit/verify``."""
        first = self.breaks[0] if self.breaks else None
        return {
            "valid": self.valid,
            "checked": self.checked,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "first_broken_seq": first.seq if first else None,
            "breaks": [{"seq": b.seq, "reason": b.reason} for b in self.breaks],
        }


def verify_chain(session: Session, tenant_id: str) -> ChainVerification:
    """Recompute every hash and link of the tenant's chain and compare with its head.

    A changed record breaks at its own sequence number; a deleted one at the missing number; a
    truncated tail at the first number past the last record left.
    """
    breaks: list[ChainBreak] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in repository.iter_chain(session, tenant_id):
        checked += 1
        while event.seq > expected_seq:
            breaks.append(ChainBreak(expected_seq, "record missing"))
            expected_seq += 1
        # After a missing record the broken link is already reported as that record.
        follows_gap = bool(breaks) and breaks[-1].seq == event.seq - 1
        if event.prev_hash != prev_hash and not follows_gap:
            breaks.append(ChainBreak(event.seq, "link to the previous record is broken"))
        if _chained_hash(event.prev_hash, _hashed_body(event)) != event.hash:
            breaks.append(ChainBreak(event.seq, "record content does not match its hash"))
        prev_hash = event.hash
        expected_seq = event.seq + 1
    head = repository.get_head(session, tenant_id)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq >= expected_seq:
        breaks.append(ChainBreak(expected_seq, "records missing at the end of the chain"))
    elif head_hash != prev_hash:
        breaks.append(ChainBreak(head_seq, "chain head does not match the last record"))
    return ChainVerification(not breaks, checked, head_seq, head_hash, breaks)
