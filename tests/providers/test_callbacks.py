"""Signed inbound callbacks on both databases: verified, stored once, normalized, or refused
with a security-log entry and nothing else."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TenantHandle, make_tenant
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

STATE_TABLES = ("callbacks", "external_records", "audit_events", "security_log")


def _state(db: Database) -> dict[str, int]:
    return {table: count(db, table) for table in STATE_TABLES}


def _record_of(db: Database, callback_id: str) -> dict[str, Any]:
    with db.engine.connect() as connection:
        row = (
            connection.exec_driver_sql(
                "SELECT e.provider_reference, e.type, e.amount_minor, e.currency, e.provider, "
                "e.row_id FROM callbacks c JOIN external_records e "
                "ON e.id = c.external_record_id WHERE c.id = ?"
                if db.engine.dialect.name == "sqlite"
                else "SELECT e.provider_reference, e.type, e.amount_minor, e.currency, "
                "e.provider, e.row_id FROM callbacks c JOIN external_records e "
                "ON e.id = c.external_record_id WHERE c.id = %s",
                (callback_id,),
            )
            .mappings()
            .one()
        )
    return dict(row)


def test_valid_stripe_callback_is_stored_and_normalized(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    response = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["duplicate"] is False
    assert answer["id"].startswith("cb_")
    assert _record_of(db, answer["id"]) == {
        "provider_reference": "ch_3N1",
        "type": "charge",
        "amount_minor": 1250,
        "currency": "EUR",
        "provider": "stripe_main",
        "row_id": "evt_1",
    }
    with db.engine.connect() as sql:
        stored = sql.exec_driver_sql("SELECT body FROM callbacks").scalar_one()
    assert bytes(stored) == body  # the exact bytes, as evidence
    assert count(db, "audit_events", "action = 'callback.received'") == 1


def test_stripe_refund_is_money_out(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event("evt_r", "refund.created", 500, "jpy", "re_1")
    response = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    record = _record_of(db, response.json()["id"])
    assert (record["type"], record["amount_minor"], record["currency"]) == ("refund", -500, "JPY")


def test_stripe_status_event_is_stored_without_a_record(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event("evt_f", "charge.failed")
    response = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    assert response.status_code == 200
    assert count(db, "callbacks") == 1
    assert count(db, "external_records") == 0


def _assert_refused(db: Database, response: Any, before: dict[str, int]) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_signature"
    assert "www-authenticate" not in response.headers
    after = _state(db)
    assert after == {**before, "security_log": before["security_log"] + 1}


def test_tampered_body_is_refused_and_logged(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    headers = stripe_headers(connection["signing_secret"], body)
    before = _state(db)
    tampered = body.replace(b"1250", b"9250")
    _assert_refused(db, post_callback(client, connection["id"], tampered, headers), before)


def test_wrong_secret_is_refused_and_logged(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    before = _state(db)
    headers = stripe_headers("whsec_someone_elses_secret", body)
    _assert_refused(db, post_callback(client, connection["id"], body, headers), before)


def test_stale_timestamp_is_refused_and_logged(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    before = _state(db)
    headers = stripe_headers(connection["signing_secret"], body, int(time.time()) - 301)
    _assert_refused(db, post_callback(client, connection["id"], body, headers), before)
    with db.engine.connect() as sql:
        reason, digest = sql.exec_driver_sql(
            "SELECT reason, headers_sha256 FROM security_log"
        ).one()
    assert reason == "stale_timestamp"
    assert len(digest) == 64


def test_timestamp_within_tolerance_is_accepted(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    headers = stripe_headers(connection["signing_secret"], body, int(time.time()) - 250)
    assert post_callback(client, connection["id"], body, headers).status_code == 200


def test_missing_signature_header_is_refused_and_logged(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    before = _state(db)
    response = post_callback(client, connection["id"], stripe_event(), {})
    _assert_refused(db, response, before)


def test_several_v1_signatures_one_valid_is_accepted(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    header = stripe_headers(connection["signing_secret"], body)["Stripe-Signature"]
    headers = {"Stripe-Signature": header.replace(",v1=", ",v1=" + "0" * 64 + ",v1=")}
    assert post_callback(client, connection["id"], body, headers).status_code == 200


def test_stripe_callback_replayed_five_times_posts_once(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event()
    headers = stripe_headers(connection["signing_secret"], body)
    answers = [post_callback(client, connection["id"], body, headers) for _ in range(5)]
    assert {answer.status_code for answer in answers} == {200}
    bodies = [answer.json() for answer in answers]
    assert [b["duplicate"] for b in bodies] == [False, True, True, True, True]
    assert len({b["id"] for b in bodies}) == 1
    assert count(db, "callbacks") == 1
    assert count(db, "external_records") == 1
    assert count(db, "audit_events", "action = 'callback.received'") == 1
    # The record belongs to the callback, not to a settlement file.
    assert count(db, "external_records", "settlement_file_id IS NULL") == 1
    assert client.get("/settlement-files").json()["data"] == []


def test_malformed_body_with_valid_signature_is_400(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "stripe")
    secret = connection["signing_secret"]
    bodies = [
        b"not json",
        json.dumps({"type": "charge.succeeded", "data": {"object": {}}}).encode(),  # no id
        stripe_event(amount=None),
        b'{"id":"evt_2","type":"charge.succeeded","data":{"object":{"id":"ch_1",'
        b'"amount":12.50,"currency":"eur"}}}',
        stripe_event(currency="zzz"),
    ]
    before = _state(db)
    for body in bodies:
        response = post_callback(client, connection["id"], body, stripe_headers(secret, body))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "malformed_callback"
    assert _state(db) == before


def test_adyen_documentation_example_is_accepted(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "adyen", secret=ADYEN_DOCS_HMAC_KEY)
    assert connection["signing_secret"] == ADYEN_DOCS_HMAC_KEY
    body = adyen_body(adyen_item())
    assert b"coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=" in body  # Adyen's published value
    response = post_callback(client, connection["id"], body, {"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    record = _record_of(db, response.json()["id"])
    assert record["provider_reference"] == "7914073381342284"
    assert (record["type"], record["amount_minor"], record["currency"]) == ("charge", 1130, "EUR")


def test_adyen_invalid_hmac_is_refused_and_logged(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "adyen", secret=ADYEN_DOCS_HMAC_KEY)
    signed = json.loads(adyen_body(adyen_item()))
    signed["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] = 113000
    before = _state(db)
    response = post_callback(client, connection["id"], json.dumps(signed).encode(), {})
    _assert_refused(db, response, before)
    wrong_key = adyen_body(adyen_item(), key="00" * 32)
    _assert_refused(
        db, post_callback(client, connection["id"], wrong_key, {}), {**before, "security_log": 1}
    )
    unsigned = adyen_body(adyen_item(), sign=False)
    _assert_refused(
        db, post_callback(client, connection["id"], unsigned, {}), {**before, "security_log": 2}
    )


def test_adyen_refund_of_zero_is_a_refund(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "adyen", secret=ADYEN_DOCS_HMAC_KEY)
    item = adyen_item(eventCode="REFUND", amount={"value": 0, "currency": "EUR"})
    del item["paymentMethod"]
    body = adyen_body(item)
    assert b"J7HhsgZo5KwqdB7LFZJV6rfQgp+RqC2kuYyw/3x3w+8=" in body  # Adyen's library test value
    response = post_callback(client, connection["id"], body, {})
    assert _record_of(db, response.json()["id"])["type"] == "refund"


def test_standard_webhooks_callback_is_accepted(db: Database, client: ApiClient) -> None:
    connection = create_connection(client, "standard_webhooks")
    assert connection["signing_secret"].startswith("whsec_")
    body = json.dumps(
        {
            "id": "msg_1",
            "type": "charge.succeeded",
            "data": {"reference": "pay_1", "amount": 990, "currency": "KWD", "status": "ok"},
        }
    ).encode()
    response = post_callback(
        client, connection["id"], body, standard_headers(connection["signing_secret"], body)
    )
    assert response.status_code == 200, response.text
    record = _record_of(db, response.json()["id"])
    assert (record["amount_minor"], record["currency"], record["row_id"]) == (990, "KWD", "msg_1")


def test_standard_webhooks_garbage_signature_is_401_not_500(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "sandbox")
    before = _state(db)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
    for signature in ("garbage", "v1,a,b", "v1,@@@@", "v2,abc"):
        response = post_callback(
            client, connection["id"], b'{"id":1}', {**headers, "webhook-signature": signature}
        )
        assert response.status_code == 401
    response = post_callback(
        client, connection["id"], b"\xff\xfe", {**headers, "webhook-signature": "v1,abc"}
    )
    assert response.status_code == 401
    assert _state(db) == {**before, "security_log": before["security_log"] + 5}


def test_unknown_connection_is_404(db: Database, client: ApiClient) -> None:
    response = post_callback(client, "prv_01JDNOSUCHCONNECTION00000", b"{}", {})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert count(db, "security_log") == 0


def test_callback_of_connection_a_only_writes_into_tenant_a(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    other = make_tenant(db, "globex")
    other_client = client.with_key(other.api_key)
    theirs = create_connection(other_client, "stripe", name="stripe_main")
    ours = create_connection(client, "stripe", name="stripe_main")
    body = stripe_event()
    # Signed with tenant B's secret but sent to A's connection: refused, logged in A only.
    refused = post_callback(
        client, ours["id"], body, stripe_headers(theirs["signing_secret"], body)
    )
    assert refused.status_code == 401
    accepted = post_callback(client, ours["id"], body, stripe_headers(ours["signing_secret"], body))
    assert accepted.status_code == 200
    assert count(db, "callbacks", "tenant_id = :t", t=tenant.tenant_id) == 1
    assert count(db, "callbacks", "tenant_id = :t", t=other.tenant_id) == 0
    assert count(db, "security_log", "tenant_id = :t", t=tenant.tenant_id) == 1
    assert count(db, "external_records", "tenant_id = :t", t=other.tenant_id) == 0
    # The same provider event id on B's own connection is B's first, not a duplicate.
    again = post_callback(
        client, theirs["id"], body, stripe_headers(theirs["signing_secret"], body)
    )
    assert again.json()["duplicate"] is False
    assert count(db, "callbacks", "tenant_id = :t", t=other.tenant_id) == 1
    # Tenant A cannot see B's connection through the API.
    assert client.get(f"/providers/{theirs['id']}").status_code == 404


_header_names = st.sampled_from(
    ["stripe-signature", "webhook-id", "webhook-timestamp", "webhook-signature", "x-other"]
)
# Any byte a header may carry on the wire (visible ASCII, space, and obs-text 0x80-0xFF).
_header_values = st.binary(max_size=80).map(
    lambda raw: bytes(b for b in raw if b == 0x20 or 0x21 <= b <= 0x7E or b >= 0x80).strip()
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


FUZZ_SECRETS = {
    "stripe": "whsec_fuzzing_stripe_secret",
    "adyen": ADYEN_DOCS_HMAC_KEY,
    "standard_webhooks": "whsec_" + base64.b64encode(b"fuzzing standard webhooks key").decode(),
    "sandbox": "whsec_" + base64.b64encode(b"fuzzing the sandbox key").decode(),
}


def _fuzz_connection(client: ApiClient, kind: str) -> str:
    """The fuzz connection of ``kind``, created on first use (examples share the database)."""
    name = f"fuzz_{kind}"
    for connection in client.get("/providers").json()["data"]:
        if connection["name"] == name:
            found: str = connection["id"]
            return found
    created: str = create_connection(client, kind, name=name, secret=FUZZ_SECRETS[kind])["id"]
    return created


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["stripe", "adyen", "standard_webhooks", "sandbox"]),
    headers=st.dictionaries(_header_names, _header_values, max_size=4),
    body=st.one_of(
        st.binary(max_size=200), _json_values.map(lambda value: json.dumps(value).encode())
    ),
)
def test_random_headers_and_bodies_never_answer_500(
    db: Database, client: ApiClient, kind: str, headers: dict[str, bytes], body: bytes
) -> None:
    connection_id = _fuzz_connection(client, kind)
    before = count(db, "callbacks")
    response = client.with_key(None).post(
        f"/callbacks/{connection_id}", content=body, headers=headers
    )
    assert response.status_code in (200, 400, 401), response.text
    if response.status_code != 200:
        assert count(db, "callbacks") == before


_event_shapes = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=12), st.integers(), st.none()),
        "type": st.sampled_from(["charge.succeeded", "refund.created", "payout.paid", "x", ""]),
        "created": st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=4)),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "object": st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.one_of(st.text(max_size=12), st.none()),
                        "amount": st.one_of(
                            st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text()
                        ),
                        "currency": st.sampled_from(["eur", "EUR", "jpy", "xxx", "", "eu"]),
                    },
                ),
                "reference": st.text(max_size=12),
                "amount": st.integers(-(2**70), 2**70) | st.floats(allow_nan=False),
                "currency": st.sampled_from(["eur", "KWD", "zzz"]),
            },
        ),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(["stripe", "sandbox"]), event=_event_shapes)
def test_validly_signed_random_events_answer_200_or_400(
    db: Database, client: ApiClient, kind: str, event: dict[str, Any]
) -> None:
    connection_id = _fuzz_connection(client, kind)
    body = json.dumps(event).encode()
    secret = FUZZ_SECRETS[kind]
    headers = (
        stripe_headers(secret, body)
        if kind == "stripe"
        else standard_headers(secret, body, msg_id="msg_fuzz")
    )
    before = _state(db)
    response = post_callback(client, connection_id, body, headers)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert _state(db) == before
