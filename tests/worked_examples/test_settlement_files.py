"""Worked examples: a provider's daily settlement file, uploaded the way finance teams do it.

The file is the generic settlement CSV of SPEC 13 for one provider day. Finance uploads it, a
retry or a second colleague uploads the same bytes again, and some rows of it are broken.
"""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.fixtures.api import ApiClient
from zentra.kit.db import Database
from zentra.models import ExternalRecord, SettlementFile

DAILY_SETTLEMENT = (
    b"row_id,provider_reference,type,amount,fee,currency,booked_at,description\n"
    b"r-001,pi_3NabcA,charge,1250.00,36.55,EUR,2026-04-26,Order 1001\n"
    b"r-002,pi_3NabcB,charge,89.90,2.86,EUR,2026-04-26,Order 1002\n"
    b"r-003,re_3NabcA,refund,-250.00,,EUR,2026-04-26,Refund for order 1001\n"
    b"r-004,po_2026_04_26,payout,-1089.90,,EUR,2026-04-26T18:00:00Z,Payout\n"
)


def _upload(client: ApiClient, content: bytes) -> httpx.Response:
    return client.post(
        "/settlement-files",
        files={"file": ("rail_primary_2026-04-26.csv", content, "text/csv")},
        data={"provider": "rail_primary", "file_id": "set_2026_04_26"},
    )


def test_re_uploading_the_same_settlement_file_is_a_no_op(db: Database, client: ApiClient) -> None:
    first = _upload(client, DAILY_SETTLEMENT)
    again = _upload(client, DAILY_SETTLEMENT)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["rows"] == 4
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementFile)) == 1
        assert session.scalar(select(func.count()).select_from(ExternalRecord)) == 4
    listed = client.get("/settlement-files").json()["data"]
    assert [f["id"] for f in listed] == [first.json()["id"]]


def test_bad_rows_are_rejected_with_line_and_reason_good_rows_kept(client: ApiClient) -> None:
    with_bad_rows = DAILY_SETTLEMENT + (
        b"r-005,pi_3NabcC,charge,12,50,,EUR,2026-04-26,decimal comma split the row\n"
        b"r-006,pi_3NabcD,charge,19.999,,EUR,2026-04-26,three decimals in EUR\n"
        b"r-007,pi_3NabcE,charge,19.99,,EUR,26.04.2026,local date format\n"
        b"r-008,,charge,5.00,,EUR,2026-04-26,a bank line without reference: kept\n"
        b"r-009,pi_3NabcF,charge,7.00,,XXX,2026-04-26,no such currency\n"
        b"r-010,pi_3NabcG,charge,42.00,1.30,EUR,2026-04-27,Order 1007\n"
    )
    answer = _upload(client, with_bad_rows)

    assert answer.status_code == 201
    body = answer.json()
    assert body["rows"] == 6
    assert [(r["line"], r["reason"]) for r in body["rejected_rows"]] == [
        (6, "expected 8 fields, found 9"),
        (7, "amount '19.999' has more decimals than EUR allows (2)"),
        (
            8,
            "booked_at '26.04.2026' is not an ISO 8601 date (YYYY-MM-DD) or timestamp "
            "(YYYY-MM-DDThh:mm[:ss[.ffffff]][Z|±hh:mm])",
        ),
        (10, "currency: XXX has no minor unit and cannot be used for money"),
    ]
    records = client.get(f"/settlement-files/{body['id']}/records").json()["data"]
    kept = [(r["line"], r["row_id"], r["amount"], r["fee"]) for r in records]
    assert kept == [
        (2, "r-001", 125000, 3655),
        (3, "r-002", 8990, 286),
        (4, "r-003", -25000, None),
        (5, "r-004", -108990, None),
        (9, "r-008", 500, None),
        (11, "r-010", 4200, 130),
    ]
    # No bad row became a zero amount or a guessed date.
    assert all(r["amount"] != 0 and r["booked_at"] for r in records)
