"""A run's result as files: ``matches.csv``, ``exceptions.csv`` and a readable ``report.html``
(SPEC 13, ``zentra reconcile --output``). Bulk queries only."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from zentra.kit.money import format_major
from zentra.models import ReconciliationRun
from zentra.reconciliation import repository

_templates = Environment(
    loader=PackageLoader("zentra.reconciliation", "templates"),
    autoescape=select_autoescape(["html"]),
)


def write_run_report(session: Session, run: ReconciliationRun, directory: Path) -> list[Path]:
    """Write the three files into ``directory`` (created if needed); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    tenant_id = run.tenant_id
    row_ids = repository.external_row_ids(session, tenant_id, run.settlement_file_id)
    members = repository.match_members(session, tenant_id, run.id)
    matches_path = directory / "matches.csv"
    with matches_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rule", "kind", "external_row_ids", "movement_ids"])
        for member in sorted(members, key=lambda m: (m.movement_ids, m.external_record_ids)):
            external_ids = sorted(row_ids.get(e, e) for e in member.external_record_ids)
            writer.writerow(
                [member.rule, member.kind, ";".join(external_ids), ";".join(member.movement_ids)]
            )

    exceptions = repository.list_run_exceptions(session, tenant_id, run.id)
    exceptions_path = directory / "exceptions.csv"
    with exceptions_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "provider_reference", "external_row_id", "movement_id"])
        for exc in exceptions:
            external = row_ids.get(exc.external_record_id or "", exc.external_record_id or "")
            writer.writerow(
                [exc.type, exc.provider_reference or "", external, exc.movement_id or ""]
            )

    report_path = directory / "report.html"
    report_path.write_text(
        _templates.get_template("run_report.html").render(
            run=run,
            totals=[_total_view(total) for total in run.totals],
            matches=len(members),
            exceptions=[
                {
                    "type": exc.type,
                    "provider_reference": exc.provider_reference or "",
                    "external_row_id": row_ids.get(exc.external_record_id or "", ""),
                    "movement_id": exc.movement_id or "",
                    "amount": _money(exc.amount_minor, exc.currency),
                    "owner": exc.owner,
                    "status": exc.status,
                }
                for exc in exceptions
            ],
        ),
        encoding="utf-8",
    )
    return [matches_path, exceptions_path, report_path]


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return ""
    return f"{format_major(amount, currency)} {currency}"


def _total_view(total: dict[str, Any]) -> dict[str, str]:
    currency = total["currency"]
    return {
        "currency": currency,
        "provider_total": format_major(total["provider_total"], currency),
        "ledger_total": format_major(total["ledger_total"], currency),
        "difference": format_major(total["difference"], currency),
    }
