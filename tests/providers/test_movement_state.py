"""A movement's provider status: the pure state machine, and callbacks moving it on both
databases, out of order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.api import ApiClient
from tests.providers.conftest import (
    ADYEN_DOCS_HMAC_KEY,
    adyen_body,
    adyen_item,
    count,
    create_connection,
    post_callback,
    standard_headers,
    stripe_event,
    stripe_headers,
)
from zentra.kit.db import Database
from zentra.providers.movement_state import (
    LIFECYCLE,
    STATUSES,
    Step,
    apply_events,
    parse_status,
    step,
)
from zentra.providers.normalize import normalize_adyen, normalize_stripe

# ---- the pure state machine ------------------------------------------------------------------


def test_refund_before_capture_is_held_then_applied() -> None:
    assert apply_events("authorized", ["refunded"]) == ("authorized", ["refunded"])
    assert apply_events("authorized", ["refunded", "captured"]) == ("refunded", [])


def test_terminal_states_never_regress() -> None:
    for status in STATUSES:
        assert apply_events("failed", [status]) == ("failed", [])
        assert apply_events("refunded", [status]) == ("refunded", [])


def test_failed_is_reached_only_before_capture() -> None:
    assert apply_events(None, ["failed"]) == ("failed", [])
    assert apply_events("authorized", ["failed"]) == ("failed", [])
    assert apply_events("captured", ["failed"]) == ("captured", [])
    assert apply_events("failed", ["captured", "refunded"]) == ("failed", [])


def test_repeats_and_regressions_are_no_ops() -> None:
    assert step("captured", "captured") is Step.IGNORED
    assert step("captured", "authorized") is Step.IGNORED
    assert step("captured", "pending") is Step.IGNORED
    assert apply_events("captured", ["authorized", "captured"]) == ("captured", [])


def test_forward_steps_may_skip_states() -> None:
    assert apply_events(None, ["captured"]) == ("captured", [])
    assert apply_events("pending", ["captured"]) == ("captured", [])
    assert step(None, "refunded") is Step.HELD


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown movement status"):
        step("pending", "settled")


def test_statuses_outside_the_lifecycle_have_no_position() -> None:
    assert parse_status(" Captured ") == "captured"
    assert parse_status("succeeded") is None
    assert parse_status(None) is None


# A lifecycle's events: any sub-sequence of the ordered lifecycle, or of the failing path.
_lifecycles = st.one_of(
    st.lists(st.sampled_from(LIFECYCLE), max_size=6),
    st.lists(st.sampled_from(("pending", "authorized", "failed")), max_size=6),
)
_starts = st.one_of(st.none(), st.sampled_from(STATUSES))


def _one_at_a_time(current: str | None, arrivals: list[str]) -> tuple[str | None, list[str]]:
    """Events delivered one by one, each applied with whatever is still held."""
    state, held = current, list[str]()
    for status in arrivals:
        state, held = apply_events(state, [*held, status])
    return state, held


@given(start=_starts, events=_lifecycles, data=st.data())
def test_any_arrival_order_ends_where_the_sorted_order_does(
    start: str | None, events: list[str], data: st.DataObject
) -> None:
    arrivals = data.draw(st.permutations(events))
    in_order = apply_events(start, sorted(events, key=STATUSES.index))
    assert apply_events(start, arrivals) == in_order
    state, held = _one_at_a_time(start, arrivals)
    assert (state, sorted(held)) == (in_order[0], sorted(in_order[1]))


def test_callbacks_name_the_payment_they_move() -> None:
    refund = json.loads(stripe_event("evt_r", "refund.created", object_id="re_1"))
    assert normalize_stripe(refund).status is None  # a refund naming no charge
    refund["data"]["object"]["charge"] = "ch_1"
    status = normalize_stripe(refund).status
    assert status is not None
    assert (status.provider_reference, status.status) == ("ch_1", "refunded")
    assert normalize_stripe(json.loads(stripe_event("e", "payout.paid"))).status is None
    refused = adyen_item(eventCode="AUTHORISATION", success="false")
    declined = normalize_adyen(json.loads(adyen_body(refused))).status
    assert declined is not None
    assert declined.status == "failed"
    refused_refund = adyen_item(eventCode="REFUND", success="false")
    assert normalize_adyen(json.loads(adyen_body(refused_refund))).status is None


# ---- callbacks moving movements, on both databases ------------------------------------------


def _import_movement(
    client: ApiClient, reference: str, status: str, provider: str = "stripe_main"
) -> None:
    row = {
        "movement_id": f"m_{reference}_{provider}",
        "type": "payment",
        "provider": provider,
        "provider_reference": reference,
        "amount": 1250,
        "currency": "EUR",
        "status": status,
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    response = client.post(
        "/movements/import",
        content=json.dumps(row).encode() + b"\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 1


def _status_of(client: ApiClient, reference: str, provider: str = "stripe_main") -> str:
    movements = client.get("/movements").json()["data"]
    (status,) = [
        m["status"]
        for m in movements
        if m["provider_reference"] == reference and m["provider"] == provider
    ]
    found: str = status
    return found


def _stripe(
    client: ApiClient, connection: dict[str, Any], event_id: str, event_type: str, ref: str
) -> dict[str, Any]:
    body = stripe_event(event_id, event_type, object_id=ref)
    response = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _held(db: Database) -> int:
    return count(db, "movement_state_events", "applied = :no", no=False)


def test_refund_callback_before_capture_is_applied_in_order(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "stripe")
    _import_movement(client, "ch_order_1", "authorized")
    _stripe(client, connection, "evt_refund", "charge.refunded", "ch_order_1")
    assert _status_of(client, "ch_order_1") == "authorized"
    assert _held(db) == 1
    _stripe(client, connection, "evt_capture", "charge.succeeded", "ch_order_1")
    assert _status_of(client, "ch_order_1") == "refunded"
    assert _held(db) == 0
    assert count(db, "movement_state_events") == 2
    assert count(db, "audit_events", "action = 'movement.status_changed'") == 1


def test_failed_movement_never_becomes_captured(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    _import_movement(client, "ch_declined", "pending")
    _stripe(client, connection, "evt_fail", "charge.failed", "ch_declined")
    assert _status_of(client, "ch_declined") == "failed"
    _stripe(client, connection, "evt_ok", "charge.succeeded", "ch_declined")
    _stripe(client, connection, "evt_rf", "charge.refunded", "ch_declined")
    assert _status_of(client, "ch_declined") == "failed"
    assert _held(db) == 0  # consumed without effect, not waiting


def test_replaying_callbacks_changes_nothing(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    _import_movement(client, "ch_replay", "authorized")
    deliveries = [
        ("evt_r1", "charge.refunded"),
        ("evt_c1", "charge.succeeded"),
        ("evt_a1", "charge.captured"),
    ]
    for event_id, event_type in deliveries:
        _stripe(client, connection, event_id, event_type, "ch_replay")
    tables = ("movement_state_events", "audit_events", "callbacks", "external_records")
    before = {table: count(db, table) for table in tables}
    assert _status_of(client, "ch_replay") == "refunded"
    for event_id, event_type in [*reversed(deliveries), *deliveries]:
        answer = _stripe(client, connection, event_id, event_type, "ch_replay")
        assert answer["duplicate"] is True
    assert {table: count(db, table) for table in tables} == before
    assert _status_of(client, "ch_replay") == "refunded"


def test_events_without_a_movement_stay_held(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    _stripe(client, connection, "evt_early", "charge.succeeded", "ch_not_yet")
    assert _held(db) == 1
    # Another provider's movement with the same reference is not this connection's.
    _import_movement(client, "ch_not_yet", "authorized", provider="other_rail")
    _stripe(client, connection, "evt_early_2", "charge.refunded", "ch_not_yet")
    assert _status_of(client, "ch_not_yet", provider="other_rail") == "authorized"
    assert _held(db) == 2


def test_callback_before_its_movement_is_applied_when_the_movement_is_imported(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "stripe")
    _stripe(client, connection, "evt_early", "charge.succeeded", "ch_import_later")
    assert _held(db) == 1
    _import_movement(client, "ch_import_later", "authorized")
    assert _status_of(client, "ch_import_later") == "captured"
    assert _held(db) == 0


def test_held_events_apply_on_the_next_callback_of_the_reference(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "stripe")
    _stripe(client, connection, "evt_1", "charge.refunded", " ch_late ")
    _import_movement(client, "CH_LATE", "authorized")
    _stripe(client, connection, "evt_2", "charge.succeeded", "ch_late")
    assert _status_of(client, "CH_LATE") == "refunded"
    assert _held(db) == 0


def test_adyen_capture_moves_the_payment_by_its_original_reference(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "adyen", secret=ADYEN_DOCS_HMAC_KEY)
    _import_movement(client, "7914073381342284", "pending", provider="adyen_main")
    post_callback(client, connection["id"], adyen_body(adyen_item()), {})
    assert _status_of(client, "7914073381342284", "adyen_main") == "authorized"
    capture = adyen_item(
        eventCode="CAPTURE", pspReference="8815000000000001", originalReference="7914073381342284"
    )
    assert post_callback(client, connection["id"], adyen_body(capture), {}).status_code == 200
    assert _status_of(client, "7914073381342284", "adyen_main") == "captured"


def test_generic_status_moves_the_movement(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "standard_webhooks")
    _import_movement(client, "pay_9", "authorized", provider="standard_webhooks_main")
    body = json.dumps(
        {
            "id": "msg_9",
            "type": "charge.updated",
            "data": {"reference": "pay_9", "amount": 1250, "currency": "EUR", "status": "failed"},
        }
    ).encode()
    headers = standard_headers(connection["signing_secret"], body, msg_id="msg_9")
    assert post_callback(client, connection["id"], body, headers).status_code == 200
    assert _status_of(client, "pay_9", "standard_webhooks_main") == "failed"
