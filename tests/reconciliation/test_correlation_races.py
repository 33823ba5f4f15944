"""News from a provider racing an operator: a late callback against the seal of its run, a late
file against the write-off of its missing-file exception. The one that waits sees what the
other committed; neither overwrites it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from zentra.kit.context import ActorContext
from zentra.kit.db import Database
from zentra.models import ReconciliationRun
from zentra.reconciliation.exceptions import transition_exception

HOLD_SECONDS = 1.0
SCHEDULE = {"cadence": "daily", "cutoff": "06:00", "timezone": "UTC", "starts_on": "2026-11-21"}


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


def test_a_file_arriving_while_an_operator_writes_off_its_missing_file_keeps_the_write_off(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    schedule = f"/providers/{rail.connection['id']}/schedule"
    assert client.put(schedule, json=SCHEDULE).status_code == 200
    check = client.post(f"{schedule}/check", json={"at": "2026-11-21T07:00:00Z"})
    assert check.json()["opened"] == ["2026-11-21"]
    (missing,) = rail.exceptions(type="missing_settlement_file")
    writing_off = threading.Event()

    def write_off() -> None:
        with db.unit_of_work(tenant.tenant_id) as session:
            ctx = ActorContext(
                tenant_id=tenant.tenant_id, actor="user:ops", roles=frozenset({"operator"})
            )
            transition_exception(
                session, ctx, missing["id"], to="written_off", decision="waived", note="no file"
            )
            session.flush()
            writing_off.set()
            time.sleep(HOLD_SECONDS)

    operator = threading.Thread(target=write_off)
    operator.start()
    assert writing_off.wait(timeout=10)
    rail.settle([("ch_1", "1.00")], day="2026-11-21")
    operator.join()

    detail = rail.detail(missing["id"])
    assert (detail["status"], detail["decision"]) == ("written_off", "waived")
    transitions = [a for a in detail["history"] if a["kind"] == "transition"]
    assert [(a["from"], a["to"]) for a in transitions] == [("open", "written_off")]
