"""Settlement file uploads over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import func, select

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from zentra.ingest import repository
from zentra.ingest.service import upload_settlement_file
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.models import AuditEvent, ExternalRecord, SettlementFile
from zentra.tenancy.service import create_api_key

SETTLEMENT = (
    b"provider_reference,amount,currency,type,booked_at,fee,row_id\n"
    b"pi_1,1250.00,EUR,charge,2026-04-26,0.30,r1\n"
    b"pi_2,-20.00,EUR,refund,2026-04-26T09:00:00Z,,r2\n"
    b"pi_3,1500,JPY,charge,2026-04-26,,r3\n"
)


def _upload(
    client: ApiClient, content: bytes, *, provider: str = "rail_primary", **form: str
) -> httpx.Response:
    return client.post(
        "/settlement-files",
        files={"file": ("settlement.csv", content, "text/csv")},
        data={"provider": provider, **form},
    )


def test_upload_stores_the_file_and_its_records(db: Database, client: ApiClient) -> None:
    answer = _upload(client, SETTLEMENT, file_id="set_2026_04_26")
    assert answer.status_code == 201
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(SETTLEMENT).hexdigest()
    assert (body["format"], body["status"], body["rows"], body["rejected_rows"]) == (
        "csv",
        "parsed",
        3,
        [],
    )
    assert (body["provider"], body["file_id"], body["filename"]) == (
        "rail_primary",
        "set_2026_04_26",
        "settlement.csv",
    )
    assert body["created_at"].endswith("Z")

    records = client.get(f"/settlement-files/{body['id']}/records").json()
    assert records["next_cursor"] is None
    assert [
        (r["line"], r["amount"], r["fee"], r["currency"], r["type"]) for r in records["data"]
    ] == [
        (2, 125000, 30, "EUR", "charge"),
        (3, -2000, None, "EUR", "refund"),
        (4, 1500, None, "JPY", "charge"),
    ]
    assert records["data"][1]["raw"] == "pi_2,-20.00,EUR,refund,2026-04-26T09:00:00Z,,r2"
    assert records["data"][1]["booked_at"] == "2026-04-26T09:00:00Z"

    with db.unit_of_work() as session:
        stored = session.scalars(select(SettlementFile)).one()
        assert stored.content == SETTLEMENT  # byte-exact evidence
        assert session.scalars(select(ExternalRecord.reference_key)).all() == [
            "PI_1",
            "PI_2",
            "PI_3",
        ]


def test_same_bytes_again_answer_200_with_the_same_file(db: Database, client: ApiClient) -> None:
    first = _upload(client, SETTLEMENT)
    again = _upload(client, SETTLEMENT)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ExternalRecord)) == 3
        uploads = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "settlement_file.uploaded")
        ).all()
    assert len(uploads) == 1


def test_same_bytes_for_another_provider_are_another_file(client: ApiClient) -> None:
    first = _upload(client, SETTLEMENT, provider="rail_primary")
    second = _upload(client, SETTLEMENT, provider="rail_backup")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_an_unreadable_file_is_refused_with_422_and_retained(
    db: Database, client: ApiClient
) -> None:
    content = b"reference;amount\nfoo;1\n"
    answer = _upload(client, content, format="csv")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "unreadable_file"
    assert "lacks the required column(s) provider_reference" in problem["detail"]

    stored = client.get(f"/settlement-files/{problem['settlement_file_id']}").json()
    assert (stored["status"], stored["rows"]) == ("refused", 0)
    assert stored["refusal_reason"] == problem["detail"]
    with db.unit_of_work() as session:
        file = session.scalars(select(SettlementFile)).one()
        assert file.content == content
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "settlement_file.uploaded")
        ).one()
        assert (audit.outcome, audit.resource_id) == ("refused", file.id)

    again = _upload(client, content, format="csv")
    assert again.status_code == 422
    assert again.json()["settlement_file_id"] == problem["settlement_file_id"]


def test_business_date_is_the_latest_booked_day_unless_given(client: ApiClient) -> None:
    late = SETTLEMENT + b"pi_4,5.00,EUR,charge,2026-04-27T23:30:00-02:00,,r4\n"
    derived = _upload(client, late)
    # 23:30 at UTC-2 is 01:30 UTC on the 28th: the day is taken in UTC.
    assert (derived.status_code, derived.json()["business_date"]) == (201, "2026-04-28")

    given = _upload(client, SETTLEMENT, business_date="2026-04-25")
    assert (given.status_code, given.json()["business_date"]) == (201, "2026-04-25")

    refused = _upload(client, b"reference;amount\nfoo;1\n", format="csv")
    stored = client.get(f"/settlement-files/{refused.json()['settlement_file_id']}").json()
    assert stored["business_date"] is None


def test_a_business_date_that_is_not_a_date_is_refused(db: Database, client: ApiClient) -> None:
    answer = _upload(client, SETTLEMENT, business_date="26/04/2026")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementFile)) == 0


def test_undetectable_content_is_retained_with_format_unknown(client: ApiClient) -> None:
    answer = _upload(client, b"%PDF-1.7 \x00\x01 not a settlement")
    assert answer.status_code == 422
    stored = client.get(f"/settlement-files/{answer.json()['settlement_file_id']}").json()
    assert (stored["format"], stored["status"]) == ("unknown", "refused")


def test_an_unknown_format_name_is_refused_and_nothing_is_stored(client: ApiClient) -> None:
    answer = _upload(client, SETTLEMENT, format="mt941")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"
    assert client.get("/settlement-files").json()["data"] == []


def test_another_tenants_file_is_not_found(db: Database, client: ApiClient) -> None:
    file_id = _upload(client, SETTLEMENT).json()["id"]
    other = client.with_key(make_tenant(db, "other").api_key)
    for path in (f"/settlement-files/{file_id}", f"/settlement-files/{file_id}/records"):
        answer = other.get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
    assert other.get("/settlement-files").json()["data"] == []
    assert client.get(f"/settlement-files/{file_id}").status_code == 200


def test_files_and_records_are_listed_by_cursor(client: ApiClient) -> None:
    ids = [_upload(client, SETTLEMENT + b"pi_%d,1.00,EUR,,,,\n" % n).json()["id"] for n in range(3)]
    first = client.get("/settlement-files", params={"limit": 2}).json()
    second = client.get("/settlement-files", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [f["id"] for f in first["data"] + second.json()["data"]] == ids
    assert second.json()["next_cursor"] is None

    page = client.get(f"/settlement-files/{ids[0]}/records", params={"limit": 3}).json()
    rest = client.get(
        f"/settlement-files/{ids[0]}/records", params={"cursor": page["next_cursor"]}
    ).json()
    assert [r["line"] for r in page["data"] + rest["data"]] == [2, 3, 4, 5]


def test_uploading_needs_the_service_role(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    with db.unit_of_work() as session:  # keys live outside tenant scope, like make_tenant
        issued = create_api_key(
            session, system_context(tenant.tenant_id), roles=["auditor"], name="reader"
        )
    auditor = client.with_key(issued.secret)
    answer = _upload(auditor, SETTLEMENT)
    assert answer.status_code == 403
    assert auditor.get("/settlement-files").status_code == 200


def test_a_lost_insert_race_answers_the_winning_file(db: Database, tenant: TenantHandle) -> None:
    ctx = system_context(tenant.tenant_id, "test")
    with db.unit_of_work(tenant.tenant_id) as session:
        winner = upload_settlement_file(session, ctx, content=SETTLEMENT, provider="rail_primary")
    with db.unit_of_work(tenant.tenant_id) as session:
        loser = SettlementFile(
            **{
                column: getattr(winner.file, column)
                for column in SettlementFile.__table__.columns.keys()  # noqa: SIM118
                if column != "id"
            },
            id="set_loser",
        )
        assert repository.add_file(session, loser) is False
        # The savepoint rolled back only the losing insert: the transaction goes on.
        assert repository.get_file(session, tenant.tenant_id, winner.file.id) is not None
