"""Reads proceed while a long write holds the database (SQLite WAL: reads begin deferred)."""

from __future__ import annotations

import threading
import time

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from zentra.events.service import emit_event
from zentra.kit.db import Database


def test_a_get_answers_while_a_writer_holds_the_lock(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    answered = threading.Event()
    status: list[int] = []

    def read() -> None:
        status.append(client.get("/events").status_code)
        answered.set()

    with db.unit_of_work(tenant.tenant_id) as session:
        emit_event(session, tenant.tenant_id, "reconciliation.run.created", {"run_id": "run_x"})
        session.flush()  # the writer now holds SQLite's write lock until commit
        started = time.monotonic()
        reader = threading.Thread(target=read)
        reader.start()
        assert answered.wait(timeout=10), "the read waited for the writer"
        waited = time.monotonic() - started
    reader.join()
    assert status == [200]
    assert waited < 5
