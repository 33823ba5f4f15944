"""``zentra demo``: a day of payments told from intent to sealed closeout, on the embedded store.

The runtime is set up (sandbox rails, policy, routes), customers are funded in the ledger, and a
day of intents runs through policy, ledger, routing and events — one rejected over the limit, one
failing over while the primary rail is down. The primary rail then settles the day with noise
(signed callbacks through the callback path, a settlement file through the upload service), a
reconciliation run matches the file against the intents' movements, the late callback arrives
while the run is in review, the exceptions are decided, and the run is sealed and verified.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from zentra.cli.demo_data import (
    BACKUP,
    CURRENCIES,
    CUSTOMERS,
    DEPOSITS,
    FUNDING_MINOR,
    NOISE,
    POLICY,
    PRIMARY,
    ROUTES,
    SEED,
    generate_demo_intents,
)
from zentra.config import get_settings
from zentra.events.repository import list_events
from zentra.events.types import CALLBACK_CORRELATED
from zentra.evidence.closeout import verify_closeout_document
from zentra.kit.context import ActorContext, system_context
from zentra.kit.db import Database
from zentra.kit.errors import CloseoutBlocked, NotFound
from zentra.kit.money import format_major
from zentra.kit.time import utcnow
from zentra.ledger.schemas import EntryRequest, PostingIn
from zentra.ledger.service import create_entry, ensure_account, get_account_balances
from zentra.models import ReconciliationException
from zentra.models.runtime import Intent
from zentra.providers.service import create_connection
from zentra.reconciliation import repository
from zentra.reconciliation.closeout import seal_closeout
from zentra.reconciliation.exceptions import transition_exception
from zentra.reconciliation.runs import LedgerWindow, create_run
from zentra.runtime.evidence import verify_intent_evidence
from zentra.runtime.flows import SYSTEM_ACCOUNTS
from zentra.runtime.intents import submit_intent, system_accounts
from zentra.runtime.repository import get_movement
from zentra.runtime.sandbox_service import deliver_late_callbacks, settle_sandbox_rail
from zentra.runtime.schemas import IntentIn, SandboxSettleIn
from zentra.runtime.settings import put_policy, put_routes, set_rail_health
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker

OUTPUT_DIR = Path("zentra-output")


def _money(amount: int, currency: str) -> str:
    return f"{format_major(amount, currency)} {currency}"


def run_demo(database: Database, console: Console) -> None:
    """Create a demo tenant and tell one day of payments end to end; print what happened."""
    with database.unit_of_work() as session:
        tenant, issued = create_tenant(session, "demo")
    ctx = system_context(tenant.id, "demo")
    console.rule("[bold]Zentra demo[/bold]")
    console.print(f"tenant [bold]{tenant.id}[/bold] created on {database.url}")

    console.rule("1 · runtime: rails, policy, routes")
    _set_up_runtime(database, ctx, console)

    console.rule("2 · intents: policy → ledger → routing → events → evidence")
    day = _run_intents(database, ctx, console)

    console.rule("3 · the rails settle the day")
    settlement_file = _settle(database, ctx, day, console)

    console.rule("4 · match  5 · compare")
    run_id = _reconcile(database, ctx, settlement_file, day, console)

    console.rule("late callback")
    with database.unit_of_work(ctx.tenant_id) as session:
        late = deliver_late_callbacks(session, ctx, PRIMARY)
        correlated = list_events(
            session, ctx.tenant_id, limit=100, event_type=CALLBACK_CORRELATED, resource_id=run_id
        )
    outcomes = ", ".join(f"{name} {len(refs)}" for name, refs in late.outcomes.items())
    console.print(
        f"{late.delivered} late callback delivered through the callback path "
        f"({outcomes or 'nothing to settle'}), {len(correlated)} correlated into run {run_id} "
        "while it is in review",
        soft_wrap=True,
    )

    console.rule("6 · own")
    with database.unit_of_work(ctx.tenant_id) as session:
        exceptions = repository.list_run_exceptions(session, ctx.tenant_id, run_id)
    for exc in exceptions:
        amount = (
            _money(exc.amount_minor, exc.currency)
            if exc.amount_minor is not None and exc.currency
            else ""
        )
        console.print(
            f"[yellow]{exc.type}[/yellow] {exc.provider_reference or ''} {amount} "
            f"→ owner {exc.owner}, {exc.status} ({exc.id})",
            soft_wrap=True,
        )

    console.rule("7 · close")
    closeout_path = _close(database, ctx, run_id, exceptions, console)

    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    console.rule("explore")
    for line in (
        "zentra serve   (or: make serve), then:",
        f"  API key (admin, shown once): {issued.secret}",
        f"  {base}/docs",
        f"  curl -H 'Authorization: Bearer {issued.secret}' {base}/runtime/intents/intent_failover",
        f"  curl -H 'Authorization: Bearer {issued.secret}' {base}/reconciliation/runs/{run_id}",
        f"  curl -H 'Authorization: Bearer {issued.secret}' "
        f"'{base}/reconciliation/exceptions?run_id={run_id}'",
    ):
        console.print(line, soft_wrap=True, highlight=False)
    console.print(f"  zentra verify {closeout_path}", soft_wrap=True, highlight=False)


def _set_up_runtime(database: Database, ctx: ActorContext, console: Console) -> None:
    with database.unit_of_work(ctx.tenant_id) as session:
        for rail in (PRIMARY, BACKUP):
            create_connection(session, ctx, name=rail, kind="sandbox")
        policy = put_policy(session, ctx, POLICY)
        routes = put_routes(session, ctx, ROUTES)
        # Customers deposit first, so that paying never takes a balance below zero.
        now = utcnow()
        for currency, deposits in DEPOSITS.items():
            customers = [c for c in CUSTOMERS if c.endswith(currency.lower())]
            ensure_account(session, ctx, code=deposits, type="asset", currency=currency)
            for customer in customers:
                ensure_account(session, ctx, code=customer, type="liability", currency=currency)
            create_entry(
                session,
                ctx,
                EntryRequest(
                    entry_id=f"deposits:{currency.lower()}",
                    description=f"customer deposits in {currency}",
                    effective_at=now,
                    postings=[
                        PostingIn(
                            account=deposits,
                            direction="debit",
                            amount=FUNDING_MINOR * len(customers),
                            currency=currency,
                        ),
                        *(
                            PostingIn(
                                account=c,
                                direction="credit",
                                amount=FUNDING_MINOR,
                                currency=currency,
                            )
                            for c in customers
                        ),
                    ],
                ),
            )
    limits = ", ".join(_money(item.max_amount, item.currency) for item in POLICY.limits)
    console.print(f"sandbox rails {PRIMARY} and {BACKUP} (failover order)")
    console.print(
        f"policy v{policy.version}: at most {limits} per payment, a daily cap per customer, "
        f"{len(POLICY.blocked_counterparties)} blocked counterparty, "
        f"{len(POLICY.risk_rules)} risk rule",
        soft_wrap=True,
    )
    console.print(f"routes v{routes.version}: EUR and USD → {PRIMARY}, then {BACKUP}")
    console.print(
        f"{len(CUSTOMERS)} customers funded with {format_major(FUNDING_MINOR, 'EUR')} each"
    )


def _submit(database: Database, ctx: ActorContext, body: IntentIn) -> Intent:
    with database.unit_of_work(ctx.tenant_id) as session:
        return submit_intent(session, ctx, body).intent


def _run_intents(database: Database, ctx: ActorContext, console: Console) -> date:
    intents = generate_demo_intents()
    rejected = _submit(database, ctx, intents.over_limit)
    console.print(
        f"{rejected.intent_id} {_money(rejected.amount_minor, rejected.currency)} → "
        f"[red]{rejected.status}[/red] ({rejected.reason}), "
        f"{len(rejected.ledger_entries)} ledger entries posted",
        soft_wrap=True,
    )

    with database.unit_of_work(ctx.tenant_id) as session:
        set_rail_health(session, ctx, PRIMARY, "down")
    failover = _submit(database, ctx, intents.failover)
    routed = next(step for step in failover.trace if step["state"] == "routed")
    tried = " → ".join(f"{t['rail']} {t['result']}" for t in routed["detail"]["tried"])
    console.print(f"{PRIMARY} marked down")
    console.print(
        f"{failover.intent_id} {_money(failover.amount_minor, failover.currency)} → "
        f"[green]{failover.status}[/green] via {failover.rail} ({tried})",
        soft_wrap=True,
    )
    with database.unit_of_work(ctx.tenant_id) as session:
        set_rail_health(session, ctx, PRIMARY, "up")
    console.print(f"{PRIMARY} up again")

    submitted = [_submit(database, ctx, body) for body in intents.regular]
    evidenced = [i for i in submitted if i.status == "evidenced"]
    path = " → ".join(step["state"] for step in evidenced[0].trace)
    console.print(f"{len(evidenced)} intents {path} on {PRIMARY}", soft_wrap=True)
    sample = evidenced[0]
    valid = verify_intent_evidence(sample.evidence)
    console.print(
        f"evidence of {sample.intent_id}: {', '.join(sample.policy['evidence'])}; "
        f"Ed25519 signature {'valid' if valid else 'INVALID'} "
        f"({sample.evidence['signature']['key_fingerprint']})",
        soft_wrap=True,
    )
    _print_balances(database, ctx, console, "ledger after the intents")
    with database.unit_of_work(ctx.tenant_id, read_only=True) as session:
        movement = get_movement(session, ctx.tenant_id, sample.movement_id or "")
    assert movement is not None  # an evidenced intent has its movement
    return movement.occurred_on


def _print_balances(database: Database, ctx: ActorContext, console: Console, title: str) -> None:
    table = Table("system account", *CURRENCIES, title=title)
    with database.unit_of_work(ctx.tenant_id, read_only=True) as session:
        codes = {c: system_accounts(session, ctx.tenant_id, c).codes for c in CURRENCIES}
        for index, base in enumerate(SYSTEM_ACCOUNTS):
            cells = []
            for currency in CURRENCIES:
                try:
                    balances = get_account_balances(session, ctx, codes[currency][index])
                except NotFound:  # not needed by any intent yet
                    cells.append("-")
                    continue
                cells.append(format_major(balances.posted, currency))
            table.add_row(base, *cells)
    console.print(table)


def _settle(database: Database, ctx: ActorContext, day: date, console: Console) -> str:
    with database.unit_of_work(ctx.tenant_id) as session:
        primary = settle_sandbox_rail(
            session, ctx, PRIMARY, SandboxSettleIn(date=day, seed=SEED, noise=NOISE)
        )
        backup = settle_sandbox_rail(session, ctx, BACKUP, SandboxSettleIn(date=day, seed=SEED))
    report, file = primary.callbacks, primary.file.file
    console.print(
        f"{PRIMARY} settles {day}: {primary.intents} intents, with noise "
        f"(late {NOISE.late_callbacks}, duplicate {NOISE.duplicate_callbacks}, "
        f"missing {NOISE.missing_rows}, drift {NOISE.amount_drift}, "
        f"unknown {NOISE.unknown_references}, fees 0.30 + 0.25%)",
        soft_wrap=True,
    )
    console.print(
        f"  callbacks signed and verified: {report.delivered} delivered, "
        f"{report.duplicates} duplicate ignored, {report.held} held back (late)",
        soft_wrap=True,
    )
    console.print(
        f"  settlement file {file.id} ({file.format}, sha256 {file.sha256[:16]}…): "
        f"{file.rows} rows kept, {len(file.rejected_rows)} rejected",
        soft_wrap=True,
    )
    settled = len(report.outcomes.get("settled", []))
    console.print(
        f"  ledger: {settled} intents settled: reserved → settlement (fees apart), "
        "merchant credit, payout",
        soft_wrap=True,
    )
    console.print(
        f"{BACKUP} settles {day}: {backup.intents} intent, "
        f"{backup.callbacks.delivered} callback, {backup.file.file.rows} row"
    )
    _print_balances(database, ctx, console, "ledger after settlement")
    return file.id


def _reconcile(
    database: Database, ctx: ActorContext, settlement_file: str, day: date, console: Console
) -> str:
    with database.unit_of_work(ctx.tenant_id) as session:
        run = create_run(
            session,
            ctx,
            provider=PRIMARY,
            settlement_file=settlement_file,
            ledger_window=LedgerWindow(day, day),
            owner="finance_ops",
        )
    console.print(f"run {run.id} created: status {run.status}, queued for the worker")
    default_worker(database, name="demo").drain()
    with database.unit_of_work(ctx.tenant_id) as session:
        run = repository.get_run(session, ctx.tenant_id, run.id) or run
    path = " → ".join(step["status"] for step in run.state_path)
    console.print(f"state path: {path}")
    console.print(
        f"{run.counts['external_records']} provider rows against "
        f"{run.counts['internal_records']} intents' movements: "
        f"[green]{run.counts['matched']} matched[/green], "
        f"[yellow]{sum(run.counts['exceptions_by_type'].values())} exceptions[/yellow]"
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
    console.print(f"result fingerprint {run.result_fingerprint}", soft_wrap=True)
    return run.id


# What a finance operator decides about each kind of discrepancy the rail planted.
DECISIONS = {
    "unmatched_provider_row": ("carried_forward", "ask_provider", "unknown charge queried"),
    "amount_mismatch": ("written_off", "accept_provider_amount", "one unit off: rounding"),
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
