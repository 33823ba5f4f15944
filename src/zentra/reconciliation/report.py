"""A run's result as files: ``matches.csv``, ``exceptions.csv`` and a readable ``report.html``
(SPEC 13, ``zentra reconcile --output``).

The run's matches (aggregated in the database) and exceptions are read as Arrow columns and the
CSV files are written by DuckDB from them: a million matches never become Python objects. An
external row is named by its file's ``row_id`` where the file has one, else by Zentra's id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from zentra.kit.money import format_major
from zentra.models import ReconciliationRun
from zentra.reconciliation import repository

# The printable report lists this many exceptions; exceptions.csv has them all.
HTML_EXCEPTION_LIMIT = 1000

_templates = Environment(
    loader=PackageLoader("zentra.reconciliation", "templates"),
    autoescape=select_autoescape(["html"]),
)


def write_run_report(session: Session, run: ReconciliationRun, directory: Path) -> list[Path]:
    """Write the three files into ``directory`` (created if needed); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    matches_table = repository.match_columns(session, run.tenant_id, run.id)
    exceptions = repository.exception_columns(session, run.tenant_id, run.id)
    matches_path = directory / "matches.csv"
    exceptions_path = directory / "exceptions.csv"
    db = duckdb.connect()
    try:
        db.register("match_rows", matches_table)
        db.register("exceptions", exceptions)
        db.sql(
            """
            SELECT rule, kind,
                   array_to_string(list_sort(string_split(external_row_ids, ';')), ';')
                       AS external_row_ids,
                   array_to_string(list_sort(string_split(movement_ids, ';')), ';')
                       AS movement_ids
            FROM match_rows
            ORDER BY movement_ids, external_row_ids
            """
        ).to_csv(str(matches_path), header=True)  # an empty field is a NULL: nothing there
        db.sql(
            """
            SELECT type, nullif(provider_reference, '') AS provider_reference,
                   external_row_id, movement_id
            FROM exceptions
            ORDER BY type, provider_reference, external_row_id, movement_id
            """
        ).to_csv(str(exceptions_path), header=True)
        matches = matches_table.num_rows
        listed = (
            db.sql(
                """
            SELECT * FROM exceptions
            ORDER BY type, provider_reference, external_row_id, movement_id
            LIMIT $limit
            """,
                params={"limit": HTML_EXCEPTION_LIMIT},
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        db.close()
    report_path = directory / "report.html"
    report_path.write_text(
        _templates.get_template("run_report.html").render(
            run=run,
            totals=[_total_view(total) for total in run.totals],
            matches=matches,
            exception_count=exceptions.num_rows,
            exceptions=[
                {**row, "amount": _money(row["amount_minor"], row["currency"])} for row in listed
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
