"""Money in integer minor units, with the ISO 4217 exponent per currency.

No float ever touches an amount: decimal strings are parsed with :class:`decimal.Decimal` and
refused when they carry more decimals than the currency allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import iso4217

from zentra.kit.errors import InvalidAmount, UnknownCurrency

# A plain decimal: optional sign, ASCII digits, optionally a point followed by digits. No
# exponent, no digit separators, no bare ".5" or "5." (each is a sign of a mangled export).
_MAJOR_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_MINOR_AMOUNT = re.compile(r"[+-]?[0-9]+")


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (JPY 0, EUR 2, KWD 3).

    Raises :class:`UnknownCurrency` for codes that are not active ISO 4217 currencies or that
    have no minor unit (precious metals, testing codes).
    """
    if len(code) != 3 or not code.isalpha() or not code.isupper():
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code")
    try:
        exponent = iso4217.Currency(code).exponent
    except (ValueError, KeyError) as exc:
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code") from exc
    if exponent is None:
        raise UnknownCurrency(f"{code} has no minor unit and cannot be used for money")
    return int(exponent)


def normalize_currency(code: str) -> str:
    """Upper-case and validate a currency code; return it."""
    normalized = code.strip().upper()
    currency_exponent(normalized)
    return normalized


def parse_major_amount(text: str, currency: str) -> int:
    """Parse a decimal amount in major units (``"1250.00"``) into minor units.

    Raises :class:`InvalidAmount` for anything that is not a plain decimal number, or that has
    more decimals than the currency's exponent (``"1.005"`` in EUR). Never rounds.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidAmount("amount is empty")
    if not _MAJOR_AMOUNT.fullmatch(cleaned):
        raise InvalidAmount(f"{cleaned!r} is not a plain decimal amount (like 1250.00)")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # unreachable after the pattern; kept as a guard
        raise InvalidAmount(f"{cleaned!r} is not a decimal amount") from exc
    exponent = currency_exponent(currency)
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{cleaned!r} has more decimals than {currency} allows ({exponent})")
    return int(scaled)


def parse_minor_amount(text: str) -> int:
    """Parse an integer amount already in minor units (``"125000"``)."""
    cleaned = text.strip()
    if not _MINOR_AMOUNT.fullmatch(cleaned):
        raise InvalidAmount(f"{cleaned!r} is not an integer amount in minor units")
    return int(cleaned)


def format_major(amount: int, currency: str) -> str:
    """Render minor units as a major-unit decimal string (``125000, EUR -> "1250.00"``)."""
    exponent = currency_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one ISO 4217 currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount("money amounts are integers in minor units")
        currency_exponent(self.currency)

    def __add__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _require_same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidAmount(f"cannot combine {self.currency} with {other.currency}")

    @classmethod
    def from_major(cls, text: str, currency: str) -> Money:
        """Build from a major-unit decimal string; see :func:`parse_major_amount`."""
        code = normalize_currency(currency)
        return cls(parse_major_amount(text, code), code)

    def to_major(self) -> str:
        """The amount as a major-unit decimal string."""
        return format_major(self.amount, self.currency)

    def as_json(self) -> dict[str, int | str]:
        """The public representation: ``{"amount": 125000, "currency": "EUR"}``."""
        return {"amount": self.amount, "currency": self.currency}
