"""A run's result as files: ``matches.csv``, ``exceptions.csv`` and a readable ``report.html``
(SPEC 13, ``zentra reconcile --output``).

A report is written from :class:`ReportRows`: one row per match with its members joined by
``;`` and one per exception, as Arrow columns; DuckDB writes the CSV files from them, so a
million matches never become Python objects. An external row is named by its file's ``row_id``
where the file has one, else by Zentra's id. The rows come from either source, with the same
result:

- :func:`stored_report_rows` reads the run's matches (aggregated in the database) and exceptions
  from the store: for any run;
- :func:`written_report_rows` takes the rows the run's processing just wrote
  (:class:`~zentra.reconciliation.persistence.WrittenOutcome`) and the external records of its
  file, as the process that wrote them holds them (``zentra reconcile``): nothing is read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from zentra.kit.money import format_major
from zentra.models import ReconciliationRun
from zentra.reconciliation import repository
from zentra.reconciliation.persistence import WrittenOutcome

# The printable report lists this many exceptions; exceptions.csv has them all.
HTML_EXCEPTION_LIMIT = 1000

_templates = Environment(
    loader=PackageLoader("zentra.reconciliation", "templates"),
    autoescape=select_autoescape(["html"]),
)


@dataclass(frozen=True, slots=True)
class ReportRows:
    """What a run's report is written from: its matches (``repository.MATCH_COLUMNS``, members
    joined by ``;`` in any order) and its exceptions (``repository.EXCEPTION_COLUMNS``), external
    rows already named."""

    matches: pa.Table
    exceptions: pa.Table


def stored_report_rows(session: Session, run: ReconciliationRun) -> ReportRows:
    """The run's report rows, read from the store."""
    return ReportRows(
        repository.match_columns(session, run.tenant_id, run.id),
        repository.exception_columns(session, run.tenant_id, run.id),
    )


def written_report_rows(written: WrittenOutcome, external_records: pa.Table) -> ReportRows:
    """The report rows of a run from the rows its processing wrote and the ``external_records``
    rows of its file (``id`` and ``row_id`` are read), without reading the store: the same rows
    :func:`stored_report_rows` gives, as long as nothing else wrote matches or exceptions into
    the run (true of a run whose tenant only its creator knows)."""
    db = duckdb.connect()
    try:
        db.register("links", written.links)
        db.register("matches", written.matches)
        db.register("exceptions", written.exceptions)
        db.register("records", external_records.select(["id", "row_id"]))
        # The store's queries (repository.match_columns, exception_columns) over these rows.
        matches = db.sql(
            """
            SELECT m.rule, m.kind, string_agg(coalesce(e.row_id, e.id), ';'),
                   string_agg(l.movement_id, ';')
            FROM links l
            JOIN matches m ON m.id = l.match_id
            LEFT JOIN records e ON e.id = l.external_record_id
            GROUP BY l.match_id, m.rule, m.kind
            """
        ).to_arrow_table()
        exceptions = db.sql(
            """
            SELECT x.type, x.provider_reference, coalesce(e.row_id, e.id), x.movement_id,
                   x.amount_minor, x.currency, x.owner, x.status
            FROM exceptions x
            LEFT JOIN records e ON e.id = x.external_record_id
            """
        ).to_arrow_table()
    finally:
        db.close()
    return ReportRows(
        matches.rename_columns(repository.MATCH_COLUMNS.names).cast(repository.MATCH_COLUMNS),
        exceptions.rename_columns(repository.EXCEPTION_COLUMNS.names).cast(
            repository.EXCEPTION_COLUMNS
        ),
    )


def write_run_report(run: ReconciliationRun, rows: ReportRows, directory: Path) -> list[Path]:
    """Write the three files of ``run`` from ``rows`` into ``directory`` (created if needed);
    return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    matches_table = rows.matches
    exceptions = rows.exceptions
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
