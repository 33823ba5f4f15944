"""``zentra sandbox settle`` and ``deliver-late``, run as a user runs them: a real process on
the embedded store, against intents made through the API."""

from __future__ import annotations

import json

from tests.cli.test_commands import zentra
from tests.conftest import make_tenant
from tests.fixtures.api import api_client
from tests.runtime.conftest import PRIMARY, count, intent_body, two_rails
from zentra.api.app import create_app
from zentra.kit.db import Database


def test_the_sandbox_rail_settles_on_command(sqlite_db: Database) -> None:
    tenant = make_tenant(sqlite_db, "acme")
    with api_client(create_app(sqlite_db)) as anonymous:
        client = anonymous.with_key(tenant.api_key)
        two_rails(client)
        intents = [
            client.post("/runtime/intents", json=intent_body(f"cli_{n}", 1000 + n)).json()
            for n in range(3)
        ]
    day = intents[0]["movement"]["occurred_at"][:10]
    sqlite_db.dispose()  # the command opens the file itself

    settled = zentra(
        "sandbox",
        "settle",
        "--tenant",
        tenant.tenant_id,
        "--rail",
        PRIMARY,
        "--date",
        day,
        "--seed",
        "3",
        "--noise",
        '{"late_callbacks": 1, "fee_minor": 5}',
        database_url=sqlite_db.url,
    )
    assert settled.returncode == 0, settled.stderr
    answer = json.loads(settled.stdout)
    assert answer["intents"] == 3
    assert answer["settlement_file"]["rows"] == 3
    assert answer["callbacks"]["delivered"] == 2
    assert answer["callbacks"]["held_late"] == 1

    late = zentra(
        "sandbox",
        "deliver-late",
        "--tenant",
        tenant.tenant_id,
        "--rail",
        PRIMARY,
        database_url=sqlite_db.url,
    )
    assert late.returncode == 0, late.stderr
    assert json.loads(late.stdout)["outcomes"] == {"settled": answer["noise"]["late"]}
    assert count(sqlite_db, "ledger_entries") == 3 * 4
