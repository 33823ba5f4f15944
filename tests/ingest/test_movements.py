"""Movement imports over HTTP (NDJSON and CSV) and from plain Python rows."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from zentra.ingest.service import import_movement_rows
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.models import AuditEvent, Movement

NDJSON = "application/x-ndjson"


def _movement(movement_id: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "movement_id": movement_id,
        "type": "payment",
        "provider": "rail_primary",
        "provider_reference": f"pi_{movement_id}",
        "amount": 125000,
        "currency": "EUR",
        "status": "succeeded",
        "occurred_at": "2026-04-26T23:30:00-02:00",
        "metadata": {"order": movement_id},
    }
    row.update(changes)
    return row


def _ndjson(*rows: dict[str, Any] | str) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode() + b"\n"


def _import(
    client: ApiClient, body: bytes, content_type: str = NDJSON, **headers: str
) -> httpx.Response:
    return client.post(
        "/movements/import", content=body, headers={"Content-Type": content_type, **headers}
    )


def test_ndjson_import_stores_movements_in_utc(db: Database, client: ApiClient) -> None:
    answer = _import(client, _ndjson(_movement("m1"), _movement("m2", ledger_entry_id="le_2")))
    assert answer.status_code == 200
    assert answer.json() == {"imported": 2, "unchanged": 0, "rejected": []}
    listed = client.get("/movements").json()["data"]
    assert [m["movement_id"] for m in listed] == ["m1", "m2"]
    assert listed[0]["occurred_at"] == "2026-04-27T01:30:00Z"
    assert (listed[0]["amount"], listed[0]["currency"]) == (125000, "EUR")
    assert listed[1]["ledger_entry_id"] == "le_2"
    with db.unit_of_work() as session:
        stored = session.scalars(select(Movement).order_by(Movement.movement_id)).first()
        assert stored is not None
        assert stored.occurred_on.isoformat() == "2026-04-27"  # the UTC date, not the local one
        assert stored.reference_key == "PI_M1"
        assert stored.metadata_ == {"order": "m1"}


def test_bad_rows_are_refused_per_row_with_line_and_reason(client: ApiClient) -> None:
    body = _ndjson(
        _movement("ok1"),
        _movement("float", amount=1250.0),
        _movement("decimal", amount="12.50"),
        _movement("kind", type="wire"),
        _movement("money", currency="EURO"),
        _movement("when", occurred_at="26/04/2026"),
        "{not json",
        _movement("ok2", amount="300"),
        "[1, 2]",
        _movement("meta", metadata=[1]),
    )
    answer = _import(client, body).json()
    assert (answer["imported"], answer["unchanged"]) == (2, 0)
    rejected = {(r["line"], r["movement_id"]): r["reason"] for r in answer["rejected"]}
    assert list(rejected) == [
        (2, "float"),
        (3, "decimal"),
        (4, "kind"),
        (5, "money"),
        (6, "when"),
        (7, None),
        (9, None),
        (10, "meta"),
    ]
    assert "JSON float" in rejected[(2, "float")]
    assert "'12.50' is not an integer amount in minor units" in rejected[(3, "decimal")]
    assert "type 'wire' is not one of" in rejected[(4, "kind")]
    assert "not valid JSON" in rejected[(7, None)]
    assert rejected[(10, "meta")] == "metadata must be a JSON object"
    amounts = {m["movement_id"]: m["amount"] for m in client.get("/movements").json()["data"]}
    assert amounts == {"ok1": 125000, "ok2": 300}


def test_reimporting_the_same_content_is_a_no_op(db: Database, client: ApiClient) -> None:
    body = _ndjson(_movement("m1"), _movement("m2"))
    assert _import(client, body).json()["imported"] == 2
    # Same content, other formatting: keys reordered, currency lower-case, same instant in UTC.
    again = _ndjson(
        {**_movement("m2"), "currency": "eur", "occurred_at": "2026-04-27T01:30:00Z"},
        _movement("m1"),
    )
    assert _import(client, again).json() == {"imported": 0, "unchanged": 2, "rejected": []}
    with db.unit_of_work() as session:
        assert len(session.scalars(select(Movement)).all()) == 2
        imports = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "movements.imported")
        ).all()
    assert [e.details["imported"] for e in imports] == [2, 0]


def test_reimporting_other_content_is_refused_naming_the_fields(client: ApiClient) -> None:
    _import(client, _ndjson(_movement("m1")))
    answer = _import(client, _ndjson(_movement("m1", amount=125001, status="refunded"))).json()
    assert answer["imported"] == answer["unchanged"] == 0
    assert answer["rejected"] == [
        {
            "line": 1,
            "movement_id": "m1",
            "reason": "movement already imported with different content: amount, status differ",
        }
    ]
    (stored,) = client.get("/movements").json()["data"]
    assert (stored["amount"], stored["status"]) == (125000, "succeeded")


def test_repeats_within_one_import(client: ApiClient) -> None:
    body = _ndjson(_movement("m1"), _movement("m1"), _movement("m1", amount=5))
    answer = _import(client, body).json()
    assert (answer["imported"], answer["unchanged"]) == (1, 1)
    assert answer["rejected"] == [
        {
            "line": 3,
            "movement_id": "m1",
            "reason": "movement_id appears earlier in this import (line 1) with different amount",
        }
    ]


def test_csv_import_with_json_metadata_column(client: ApiClient) -> None:
    body = (
        b"movement_id,type,provider,provider_reference,amount,currency,status,occurred_at,"
        b"ledger_entry_id,metadata\n"
        b'c1,refund,rail_primary,re_1,-2000,EUR,succeeded,2026-04-26,,"{""order"": 7}"\n'
        b"c2,fee,rail_primary,fee_1,12.5,EUR,succeeded,2026-04-26,,\n"
        b"c3,card,rail_primary,ch_1,99,JPY,succeeded,2026-04-26,le_3,not-json\n"
    )
    answer = _import(client, body, "text/csv; charset=utf-8").json()
    assert answer["imported"] == 1
    assert [(r["line"], r["movement_id"]) for r in answer["rejected"]] == [(3, "c2"), (4, None)]
    (stored,) = client.get("/movements").json()["data"]
    assert (stored["amount"], stored["metadata"], stored["occurred_at"]) == (
        -2000,
        {"order": 7},
        "2026-04-26T00:00:00Z",
    )


def test_unsupported_media_type_and_empty_body_are_refused(client: ApiClient) -> None:
    answer = _import(client, _ndjson(_movement("m1")), "application/json")
    assert answer.status_code == 422
    assert "unsupported content type 'application/json'" in answer.json()["detail"]
    assert _import(client, b"").status_code == 422
    assert client.get("/movements").json()["data"] == []


def test_idempotency_key_replays_the_first_answer(client: ApiClient) -> None:
    body = _ndjson(_movement("m1"))
    first = _import(client, body, **{"Idempotency-Key": "import-2026-04-26"})
    replay = _import(client, body, **{"Idempotency-Key": "import-2026-04-26"})
    assert first.json() == {"imported": 1, "unchanged": 0, "rejected": []}
    assert replay.headers.get("Idempotency-Replayed") == "true"
    assert replay.json() == first.json()  # not {"unchanged": 1}: the stored answer, replayed
    assert "Idempotency-Replayed" not in first.headers
    other = _import(client, _ndjson(_movement("m2")), **{"Idempotency-Key": "import-2026-04-26"})
    assert other.status_code == 422


def test_movements_are_filtered_by_provider_and_normalized_reference(client: ApiClient) -> None:
    _import(
        client,
        _ndjson(
            _movement("a", provider_reference="PI_3N AB"),
            _movement("b", provider="rail_backup"),
            _movement("c"),
        ),
    )
    by_ref = client.get("/movements", params={"provider_reference": " pi_3nab "}).json()["data"]
    assert [m["movement_id"] for m in by_ref] == ["a"]
    by_provider = client.get("/movements", params={"provider": "rail_backup"}).json()["data"]
    assert [m["movement_id"] for m in by_provider] == ["b"]
    first = client.get("/movements", params={"limit": 2}).json()
    rest = client.get("/movements", params={"cursor": first["next_cursor"]}).json()
    assert [m["movement_id"] for m in first["data"] + rest["data"]] == ["a", "b", "c"]


def test_plain_rows_import_for_the_cli(db: Database, tenant: TenantHandle) -> None:
    ctx = system_context(tenant.tenant_id, "cli")
    rows = [_movement(f"m{n}") for n in range(2500)] + [_movement("bad", amount=1.5)]
    with db.unit_of_work(tenant.tenant_id) as session:
        result = import_movement_rows(session, ctx, rows)
    assert (result.imported, result.unchanged) == (2500, 0)
    assert [(r.line, r.movement_id) for r in result.rejected] == [(2501, "bad")]
    with db.unit_of_work(tenant.tenant_id) as session:
        again = import_movement_rows(session, ctx, rows[:1200])
    assert (again.imported, again.unchanged, again.rejected) == (0, 1200, [])
