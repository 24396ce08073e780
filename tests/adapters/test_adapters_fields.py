"""Strict parsing at the edge: amounts, JSON, times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters import MalformedPayload
from adapters.fields import (
    MAX_VND,
    compact_vn_time,
    epoch_time,
    iso_time,
    load_json,
    load_json_object,
    local_time,
    parse_vnd,
    show,
)


@pytest.mark.parametrize(("value", "amount"), [(0, 0), (1, 1), ("50000", 50000), (MAX_VND, MAX_VND),
                                               ("007", 7)])
def test_parse_vnd_accepts(value: object, amount: int) -> None:
    assert parse_vnd(value, field="amount") == amount


@pytest.mark.parametrize(
    "value",
    [-1, MAX_VND + 1, True, False, None, 1.0, 1.5, Decimal("1"), Decimal("1.0"), "1.0", "1e3",
     "-1", "+1", " 1", "1 ", "1,000", "1.000", "", "٣", "１", [1], {"a": 1}, "9" * 17],
)
def test_parse_vnd_refuses(value: object) -> None:
    with pytest.raises(MalformedPayload, match="amount"):
        parse_vnd(value, field="amount")


@pytest.mark.parametrize(
    ("value", "amount"),
    [("50000.00", 50000), ("50000.", 50000), ("50000", 50000), (Decimal("50000.00"), 50000),
     (Decimal("0.0"), 0), (50000, 50000)],
)
def test_zero_fraction_allowed_only_when_asked(value: object, amount: int) -> None:
    assert parse_vnd(value, field="x", allow_zero_fraction=True) == amount


@pytest.mark.parametrize(
    "value",
    ["50000.01", "50000.10", ".00", "50000.00.00", Decimal("50000.5"), Decimal("5E+4"),
     Decimal("1E+999999999"), Decimal("-1.00"), 50000.0, "50000,00"],
)
def test_zero_fraction_refuses_the_rest(value: object) -> None:
    with pytest.raises(MalformedPayload):
        parse_vnd(value, field="x", allow_zero_fraction=True)


@given(st.integers(min_value=0, max_value=MAX_VND))
def test_parse_vnd_is_exact_for_every_integer(amount: int) -> None:
    assert parse_vnd(amount, field="a") == amount
    assert parse_vnd(str(amount), field="a") == amount
    assert parse_vnd(f"{amount}.00", field="a", allow_zero_fraction=True) == amount


def test_json_is_strict() -> None:
    assert load_json(b'{"a": 1.5}') == {"a": Decimal("1.5")}  # never a float
    for bad, message in [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": 1, "a": 2}', "twice"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"\xef\xbb\xbf{}", "JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        (b'{"a": ' + b"1" * 5000 + b"}", "JSON"),
        (b"", "JSON"),
    ]:
        with pytest.raises(MalformedPayload, match=message):
            load_json(bad)
    with pytest.raises(MalformedPayload, match="JSON object"):
        load_json_object(b"[1]")


def test_times() -> None:
    assert compact_vn_time("20240521091806", field="t") == datetime(2024, 5, 21, 2, 18, 6,
                                                                     tzinfo=UTC)
    assert local_time("2024-05-21 09:18:06", field="t") == datetime(2024, 5, 21, 2, 18, 6,
                                                                     tzinfo=UTC)
    assert local_time("2024-05-21T02:18:06Z", field="t") == datetime(2024, 5, 21, 2, 18, 6,
                                                                      tzinfo=UTC)
    assert iso_time("2024-05-21T09:18:06+07:00", field="t").utcoffset() is not None
    assert epoch_time(1716257886000, field="t") == datetime(2024, 5, 21, 2, 18, 6, tzinfo=UTC)
    assert epoch_time("1716257886", field="t", unit="s") == datetime(2024, 5, 21, 2, 18, 6,
                                                                      tzinfo=UTC)
    for bad in ("2024521918061", "20240230091806", "abcdefghijklmn", 20240521091806):
        with pytest.raises(MalformedPayload, match="t"):
            compact_vn_time(bad, field="t")
    for bad in ("21/05/2024 09:18", "2024-05-21", "2024-13-01 00:00:00", "1999-12-31 23:59:59",
                "9999-12-31T23:59:59-23:59", None):
        with pytest.raises(MalformedPayload):
            local_time(bad, field="t")
    for bad in ("0001-01-01T00:00:00+23:59", "yesterday", "x" * 100, 5):
        with pytest.raises(MalformedPayload):
            iso_time(bad, field="t")
    for bad in (True, -1, 10**20, "1.5", "", 1.5):
        with pytest.raises(MalformedPayload):
            epoch_time(bad, field="t")


def test_show_masks_card_numbers_and_truncates() -> None:
    assert "4111111111111111" not in show("4111111111111111")
    assert "411111******1111" in show("4111111111111111")
    assert len(show("x" * 500)) <= 40
