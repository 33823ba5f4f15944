"""NACHA return and change reason codes as structured details, on the real corpus files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.api import ApiClient
from zentra.ingest.hashing import parsed_record_content_hash
from zentra.ingest.sources import parse_file_columns
from zentra.ingest.sources.columnar import columnar_from_parsed
from zentra.ingest.sources.nacha import parse_nacha
from zentra.kit.db import Database

NACHA = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "nacha"
FILES = sorted(path.name for path in NACHA.glob("*.ach"))


def _records(name: str) -> list:  # type: ignore[type-arg]
    return parse_nacha((NACHA / name).read_bytes()).records


def test_the_corpus_holds_the_nacha_files() -> None:
    assert len(FILES) == 8


@pytest.mark.parametrize("name", FILES)
def test_every_return_and_change_carries_its_code_as_a_field(name: str) -> None:
    records = _records(name)
    assert records
    for record in records:
        assert record.description is not None
        code = record.description.split(" ", 1)[0].rstrip(":")
        if record.type == "reversal":
            assert record.details["addenda_type"] == "99"
            assert record.details["return_reason_code"] == code
            assert record.details["original_trace"]
        elif record.type == "adjustment":
            assert record.details["addenda_type"] == "98"
            assert record.details["change_code"] == code
        else:
            assert record.details is None
        # Details are read from the raw text the content hash already covers.
        assert parsed_record_content_hash(record) == parsed_record_content_hash(
            record._replace(details=None)
        )


def test_a_return_names_its_reason_and_original_entry() -> None:
    (record,) = _records("iat-addenda99.ach")
    assert record.details == {
        "addenda_type": "99",
        "return_reason_code": "R01",
        "return_reason": "Insufficient Funds",
        "original_trace": "231380100000001",
        "original_rdfi": record.details["original_rdfi"],
        "addenda_fields": record.details["addenda_fields"],
    }
    assert record.details["original_rdfi"].isdigit()


def test_a_notification_of_change_carries_the_corrected_data() -> None:
    (record,) = _records("cor-example.ach")
    assert record.details == {
        "addenda_type": "98",
        "change_code": "C01",
        "change_reason": "Incorrect DFI Account Number",
        "original_trace": "121042880000001",
        "original_rdfi": "12104288",
        "corrected_data": "1918171614",
    }


def test_a_contested_return_lists_every_addenda_and_stands_at_the_last() -> None:
    (record,) = _records("contested-return.ach")
    assert record.details["return_reason_code"] == "R71"
    assert [r["return_reason_code"] for r in record.details["returns"]] == ["R07", "R68", "R71"]
    assert record.details["returns"][1]["return_reason"] == "Untimely Return"
    assert record.details["addenda_fields"]["dishonored_return_reason_code"] == "67"


def test_a_code_outside_the_nacha_tables_keeps_its_code_without_a_name() -> None:
    (record,) = _records("return-PPD-custom-reason-code.ach")
    assert (record.details["return_reason_code"], record.details["return_reason"]) == (
        "R97",
        None,
    )


@pytest.mark.parametrize("name", FILES)
def test_columns_keep_the_details_exactly(name: str) -> None:
    content = (NACHA / name).read_bytes()
    parsed = parse_nacha(content)
    assert columnar_from_parsed(parsed).to_parsed_file() == parsed
    assert parse_file_columns(content, "nacha").to_parsed_file() == parsed


def test_uploaded_records_carry_their_details(db: Database, client: ApiClient) -> None:
    content = (NACHA / "contested-return.ach").read_bytes()
    uploaded = client.post(
        "/settlement-files",
        data={"provider": "ach_bank"},
        files={"file": ("contested-return.ach", content, "text/plain")},
    )
    assert uploaded.status_code == 201, uploaded.text
    records = client.get(f"/settlement-files/{uploaded.json()['id']}/records").json()["data"]
    (record,) = records
    assert record["details"]["return_reason_code"] == "R71"
    assert [r["return_reason_code"] for r in record["details"]["returns"]] == [
        "R07",
        "R68",
        "R71",
    ]
