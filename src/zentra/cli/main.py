"""``zentra``: serve, worker, db upgrade, tenants, keys, demo, reconcile, verify (SPEC 13), and
the sandbox rail on command."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from zentra.config import get_settings
from zentra.kit.context import ROLES, system_context
from zentra.kit.db import Database, get_database
from zentra.kit.errors import ZentraError
from zentra.kit.migrate import upgrade_database
from zentra.tenancy.service import create_api_key, create_tenant

app = typer.Typer(
    name="zentra",
    help="Zentra: multi-tenant payments reconciliation runtime.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants (workspaces).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
sandbox_app = typer.Typer(help="Sandbox rails: settle a day, deliver late callbacks.")
app.add_typer(sandbox_app, name="sandbox")

console = Console()
err_console = Console(stderr=True)


def _migrated_database() -> Database:
    database = get_database()
    upgrade_database(database)
    return database


def _fail(error: ZentraError) -> None:
    err_console.print(f"[red]error[/red] ({error.code}): {error.detail}")
    raise typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to ZENTRA_DATABASE_URL."""
    _migrated_database()
    console.print(f"database is up to date: {get_settings().database_url}")


@tenants_app.command("create")
def tenants_create(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a tenant and print its first API key (role admin). The key is shown once."""
    database = _migrated_database()
    try:
        with database.unit_of_work() as session:
            tenant, issued = create_tenant(session, name)
    except ZentraError as error:
        _fail(error)
        return
    if as_json:
        print(json.dumps({"tenant_id": tenant.id, "api_key": issued.secret}))
        return
    console.print(f"tenant [bold]{tenant.id}[/bold] ({tenant.name})")
    console.print(f"admin API key (shown once): [bold]{issued.secret}[/bold]")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant id (ten_...).")],
    role: Annotated[list[str], typer.Option(help=f"Role: {', '.join(ROLES)} (repeatable).")],
    name: Annotated[str, typer.Option(help="A name for the key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key for a tenant. The key is shown once."""
    database = _migrated_database()
    try:
        with database.unit_of_work(tenant) as session:
            issued = create_api_key(
                session, system_context(tenant, "cli"), roles=list(role), name=name
            )
    except ZentraError as error:
        _fail(error)
        return
    if as_json:
        print(
            json.dumps(
                {
                    "tenant_id": issued.tenant_id,
                    "key_id": issued.key_id,
                    "roles": list(issued.roles),
                    "api_key": issued.secret,
                }
            )
        )
        return
    console.print(f"key {issued.key_id} for {issued.tenant_id}, roles {', '.join(issued.roles)}")
    console.print(f"API key (shown once): [bold]{issued.secret}[/bold]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default ZENTRA_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default ZENTRA_PORT.")] = None,
) -> None:
    """Apply migrations and serve the API (on SQLite, with the worker in-process)."""
    import uvicorn

    from zentra.api.app import create_app
    from zentra.worker.runtime import default_worker

    settings = get_settings()
    database = _migrated_database()
    stop = threading.Event()
    worker_thread = None
    if not database.is_postgres:
        worker = default_worker(database, name="serve-in-process")
        worker_thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
        worker_thread.start()
    try:
        uvicorn.run(create_app(database), host=host or settings.host, port=port or settings.port)
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run queued jobs, then exit.")] = False,
) -> None:
    """Run background jobs (reconciliation runs). Scale out on PostgreSQL."""
    from zentra.worker.runtime import default_worker

    database = _migrated_database()
    runner = default_worker(database)
    if once:
        console.print(f"ran {runner.drain()} job(s)")
        return
    console.print(f"worker {runner.name} polling {get_settings().database_url}")
    stop = threading.Event()
    try:
        runner.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A closeout document (JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify a sealed closeout offline: Merkle root and Ed25519 signature. Exit 1 if invalid."""
    from zentra.evidence.closeout import verify_closeout_document

    result = verify_closeout_document(file.read_bytes())
    if as_json:
        print(json.dumps(result.as_json()))
    else:
        status = "[green]VALID[/green]" if result.valid else "[red]INVALID[/red]"
        console.print(f"{file}: {status}")
        for line in result.describe():
            console.print(f"  {line}")
    if not result.valid:
        raise typer.Exit(code=1)


@app.command()
def demo() -> None:
    """Create a demo tenant, reconcile realistic data on the embedded store and explain it."""
    from zentra.cli.demo import run_demo

    run_demo(_migrated_database(), console)


@app.command()
def reconcile(
    settlement: Annotated[Path, typer.Option(help="Settlement file.")],
    movements: Annotated[Path, typer.Option(help="Movements, NDJSON or CSV.")],
    provider: Annotated[str, typer.Option(help="Provider connection name.")],
    format: Annotated[
        str | None, typer.Option(help="Settlement file format (detected when omitted).")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="Ledger window: DATE or FROM..TO (default: the movements' dates)."),
    ] = None,
    ruleset: Annotated[
        Path | None, typer.Option(help='A ruleset JSON file {"rules": [...]} (default built in).')
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write matches/exceptions/report.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One-shot reconciliation of files on the embedded store (a temporary SQLite unless
    ZENTRA_DATABASE_URL is set)."""
    from zentra.cli.reconcile import run_reconcile

    try:
        code = run_reconcile(
            settlement=settlement,
            movements=movements,
            provider=provider,
            file_format=format,
            window=window,
            ruleset=ruleset,
            output=output,
            as_json=as_json,
            console=console if sys.stdout.isatty() and not as_json else None,
        )
    except ZentraError as error:
        _fail(error)
        return
    raise typer.Exit(code=code)


@sandbox_app.command("settle")
def sandbox_settle(
    tenant: Annotated[str, typer.Option(help="Tenant id (ten_...).")],
    rail: Annotated[str, typer.Option(help="A sandbox provider connection's name.")],
    day: Annotated[str, typer.Option("--date", help="The UTC day to settle (YYYY-MM-DD).")],
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    noise: Annotated[str | None, typer.Option(help='Noise as JSON: {"missing_rows": 1}')] = None,
    file_id: Annotated[str | None, typer.Option(help="file_id of the settlement file.")] = None,
) -> None:
    """Have a sandbox rail settle a day: signed callbacks and a settlement file (JSON out)."""
    from datetime import date

    from zentra.cli.sandbox import settle

    try:
        answer = settle(
            _migrated_database(),
            tenant,
            rail,
            date.fromisoformat(day),
            seed=seed,
            noise_json=noise,
            file_id=file_id,
        )
    except ZentraError as error:
        _fail(error)
        return
    except ValueError as error:  # a bad date or noise object (pydantic's errors included)
        err_console.print(f"[red]error[/red]: {error}")
        raise typer.Exit(code=2) from error
    print(json.dumps(answer))


@sandbox_app.command("deliver-late")
def sandbox_deliver_late(
    tenant: Annotated[str, typer.Option(help="Tenant id (ten_...).")],
    rail: Annotated[str, typer.Option(help="A sandbox provider connection's name.")],
) -> None:
    """Have a sandbox rail send the callbacks it held back (JSON out)."""
    from zentra.cli.sandbox import deliver_late

    try:
        print(json.dumps(deliver_late(_migrated_database(), tenant, rail)))
    except ZentraError as error:
        _fail(error)


if __name__ == "__main__":
    app()
