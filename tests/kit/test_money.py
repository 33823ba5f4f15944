"""Money: integer minor units with the ISO 4217 exponent; never a float, never a guess."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zentra.kit.errors import InvalidAmount, UnknownCurrency
from zentra.kit.money import (
    Money,
    currency_exponent,
    format_major,
    parse_major_amount,
    parse_minor_amount,
)


@pytest.mark.parametrize(
    ("code", "exponent"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("BHD", 3), ("CLP", 0)]
)
def test_exponent_comes_from_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XAU", "EURO", "eur", "ZZZ", ""])
def test_unknown_or_unitless_currencies_are_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency):
        currency_exponent(code)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1250.00", "EUR", 125000),
        ("1250", "EUR", 125000),
        ("-25.5", "EUR", -2550),
        ("1.234", "KWD", 1234),
        ("500", "JPY", 500),
        (" 7.10 ", "USD", 710),
    ],
)
def test_major_amounts_become_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_major_amount(text, currency) == minor


@pytest.mark.parametrize(
    "text",
    ["1.005", "12,50", "1e3", "1_000", ".5", "5.", "NaN", "Infinity", "", "1.2.3", "١٢", "+-5"],
)
def test_anything_but_a_plain_decimal_within_the_exponent_is_refused(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_major_amount(text, "EUR")


def test_jpy_has_no_decimals() -> None:
    with pytest.raises(InvalidAmount, match="more decimals than JPY allows"):
        parse_major_amount("100.5", "JPY")


@pytest.mark.parametrize("text", ["+-5", "1.0", "", "١٢", "12 3", "0x10"])
def test_minor_amounts_are_plain_integers(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_minor_amount(text)


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(InvalidAmount):
        Money(12.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(1, "EUR") + Money(1, "USD")
    assert Money(1, "EUR") + Money(2, "EUR") == Money(3, "EUR")
    assert Money.from_major("12.34", "eur").as_json() == {"amount": 1234, "currency": "EUR"}


@given(st.integers(min_value=-(2**53), max_value=2**53), st.sampled_from(["JPY", "EUR", "KWD"]))
def test_format_and_parse_round_trip(amount: int, currency: str) -> None:
    assert parse_major_amount(format_major(amount, currency), currency) == amount
