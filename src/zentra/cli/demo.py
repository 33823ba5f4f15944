"""``zentra demo``: one reconciliation told from ingest to close, on the embedded store."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from zentra.cli.demo_data import PROVIDER, SETTLEMENT_DAY, SETTLEMENT_FILE_ID, generate_demo_data
from zentra.config import get_settings
from zentra.evidence.closeout import verify_closeout_document
from zentra.ingest.service import import_movements, upload_settlement_file
from zentra.kit.context import ActorContext, system_context
from zentra.kit.db import Database
from zentra.kit.errors import CloseoutBlocked
from zentra.kit.money import format_major
from zentra.models import ReconciliationException
from zentra.reconciliation import repository
from zentra.reconciliation.closeout import seal_closeout
from zentra.reconciliation.exceptions import transition_exception
from zentra.reconciliation.runs import LedgerWindow, create_run
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker

OUTPUT_DIR = Path("zentra-output")


def run_demo(database: Database, console: Console) -> None:
    """Create a demo tenant and take one run through all five stages; print what happened."""
    data = generate_demo_data()
    with database.unit_of_work() as session:
        tenant, issued = create_tenant(session, "demo")
    ctx = system_context(tenant.id, "demo")
    console.rule("[bold]Zentra demo[/bold]")
    console.print(f"tenant [bold]{tenant.id}[/bold] created on {database.url}")

    console.rule("1 · ingest")
    with database.unit_of_work(tenant.id) as session:
        imported = import_movements(
            session, ctx, content=data.movements_ndjson, content_type="application/x-ndjson"
        )
        uploaded = upload_settlement_file(
            session,
            ctx,
            content=data.settlement_csv,
            provider=PROVIDER,
            filename=f"{SETTLEMENT_FILE_ID}.csv",
            format=None,
            file_id=SETTLEMENT_FILE_ID,
        )
    file = uploaded.file
    console.print(f"{imported.imported} internal movements imported for {PROVIDER}")
    console.print(
        f"settlement file {file.id} ({file.format}, sha256 {file.sha256[:16]}…): "
        f"{file.rows} rows kept, {len(file.rejected_rows)} rejected"
    )
    for rejected in file.rejected_rows:
        console.print(f"  [yellow]line {rejected['line']}[/yellow]: {rejected['reason']}")

    console.rule("2 · match  3 · compare")
    with database.unit_of_work(tenant.id) as session:
        run = create_run(
            session,
            ctx,
            provider=PROVIDER,
            settlement_file=SETTLEMENT_FILE_ID,
            ledger_window=LedgerWindow(SETTLEMENT_DAY, SETTLEMENT_DAY),
            owner="finance_ops",
        )
    console.print(f"run {run.id} created: status {run.status}, queued for the worker")
    default_worker(database, name="demo").drain()
    with database.unit_of_work(tenant.id) as session:
        run = repository.get_run(session, tenant.id, run.id) or run
        exceptions = repository.list_run_exceptions(session, tenant.id, run.id)
    path = " → ".join(step["status"] for step in run.state_path)
    console.print(f"state path: {path}")
    console.print(
        f"{run.counts['external_records']} provider rows against "
        f"{run.counts['internal_records']} internal records: "
        f"[green]{run.counts['matched']} matched[/green], "
        f"[yellow]{len(exceptions)} exceptions[/yellow]"
    )
    totals = Table("currency", "provider", "ledger", "difference", title="totals")
    for total in run.totals:
        currency = total["currency"]
        totals.add_row(
            currency,
            *(
                format_major(total[k], currency)
                for k in ("provider_total", "ledger_total", "difference")
            ),
        )
    console.print(totals)

    console.rule("4 · own")
    for exc in exceptions:
        amount = (
            f"{format_major(exc.amount_minor, exc.currency)} {exc.currency}"
            if exc.amount_minor is not None and exc.currency
            else ""
        )
        console.print(
            f"[yellow]{exc.type}[/yellow] {exc.provider_reference or ''} {amount} "
            f"→ owner {exc.owner}, {exc.status} ({exc.id})",
            soft_wrap=True,
        )
    console.print(f"result fingerprint {run.result_fingerprint}", soft_wrap=True)

    console.rule("5 · close")
    closeout_path = _close(database, ctx, run.id, exceptions, console)

    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    console.rule("explore")
    for line in (
        "zentra serve   (or: make serve), then:",
        f"  API key (admin, shown once): {issued.secret}",
        f"  {base}/docs",
        f"  curl -H 'Authorization: Bearer {issued.secret}' {base}/reconciliation/runs/{run.id}",
        f"  curl -H 'Authorization: Bearer {issued.secret}' "
        f"'{base}/reconciliation/exceptions?run_id={run.id}'",
    ):
        console.print(line, soft_wrap=True, highlight=False)
    console.print(f"  zentra verify {closeout_path}", soft_wrap=True, highlight=False)


# What a finance operator decides about each planted discrepancy.
DECISIONS = {
    "unmatched_provider_row": ("carried_forward", "ask_provider", "unknown charge queried"),
    "amount_mismatch": ("written_off", "accept_provider_amount", "one unit short: rounding"),
    "duplicate_provider_row": ("resolved", "ignore_duplicate", "row sent twice by the provider"),
    "missing_from_settlement": ("carried_forward", "await_next_file", "expected tomorrow"),
}


def _close(
    database: Database,
    ctx: ActorContext,
    run_id: str,
    exceptions: list[ReconciliationException],
    console: Console,
) -> Path:
    """Try to close (refused while exceptions are open), decide each one, seal and verify."""
    try:
        with database.unit_of_work(ctx.tenant_id) as session:
            seal_closeout(session, ctx, run_id)
    except CloseoutBlocked as blocked:
        unmet = blocked.extensions.get("unmet_requirements", [])
        console.print(f"closeout refused (409): {len(unmet)} exceptions still open")
    with database.unit_of_work(ctx.tenant_id) as session:
        for exc in exceptions:
            to, decision, note = DECISIONS.get(
                exc.type, ("carried_forward", "review_later", "carried to the next run")
            )
            transition_exception(session, ctx, exc.id, to=to, decision=decision, note=note)
            console.print(f"{exc.type}: {to} ({decision}: {note})", soft_wrap=True)
    with database.unit_of_work(ctx.tenant_id) as session:
        closeout = seal_closeout(session, ctx, run_id)
    verification = verify_closeout_document(closeout.document.encode())
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / f"closeout_{run_id}.json"
    path.write_text(closeout.document, encoding="utf-8")
    console.print(
        f"run closed and sealed: closeout {closeout.id}, merkle root {closeout.merkle_root[:16]}…,"
        f" Ed25519 signature {'valid' if verification.valid else 'INVALID'}",
        soft_wrap=True,
    )
    console.print(f"sealed evidence written to {path}", soft_wrap=True)
    return path
