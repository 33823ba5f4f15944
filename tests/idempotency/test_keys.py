"""Idempotency-Key semantics that a crash or a failure can reach (SPEC 7)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import settlement_csv, upload
from zentra.idempotency.service import claim_key
from zentra.kit.db import Database
from zentra.kit.time import utcnow
from zentra.models import IdempotencyRecord

RUN_PATH = "/reconciliation/runs"


def _body(file_id: str) -> dict[str, str]:
    return {"provider": "rail_primary", "settlement_file": file_id, "ledger_window": "2026-04-26"}


def test_request_while_the_first_is_in_flight_is_409(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    file_id = upload(client, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    fingerprint = _fingerprint_of(client, file_id)
    # The first request with this key has claimed it and is still working.
    claim = claim_key(db, tenant.tenant_id, "k-2", "POST", RUN_PATH, fingerprint)
    assert claim.record_id is not None
    response = client.post(RUN_PATH, json=_body(file_id), headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"
    assert len(client.get(RUN_PATH).json()["data"]) == 1  # only the probe's run


def _fingerprint_of(client: ApiClient, file_id: str) -> str:
    """The fingerprint the server computes for this body (it does not depend on the key)."""
    assert client.post(
        RUN_PATH, json=_body(file_id), headers={"Idempotency-Key": "probe"}
    ).is_success
    database: Database = client.app.state.database
    with database.unit_of_work() as session:
        return session.scalars(
            select(IdempotencyRecord.request_fingerprint).where(IdempotencyRecord.key == "probe")
        ).one()


def test_a_crashed_first_request_is_taken_over_after_its_lock(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    file_id = upload(client, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    fingerprint = _fingerprint_of(client, file_id)
    claim_key(db, tenant.tenant_id, "k-crash", "POST", RUN_PATH, fingerprint)
    with db.unit_of_work() as session:  # the crashed request's lock runs out
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "k-crash")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    response = client.post(RUN_PATH, json=_body(file_id), headers={"Idempotency-Key": "k-crash"})
    assert response.status_code == 201
    replay = client.post(RUN_PATH, json=_body(file_id), headers={"Idempotency-Key": "k-crash"})
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json()["id"] == response.json()["id"]


def test_a_failed_request_releases_its_key(db: Database, client: ApiClient) -> None:
    body = _body("set_2026_04_26")
    missing = client.post(RUN_PATH, json=body, headers={"Idempotency-Key": "k-retry"})
    assert missing.status_code == 404  # the file is not there yet; nothing was done
    upload(client, settlement_csv([("pi_1", "1.00", "EUR")]), file_id="set_2026_04_26")
    retried = client.post(RUN_PATH, json=body, headers={"Idempotency-Key": "k-retry"})
    assert retried.status_code == 201
    assert "Idempotency-Replayed" not in retried.headers


def test_keys_are_scoped_to_their_tenant(db: Database, client: ApiClient) -> None:
    file_a = upload(client, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    other = client.with_key(make_tenant(db, "tenant-b").api_key)
    file_b = upload(other, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    a = client.post(RUN_PATH, json=_body(file_a), headers={"Idempotency-Key": "shared"})
    b = other.post(RUN_PATH, json=_body(file_b), headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert "Idempotency-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
