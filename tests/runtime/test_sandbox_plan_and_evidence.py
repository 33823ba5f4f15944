"""The sandbox rail's plans (deterministic under a seed, noise where asked) and the sealed
intent evidence (verifies offline, breaks on any change). Pure."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.evidence.signing import generate_signing_key, sign, signing_payload
from zentra.runtime.evidence import IntentKey, seal_intent_evidence, verify_intent_evidence
from zentra.runtime.sandbox import (
    SettlingIntent,
    fee_for,
    plan_settlement,
    sandbox_event_id,
    sandbox_reference,
)
from zentra.runtime.schemas import SandboxNoise

DAY = date(2026, 4, 26)


def intents(count: int) -> list[SettlingIntent]:
    return [
        SettlingIntent(f"i_{n}", sandbox_reference("rail_primary", f"i_{n}"), 1000 + n, "EUR")
        for n in range(count)
    ]


def file_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_references_and_event_ids_are_stable_per_rail_and_intent() -> None:
    assert sandbox_reference("rail_primary", "i_1") == sandbox_reference("rail_primary", "i_1")
    assert sandbox_reference("rail_primary", "i_1") != sandbox_reference("rail_backup", "i_1")
    assert sandbox_event_id("sbx_a") != sandbox_event_id("sbx_b")


def test_the_same_seed_plans_the_same_bytes_whatever_the_input_order() -> None:
    noise = SandboxNoise(late_callbacks=2, duplicate_callbacks=2, missing_rows=1, amount_drift=1)
    first = plan_settlement("rail_primary", DAY, intents(12), noise, seed=7)
    again = plan_settlement("rail_primary", DAY, list(reversed(intents(12))), noise, seed=7)
    other = plan_settlement("rail_primary", DAY, intents(12), noise, seed=8)
    assert first == again
    assert first.file_content != other.file_content or first.noise != other.noise


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=25),
    late=st.integers(min_value=0, max_value=30),
    duplicate=st.integers(min_value=0, max_value=30),
    missing=st.integers(min_value=0, max_value=10),
    drift=st.integers(min_value=0, max_value=10),
    unknown=st.integers(min_value=0, max_value=3),
    fee_minor=st.integers(min_value=0, max_value=50),
    fee_bps=st.integers(min_value=0, max_value=300),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_noise_lands_where_it_says_and_nowhere_else(
    count: int,
    late: int,
    duplicate: int,
    missing: int,
    drift: int,
    unknown: int,
    fee_minor: int,
    fee_bps: int,
    seed: int,
) -> None:
    noise = SandboxNoise(
        late_callbacks=late,
        duplicate_callbacks=duplicate,
        missing_rows=missing,
        amount_drift=drift,
        unknown_references=unknown,
        fee_minor=fee_minor,
        fee_bps=fee_bps,
    )
    settling = intents(count)
    plan = plan_settlement("rail_primary", DAY, settling, noise, seed)
    by_reference = {intent.provider_reference: intent for intent in settling}

    # One callback per intent, the true amount, late and duplicate exactly where planned.
    assert sorted(c.provider_reference for c in plan.callbacks) == sorted(by_reference)
    assert {c.provider_reference for c in plan.callbacks if c.late} == set(plan.noise["late"])
    assert {c.provider_reference for c in plan.callbacks if c.copies == 2} == set(
        plan.noise["duplicate"]
    )
    assert len(plan.noise["late"]) == min(late, count)
    for callback in plan.callbacks:
        data = json.loads(callback.body)["data"]
        intent = by_reference[callback.provider_reference]
        assert (data["amount"], data["fee"]) == (intent.amount, fee_for(intent.amount, noise))

    # The file: every intent but the missing, drifted ones off, unknown ones added.
    missing_refs, drifted = set(plan.noise["missing"]), set(plan.noise["drifted"])
    assert not missing_refs & drifted
    assert len(missing_refs) + len(drifted) == min(missing + drift, count)
    rows = file_rows(plan.file_content)
    assert plan.file_rows == len(rows) == count - len(missing_refs) + unknown
    assert len({row["row_id"] for row in rows}) == len(rows)
    for row in rows:
        reference = row["provider_reference"]
        assert row["booked_at"] == DAY.isoformat()
        if reference in plan.noise["unknown"]:
            assert reference not in by_reference
            continue
        assert reference not in missing_refs
        amount = int(row["amount"].replace(".", ""))
        assert (amount != by_reference[reference].amount) == (reference in drifted)
        assert int(row["fee"].replace(".", "")) == fee_for(amount, noise)


def _document() -> dict[str, Any]:
    return {
        "intent_id": "intent_042",
        "tenant": "ten_1",
        "actor": "key:svc_runtime",
        "scope": "workspace_scope",
        "timestamp": "2026-04-26T10:00:00.000001Z",
        "status": "evidenced",
        "reason": None,
        "intent": {"amount": 125000, "currency": "EUR"},
        "policy": {"result": "passed", "evidence": ["limit_check.passed"]},
        "trace": [{"state": "accepted", "at": "2026-04-26T10:00:00Z", "detail": {}}],
    }


def test_sealed_evidence_verifies_offline_and_breaks_on_any_change() -> None:
    public, private = generate_signing_key()
    sealed = seal_intent_evidence(_document(), IntentKey("sig_1", public, private))
    assert verify_intent_evidence(sealed)
    assert verify_intent_evidence(json.loads(json.dumps(sealed)))  # survives a JSON round trip
    tampered = json.loads(json.dumps(sealed))
    tampered["intent"]["amount"] = 125001
    assert not verify_intent_evidence(tampered)
    relabelled = json.loads(json.dumps(sealed))
    relabelled["signature"]["key_id"] = "sig_2"
    assert not verify_intent_evidence(relabelled)
    other_public, _ = generate_signing_key()
    swapped = json.loads(json.dumps(sealed))
    swapped["signature"]["public_key"] = other_public
    assert not verify_intent_evidence(swapped)
    assert not verify_intent_evidence({"signature": "nonsense"})
    assert not verify_intent_evidence({})


def test_evidence_signed_by_a_key_its_fingerprint_does_not_name_is_refused() -> None:
    public, private = generate_signing_key()
    other_public, other_private = generate_signing_key()
    forged = seal_intent_evidence(_document(), IntentKey("sig_1", public, private))
    forged["signature"]["public_key"] = other_public
    forged["signature"]["value"] = sign(other_private, signing_payload(forged))
    assert not verify_intent_evidence(forged)  # the fingerprint still names the tenant's key
