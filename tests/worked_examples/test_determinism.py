"""The same reconciliation gives the same result_fingerprint on SQLite and on PostgreSQL, for
shuffled files and for re-runs: the result depends on the records, not on the store or order."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_tenant
from tests.fixtures.api import api_client
from tests.fixtures.scenarios import import_movements, movement, reconcile
from zentra.api.app import create_app
from zentra.kit.db import Database

HEADER = "row_id,provider_reference,type,amount,currency,booked_at,counterparty"


def _rows(rng: random.Random) -> tuple[list[str], list[dict[str, object]]]:
    movements: list[dict[str, object]] = []
    rows: list[str] = []
    for n in range(40):
        amount = rng.choice([1000, 1999, 2500, 4242, 990])
        movements.append(
            {**movement(f"mv_{n}", f"pi_{n}", amount), "metadata": {"counterparty": "Acme"}}
        )
        shape = rng.random()
        if shape < 0.6:
            rows.append(f"r{n},pi_{n},charge,{amount // 100}.{amount % 100:02d},EUR,2026-04-26,")
        elif shape < 0.8:
            rows.append(f"r{n},,charge,{amount // 100}.{amount % 100:02d},EUR,2026-04-26,Acme")
        elif shape < 0.9:
            rows.append(f"r{n},pi_{n},charge,{amount // 100 + 1}.00,EUR,2026-04-26,")
    rows.append("rx,pi_ghost,charge,5.00,EUR,2026-04-26,")
    rows.append("ry,pi_1,charge,1.00,EUR,2026-04-26,")
    return rows, movements


def _fingerprint(db: Database, rows: list[str], movements: list[dict[str, object]]) -> str:
    tenant = make_tenant(db, "determinism")  # a new tenant each time: nothing carries over
    with api_client(create_app(db)) as anonymous:
        client = anonymous.with_key(tenant.api_key)
        import_movements(client, movements)  # type: ignore[arg-type]
        content = ("\n".join([HEADER, *rows]) + "\n").encode()
        run = reconcile(client, db, content)
    fingerprint: str = run["result_fingerprint"]
    return fingerprint


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 10_000))
def test_same_fingerprint_on_sqlite_and_postgresql_in_any_order(
    sqlite_db: Database, postgres_db: Database, seed: int
) -> None:
    rng = random.Random(seed)
    rows, movements = _rows(rng)
    on_sqlite = _fingerprint(sqlite_db, rows, movements)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    on_postgres = _fingerprint(postgres_db, shuffled, list(reversed(movements)))
    assert on_postgres == on_sqlite
    assert _fingerprint(sqlite_db, shuffled, movements) == on_sqlite
    assert len(on_sqlite) == 64
