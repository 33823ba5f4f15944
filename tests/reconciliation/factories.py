"""Runs in ``review`` built directly with the ORM, as the matching pipeline leaves them.

One settlement file with four rows for provider ``rail_primary`` and four movements:

=========  ==========  =============  ==========================================================
row        movement    outcome        why
=========  ==========  =============  ==========================================================
REF-1      MOV-1       match          exact reference, same amount
REF-2      MOV-2       match          exact reference, same amount
REF-3      (none)      exception      ``unmatched_provider_row``, 2,500 minor units
REF-4      MOV-4       exception      ``amount_mismatch``: provider 125,000 vs ledger 124,000
(none)     MOV-5       exception      ``missing_from_settlement``, 50,000 minor units
=========  ==========  =============  ==========================================================

Every exception is ``open``, owned by the run owner ``finance_ops`` and has one ``opened``
activity, like the pipeline writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from zentra.kit.canonical import sha256_hex
from zentra.kit.context import system_context
from zentra.kit.db import Database, scope_transaction
from zentra.kit.ids import new_id
from zentra.kit.references import reference_key
from zentra.kit.time import utcnow
from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    Match,
    MatchLink,
    Movement,
    ReconciliationException,
    ReconciliationRun,
    SettlementFile,
    Tenant,
)
from zentra.tenancy.service import create_api_key

PROVIDER = "rail_primary"
OWNER = "finance_ops"
BOOKED = datetime(2026, 4, 26, 12, 0, tzinfo=UTC)


def settlement_csv(suffix: str = "") -> bytes:
    """The factory's settlement file; ``suffix`` tags every reference (another upload)."""
    rows = [("r1", "REF-1", 10000), ("r2", "REF-2", 20000), ("r3", "REF-3", 2500)]
    rows.append(("r4", "REF-4", 125000))
    lines = ["row_id,provider_reference,amount_minor,currency"]
    lines += [f"{row},{ref}{suffix},{amount},EUR" for row, ref, amount in rows]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class ReviewRun:
    """Ids of everything a factory run holds."""

    run_id: str
    settlement_file_id: str
    settlement_sha256: str
    match_ids: list[str] = field(default_factory=list)
    exception_ids: dict[str, str] = field(default_factory=dict)  # type -> id
    external_record_ids: dict[str, str] = field(default_factory=dict)  # reference -> id
    movement_ids: list[str] = field(default_factory=list)


def make_review_run(
    db: Database, tenant_id: str, *, created_at: datetime | None = None, batch: int = 1
) -> ReviewRun:
    """Insert a run in ``review`` with two matches and three open exceptions; return its ids.

    Batch 1 uses the references of the table above; batch ``n > 1`` suffixes every reference
    and movement id with ``-n`` so several runs can live in one tenant.
    """
    now = created_at or utcnow()
    suffix = "" if batch == 1 else f"-{batch}"
    content = settlement_csv(suffix)
    with db.unit_of_work(tenant_id) as session:
        file_id = new_id("set")
        sha = sha256_hex(content)
        session.add(
            SettlementFile(
                id=file_id,
                tenant_id=tenant_id,
                provider=PROVIDER,
                file_id=f"set_{file_id[-8:]}",
                filename="rail_primary_2026-04-26.csv",
                format="csv",
                sha256=sha,
                size_bytes=len(content),
                content=content,
                status="parsed",
                refusal_reason=None,
                rows=4,
                rejected_rows=[],
                uploaded_by="key:first admin key",
                created_at=now,
            )
        )
        session.flush()
        lines = content.decode().splitlines()
        amounts = {f"REF-{n}{suffix}": amount for n, amount in ((1, 10000), (2, 20000), (3, 2500))}
        amounts[f"REF-4{suffix}"] = 125000
        records: dict[str, str] = {}
        for number, (reference, amount) in enumerate(amounts.items(), start=2):
            record_id = new_id("ext")
            raw = lines[number - 1]
            records[reference] = record_id
            session.add(
                ExternalRecord(
                    id=record_id,
                    tenant_id=tenant_id,
                    settlement_file_id=file_id,
                    provider=PROVIDER,
                    line=number,
                    row_id=raw.split(",")[0],
                    provider_reference=reference,
                    reference_key=reference_key(reference),
                    type="charge",
                    amount_minor=amount,
                    fee_minor=None,
                    currency="EUR",
                    booked_at=BOOKED,
                    description=None,
                    raw=raw,
                    content_hash=sha256_hex(raw.encode()),
                )
            )
        movements = {
            f"MOV-{n}{suffix}": amount
            for n, amount in ((1, 10000), (2, 20000), (4, 124000), (5, 50000))
        }
        references = {m: m.replace("MOV", "REF") for m in movements}
        for movement_id, amount in movements.items():
            session.add(
                Movement(
                    id=new_id("mov"),
                    tenant_id=tenant_id,
                    movement_id=movement_id,
                    type="payment",
                    provider=PROVIDER,
                    provider_reference=references[movement_id],
                    reference_key=reference_key(references[movement_id]),
                    amount_minor=amount,
                    currency="EUR",
                    status="captured",
                    occurred_at=BOOKED - timedelta(hours=1),
                    occurred_on=date(2026, 4, 26),
                    ledger_entry_id=f"le_{movement_id.lower()}",
                    metadata_={},
                    content_hash=sha256_hex(movement_id.encode()),
                    created_at=now,
                )
            )
        run_id = new_id("run")
        session.add(
            ReconciliationRun(
                id=run_id,
                tenant_id=tenant_id,
                provider=PROVIDER,
                settlement_file_id=file_id,
                window_from=date(2026, 4, 26),
                window_to=date(2026, 4, 26),
                owner=OWNER,
                ruleset="default",
                ruleset_version=1,
                dry_run=False,
                status="review",
                state_path=[
                    {"status": s, "at": "2026-04-26T12:00:00Z", "actor": "system:worker"}
                    for s in ("created", "matching", "review")
                ],
                failure_reason=None,
                totals=[
                    {
                        "currency": "EUR",
                        "provider_total": 157500,
                        "ledger_total": 204000,
                        "difference": -46500,
                    }
                ],
                counts={"external_records": 4, "internal_records": 4, "matched": 2},
                inputs={"callback_ids": []},
                stage_seconds={},
                result_fingerprint="f" * 64,
                created_by="key:first admin key",
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        result = ReviewRun(run_id, file_id, sha, external_record_ids=records)
        result.movement_ids = sorted(movements)
        for number in (1, 2):
            reference, movement_id = f"REF-{number}{suffix}", f"MOV-{number}{suffix}"
            match_id = new_id("mat")
            result.match_ids.append(match_id)
            session.add(
                Match(
                    id=match_id,
                    tenant_id=tenant_id,
                    run_id=run_id,
                    rule="exact_reference",
                    kind="1:1",
                    deltas={"amount": 0, "booked_days": 0},
                    created_by="system:worker",
                    reason=None,
                    created_at=now,
                )
            )
            session.flush()
            session.add_all(
                [
                    MatchLink(
                        tenant_id=tenant_id,
                        run_id=run_id,
                        match_id=match_id,
                        external_record_id=records[reference],
                        movement_id=None,
                    ),
                    MatchLink(
                        tenant_id=tenant_id,
                        run_id=run_id,
                        match_id=match_id,
                        external_record_id=None,
                        movement_id=movement_id,
                    ),
                ]
            )
        exceptions = [
            (
                "unmatched_provider_row",
                f"REF-3{suffix}",
                records[f"REF-3{suffix}"],
                None,
                2500,
                {"candidates": []},
            ),
            (
                "amount_mismatch",
                f"REF-4{suffix}",
                records[f"REF-4{suffix}"],
                f"MOV-4{suffix}",
                1000,
                {
                    "candidates": [
                        {
                            "movement_id": f"MOV-4{suffix}",
                            "deltas": {"amount": -1000, "booked_days": 0},
                        }
                    ],
                    "provider_amount": 125000,
                    "ledger_amount": 124000,
                },
            ),
            (
                "missing_from_settlement",
                f"REF-5{suffix}",
                None,
                f"MOV-5{suffix}",
                50000,
                {"candidates": []},
            ),
        ]
        for kind, reference, record_id, movement_id, amount, details in exceptions:
            exception_id = new_id("exc")
            result.exception_ids[kind] = exception_id
            session.add(
                ReconciliationException(
                    id=exception_id,
                    tenant_id=tenant_id,
                    run_id=run_id,
                    type=kind,
                    status="open",
                    owner=OWNER,
                    assignee=None,
                    provider_reference=reference,
                    external_record_id=record_id,
                    movement_id=movement_id,
                    amount_minor=amount,
                    currency="EUR",
                    details=details,
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
                    tenant_id=tenant_id,
                    exception_id=exception_id,
                    kind="opened",
                    actor="system:worker",
                    from_status=None,
                    to_status="open",
                    decision=None,
                    note=None,
                    data={},
                    at=now,
                )
            )
        session.flush()
    return result


def make_key(db: Database, tenant_id: str, *roles: str) -> str:
    """Issue an API key with ``roles`` for the tenant; return its secret."""
    with db.unit_of_work() as session:
        scope_transaction(session, tenant_id)
        issued = create_api_key(
            session, system_context(tenant_id, "test"), roles=list(roles), name="+".join(roles)
        )
    return issued.secret


def set_tenant_setting(db: Database, tenant_id: str, name: str, value: object) -> None:
    """Change one of the tenant's settings."""
    with db.unit_of_work() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        tenant.settings = {**tenant.settings, name: value}
