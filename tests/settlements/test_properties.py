"""Hypothesis: rows round-trip through the canonical CSV and XLSX; no input crashes the parser."""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.clock import VN_TZ, FixedClock, as_utc
from recon.db import Database
from recon.errors import ReconError
from recon.money import MAX_VND
from recon.settlements.importer import (
    ParsedLine,
    canonical_csv,
    choose_profile,
    import_settlement,
    load_profiles,
    parse_amount,
    parse_settlement,
)

PROFILES = load_profiles()
CANONICAL = PROFILES["canonical"]

_text_chars = st.characters(categories=("L", "N", "P", "S", "Zs"))


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


ids = st.text(_text_chars, min_size=1, max_size=64).map(_clean).filter(
    lambda t: 0 < len(t) <= 64)
references = st.one_of(st.none(), st.text(_text_chars, max_size=255).map(_clean).map(
    lambda t: t or None))
zones = st.sampled_from([None, UTC, VN_TZ, timezone(timedelta(hours=-5)),
                         timezone(timedelta(hours=5, minutes=45))])


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    amount = draw(st.integers(0, MAX_VND))
    fee = draw(st.integers(0, amount))
    naive = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
    zone = draw(zones)
    return {
        "provider_txn_id": draw(ids), "amount": amount, "fee": fee, "net": amount - fee,
        "transaction_at": naive.replace(tzinfo=zone),
        "settled_on": draw(st.dates(date(2000, 1, 1), date(2099, 12, 31))),
        "reference": draw(references),
    }


def _expected(rows: list[dict[str, Any]], first_line: int = 2) -> list[ParsedLine]:
    return [ParsedLine(i, r["provider_txn_id"], r["amount"], r["fee"], r["net"],
                       as_utc(r["transaction_at"]), r["settled_on"], r["reference"])
            for i, r in enumerate(rows, start=first_line)]


@settings(max_examples=200, deadline=None)
@given(st.lists(lines(), max_size=20))
def test_rows_round_trip_through_canonical_csv(rows: list[dict[str, Any]]) -> None:
    text = canonical_csv(rows)
    result = parse_settlement(text.encode("utf-8"), "x.csv", CANONICAL)
    assert result.errors == []
    # a line's number is its first physical line (quoted references may hold newlines)
    assert [ln.provider_txn_id for ln in result.lines] == [r["provider_txn_id"] for r in rows]
    got = [replace(ln, line_no=0) for ln in result.lines]
    assert got == [replace(e, line_no=0) for e in _expected(rows)]


@settings(max_examples=30, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=8))
def test_rows_round_trip_through_xlsx(rows: list[dict[str, Any]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["provider_txn_id", "amount", "fee", "net_amount", "transaction_at",
               "settled_on", "reference"])
    for r in rows:
        for key in ("provider_txn_id", "reference"):  # "=..." would be written as a formula
            if r[key] and r[key].startswith("="):
                r[key] = "x" + r[key][:-1] if len(r[key]) >= 64 else "x" + r[key]
        # numbers as numbers, times as ISO text (Excel cells cannot hold an offset)
        ws.append([r["provider_txn_id"], r["amount"], r["fee"], r["net"],
                   r["transaction_at"].isoformat(), r["settled_on"], r["reference"]])
    out = io.BytesIO()
    wb.save(out)
    result = parse_settlement(out.getvalue(), "x.xlsx", CANONICAL)
    assert result.errors == []
    assert result.lines == _expected(rows)


_separators = st.sampled_from([(".", ","), (",", "."), (" ", ","), ("", ""), ("", "."),
                               (".", "")])


@given(st.integers(0, MAX_VND), _separators, st.integers(0, 3))
def test_grouped_amounts_parse_exactly(n: int, seps: tuple[str, str], zeros: int) -> None:
    thousands, decimal = seps
    profile = replace(CANONICAL, thousands_separator=thousands, decimal_separator=decimal)
    text = f"{n:,}".replace(",", thousands) if thousands else str(n)
    if decimal and zeros:
        text += decimal + "0" * zeros
    assert parse_amount(text, profile) == n


@given(st.integers(0, 10**12), st.integers(1, 99), _separators)
def test_a_fraction_of_a_dong_is_never_rounded(n: int, cents: int,
                                                seps: tuple[str, str]) -> None:
    thousands, decimal = seps
    profile = replace(CANONICAL, thousands_separator=thousands, decimal_separator=decimal)
    with pytest.raises(ValueError, match=r"fraction|whole number"):
        parse_amount(f"{n}{decimal or '.'}{cents:02d}", profile)
    with pytest.raises(ValueError, match="fraction"):
        parse_amount(n + cents / 100, profile)


def _never_crashes(data: bytes, filename: str, provider: str = "sepay") -> None:
    try:
        profile = choose_profile(PROFILES, provider, None, data, filename)
        parse_settlement(data, filename, profile)
    except ReconError:
        pass
    for profile in PROFILES.values():
        with contextlib.suppress(ReconError):
            parse_settlement(data, filename, profile)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["f.csv", "f.xlsx", "f", "f.txt"]))
def test_arbitrary_bytes_raise_only_recon_errors(data: bytes, filename: str) -> None:
    _never_crashes(data, filename)
    _never_crashes(b"PK\x03\x04" + data, filename)


_csvish = st.text(st.sampled_from(list("0123456789.,;-+eE \"'\n\r\tTZ:/()abcđ₫VND")),
                  max_size=300)


@settings(max_examples=300, deadline=None)
@given(_csvish, st.sampled_from(list(PROFILES)))
def test_csv_like_noise_under_each_header_raises_only_recon_errors(body: str,
                                                                   name: str) -> None:
    profile = PROFILES[name]
    header = io.StringIO()
    csv.writer(header).writerow([names[0] for names in profile.columns.values()]
                                + [f.column for f in profile.filters])
    data = (header.getvalue() + body).encode("utf-8")
    try:
        result = parse_settlement(data, "f.csv", profile)
    except ReconError:
        return
    for line in result.lines:  # whatever was accepted is exact and consistent
        assert 0 <= line.fee <= line.amount <= MAX_VND
        assert line.net == line.amount - line.fee


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=600), _csvish.map(lambda t: (
    "provider_txn_id,amount,fee,transaction_at,settled_on\n" + t).encode())))
def test_import_of_anything_raises_only_recon_errors(db: Database, clock: FixedClock,
                                                     data: bytes) -> None:
    with contextlib.suppress(ReconError):
        import_settlement(db, clock, "vnpay", data, "fuzz.csv", actor="fuzz")
