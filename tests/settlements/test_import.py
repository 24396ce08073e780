"""Settlement import: canonical CSV, XLSX, every shipped profile, all or nothing, duplicates."""

from __future__ import annotations

import io
import json
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError, DuplicateFile, ValidationError
from recon.models import AuditEvent, SettlementFile, SettlementLine
from recon.settlements.importer import (
    PROVIDERS,
    choose_profile,
    import_settlement,
    load_profiles,
    parse_amount,
    parse_settlement,
)
from tests.settlements.conftest import FIXTURES

HEADER = "provider_txn_id,amount,fee,transaction_at,settled_on,net_amount,reference\n"


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(SettlementFile)) or 0,
                s.scalar(select(func.count()).select_from(SettlementLine)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _lines(db: Database) -> list[SettlementLine]:
    with db.read() as s:
        return list(s.scalars(select(SettlementLine).order_by(SettlementLine.line_no)))


def _import(db: Database, clock: FixedClock, provider: str, data: bytes | Path,
            name: str = "report.csv", **kw: Any) -> dict[str, Any]:
    return import_settlement(db, clock, provider, data, name, actor="test", **kw).as_dict()


def test_canonical_csv_with_netting(db: Database, clock: FixedClock) -> None:
    summary = _import(db, clock, "vnpay", FIXTURES / "canonical.csv", "canonical.csv")
    assert summary["profile"] == "canonical"
    assert (summary["lines"], summary["rows"], summary["skipped"]) == (3, 3, 0)
    assert summary["total_amount"] == 360000
    assert summary["total_fee"] == 3080
    assert summary["total_net"] == 356920
    assert summary["settled_from"] == summary["settled_to"] == "2026-11-25"
    lines = _lines(db)
    assert [(ln.line_no, ln.provider_txn_id, ln.amount, ln.fee, ln.net) for ln in lines] == [
        (2, "14422574", 180000, 1980, 178020),
        (3, "14422575", 100000, 1100, 98900),
        (4, "14422576", 80000, 0, 80000),
    ]
    # offsets honoured; a time without one is Vietnam time
    assert lines[0].transaction_at == datetime(2026, 11, 24, 2, 18, 6, tzinfo=UTC)
    assert lines[1].transaction_at == datetime(2026, 11, 24, 3, 2, 41, tzinfo=UTC)
    assert lines[2].transaction_at == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    assert lines[0].settled_on == date(2026, 11, 25)
    assert lines[0].reference == "HS7K3M9QX2PA" and lines[2].reference is None
    assert all(ln.provider == "vnpay" for ln in lines)
    with db.read() as s:
        file_row = s.scalars(select(SettlementFile)).one()
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "settlements.imported")).one()
    assert file_row.content == (FIXTURES / "canonical.csv").read_bytes()
    assert (file_row.row_count, file_row.total_amount, file_row.source) == (3, 360000, "upload")
    assert file_row.imported_by == "test" and file_row.imported_at == clock.now()
    assert event.entity_id == str(file_row.id)
    assert json.loads(event.data)["lines"] == 3


def test_original_bytes_are_kept_exactly(db: Database, clock: FixedClock) -> None:
    raw = ("\ufeff" + HEADER + "A1,5000,0,2026-11-24T10:00:00,2026-11-25,,Lệ phí\r\n"
           ).encode("utf-8")
    summary = _import(db, clock, "momo", raw, "bom.csv")
    with db.read() as s:
        row = s.get_one(SettlementFile, summary["file_id"])
    assert row.content == raw
    assert row.size == len(raw)
    assert row.sha256 == summary["sha256"]
    assert _lines(db)[0].reference == "Lệ phí"


def test_same_file_twice_is_refused_and_changes_nothing(db: Database,
                                                        clock: FixedClock) -> None:
    data = (FIXTURES / "canonical.csv").read_bytes()
    _import(db, clock, "vnpay", data, "a.csv")
    before = _counts(db)
    with pytest.raises(DuplicateFile) as caught:
        _import(db, clock, "vnpay", data, "renamed.csv")
    message = caught.value.message
    assert "renamed.csv was already imported on 2026-11-26 03:00 UTC" in message
    assert "nothing was changed" in message
    assert _counts(db) == before
    # refused for another provider too: the bytes are the identity
    with pytest.raises(DuplicateFile):
        _import(db, clock, "momo", data, "a.csv")
    assert _counts(db) == before


@pytest.mark.parametrize(("value", "expected"), [
    ("100.5", "not a whole number"),
    ("1e5", "not a whole number"),
    ("-100", "must not be negative"),
    ("", "is missing"),
    ("1,000", "not a whole number"),
    ("١٠٠", "not a whole number"),
])
def test_bad_amounts_are_errors(db: Database, clock: FixedClock, value: str,
                                expected: str) -> None:
    data = (HEADER + f'T1,"{value}",0,2026-11-24T10:00:00,2026-11-25,,\n').encode()
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "vnpay", data)
    assert caught.value.errors[0].line == 2
    assert caught.value.errors[0].field == "amount"
    assert expected in caught.value.errors[0].message
    assert _counts(db) == (0, 0, 0)


def test_any_bad_row_imports_nothing_and_every_error_has_its_row(db: Database,
                                                                 clock: FixedClock) -> None:
    data = (HEADER
            + "OK1,100000,1000,2026-11-24T10:00:00,2026-11-25,99000,\n"  # 2
            + "B1,100.5,0,2026-11-24T10:00:00,2026-11-25,,\n"  # 3
            + "B2,1e5,0,2026-11-24T10:00:00,2026-11-25,,\n"  # 4
            + "B3,-5,0,2026-11-24T10:00:00,2026-11-25,,\n"  # 5
            + "B4,100000,1000,2026-11-24T10:00:00,2026-11-25,98000,\n"  # 6: kept (stated net)
            + "B5,100000,0,24/11/2026,2026-11-25,,\n"  # 7
            + "B6,100000,0,2026-11-24T10:00:00,2026-02-30,,\n"  # 8
            + ",100000,0,2026-11-24T10:00:00,2026-11-25,,\n"  # 9
            + "\n"  # 10: blank lines are ignored
            + "B8,100,200,2026-11-24T10:00:00,2026-11-25,,\n"  # 11
            + "OK2,5,0,2026-11-24T10:00:00,2026-11-25,,\n").encode()  # 12
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "zalopay", data)
    got = [(e.line, e.field) for e in caught.value.errors]
    assert got == [(3, "amount"), (4, "amount"), (5, "amount"),
                   (7, "transaction_at"), (8, "settled_on"), (9, "provider_txn_id"),
                   (11, "fee")]
    assert "Nothing was imported" in (caught.value.hint or "")
    assert _counts(db) == (0, 0, 0)


def test_canonical_header_is_checked(db: Database, clock: FixedClock) -> None:
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "vnpay", b"provider_txn_id,amount,fee,transaction_at,settled_on,"
                b"netamount\nT,1,0,2026-11-24,2026-11-24,1\n", profile="canonical")
    assert "unknown column 'netamount'" in caught.value.errors[0].message
    with pytest.raises(ValidationError) as missing:
        _import(db, clock, "vnpay", b"provider_txn_id,amount,transaction_at,settled_on\n"
                b"T,1,2026-11-24,2026-11-24\n", profile="canonical")
    assert "lacks column(s) fee" in missing.value.errors[0].message
    assert "--profile" in (missing.value.hint or "")


def test_duplicate_transaction_ids_are_kept_for_the_engine(db: Database,
                                                            clock: FixedClock) -> None:
    data = (HEADER + "T1,100,0,2026-11-24T10:00:00,2026-11-25,,\n"
            + "T1,100,0,2026-11-24T10:00:00,2026-11-25,,\n").encode()
    assert _import(db, clock, "payos", data)["lines"] == 2


def test_unknown_provider_and_profile(db: Database, clock: FixedClock) -> None:
    data = (FIXTURES / "canonical.csv").read_bytes()
    with pytest.raises(ValidationError) as bad_provider:
        _import(db, clock, "paypal", data)
    assert bad_provider.value.errors[0].field == "provider"
    assert all(p in bad_provider.value.errors[0].message for p in PROVIDERS)
    with pytest.raises(ValidationError) as bad_profile:
        _import(db, clock, "vnpay", data, profile="nope")
    assert "unknown profile 'nope'" in bad_profile.value.errors[0].message
    assert _counts(db) == (0, 0, 0)


def test_a_file_no_profile_reads_says_what_to_do(db: Database, clock: FixedClock) -> None:
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "vnpay", "Ngày,Số tiền\n24/11/2026,1000\n".encode())
    assert "match no profile for vnpay" in caught.value.errors[0].message
    assert "canonical CSV" in (caught.value.hint or "")


# ---------------------------------------------------------------------------- XLSX


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_round_trip(db: Database, clock: FixedClock) -> None:
    data = _xlsx([
        ["provider_txn_id", "amount", "fee", "transaction_at", "settled_on", "net_amount",
         "reference"],
        [3108111745, 180000, 1800, datetime(2026, 11, 24, 8, 15, 22), date(2026, 11, 25),
         178200, "HS5M2QW9KX7B"],
        ["3108111790", "1000000", 0, "2026-11-24T16:40:05+07:00", "2026-11-25", None, None],
        [3108111800, 250000.0, 2500.0, datetime(2026, 11, 24, 9), date(2026, 11, 25), 247500,
         None],
    ])
    summary = _import(db, clock, "momo", data, "report.xlsx")
    assert summary["format"] == "xlsx" and summary["lines"] == 3
    lines = _lines(db)
    assert [(ln.provider_txn_id, ln.amount, ln.fee, ln.net) for ln in lines] == [
        ("3108111745", 180000, 1800, 178200), ("3108111790", 1000000, 0, 1000000),
        ("3108111800", 250000, 2500, 247500)]
    assert lines[0].transaction_at == datetime(2026, 11, 24, 1, 15, 22, tzinfo=UTC)
    assert lines[1].transaction_at == datetime(2026, 11, 24, 9, 40, 5, tzinfo=UTC)
    with db.read() as s:
        assert s.scalars(select(SettlementFile.content)).one() == data


def test_xlsx_fraction_cells_are_errors_never_rounded(db: Database, clock: FixedClock) -> None:
    data = _xlsx([
        ["provider_txn_id", "amount", "fee", "transaction_at", "settled_on"],
        ["T1", 100.5, 0, "2026-11-24T10:00:00", "2026-11-25"],
        ["T2", 100000, 0.25, "2026-11-24T10:00:00", "2026-11-25"],
        ["T3", True, 0, "2026-11-24T10:00:00", "2026-11-25"],
        ["T4", 100000, 0, 45000, "2026-11-25"],
    ])
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "vnpay", data, "r.xlsx")
    got = [(e.line, e.field) for e in caught.value.errors]
    assert got == [(2, "amount"), (3, "fee"), (4, "amount"), (5, "transaction_at")]
    assert "fraction of a dong (100.5)" in caught.value.errors[0].message
    assert "never rounded" in caught.value.errors[0].message
    assert _counts(db) == (0, 0, 0)


def test_broken_xlsx_is_a_validation_error(db: Database, clock: FixedClock) -> None:
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "vnpay", b"PK\x03\x04 not really a zip", "r.xlsx")
    assert "not a readable XLSX workbook" in caught.value.errors[0].message
    with pytest.raises(ValidationError) as old:
        _import(db, clock, "vnpay", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "r.xls",
                profile="canonical")
    assert ".xls" in old.value.errors[0].message
    assert _counts(db) == (0, 0, 0)


# ---------------------------------------------------------------------------- shipped profiles


# every built-in profile (recon/data/settlement_profiles.toml) with the sample it must read:
# profile: (sample under tests/settlements/fixtures, provider, the lines it gives)
SHIPPED_SAMPLES: dict[str, tuple[str, str, list[tuple[Any, ...]]]] = {
    "vnpay_merchant": ("vnpay_merchant.csv", "vnpay", [
        ("14422574", 180000, 1980, 178020, "2026-11-25", "HS7K3M9QX2PA"),
        ("14422575", 1250000, 13750, 1236250, "2026-11-25", "HS4T8WZ2NB6C"),
        ("14422580", 80000, 0, 80000, "2026-11-25", "HS2B6NQ8TR5W")]),
    "momo_report": ("momo_report.csv", "momo", [
        ("3108111745", 180000, 1800, 178200, "2026-11-25", "HS5M2QW9KX7B"),
        ("3108111790", 1000000, 10000, 990000, "2026-11-25", "HS8R4TN3PZ6D")]),
    "vietinbank_statement": ("vietinbank_statement.xlsx", "payos", [
        ("FT26328123456", 180000, 0, 180000, "2026-11-24",
         "MBVCB.3278907687.HS7K3M9QX2PA.NGUYEN VAN A CT"),
        ("FT26328124001", 1250000, 0, 1250000, "2026-11-24",
         "HS4T8WZ2NB6C LE PHI HO KINH DOANH"),
        ("FT26328124777", 100000, 0, 100000, "2026-11-24", "IBFT HS9D2KX7MP3E NOP PHI")]),
    "sepay_export": ("sepay_export.csv", "sepay", [
        ("92704", 180000, 0, 180000, "2026-11-24",
         "MBVCB.3278907687.HS7K3M9QX2PA.NGUYEN VAN A CT"),
        ("92711", 100000, 0, 100000, "2026-11-24", "HS4T8WZ2NB6C LE PHI HO KINH DOANH")]),
    "canonical": ("canonical.csv", "pos", [
        ("14422574", 180000, 1980, 178020, "2026-11-25", "HS7K3M9QX2PA"),
        ("14422575", 100000, 1100, 98900, "2026-11-25", "HS4T8WZ2NB6C"),
        ("14422576", 80000, 0, 80000, "2026-11-25", None)]),
}


@pytest.mark.parametrize("profile", sorted(SHIPPED_SAMPLES))
def test_every_shipped_profile_reads_its_sample(db: Database, clock: FixedClock,
                                                profile: str) -> None:
    fixture, provider, expected = SHIPPED_SAMPLES[profile]
    path = FIXTURES / fixture
    # the header alone picks the profile
    summary = _import(db, clock, provider, path, fixture)
    assert summary["profile"] == profile
    got = [(ln.provider_txn_id, ln.amount, ln.fee, ln.net, ln.settled_on.isoformat(),
            ln.reference) for ln in _lines(db)]
    assert got == expected
    assert summary["lines"] == len(expected)
    assert summary["rows"] == summary["lines"] + summary["skipped"]


def test_every_shipped_profile_has_a_sample() -> None:
    """Each built-in profile has a sample file, for a provider the profile serves, whose header
    picks that profile and which it reads without an error: a profile added without a sample,
    a sample removed, or a sample its profile no longer reads fails here."""
    profiles = load_profiles()
    assert sorted(profiles) == sorted(SHIPPED_SAMPLES), "a built-in profile has no sample"
    for name, (fixture, provider, expected) in SHIPPED_SAMPLES.items():
        path = FIXTURES / fixture
        assert path.is_file(), f"the sample of profile {name} is missing: {path}"
        data = path.read_bytes()
        assert data, f"the sample of profile {name} is empty"
        assert provider in profiles[name].providers
        assert choose_profile(profiles, provider, None, data, fixture).name == name
        result = parse_settlement(data, fixture, profiles[name])
        assert result.errors == [], (name, result.errors)
        assert len(result.lines) == len(expected) >= 2


def test_filters_footers_and_title_rows(db: Database, clock: FixedClock) -> None:
    summary = _import(db, clock, "vnpay", FIXTURES / "vnpay_merchant.csv", "v.csv")
    # row 8 is a failed payment: left out by the filter, counted
    assert (summary["rows"], summary["skipped"]) == (4, 1)
    assert [ln.line_no for ln in _lines(db)] == [6, 7, 9]


def test_bank_statement_bad_credit_is_reported_not_dropped(db: Database,
                                                           clock: FixedClock) -> None:
    text = ("SAO KÊ TÀI KHOẢN\n\nSTT,Ngày giao dịch,Số tham chiếu,Nội dung,Số tiền ghi nợ,"
            "Số tiền ghi có,Số dư\n"
            '1,24/11/2026 09:12:44,FT1,HS7K3M9QX2PA,,"180,000","25,180,000"\n'
            '2,24/11/2026 09:13:00,FT2,RUT TIEN,"50,000",,"25,130,000"\n'
            '3,24/11/2026 09:14:00,FT3,HS4T8WZ2NB6C,,"1.234,5","25,131,234"\n'
            '4,31/11/2026 09:15:00,FT4,HS2B6NQ8TR5W,,"10,000","25,141,234"\n')
    with pytest.raises(ValidationError) as caught:
        _import(db, clock, "casso", text.encode(), "sao-ke.csv",
                profile="vietinbank_statement")
    got = [(e.line, e.field) for e in caught.value.errors]
    assert got == [(6, "Số tiền ghi có"), (7, "Ngày giao dịch")]
    assert _counts(db) == (0, 0, 0)


# ---------------------------------------------------------------------------- separators


@pytest.mark.parametrize(("thousands", "decimal", "value", "expected"), [
    (".", ",", "1.234.000", 1234000),
    (".", ",", "1.234,00", 1234),
    (".", ",", "1.234,5", None),
    (".", ",", "12.34", None),
    (".", ",", "1,234,000", None),
    (",", ".", "1,234,000", 1234000),
    (",", ".", "1,234,000.00", 1234000),
    (",", ".", "1,234,000.50", None),
    (",", ".", "1.234.000", None),
    (",", ".", "1234000", 1234000),
    (" ", "", "1 234 000", 1234000),
    ("", "", "1.234.000", None),
    ("", "", "1234000", 1234000),
    (",", ".", "(1,000)", None),
    (",", ".", "1,000 VND", 1000),
])
def test_separators_parse_exactly_when_the_profile_says_so(thousands: str, decimal: str,
                                                           value: str,
                                                           expected: int | None) -> None:
    from dataclasses import replace

    profile = replace(load_profiles()["vnpay_merchant"], thousands_separator=thousands,
                      decimal_separator=decimal, strip=("VND",))
    if expected is None:
        with pytest.raises(ValueError, match=r"whole number|fraction|negative"):
            parse_amount(value, profile)
    else:
        assert parse_amount(value, profile) == expected


# ---------------------------------------------------------------------------- profiles file


CUSTOM_TOML = """
[profiles.agribank_statement]
description = "Agribank-like statement: semicolons, Windows-1258, a column-number row"
providers = ["casso"]
delimiter = ";"
encoding = "cp1258"
header_row = 3
skip_rows = 1
datetime_formats = ["%d-%m-%Y %H:%M"]
thousands_separator = "."
decimal_separator = ","

[profiles.agribank_statement.columns]
provider_txn_id = "Mã GD"
transaction_at = "Thời gian"
amount = "Phát sinh có"
reference = "Diễn giải"

[[profiles.agribank_statement.filters]]
column = "Loại"
equals = "C"

[profiles.vnpay_merchant]
description = "our VNPay export, with its English titles"
providers = ["vnpay"]
thousands_separator = ","
settled_on_never_used = 1
"""


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese software writes it: a base letter (with its horn, breve or
    circumflex where the code page has it) followed by a combining tone mark."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = list(unicodedata.normalize("NFD", ch))
        for mark in list(marks):
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1 and composed.encode("cp1258", "ignore"):
                base = composed
                marks.remove(mark)
        out += (base + "".join(marks)).encode("cp1258")
    return bytes(out)


def test_profiles_file_adds_and_replaces_profiles(db: Database, clock: FixedClock,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(CUSTOM_TOML, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_profiles(path)
    assert "profile 'vnpay_merchant'" in caught.value.message
    assert "unknown key(s) settled_on_never_used" in caught.value.message
    path.write_text(CUSTOM_TOML.split("[profiles.vnpay_merchant]", maxsplit=1)[0], encoding="utf-8")
    profiles = load_profiles(path)
    assert profiles["agribank_statement"].origin == str(path)
    raw = ("SAO KÊ\n\nMã GD;Thời gian;Loại;Phát sinh có;Diễn giải\n(1);(2);(3);(4);(5)\n"
           "AG1;24-11-2026 08:00;C;1.250.000;Nộp lệ phí HS7K3M9QX2PA\n"
           "AG2;24-11-2026 08:30;D;9.000.000;Rút tiền\n"
           "AG3;24-11-2026 09:00;C;180.000,00;HS4T8WZ2NB6C\n")
    encoded = to_cp1258(raw)
    # decoded, it is not NFC ("ờ" is "ơ" + a combining grave): headers match all the same
    assert encoded.decode("cp1258") != raw
    assert unicodedata.normalize("NFC", encoded.decode("cp1258")) == raw
    summary = _import(db, clock, "casso", encoded, "ag.csv", profiles=profiles)
    assert summary["profile"] == "agribank_statement"
    assert [(ln.provider_txn_id, ln.amount, ln.reference) for ln in _lines(db)] == [
        ("AG1", 1250000, "Nộp lệ phí HS7K3M9QX2PA"), ("AG3", 180000, "HS4T8WZ2NB6C")]


def test_profiles_file_may_be_json(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"profiles": {"zalopay_report": {
        "providers": ["zalopay"], "columns": {
            "provider_txn_id": ["Mã GD ZaloPay"], "amount": "Số tiền", "fee": "Phí",
            "settled_on": "Ngày đối soát"},
        "date_formats": ["%d/%m/%Y"], "thousands_separator": ","}}}), encoding="utf-8")
    profile = load_profiles(path)["zalopay_report"]
    data = 'Mã GD ZaloPay,Số tiền,Phí,Ngày đối soát\n261124000123,"50,000",500,25/11/2026\n'
    result = parse_settlement(data.encode(), "z.csv", profile)
    assert not result.errors
    line = result.lines[0]
    assert (line.amount, line.fee, line.net, line.transaction_at, line.settled_on) == (
        50000, 500, 49500, None, date(2026, 11, 25))


@pytest.mark.parametrize(("body", "says"), [
    ("[profiles.x]\n", "columns"),
    ("[profiles.x.columns]\namount = 'a'\n", "provider_txn_id"),
    ("[profiles.x]\nthousands_separator = '.'\ndecimal_separator = '.'\n"
     "[profiles.x.columns]\nprovider_txn_id = 'i'\namount = 'a'\nsettled_on = 'd'\n", "differ"),
    ("[profiles.x]\nencoding = 'klingon'\n[profiles.x.columns]\nprovider_txn_id = 'i'\n"
     "amount = 'a'\nsettled_on = 'd'\n", "encoding"),
    ("[profiles.x]\nheader_row = 0\n[profiles.x.columns]\nprovider_txn_id = 'i'\n"
     "amount = 'a'\nsettled_on = 'd'\n", "header_row"),
    ("[profiles.x]\ndatetime_formats = ['dd/MM/yyyy']\n[profiles.x.columns]\n"
     "provider_txn_id = 'i'\namount = 'a'\nsettled_on = 'd'\n", "strftime"),
    ("[profiles.x.columns]\nprovider_txn_id = 'i'\namount = 'a'\n", "transaction_at"),
    ("[profiles.x.columns]\nprovider_txn_id = 'i'\namount = 'a'\nsettled_on = 'd'\n"
     "gross = 'g'\n", "unknown field"),
    ("not toml at all = = =", "not valid TOML"),
])
def test_profiles_file_mistakes_are_named(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_profiles(path)
    assert says in caught.value.message
    assert str(path) in caught.value.message


def test_missing_profiles_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_profiles(tmp_path / "absent.toml")
    assert "RECON_SETTLEMENT_PROFILES" in (caught.value.hint or "")


def test_choose_profile_prefers_canonical() -> None:
    profiles = load_profiles()
    data = (FIXTURES / "canonical.csv").read_bytes()
    assert choose_profile(profiles, "sepay", None, data, "c.csv").name == "canonical"
    # a VNPay report is not offered for MoMo
    with pytest.raises(ValidationError):
        choose_profile(profiles, "momo", None, (FIXTURES / "vnpay_merchant.csv").read_bytes(),
                       "v.csv")


# --------------------------------------------------------------------------- line kinds


def _kinds_profile(extra: dict[str, Any]) -> Any:
    from recon.settlements.importer import parse_profiles
    raw = {"columns": {"provider_txn_id": "id", "amount": "gross", "fee": "fee",
                       "settled_on": "day", "kind": "type", "original_txn_id": "of"},
           "optional_columns": ["original_txn_id"], **extra}
    return parse_profiles({"profiles": {"typed": raw}}, "test")["typed"]


@pytest.mark.parametrize(("extra", "message"), [
    ({"kind_values": {"refund": ["R"], "chargeback": ["C"]}}, r"unknown kind\(s\) chargeback"),
    ({"kind_values": {"sale": ["X"], "refund": ["x"]}}, "under both sale and refund"),
    ({"kind_values": {"refund": [" "]}}, "is blank"),
])
def test_kind_values_are_checked_when_the_profiles_load(extra: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _kinds_profile(extra)


def test_kind_values_need_a_kind_column() -> None:
    from recon.settlements.importer import parse_profiles
    with pytest.raises(ConfigurationError, match="kind_values needs a kind column"):
        parse_profiles({"profiles": {"p": {
            "columns": {"provider_txn_id": "id", "amount": "gross", "settled_on": "day"},
            "kind_values": {"refund": ["R"]}}}}, "test")


def test_refund_rows_keep_their_figures_and_an_unknown_type_is_named() -> None:
    from recon.settlements.importer import parse_settlement
    profile = _kinds_profile({"kind_values": {"sale": ["PAY"], "refund": ["Hoàn tiền"]}})
    body = ("id,gross,fee,day,type,of\n"
            "A1,180000,1584,2026-11-26,pay,\n"
            "R1,2000,3000,2026-11-27,HOÀN TIỀN,A1\n"      # a refund fee above a small refund
            "A2,5000,6000,2026-11-27,PAY,\n"              # a sale's fee above its gross: error
            "R2,1000,0,2026-11-27,Refund-partial,A1\n"    # a type the profile does not map
            "R3,1000,0,2026-11-27,,A1\n").encode()        # blank
    parsed = parse_settlement(body, "typed.csv", profile)
    assert [(ln.provider_txn_id, ln.kind, ln.original_txn_id, ln.amount, ln.fee)
            for ln in parsed.lines] == [("A1", "sale", None, 180000, 1584),
                                        ("R1", "refund", "A1", 2000, 3000)]
    errors = {(e.line, e.message.split(";")[0]) for e in parsed.errors}
    assert errors == {(4, "fee 6000 is more than the gross amount 5000"),
                      (5, "has the unknown transaction type 'Refund-partial'"),
                      (6, "is blank")}
    unknown = next(e for e in parsed.errors if e.line == 5)
    assert "kind_values.sale or kind_values.refund of profile typed" in unknown.message
