"""What a verified callback says: its provider event id, its type and, when money moved, the
external record it becomes. Pure: no database.

Amounts are integers in minor units; signs follow the settlement files (money in positive, money
out negative). A float, a boolean, a missing or out-of-range amount, or an unknown currency is
refused as :class:`MalformedCallback`, never rounded or guessed.

Per kind:

- **stripe** (an Event): ``id``, ``type``, ``created``; ``data.object`` holds the money.
  ``charge.succeeded`` -> charge, ``refund.created`` -> refund (negative), ``payout.paid`` ->
  payout (negative); ``amount`` is already in minor units, ``currency`` lower-case, the object's
  ``id`` is the provider reference. Other event types (``charge.failed``, ``charge.captured``,
  ``refund.updated``...) report a status, not new money: stored, no record.
- **adyen** (one NotificationRequestItem per callback): the event id is
  ``pspReference:eventCode:success``; ``AUTHORISATION`` -> charge, ``REFUND`` -> refund
  (negative), ``CHARGEBACK`` -> reversal (negative), with ``amount.value``/``amount.currency``
  and ``pspReference``. Unsuccessful items (``success`` not ``"true"``) and other event codes
  (``CAPTURE``, ``CANCELLATION``...) are stored without a record.
- **standard_webhooks** and **sandbox**, a generic shape::

      {"id": "msg_1", "type": "charge.succeeded",
       "data": {"reference": "pay_1", "amount": 1250, "currency": "EUR", "status": "succeeded"}}

  ``type`` starts with a record type (``charge``, ``refund``, ``payout``, ``fee``,
  ``adjustment``, ``reversal``) before an optional ``.``; ``amount`` is signed as Zentra stores
  it; ``status`` ``failed`` means no money moved (stored, no record).

Besides its money, a callback may name a **lifecycle status** of the movement behind a provider
reference (:mod:`zentra.providers.movement_state`), as :class:`StatusFields`:

- stripe: ``charge.succeeded`` and ``charge.captured`` -> captured, ``charge.refunded`` ->
  refunded, ``charge.failed`` -> failed, on the charge's ``id``; ``refund.created`` -> refunded
  on the refund's ``charge`` (no status when the refund names no charge);
- adyen: a successful ``AUTHORISATION`` -> authorized (unsuccessful: failed), ``CAPTURE`` ->
  captured, ``REFUND`` -> refunded (unsuccessful modifications: no status), on
  ``originalReference`` when the item has one (a modification's own ``pspReference`` is not the
  payment's), else ``pspReference``;
- generic: ``data.status`` when it is a lifecycle status, on ``data.reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zentra.ingest.sources.base import RECORD_TYPES
from zentra.kit.errors import UnknownCurrency
from zentra.kit.money import normalize_currency
from zentra.providers.errors import MalformedCallback
from zentra.providers.movement_state import parse_status
from zentra.providers.signatures import adyen_items

MAX_TEXT = 200
MAX_AMOUNT = 2**63 - 1
STRIPE_STATUSES = {
    "charge.succeeded": "captured",
    "charge.captured": "captured",
    "charge.refunded": "refunded",
    "charge.failed": "failed",
}
ADYEN_STATUSES = {"AUTHORISATION": "authorized", "CAPTURE": "captured", "REFUND": "refunded"}
STRIPE_RECORDS = {
    "charge.succeeded": ("charge", 1),
    "refund.created": ("refund", -1),
    "payout.paid": ("payout", -1),
}
ADYEN_RECORDS = {
    "AUTHORISATION": ("charge", 1),
    "REFUND": ("refund", -1),
    "CHARGEBACK": ("reversal", -1),
}


@dataclass(frozen=True, slots=True)
class RecordFields:
    """The normalized money of a callback: one external record."""

    provider_reference: str
    type: str
    amount_minor: int
    currency: str
    booked_at: datetime | None
    description: str


@dataclass(frozen=True, slots=True)
class NormalizedCallback:
    """A callback's identity, and its record when money moved (None: a status-only event)."""

    provider_event_id: str
    event_type: str
    record: RecordFields | None
    status: StatusFields | None = None


@dataclass(frozen=True, slots=True)
class StatusFields:
    """A lifecycle status a callback reports for the movement behind ``provider_reference``."""

    provider_reference: str
    status: str
    occurred_at: datetime | None


def _text(container: dict[str, Any], name: str, where: str) -> str:
    value = container.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MalformedCallback(f"{where}{name} is missing or not text", field=f"{where}{name}")
    if "\x00" in value:
        raise MalformedCallback(f"{where}{name} contains a NUL character", field=f"{where}{name}")
    if len(value) > MAX_TEXT:
        raise MalformedCallback(
            f"{where}{name} is longer than {MAX_TEXT} characters", field=f"{where}{name}"
        )
    return value.strip()


def _object(container: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = container.get(name)
    if not isinstance(value, dict):
        raise MalformedCallback(f"{where}{name} is missing or not an object")
    return value


def _amount(value: Any, field: str) -> int:
    # bool is an int in Python; a JSON true is not an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedCallback(
            f"{field} must be an integer amount in minor units", field=field, value=str(value)
        )
    if abs(value) > MAX_AMOUNT:
        raise MalformedCallback(f"{field} is out of range", field=field)
    return value


def _currency(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise MalformedCallback(f"{field} is missing or not text", field=field)
    try:
        return normalize_currency(value)
    except UnknownCurrency as exc:
        raise MalformedCallback(exc.detail, field=field) from exc


def _unix_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 253402300800:
        raise MalformedCallback(f"{field} must be unix seconds", field=field)
    return datetime.fromtimestamp(value, UTC)


def normalize_stripe(payload: Any) -> NormalizedCallback:
    """A Stripe Event: see the module docstring. Raises :class:`MalformedCallback`."""
    if not isinstance(payload, dict):
        raise MalformedCallback("the body is not a JSON object")
    event_id = _text(payload, "id", "")
    event_type = _text(payload, "type", "")
    booked_at = _unix_time(payload.get("created"), "created")
    obj = _object(_object(payload, "data", ""), "object", "data.")
    status = _stripe_status(event_type, obj, booked_at)
    kind = STRIPE_RECORDS.get(event_type)
    if kind is None:
        return NormalizedCallback(event_id, event_type, None, status)
    record_type, sign = kind
    amount = _amount(obj.get("amount"), "data.object.amount")
    record = RecordFields(
        provider_reference=_text(obj, "id", "data.object."),
        type=record_type,
        amount_minor=sign * abs(amount),
        currency=_currency(obj.get("currency"), "data.object.currency"),
        booked_at=booked_at,
        description=event_type,
    )
    return NormalizedCallback(event_id, event_type, record, status)


def _stripe_status(
    event_type: str, obj: dict[str, Any], occurred_at: datetime | None
) -> StatusFields | None:
    if event_type == "refund.created":
        # A Refund object's own id is not the payment's; its ``charge`` is.
        if not isinstance(obj.get("charge"), str):
            return None
        return StatusFields(_text(obj, "charge", "data.object."), "refunded", occurred_at)
    status = STRIPE_STATUSES.get(event_type)
    if status is None:
        return None
    return StatusFields(_text(obj, "id", "data.object."), status, occurred_at)


def normalize_adyen(payload: Any) -> NormalizedCallback:
    """An Adyen notification of one item: see the module docstring."""
    items = adyen_items(payload)
    if items is None:
        raise MalformedCallback("the body is not an Adyen notification")
    if len(items) != 1:
        raise MalformedCallback(
            f"one NotificationRequestItem per callback is supported, not {len(items)}"
        )
    item = items[0]
    psp_reference = _text(item, "pspReference", "")
    event_code = _text(item, "eventCode", "")
    success = item.get("success")
    if success not in ("true", "false"):
        raise MalformedCallback('success must be "true" or "false"', field="success")
    amount = _object(item, "amount", "")
    value = _amount(amount.get("value"), "amount.value")
    currency = _currency(amount.get("currency"), "amount.currency")
    event_id = f"{psp_reference}:{event_code}:{success}"
    if len(event_id) > MAX_TEXT:
        raise MalformedCallback("pspReference and eventCode are too long")
    status = _adyen_status(item, event_code, success, psp_reference)
    kind = ADYEN_RECORDS.get(event_code)
    if kind is None or success != "true":
        return NormalizedCallback(event_id, event_code, None, status)
    record_type, sign = kind
    merchant_reference = item.get("merchantReference")
    description = event_code
    if isinstance(merchant_reference, str) and merchant_reference:
        description = f"{event_code} {merchant_reference}"
    record = RecordFields(
        provider_reference=psp_reference,
        type=record_type,
        amount_minor=sign * abs(value),
        currency=currency,
        booked_at=None,
        description=description,
    )
    return NormalizedCallback(event_id, event_code, record, status)


def _adyen_status(
    item: dict[str, Any], event_code: str, success: str, psp_reference: str
) -> StatusFields | None:
    status = ADYEN_STATUSES.get(event_code)
    if status is None:
        return None
    if success != "true":
        if event_code != "AUTHORISATION":
            return None  # a refused capture or refund leaves the payment where it was
        status = "failed"
    reference = psp_reference
    if item.get("originalReference") not in (None, ""):
        reference = _text(item, "originalReference", "")
    return StatusFields(reference, status, None)


def normalize_generic(payload: Any) -> NormalizedCallback:
    """The generic Standard Webhooks shape: see the module docstring."""
    if not isinstance(payload, dict):
        raise MalformedCallback("the body is not a JSON object")
    event_id = _text(payload, "id", "")
    event_type = _text(payload, "type", "")
    record_type = event_type.split(".", 1)[0].lower()
    if record_type not in RECORD_TYPES:
        raise MalformedCallback(
            f"type must start with one of {', '.join(sorted(RECORD_TYPES))}", field="type"
        )
    data = _object(payload, "data", "")
    amount = _amount(data.get("amount"), "data.amount")
    currency = _currency(data.get("currency"), "data.currency")
    reference = _text(data, "reference", "data.")
    status = data.get("status")
    if status is not None and not isinstance(status, str):
        raise MalformedCallback("data.status must be text", field="data.status")
    lifecycle = parse_status(status)
    status_fields = None if lifecycle is None else StatusFields(reference, lifecycle, None)
    if status == "failed":
        return NormalizedCallback(event_id, event_type, None, status_fields)
    record = RecordFields(
        provider_reference=reference,
        type=record_type,
        amount_minor=amount,
        currency=currency,
        booked_at=None,
        description=event_type if status is None else f"{event_type} ({status})",
    )
    return NormalizedCallback(event_id, event_type, record, status_fields)


NORMALIZERS = {
    "stripe": normalize_stripe,
    "adyen": normalize_adyen,
    "standard_webhooks": normalize_generic,
    "sandbox": normalize_generic,
}
