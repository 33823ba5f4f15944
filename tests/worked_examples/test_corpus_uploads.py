"""Every real file in the corpus, uploaded as a user would: none causes a server error, each is
parsed or refused with a reason, and every upload is kept byte-exact, refused or not. (Exact
amounts, currencies and dates per file are asserted by each format's parser tests.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.api import ApiClient
from zentra.kit.db import Database
from zentra.models import SettlementFile

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FILES = sorted(
    path
    for path in CORPUS.rglob("*")
    if path.is_file() and path.name not in {"SOURCES.md", "SHA256SUMS"}
)


# The formats each corpus folder's files are detected as (from their content, not their names).
FORMATS_BY_FOLDER = {
    "adyen": {"adyen_settlement_details"},
    "bai2": {"bai2"},
    "camt053": {"camt.053"},
    "camt054": {"camt.054"},
    "mt940": {"mt940", "mt942"},
    "nacha": {"nacha"},
    "ofx": {"ofx"},
    "paypal": {"paypal_activity", "paypal_statement"},
    "stripe": {"stripe_balance"},
}


def test_the_corpus_is_where_the_tests_expect_it() -> None:
    assert len(FILES) == 60, CORPUS


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_is_parsed_or_refused_never_a_server_error(
    path: Path, db: Database, client: ApiClient
) -> None:
    content = path.read_bytes()
    answer = client.post(
        "/settlement-files",
        data={"provider": "corpus"},
        files={"file": (path.name, content, "application/octet-stream")},
    )
    assert answer.status_code in (201, 422), answer.text
    body = answer.json()
    if answer.status_code == 201:
        records = client.get(
            f"/settlement-files/{body['id']}/records", params={"limit": 500}
        ).json()["data"]
        assert len(records) == body["rows"]
        assert all(record["raw"] and record["line"] >= 1 for record in records)
    else:
        assert body["code"] == "unreadable_file"
        assert body["detail"]
    with db.unit_of_work() as session:
        stored = session.scalars(
            select(SettlementFile).where(
                SettlementFile.sha256 == hashlib.sha256(content).hexdigest()
            )
        ).one()
        assert stored.content == content
        assert stored.size_bytes == len(content)
        assert stored.format in FORMATS_BY_FOLDER[path.parent.name]
