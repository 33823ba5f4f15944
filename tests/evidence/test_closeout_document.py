"""The closeout document, pure: Merkle root, signature, and offline verification."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.evidence.closeout import (
    SigningMaterial,
    build_closeout_document,
    closeout_leaves,
    compute_merkle_root,
    serialize_closeout_document,
    sign_closeout_document,
    verify_closeout_document,
)
from zentra.evidence.signing import generate_signing_key, key_fingerprint, sign, signing_payload

PUBLIC, PRIVATE = generate_signing_key()
KEY = SigningMaterial("sig_test", PUBLIC, PRIVATE)

MATCHES = [
    {
        "match_id": f"mat_{n}",
        "rule": "exact_reference",
        "kind": "1:1",
        "deltas": {"amount": 0},
        "external_records": [{"content_hash": f"h{n}", "provider_reference": f"REF-{n}"}],
        "movement_ids": [f"MOV-{n}"],
    }
    for n in range(1, 4)
]
EXCEPTIONS = [
    {
        "exception_id": "exc_1",
        "type": "amount_mismatch",
        "status": "resolved",
        "decision": "fee_netted",
        "note": "provider netted the fee\u001f",  # a control character: escaped in JSON
        "provider_reference": "REF-4",
        "amount": {"amount": 1000, "currency": "EUR"},
    },
    {
        "exception_id": "exc_2",
        "type": "missing_from_settlement",
        "status": "written_off",
        "decision": "lost",
        "note": "Rückbuchung — €",
        "provider_reference": "REF-5",
        "amount": {"amount": -50000, "currency": "EUR"},
    },
    {
        "exception_id": "exc_3",
        "type": "unmatched_provider_row",
        "status": "carried_forward",
        "decision": "next_window",
        "note": "booked on the 27th",
        "provider_reference": "REF-3",
        "amount": None,
    },
]


def _document(
    matches: list[dict[str, Any]] | None = None, exceptions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return build_closeout_document(
        closeout_id="clo_1",
        tenant="ten_1",
        run={"id": "run_1", "provider": "rail_primary", "ledger_window": {"from": "2026-04-26"}},
        inputs={"settlement_file": {"id": "set_1", "sha256": "a" * 64}, "callback_ids": []},
        totals=[{"currency": "EUR", "provider_total": 157500, "ledger_total": 204000}],
        matches=MATCHES if matches is None else matches,
        exceptions=EXCEPTIONS if exceptions is None else exceptions,
        audit_chain_head={"seq": 12, "hash": "b" * 64},
        sealed_at="2026-04-27T09:00:00Z",
        sealed_by="key:approver",
    )


def _signed_bytes(document: dict[str, Any] | None = None) -> bytes:
    return serialize_closeout_document(sign_closeout_document(document or _document(), KEY))


SMALL_DOCUMENT = _signed_bytes(_document(matches=MATCHES[:1], exceptions=EXCEPTIONS[:1]))


@settings(max_examples=50)
@given(st.randoms(use_true_random=False))
def test_merkle_root_does_not_depend_on_the_order_of_the_input(rng: random.Random) -> None:
    matches, exceptions = list(MATCHES), list(EXCEPTIONS)
    rng.shuffle(matches)
    rng.shuffle(exceptions)
    shuffled = _document(matches, exceptions)
    assert shuffled["merkle_root"] == _document()["merkle_root"]
    assert shuffled["matches"] == _document()["matches"]
    assert _signed_bytes(shuffled) != b""  # the document is signable whatever the order


def test_merkle_root_covers_every_match_exception_and_header_member() -> None:
    base = _document()
    leaves = closeout_leaves(base)
    assert [leaf["kind"] for leaf in leaves] == ["header"] + ["match"] * 3 + ["exception"] * 3
    changed_exception = copy.deepcopy(EXCEPTIONS)
    changed_exception[1]["note"] = "written off"
    assert _document(exceptions=changed_exception)["merkle_root"] != base["merkle_root"]
    assert _document(matches=MATCHES[:2])["merkle_root"] != base["merkle_root"]
    for member, value in (("sealed_by", "key:other"), ("audit_chain_head", {"seq": 13})):
        assert compute_merkle_root({**base, member: value}) != base["merkle_root"]


def test_roll_forward_counts_each_outcome() -> None:
    assert _document()["roll_forward"] == {
        "opening_open_items": 0,
        "new": 3,
        "resolved": 1,
        "written_off": 1,
        "carried_forward": 1,
    }


def test_a_sealed_document_verifies_with_its_embedded_key() -> None:
    result = verify_closeout_document(_signed_bytes())
    assert result.valid
    assert (result.canonical, result.merkle_root_valid, result.signature_valid) == (
        True,
        True,
        True,
    )
    assert result.closeout_id == "clo_1"
    assert result.key_id == "sig_test"
    assert result.key_fingerprint == key_fingerprint(PUBLIC)
    assert result.problems == ()
    assert "canonical bytes (unchanged): ok" in result.describe()


def test_every_single_byte_change_invalidates_the_document() -> None:
    assert verify_closeout_document(SMALL_DOCUMENT).valid
    for position in range(len(SMALL_DOCUMENT)):
        for flip in (0x01, 0x20):
            tampered = bytearray(SMALL_DOCUMENT)
            tampered[position] ^= flip
            result = verify_closeout_document(bytes(tampered))
            assert not result.valid, (position, flip, SMALL_DOCUMENT[position : position + 20])


@settings(max_examples=300)
@given(st.data())
def test_any_replacement_byte_anywhere_invalidates_the_document(data: st.DataObject) -> None:
    raw = SMALL_DOCUMENT
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]), label="byte")
    tampered = raw[:position] + bytes([byte]) + raw[position + 1 :]
    assert not verify_closeout_document(tampered).valid


def test_a_semantically_equal_rewrite_is_still_refused() -> None:
    # The control character is escaped as \u001f; \u001F parses to the same document.
    raw = _signed_bytes()
    assert b"\\u001f" in raw
    rewritten = raw.replace(b"\\u001f", b"\\u001F")
    result = verify_closeout_document(rewritten)
    assert result.signature_valid
    assert result.merkle_root_valid
    assert not result.canonical
    assert not result.valid
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    assert not verify_closeout_document(pretty).valid


def test_signature_metadata_is_signed_too() -> None:
    document = sign_closeout_document(_document(), KEY)
    document["signature"]["key_id"] = "sig_other"
    result = verify_closeout_document(serialize_closeout_document(document))
    assert result.canonical
    assert result.merkle_root_valid
    assert not result.signature_valid


def test_content_changed_and_root_recomputed_still_fails_the_signature() -> None:
    document = sign_closeout_document(_document(), KEY)
    document["exceptions"][0]["decision"] = "bank_error"
    document["merkle_root"] = compute_merkle_root(document)
    result = verify_closeout_document(serialize_closeout_document(document))
    assert result.merkle_root_valid
    assert not result.signature_valid
    assert not result.valid


def test_a_key_swapped_without_its_fingerprint_is_refused() -> None:
    other_public, other_private = generate_signing_key()
    document = sign_closeout_document(_document(), KEY)
    document["signature"]["public_key"] = other_public
    document["signature"]["value"] = sign(other_private, signing_payload(document))
    result = verify_closeout_document(serialize_closeout_document(document))
    assert not result.signature_valid  # the fingerprint still names the tenant's key
    assert not result.valid


def test_malformed_input_is_invalid_never_an_error() -> None:
    cases = [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b"{}",
        b'{"signature": "x"}',
        b'{"signature": {}}',
        b'{"signature": {}, "matches": 1, "exceptions": []}',
        b"[" * 100_000,
        b'{"signature": {}, "x": 1e400}',
        SMALL_DOCUMENT[:-1],
    ]
    for raw in cases:
        result = verify_closeout_document(raw)
        assert not result.valid, raw[:40]
        assert result.problems
