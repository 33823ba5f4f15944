"""Queries a closeout needs: the locked run, its records in bulk, the key, the stored seal.

Every query filters by ``tenant_id``; the evidence of a run is gathered in a fixed number of
queries whatever its size (no query per match or per exception).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.models import (
    AuditHead,
    Closeout,
    ExternalRecord,
    Match,
    MatchLink,
    Movement,
    ReconciliationException,
    ReconciliationRun,
    SettlementFile,
    SigningKey,
)


def lock_run(session: Session, tenant_id: str, run_id: str) -> ReconciliationRun | None:
    """The tenant's run locked ``FOR UPDATE``, re-read from the database.

    Exception changes hold the run ``FOR SHARE``, so the lock waits for those in flight and
    keeps new ones out until the seal commits.
    """
    query = (
        select(ReconciliationRun)
        .where(ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def get_run(session: Session, tenant_id: str, run_id: str) -> ReconciliationRun | None:
    """The tenant's run, unlocked."""
    query = select(ReconciliationRun).where(
        ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id
    )
    return session.scalars(query).first()


def list_run_exceptions(
    session: Session, tenant_id: str, run_id: str
) -> list[ReconciliationException]:
    """Every exception of the run, in id order."""
    query = (
        select(ReconciliationException)
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id == run_id,
        )
        .order_by(ReconciliationException.id)
    )
    return list(session.scalars(query))


def list_run_matches(session: Session, tenant_id: str, run_id: str) -> list[Match]:
    """Every match of the run, in id order."""
    query = (
        select(Match).where(Match.tenant_id == tenant_id, Match.run_id == run_id).order_by(Match.id)
    )
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One record's membership in a match, with the external record's natural keys."""

    match_id: str
    external_record_id: str | None
    movement_id: str | None
    provider_reference: str | None
    content_hash: str | None
    row_id: str | None


def list_run_links(session: Session, tenant_id: str, run_id: str) -> list[LinkRow]:
    """Every match link of the run, joined to its external record where it has one."""
    query = (
        select(
            MatchLink.match_id,
            MatchLink.external_record_id,
            MatchLink.movement_id,
            ExternalRecord.provider_reference,
            ExternalRecord.content_hash,
            ExternalRecord.row_id,
        )
        .outerjoin(
            ExternalRecord,
            (ExternalRecord.id == MatchLink.external_record_id)
            & (ExternalRecord.tenant_id == tenant_id),
        )
        .where(MatchLink.tenant_id == tenant_id, MatchLink.run_id == run_id)
        .order_by(MatchLink.id)
    )
    return [LinkRow(*row) for row in session.execute(query)]


def external_records_by_id(
    session: Session, tenant_id: str, ids: set[str]
) -> dict[str, ExternalRecord]:
    """The tenant's external records with these ids, by id (one query)."""
    if not ids:
        return {}
    query = select(ExternalRecord).where(
        ExternalRecord.tenant_id == tenant_id, ExternalRecord.id.in_(sorted(ids))
    )
    return {record.id: record for record in session.scalars(query)}


def ledger_entry_ids(session: Session, tenant_id: str, movement_ids: set[str]) -> list[str]:
    """Sorted, distinct ledger entry ids of these movements (those that have one)."""
    if not movement_ids:
        return []
    query = (
        select(Movement.ledger_entry_id)
        .where(
            Movement.tenant_id == tenant_id,
            Movement.movement_id.in_(sorted(movement_ids)),
            Movement.ledger_entry_id.is_not(None),
        )
        .distinct()
    )
    return sorted(str(entry) for entry in session.scalars(query))


def get_settlement_file(session: Session, tenant_id: str, file_id: str) -> SettlementFile | None:
    """The tenant's settlement file."""
    query = select(SettlementFile).where(
        SettlementFile.tenant_id == tenant_id, SettlementFile.id == file_id
    )
    return session.scalars(query).first()


def get_audit_head(session: Session, tenant_id: str) -> AuditHead | None:
    """The tenant's audit chain head as this transaction sees it."""
    query = select(AuditHead).where(AuditHead.tenant_id == tenant_id)
    return session.scalars(query).first()


def get_signing_key(
    session: Session, tenant_id: str, key_id: str | None = None
) -> SigningKey | None:
    """The tenant's signing key ``key_id``, or its newest key when no id is given."""
    query = select(SigningKey).where(SigningKey.tenant_id == tenant_id)
    if key_id is not None:
        query = query.where(SigningKey.id == key_id)
    return session.scalars(query.order_by(SigningKey.id.desc())).first()


def get_closeout(session: Session, tenant_id: str, closeout_id: str) -> Closeout | None:
    """The tenant's closeout by id."""
    query = select(Closeout).where(Closeout.tenant_id == tenant_id, Closeout.id == closeout_id)
    return session.scalars(query).first()


def get_closeout_of_run(session: Session, tenant_id: str, run_id: str) -> Closeout | None:
    """The tenant's closeout of this run (a run has at most one)."""
    query = select(Closeout).where(Closeout.tenant_id == tenant_id, Closeout.run_id == run_id)
    return session.scalars(query).first()


def insert_closeout(session: Session, closeout: Closeout) -> None:
    """Store a sealed closeout (the unique run_id refuses a second seal of the same run)."""
    session.add(closeout)
    session.flush()
