"""Exact readers for the values ingested files and imports carry: amounts, currencies, times.

Each reader takes the text (or JSON value) of one field and returns the normalized value, or
raises :class:`~zentra.kit.errors.InvalidInput` (or a subclass) whose ``detail`` names the field
and says precisely what is wrong. Callers turn that detail into a per-row rejection. Nothing here
rounds, guesses a date, or lets a float near an amount.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from zentra.kit.errors import InvalidAmount, InvalidInput, UnknownCurrency
from zentra.kit.money import normalize_currency, parse_major_amount
from zentra.kit.time import as_utc, start_of_day

MAX_SAFE_AMOUNT = 2**53 - 1
"""Largest magnitude of an amount in minor units: canonical JSON (RFC 8785) represents integers
exactly only up to 2**53 - 1, and content hashes are computed over canonical JSON."""

# ASCII only: ``\d`` would also accept Arabic-Indic or full-width digits, which ``int`` reads.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# A plain decimal: no exponent ("1e3"), no thousands separator or decimal comma ("12,50"),
# no underscores ("1_000") — all of which ``Decimal`` alone would accept or misread.
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 / ISO 8601 extended form; a space may stand for "T"; seconds and offset optional.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
    r"(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def _check_range(value: int, field: str) -> int:
    if abs(value) > MAX_SAFE_AMOUNT:
        raise InvalidAmount(
            f"{field} {value} is out of range (at most {MAX_SAFE_AMOUNT} minor units)"
        )
    return value


def read_currency(text: str, field: str = "currency") -> str:
    """An ISO 4217 code with a minor unit, upper-cased. Raises :class:`UnknownCurrency`."""
    cleaned = text.strip()
    if not cleaned:
        raise UnknownCurrency(f"{field} is empty")
    try:
        return normalize_currency(cleaned)
    except UnknownCurrency as exc:
        raise UnknownCurrency(f"{field}: {exc.detail}") from exc


def read_minor_amount(text: str, field: str) -> int:
    """An integer amount in minor units (``"125000"``, ``"-300"``). Raises :class:`InvalidAmount`
    for anything else, decimals included (``"12.50"`` is not minor units)."""
    cleaned = text.strip()
    if not _INTEGER.fullmatch(cleaned):
        raise InvalidAmount(f"{field} {cleaned!r} is not an integer amount in minor units")
    return _check_range(int(cleaned), field)


def read_major_amount(text: str, currency: str, field: str) -> int:
    """A decimal amount in major units of ``currency`` (``"1250.00"``) as minor units.

    Raises :class:`InvalidAmount` for exponents, separators other than one ``.``, or more
    decimals than the currency's ISO 4217 exponent (``"1.5"`` JPY, ``"1.005"`` EUR); never rounds.
    """
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise InvalidAmount(
            f"{field} {cleaned!r} is not a decimal amount in major units "
            "(digits with an optional '.' and decimals; no exponent or thousands separator)"
        )
    try:
        minor = parse_major_amount(cleaned, currency)
    except InvalidAmount as exc:
        raise InvalidAmount(f"{field} {exc.detail}") from exc
    return _check_range(minor, field)


def read_json_minor_amount(value: object, field: str) -> int:
    """An amount in minor units from a decoded JSON value: an integer, or a string of one.

    A JSON float (``12.5``, even ``125000.0``) or a decimal string is refused: the sender meant
    major units or lost precision, and which one cannot be known.
    """
    if isinstance(value, bool):
        raise InvalidAmount(f"{field} must be an integer in minor units, not a boolean")
    if isinstance(value, int):
        return _check_range(value, field)
    if isinstance(value, float):
        raise InvalidAmount(f"{field} {value!r} is a JSON float; send integer minor units")
    if isinstance(value, str):
        return read_minor_amount(value, field)
    raise InvalidAmount(f"{field} must be an integer in minor units")


def read_timestamp(text: str, field: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or timestamp (naive means UTC) as an aware UTC datetime.

    Only the extended form is accepted (``2026-04-26``, ``2026-04-26T10:00:00Z``,
    ``2026-04-26 10:00:00+02:00``); ``20260426``, week dates and impossible dates are refused.
    """
    cleaned = text.strip()
    try:
        if _DATE.fullmatch(cleaned):
            return start_of_day(date.fromisoformat(cleaned))
        if _TIMESTAMP.fullmatch(cleaned):
            return as_utc(datetime.fromisoformat(cleaned))
    except ValueError as exc:
        raise InvalidInput(f"{field} {cleaned!r} is not a valid date or time: {exc}") from exc
    if not cleaned:
        raise InvalidInput(f"{field} is empty")
    raise InvalidInput(
        f"{field} {cleaned!r} is not an ISO 8601 date (YYYY-MM-DD) or timestamp "
        "(YYYY-MM-DDThh:mm[:ss[.ffffff]][Z|±hh:mm])"
    )


def read_text(value: str, field: str, *, max_length: int, required: bool) -> str | None:
    """A trimmed text value: None when empty and optional; refused when empty and required, or
    longer than ``max_length`` (the column width, so a row never fails at insert time)."""
    cleaned = value.strip()
    if not cleaned:
        if required:
            raise InvalidInput(f"{field} is empty")
        return None
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters")
    return cleaned
