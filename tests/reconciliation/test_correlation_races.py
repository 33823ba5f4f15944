"""A late callback racing the seal of the run it concerns: the run is either still in review
when the callback changes it, or sealed, and then the callback is a post-close adjustment."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from zentra.kit.db import Database
from zentra.models import ReconciliationRun

HOLD_SECONDS = 1.0


def test_a_failed_callback_during_a_seal_waits_and_becomes_a_post_close_adjustment(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    run = rail.run(rail.settle([("ch_paid", "12.50")]))
    assert rail.exceptions(run["id"]) == []  # matched: nothing keeps the run from closing
    sealing = threading.Event()

    def seal() -> None:
        # What a closeout does first: the run locked FOR UPDATE, then sealed, committed later.
        with db.unit_of_work(tenant.tenant_id) as session:
            locked = session.scalars(
                select(ReconciliationRun).where(ReconciliationRun.id == run["id"]).with_for_update()
            ).one()
            locked.status = "closed"
            session.flush()
            sealing.set()
            time.sleep(HOLD_SECONDS)

    sealer = threading.Thread(target=seal)
    sealer.start()
    assert sealing.wait(timeout=10)
    answer = rail.send("evt_paid_failed", "charge.failed", "ch_paid", 1250)
    sealer.join()

    assert answer.status_code == 200, answer.text
    # The sealed run gained nothing; the news waits for the next run instead.
    assert rail.exceptions(run["id"]) == []
    (adjustment,) = rail.exceptions(type="late_callback")
    assert adjustment["run_id"] is None
    assert rail.detail(adjustment["id"])["evidence"]["details"]["post_close_of"] == run["id"]
