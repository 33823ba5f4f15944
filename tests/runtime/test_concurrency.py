"""Intents submitted at the same time, on both databases: one intent per id, and a daily cap
that concurrent intents of one source cannot overrun together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.fixtures.api import ApiClient
from tests.runtime.conftest import count, set_policy, submit, two_rails
from zentra.kit.db import Database

THREADS = 6


def test_the_same_intent_sent_concurrently_is_made_once(db: Database, client: ApiClient) -> None:
    two_rails(client)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda _: submit(client, "intent_race"), range(THREADS)))
    assert sorted(a.status_code for a in answers) == [200] * (THREADS - 1) + [201]
    first = answers[0].json()
    assert all(a.json() == first for a in answers)  # every answer is the one stored intent
    assert count(db, "intents") == 1
    assert count(db, "ledger_entries") == 1
    assert count(db, "movements") == 1


def test_concurrent_intents_of_one_source_respect_the_daily_cap(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    set_policy(client, velocity=[{"currency": "EUR", "max_amount_per_day": 250_000}])
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(
            pool.map(lambda n: submit(client, f"intent_cap_{n}", 100_000), range(THREADS))
        )
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["evidenced"] * 2 + ["rejected"] * (THREADS - 2)
    assert {a.json()["reason"] for a in answers if a.json()["status"] == "rejected"} == {
        "velocity_exceeded"
    }
    assert count(db, "ledger_entries") == 2
