"""Request bodies over the configured bound are refused with 413 before anything is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient, api_client
from zentra.api.app import create_app
from zentra.kit.db import Database
from zentra.models import Movement, SettlementFile

LIMIT = 4096
HEADER = b"provider_reference,amount,currency,type,booked_at\n"


@pytest.fixture
def small_client(db: Database, tenant: TenantHandle) -> Iterator[ApiClient]:
    with api_client(create_app(db, max_request_bytes=LIMIT)) as anonymous:
        yield anonymous.with_key(tenant.api_key)


def _settlement(rows: int) -> bytes:
    return HEADER + b"".join(b"pi_%d,12.50,EUR,charge,2026-04-26\n" % i for i in range(rows))


async def _movements(rows: int) -> AsyncIterator[bytes]:
    for i in range(rows):
        yield (
            b'{"movement_id": "mv_%d", "type": "payment", "provider": "rail_primary", '
            b'"provider_reference": "pi_%d", "amount": 1250, "currency": "EUR", '
            b'"status": "captured", "occurred_at": "2026-04-26T10:00:00Z"}\n' % (i, i)
        )


def _count(db: Database, model: type[SettlementFile] | type[Movement]) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_file_under_the_bound_is_accepted(db: Database, small_client: ApiClient) -> None:
    content = _settlement(10)
    assert len(content) < LIMIT
    answer = small_client.post(
        "/settlement-files",
        files={"file": ("s.csv", content, "text/csv")},
        data={"provider": "rail_primary"},
    )
    assert answer.status_code == 201
    assert _count(db, SettlementFile) == 1


def test_a_declared_body_over_the_bound_is_refused_with_413(
    db: Database, small_client: ApiClient
) -> None:
    content = _settlement(200)
    assert len(content) > LIMIT
    answer = small_client.post(
        "/settlement-files",
        files={"file": ("s.csv", content, "text/csv")},
        data={"provider": "rail_primary"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["max_bytes"]) == ("request_too_large", LIMIT)
    assert _count(db, SettlementFile) == 0


def test_a_streamed_body_is_stopped_once_it_passes_the_bound(
    db: Database, small_client: ApiClient
) -> None:
    # A generated body is sent chunked, without Content-Length: only counting can stop it.
    answer = small_client.post(
        "/movements/import",
        content=_movements(200),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    assert _count(db, Movement) == 0

    accepted = small_client.post(
        "/movements/import",
        content=_movements(5),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert accepted.status_code in (200, 201)
    assert _count(db, Movement) == 5
