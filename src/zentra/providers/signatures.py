"""Provider signature schemes over the exact bytes of an inbound callback. Pure: no database.

Each verifier returns ``None`` when the callback is authentic, else a short reason for the
security log (``missing_signature``, ``stale_timestamp``, ``signature_mismatch``...). They never
raise on hostile input: whatever a header or body holds, the answer is a reason.

- **Stripe**: ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each ``v1`` may
  be HMAC-SHA256 of ``"<t>." + body`` under the endpoint secret (its UTF-8 text, ``whsec_``
  included, as Stripe's libraries use it). Timestamps older than :data:`STRIPE_TOLERANCE_SECONDS`
  are refused (as Stripe does: only *older*, not newer).
- **Adyen**: every ``NotificationRequestItem`` carries ``additionalData.hmacSignature``, the
  base64 HMAC-SHA256, under the hex-decoded HMAC key, of the item's ``pspReference``,
  ``originalReference``, ``merchantAccountCode``, ``merchantReference``, ``amount.value``,
  ``amount.currency``, ``eventCode`` and ``success`` joined by ``:`` (absent fields empty).
- **Standard Webhooks** (and ``sandbox``): ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature`` checked by the ``standardwebhooks`` library (5 minutes either way).
  The library raises ``ValueError``, ``UnicodeDecodeError`` and others besides
  ``WebhookVerificationError`` on malformed input: every exception is a failed verification.

Comparisons of signatures are constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook

STRIPE_TOLERANCE_SECONDS = 300
"""Oldest Stripe signature timestamp accepted, in seconds before now (Stripe's default)."""

STRIPE_SIGNATURE_HEADER = "stripe-signature"
ADYEN_SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)


def _same(expected: str, given: str) -> bool:
    # Header text may hold any character; compare bytes so compare_digest never refuses it.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex ``v1`` signature Stripe sends for ``body`` signed at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe(
    secret: str, body: bytes, headers: Mapping[str, str], now_seconds: int
) -> str | None:
    """Check ``Stripe-Signature`` (lower-case ``headers``) over ``body``; None when authentic."""
    header = headers.get(STRIPE_SIGNATURE_HEADER)
    if not header:
        return "missing_signature"
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return "malformed_signature_header"
    if timestamp < now_seconds - STRIPE_TOLERANCE_SECONDS:
        return "stale_timestamp"
    expected = stripe_signature(secret, timestamp, body)
    if any(_same(expected, candidate) for candidate in candidates):
        return None
    return "signature_mismatch"


def _adyen_text(value: Any) -> str | None:
    """A signed field's text as Adyen wrote it; None when it cannot be part of a signature."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):  # a FloatLiteral is a str: its exact JSON text
        return str(value)
    return None


def adyen_signing_text(item: Mapping[str, Any]) -> str | None:
    """The ``:``-joined text Adyen signs for one NotificationRequestItem (None: unsignable)."""
    amount = item.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    values = [item.get(name) for name in ADYEN_SIGNED_FIELDS[:4]]
    values += [amount.get("value"), amount.get("currency")]
    values += [item.get(name) for name in ADYEN_SIGNED_FIELDS[6:]]
    texts = [_adyen_text(value) for value in values]
    if any(text is None for text in texts):
        return None
    return ":".join(text for text in texts if text is not None)


def adyen_signature(hmac_key_hex: str, item: Mapping[str, Any]) -> str:
    """The base64 ``hmacSignature`` Adyen puts on ``item``; ValueError when unsignable."""
    text = adyen_signing_text(item)
    if text is None:
        raise ValueError("the item's signed fields are not text or integers")
    digest = hmac.new(bytes.fromhex(hmac_key_hex), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def adyen_items(payload: Any) -> list[dict[str, Any]] | None:
    """The NotificationRequestItems of an Adyen notification body (None: not that shape)."""
    if not isinstance(payload, dict):
        return None
    wrappers = payload.get("notificationItems")
    if not isinstance(wrappers, list) or not wrappers:
        return None
    items = [w.get("NotificationRequestItem") if isinstance(w, dict) else None for w in wrappers]
    if not all(isinstance(item, dict) for item in items):
        return None
    return [item for item in items if isinstance(item, dict)]


def verify_adyen(hmac_key_hex: str, payload: Any) -> str | None:
    """Check every item's ``additionalData.hmacSignature``; None when all are authentic."""
    items = adyen_items(payload)
    if items is None:
        return "no_verifiable_signature"
    for item in items:
        additional = item.get("additionalData")
        given = additional.get("hmacSignature") if isinstance(additional, dict) else None
        if not isinstance(given, str) or not given:
            return "missing_signature"
        try:
            expected = adyen_signature(hmac_key_hex, item)
        except ValueError:
            return "no_verifiable_signature"
        if not _same(expected, given):
            return "signature_mismatch"
    return None


def verify_standard_webhooks(secret: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """Check the Standard Webhooks headers over ``body``; None when authentic."""
    if not all(headers.get(name) for name in ("webhook-id", "webhook-timestamp")):
        return "missing_signature"
    if not headers.get("webhook-signature"):
        return "missing_signature"
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except Exception:  # the library raises more than WebhookVerificationError on bad input
        return "signature_mismatch"
    return None
