"""Helpers for provider callback tests: connections, signed deliveries, row counts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from tests.fixtures.api import ApiClient
from zentra.kit.db import Database
from zentra.providers.signatures import adyen_signature, stripe_signature

ADYEN_DOCS_HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
"""Adyen's published worked-example HMAC key (documentation, not a credential)."""


def create_connection(
    client: ApiClient, kind: str, name: str | None = None, secret: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or f"{kind}_main", "kind": kind}
    if secret is not None:
        body["signing_secret"] = secret
    response = client.post("/providers", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stripe_event(
    event_id: str = "evt_1",
    event_type: str = "charge.succeeded",
    amount: Any = 1250,
    currency: str = "eur",
    object_id: str = "ch_3N1",
) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": 1795294227,
        "data": {
            "object": {
                "id": object_id,
                "object": event_type.split(".")[0],
                "amount": amount,
                "currency": currency,
            }
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def stripe_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    signed_at = int(time.time()) if timestamp is None else timestamp
    signature = stripe_signature(secret, signed_at, body)
    return {"Stripe-Signature": f"t={signed_at},v1={signature}", "Content-Type": "application/json"}


def standard_headers(secret: str, body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def adyen_item(**overrides: Any) -> dict[str, Any]:
    """The NotificationRequestItem of Adyen's HMAC documentation example."""
    item: dict[str, Any] = {
        "amount": {"value": 1130, "currency": "EUR"},
        "pspReference": "7914073381342284",
        "eventCode": "AUTHORISATION",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "TestPayment-1407325143704",
        "paymentMethod": "visa",
        "success": "true",
    }
    item.update(overrides)
    return item


def adyen_body(item: dict[str, Any], key: str = ADYEN_DOCS_HMAC_KEY, sign: bool = True) -> bytes:
    if sign:
        item = {**item, "additionalData": {"hmacSignature": adyen_signature(key, item)}}
    return json.dumps(
        {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
    ).encode()


def post_callback(
    client: ApiClient, connection_id: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    anonymous = client.with_key(None)
    return anonymous.post(f"/callbacks/{connection_id}", content=body, headers=headers)


def count(db: Database, table: str, where: str = "", **params: Any) -> int:
    """Rows of ``table`` across every tenant (read as the owner)."""
    query = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
    with db.engine.connect() as connection:
        return int(connection.execute(text(query), params).scalar_one())
