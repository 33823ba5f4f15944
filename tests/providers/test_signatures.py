"""The signature schemes and the normalization, pure: published vectors and hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from tests.providers.conftest import ADYEN_DOCS_HMAC_KEY, adyen_item
from zentra.providers.errors import MalformedCallback
from zentra.providers.normalize import normalize_adyen, normalize_generic, normalize_stripe
from zentra.providers.payloads import FloatLiteral, NotJson, parse_json
from zentra.providers.signatures import (
    adyen_signature,
    stripe_signature,
    verify_adyen,
    verify_standard_webhooks,
    verify_stripe,
)

NOW = 1_790_000_060
SECRET = "whsec_testsecretvaluefordocs00000000"
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'


def test_stripe_signature_matches_a_published_fixture() -> None:
    expected = "294dfeafa5b7c9d6efbdb7ad3e3ee540dcf4e94924ac0b65ac12b839971a120a"
    assert stripe_signature(SECRET, 1_790_000_000, BODY) == expected
    header = f"t=1790000000,v1={expected}"
    assert verify_stripe(SECRET, BODY, {"stripe-signature": header}, NOW) is None


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("v1=abc", "malformed_signature_header"),
        ("t=1790000000", "malformed_signature_header"),
        ("t=-5,v1=abc", "malformed_signature_header"),
        ("t=١٧٩,v1=abc", "malformed_signature_header"),  # non-ASCII digits are not a time
        ("t=1789999759,v1=abc", "stale_timestamp"),
        ("t=1790000000,v1=ünïcode", "signature_mismatch"),
        ("t=1790000000,v0=abc,v1=abc", "signature_mismatch"),
    ],
)
def test_stripe_refusals_name_their_reason(header: str | None, reason: str) -> None:
    headers = {} if header is None else {"stripe-signature": header}
    assert verify_stripe(SECRET, BODY, headers, NOW) == reason


def test_stripe_tolerance_is_300_seconds_and_only_for_old_timestamps() -> None:
    def at(timestamp: int) -> str | None:
        signature = stripe_signature(SECRET, timestamp, BODY)
        return verify_stripe(
            SECRET, BODY, {"stripe-signature": f"t={timestamp},v1={signature}"}, NOW
        )

    assert at(NOW - 300) is None
    assert at(NOW - 301) == "stale_timestamp"
    assert at(NOW + 3600) is None  # Stripe refuses only older timestamps


def test_adyen_documentation_vectors() -> None:
    assert adyen_signature(ADYEN_DOCS_HMAC_KEY, adyen_item()) == (
        "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
    )
    refund = adyen_item(eventCode="REFUND", amount={"value": 0, "currency": "EUR"})
    assert adyen_signature(ADYEN_DOCS_HMAC_KEY, refund) == (
        "J7HhsgZo5KwqdB7LFZJV6rfQgp+RqC2kuYyw/3x3w+8="
    )


def _notification(item: dict[str, Any]) -> dict[str, Any]:
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def test_adyen_verification() -> None:
    signed = adyen_item(
        additionalData={"hmacSignature": adyen_signature(ADYEN_DOCS_HMAC_KEY, adyen_item())}
    )
    assert verify_adyen(ADYEN_DOCS_HMAC_KEY, _notification(signed)) is None
    assert verify_adyen("00" * 32, _notification(signed)) == "signature_mismatch"
    assert verify_adyen(ADYEN_DOCS_HMAC_KEY, _notification(adyen_item())) == "missing_signature"
    assert verify_adyen(ADYEN_DOCS_HMAC_KEY, {"notificationItems": []}) == "no_verifiable_signature"
    nested = {**signed, "merchantReference": {"not": "text"}}
    assert verify_adyen(ADYEN_DOCS_HMAC_KEY, _notification(nested)) == "no_verifiable_signature"


@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.text(max_size=40),
    ),
    body=st.binary(max_size=64),
)
def test_standard_webhooks_never_raises(headers: dict[str, str], body: bytes) -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert verify_standard_webhooks(secret, body, headers) in (
        None,
        "missing_signature",
        "signature_mismatch",
    )


def test_standard_webhooks_valid_and_the_library_exceptions() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", now, '{"a":1}')
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp()))}
    assert (
        verify_standard_webhooks(secret, b'{"a":1}', {**headers, "webhook-signature": signature})
        is None
    )
    # Each of these makes the library raise something other than WebhookVerificationError.
    for bad in ("garbage", "v1,a,b", " "):
        with pytest.raises(ValueError, match="values to unpack"):
            Webhook(secret).verify(b"{}", {**headers, "webhook-signature": bad})
        assert verify_standard_webhooks(secret, b"{}", {**headers, "webhook-signature": bad})
    with pytest.raises(UnicodeDecodeError):
        Webhook(secret).verify(b"\xff\xfe", {**headers, "webhook-signature": signature})
    assert verify_standard_webhooks(secret, b"\xff", {**headers, "webhook-signature": signature})
    old = str(int((now - timedelta(minutes=6)).timestamp()))
    assert (
        verify_standard_webhooks(
            secret,
            b'{"a":1}',
            {**headers, "webhook-timestamp": old, "webhook-signature": signature},
        )
        == "signature_mismatch"
    )


def test_json_numbers_never_become_floats() -> None:
    value = parse_json(b'{"a": 12.50, "b": 1e3, "c": 7}')
    assert value == {"a": "12.50", "b": "1e3", "c": 7}
    assert isinstance(value["a"], FloatLiteral)
    for body in (b"NaN", b'{"a": Infinity}', b"\xff", b"{", b"[" * 100_000):
        with pytest.raises(NotJson):
            parse_json(body)


@pytest.mark.parametrize(
    "amount", [FloatLiteral("12.50"), FloatLiteral("1e3"), True, None, "1250", 2**63]
)
def test_amounts_that_are_not_integers_are_malformed(amount: Any) -> None:
    event = {
        "id": "e",
        "type": "charge.succeeded",
        "data": {"object": {"id": "ch", "amount": amount, "currency": "eur"}},
    }
    with pytest.raises(MalformedCallback):
        normalize_stripe(event)
    with pytest.raises(MalformedCallback):
        normalize_generic(
            {
                "id": "e",
                "type": "charge",
                "data": {"reference": "r", "amount": amount, "currency": "EUR"},
            }
        )


def test_normalized_shapes() -> None:
    stripe = normalize_stripe(
        {
            "id": "evt_9",
            "type": "payout.paid",
            "created": 0,
            "data": {"object": {"id": "po_1", "amount": 700, "currency": "usd"}},
        }
    )
    assert stripe.record is not None
    assert (stripe.record.type, stripe.record.amount_minor, stripe.record.currency) == (
        "payout",
        -700,
        "USD",
    )
    assert stripe.record.booked_at == datetime(1970, 1, 1, tzinfo=UTC)
    adyen = normalize_adyen(_notification(adyen_item(success="false")))
    assert adyen.provider_event_id == "7914073381342284:AUTHORISATION:false"
    assert adyen.record is None  # a refused authorisation moved no money
    generic = normalize_generic(
        {
            "id": "m",
            "type": "refund.settled",
            "data": {"reference": "r", "amount": -5, "currency": "eur", "status": "failed"},
        }
    )
    assert generic.record is None
    with pytest.raises(MalformedCallback):
        normalize_generic(
            {"id": "m", "type": "weird", "data": {"reference": "r", "amount": 1, "currency": "EUR"}}
        )
    with pytest.raises(MalformedCallback):
        normalize_adyen({"notificationItems": [{"NotificationRequestItem": adyen_item()}] * 2})
