"""Restatements: a provider sends a row again, under the same row id, with other content.

When a new settlement file arrives, each of its rows whose ``row_id`` an earlier file of the same
provider already carried with a different content hash is a restatement of that row. If a run in
``review`` reconciled the earlier row, the run gets a ``restatement`` exception (owned by the
run's owner) naming both versions: the run's result was built on a row the provider has since
changed, and someone must decide. Rows restated before any run used them need no decision (the
next run reads the newer file); a run already ``closed`` keeps its sealed evidence unchanged and
the restatement is left to the next run of that provider (post-close adjustments: to come).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import EXCEPTION_OPENED
from zentra.kit.context import ActorContext
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    ReconciliationException,
    ReconciliationRun,
)

_ROW_KEYS = pa.schema([("id", pa.string()), ("row_id", pa.string()), ("content_hash", pa.string())])


def _row_keys(session: Session, tenant_id: str, settlement_file_id: str) -> pa.Table:
    # Through the session, not a second connection: the new file's rows are not committed yet.
    rows = session.execute(
        select(ExternalRecord.id, ExternalRecord.row_id, ExternalRecord.content_hash).where(
            ExternalRecord.tenant_id == tenant_id,
            ExternalRecord.settlement_file_id == settlement_file_id,
            ExternalRecord.row_id.is_not(None),
        )
    ).all()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    return pa.table([pa.array(column, type=pa.string()) for column in columns], schema=_ROW_KEYS)


def _restated_rows(
    session: Session, tenant_id: str, settlement_file_id: str, provider: str
) -> list[tuple[ReconciliationRun, ExternalRecord, ExternalRecord]]:
    """(run, earlier record, new record) for rows of the file that restate rows a run in review
    of the same provider reconciled. Row ids are compared as columns (a hash join in memory),
    one run at a time: no per-row query, and no quadratic join in the database."""
    runs = list(
        session.scalars(
            select(ReconciliationRun)
            .where(
                ReconciliationRun.tenant_id == tenant_id,
                ReconciliationRun.provider == provider,
                ReconciliationRun.status == "review",
                ReconciliationRun.settlement_file_id != settlement_file_id,
            )
            .order_by(ReconciliationRun.id)
        )
    )
    if not runs:
        return []
    new_rows = _row_keys(session, tenant_id, settlement_file_id)
    found: list[tuple[ReconciliationRun, str, str]] = []
    for run in runs:
        old_rows = _row_keys(session, tenant_id, run.settlement_file_id)
        joined = old_rows.join(new_rows, "row_id", join_type="inner", right_suffix="_new")
        changed = joined.filter(
            pc.not_equal(joined["content_hash"], joined["content_hash_new"])
        ).sort_by([("row_id", "ascending"), ("id", "ascending")])
        found.extend(
            (run, old_id, new_id)
            for old_id, new_id in zip(
                changed["id"].to_pylist(), changed["id_new"].to_pylist(), strict=True
            )
        )
    ids = {record_id for _run, old_id, new_id in found for record_id in (old_id, new_id)}
    records = (
        {
            record.id: record
            for record in session.scalars(
                select(ExternalRecord).where(
                    ExternalRecord.tenant_id == tenant_id, ExternalRecord.id.in_(ids)
                )
            )
        }
        if ids
        else {}
    )
    return [(run, records[old_id], records[new_id]) for run, old_id, new_id in found]


def open_restatements(
    session: Session, ctx: ActorContext, settlement_file_id: str, provider: str
) -> int:
    """Open a ``restatement`` exception in each run in review whose row the new file restates;
    return how many. Runs in the caller's transaction (the upload's)."""
    now = utcnow()
    opened = 0
    restated_rows = _restated_rows(session, ctx.tenant_id, settlement_file_id, provider)
    for run, earlier, restated in restated_rows:
        exception_id = new_id("exc")
        session.add(
            ReconciliationException(
                id=exception_id,
                tenant_id=ctx.tenant_id,
                run_id=run.id,
                type="restatement",
                status="open",
                owner=run.owner,
                assignee=None,
                provider_reference=restated.provider_reference,
                external_record_id=earlier.id,
                movement_id=None,
                amount_minor=restated.amount_minor,
                currency=restated.currency,
                details={
                    "rule": None,
                    "row_id": restated.row_id,
                    "previous": {
                        "external_record_id": earlier.id,
                        "settlement_file_id": earlier.settlement_file_id,
                        "content_hash": earlier.content_hash,
                        "amount_minor": earlier.amount_minor,
                        "currency": earlier.currency,
                    },
                    "restated_by": {
                        "external_record_id": restated.id,
                        "settlement_file_id": restated.settlement_file_id,
                        "content_hash": restated.content_hash,
                        "amount_minor": restated.amount_minor,
                        "currency": restated.currency,
                    },
                    "candidates": [],
                    "nearest": [],
                },
                decision=None,
                note=None,
                created_at=now,
                updated_at=now,
                resolved_at=None,
            )
        )
        session.flush()
        session.add(
            ExceptionActivity(
                id=new_id("exa"),
                tenant_id=ctx.tenant_id,
                exception_id=exception_id,
                kind="opened",
                actor=ctx.actor,
                from_status=None,
                to_status="open",
                decision=None,
                note=None,
                data={"run_id": run.id, "owner": run.owner, "restated_by": restated.id},
                at=now,
            )
        )
        emit_event(
            session,
            ctx.tenant_id,
            EXCEPTION_OPENED,
            {
                "run_id": run.id,
                "exception_id": exception_id,
                "type": "restatement",
                "owner": run.owner,
                "provider_reference": restated.provider_reference,
            },
            resource_id=exception_id,
        )
        record_audit(
            session,
            ctx,
            "reconciliation.exception.opened",
            "reconciliation_exception",
            exception_id,
            details={"type": "restatement", "run_id": run.id, "row_id": restated.row_id},
        )
        opened += 1
    return opened
