from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.money import MAX_VND, MoneyError, format_vnd, parse_vnd


@pytest.mark.parametrize("value", [0, 1, 180000, "180000", " 42 ", MAX_VND])
def test_accepts_integers(value: object) -> None:
    assert parse_vnd(value) == int(str(value).strip())


@pytest.mark.parametrize("value", [
    100.0, Decimal("100.0"), Decimal("1E+5"), "100.0", "1e5", "100,000", "100.000", "-5", -5,
    True, None, "", "  ", "١٢٣", "12 000", [], {}, MAX_VND + 1, "0x10",
])
def test_refuses_everything_else(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_vnd(value)


def test_zero_refused_when_asked() -> None:
    with pytest.raises(MoneyError, match="more than 0"):
        parse_vnd(0, allow_zero=False)


@pytest.mark.parametrize(("amount", "text"), [
    (0, "0\u00a0₫"), (180000, "180.000\u00a0₫"), (274207000, "274.207.000\u00a0₫"),
    (999, "999\u00a0₫"), (-2000, "-2.000\u00a0₫"),
])
def test_format(amount: int, text: str) -> None:
    assert format_vnd(amount) == text


@given(st.integers(min_value=0, max_value=MAX_VND))
def test_format_round_trips(amount: int) -> None:
    text = format_vnd(amount, symbol=False)
    assert parse_vnd(text.replace(".", "")) == amount


def test_format_refuses_float() -> None:
    with pytest.raises(TypeError):
        format_vnd(1.5)  # type: ignore[arg-type]
