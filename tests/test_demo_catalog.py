"""The Huế demo catalogue: real-looking data that the rest of the code can trust."""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from recon.demo import catalog as dc
from recon.models.dossiers import FEE_KINDS, RECEIVED_CHANNELS
from recon.vietqr.banks import lookup

CODE_RE = re.compile(r"^000\.00\.21\.H57-(\d{6})-(\d{4,})$")
PROCEDURE_CODE_RE = re.compile(r"^\d\.\d{6}$")


@pytest.fixture(scope="module")
def quarter() -> list[dc.DemoDossier]:
    return list(dc.generate_quarter(2021, 2))


# --------------------------------------------------------------------------- catalogue


def test_enough_real_procedures_with_fees_across_fields() -> None:
    with_fees = [p for p in dc.PROCEDURES if p.fees]
    assert len(dc.PROCEDURES) >= 18
    assert len(with_fees) >= 15
    assert len({p.field for p in with_fees}) >= 5
    assert sum(1 for p in dc.PROCEDURES if not p.fees) >= 3  # most real dossiers are free


def test_every_fee_is_a_positive_int_with_a_source() -> None:
    for procedure in dc.PROCEDURES:
        for fee in procedure.fees:
            assert type(fee.amount) is int, (procedure.code, fee)
            assert fee.amount > 0
            assert fee.kind in FEE_KINDS
            assert fee.source.strip()
            assert 0 < len(fee.name) <= 255
        if not procedure.fees:
            assert procedure.free_basis.strip()
        assert procedure.source.strip()


def test_codes_are_unique_and_in_the_national_format() -> None:
    codes = [p.code for p in dc.PROCEDURES]
    assert len(codes) == len(set(codes))
    assert all(PROCEDURE_CODE_RE.match(c) for c in codes)
    agencies = [a.code for a in dc.AGENCIES]
    assert len(agencies) == len(set(agencies))
    assert set(dc.PROCEDURES_BY_CODE) == set(codes)
    assert set(dc.AGENCIES_BY_CODE) == set(agencies)


def test_fields_are_the_distinct_fields() -> None:
    assert len(dc.FIELDS) == len(set(dc.FIELDS))
    assert set(dc.FIELDS) == {p.field for p in dc.PROCEDURES}


def test_figures_from_the_legal_texts() -> None:
    by_code = dc.PROCEDURES_BY_CODE
    assert by_code["1.001612"].name == "Đăng ký thành lập hộ kinh doanh"
    totals = {p.name: p.total for p in dc.PROCEDURES}
    assert totals["Đổi giấy phép lái xe"] == 135_000
    assert totals["Cấp Giấy phép bán lẻ rượu"] == 1_200_000
    assert by_code["2.000488"].total == 200_000  # lý lịch tư pháp
    assert by_code["2.000815"].total == 2_000  # one copied page
    company = next(p for p in dc.PROCEDURES if p.field == "Thành lập và hoạt động doanh nghiệp")
    assert sorted((f.kind, f.amount) for f in company.fees) == [("le_phi", 50_000),
                                                                 ("phi", 100_000)]


def test_weights_are_realistic() -> None:
    weight = {p.code: p.weight for p in dc.PROCEDURES}
    karaoke = weight["1.001029"]
    assert weight["2.000815"] > 100 * karaoke  # chứng thực bản sao vs karaoke
    assert weight["1.001193"] > 100 * karaoke  # khai sinh
    assert 0.30 <= dc.expected_online_share() <= 0.45


def test_agencies_use_real_bins_and_bank_style_names() -> None:
    for agency in dc.AGENCIES:
        assert lookup(agency.bank_bin) is not None, agency.bank_bin
        assert agency.account_name.isascii()
        assert agency.account_name == agency.account_name.upper()
        assert not agency.name.isascii()  # Vietnamese with diacritics
        assert agency.account_number.isdigit()
    centre = dc.AGENCIES[0]
    assert (centre.bank_bin, centre.account_number, centre.account_name) == (
        "970415", "113000000000", "TRUNG TAM PHUC VU HANH CHINH CONG")
    assert {a.bank_bin for a in dc.AGENCIES} >= {"970415", "970418", "970405", "970436"}
    assert {a.level for a in dc.AGENCIES} == set(dc.LEVELS)


def test_literals_match_the_models() -> None:
    assert set(dc.FEE_KINDS) == set(FEE_KINDS)
    assert set(dc.CHANNELS) == set(RECEIVED_CHANNELS)


@pytest.mark.parametrize("amount", [1.0, 0, -5, True, "100"])
def test_fee_refuses_non_positive_or_non_int_amounts(amount: object) -> None:
    with pytest.raises(ValueError, match="positive int"):
        dc.Fee("phi", "x", amount, "Thông tư")  # type: ignore[arg-type]


def test_free_procedure_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="free_basis"):
        dc.Procedure(code="9.999999", name="x", field="y", level="xa", fees=(), weight=1,
                     online_share=0)


# --------------------------------------------------------------------------- generator


def test_yields_the_requested_count(quarter: list[dc.DemoDossier]) -> None:
    assert len(quarter) == 28_300
    for n in (0, 1, 7):
        assert len(list(dc.generate_quarter(2022, 3, dossiers=n))) == n


def test_deterministic_for_a_seed() -> None:
    first = list(dc.generate_quarter(2021, 2, dossiers=3_000, seed=7))
    again = list(dc.generate_quarter(2021, 2, dossiers=3_000, seed=7))
    assert first == again
    assert first != list(dc.generate_quarter(2021, 2, dossiers=3_000, seed=8))
    other = list(dc.generate_quarter(2021, 3, dossiers=3_000, seed=7))
    assert [d.applicant_name for d in first] != [d.applicant_name for d in other]


@pytest.mark.parametrize(("year", "q"), [(2021, 1), (2021, 4), (2024, 1), (2024, 3), (2030, 2)])
def test_stays_inside_the_quarter_and_working_hours(year: int, q: int) -> None:
    start, end = dc.quarter_bounds(year, q)
    dossiers = list(dc.generate_quarter(year, q, dossiers=4_000))
    for d in dossiers:
        assert start <= d.received_at < end
        assert d.received_at.utcoffset() == timedelta(hours=7)
        local = d.received_at
        weekday, minute = local.weekday(), local.hour * 60 + local.minute
        assert weekday < 6
        assert not dc.is_holiday(local.date())
        if weekday == 5:
            assert 7 * 60 + 30 <= minute <= 11 * 60 + 30
        else:
            assert 7 * 60 <= minute <= 11 * 60 + 30 or 13 * 60 + 30 <= minute <= 17 * 60
    assert [d.received_at for d in dossiers] == sorted(d.received_at for d in dossiers)
    saturdays = sum(1 for d in dossiers if d.received_at.weekday() == 5)
    assert 0 < saturdays < 0.05 * len(dossiers)


def test_skips_fixed_holidays_and_tet() -> None:
    days = {day for day, _ in dc.working_days(2021, 1)}
    assert dc.quarter_bounds(2021, 1)[0].date() not in days  # 1 January
    assert all(not (day.month == 2 and 10 <= day.day <= 16) for day in days)  # Tết 2021


def test_dossier_codes_unique_and_numbered_per_day(quarter: list[dc.DemoDossier]) -> None:
    assert len({d.code for d in quarter}) == len(quarter)
    numbers: dict[str, list[int]] = defaultdict(list)
    for d in quarter:
        match = CODE_RE.match(d.code)
        assert match, d.code
        assert match.group(1) == d.received_at.strftime("%y%m%d")
        numbers[match.group(1)].append(int(match.group(2)))
    for day_numbers in numbers.values():
        assert day_numbers == list(range(1, len(day_numbers) + 1))


def test_names_are_vietnamese_with_diacritics(quarter: list[dc.DemoDossier]) -> None:
    names = [d.applicant_name for d in quarter]
    assert sum(not n.isascii() for n in names) >= 0.95 * len(names)
    for name in set(names):
        assert unicodedata.is_normalized("NFC", name)
        parts = name.split(" ")
        assert 3 <= len(parts) <= 5
        assert all(p[:1].isupper() and p.isalpha() for p in parts)
    assert len(set(names)) > 2_000


def test_fees_agency_and_channel_follow_the_procedure(quarter: list[dc.DemoDossier]) -> None:
    for d in quarter:
        procedure = dc.PROCEDURES_BY_CODE[d.procedure_code]
        assert d.fees == procedure.fees
        assert d.agency.level == procedure.level
        assert d.received_channel in RECEIVED_CHANNELS
    channels = Counter(d.received_channel for d in quarter)
    assert 0.30 <= channels["online"] / len(quarter) <= 0.45
    assert 0 < channels["postal"] < 0.05 * len(quarter)
    used = Counter(d.procedure_code for d in quarter)
    assert set(used) == set(dc.PROCEDURES_BY_CODE)  # even karaoke shows up in a quarter
    assert used["2.000815"] > used["2.000488"] > used["1.001029"]


def test_as_intake_shape(quarter: list[dc.DemoDossier]) -> None:
    paid = next(d for d in quarter if d.fees)
    body = paid.as_intake()
    assert body["code"] == paid.code
    assert body["procedure_name"] == paid.procedure.name
    assert body["received_at"] == paid.received_at.isoformat()
    assert body["fees"] == [{"kind": f.kind, "name": f.name, "amount": f.amount,
                             "budget_code": f.budget_code, "retention_bp": f.retention_bp,
                             **({"deposit_rule": f.deposit_rule} if f.deposit_rule else {})}
                            for f in paid.fees]


def test_every_phi_carries_a_deposit_rule_and_says_whether_it_was_checked() -> None:
    from recon.engine.deposits import parse_rule

    fees = [f for p in dc.PROCEDURES for f in p.fees]
    assert all(f.deposit_rule for f in fees if f.kind == "phi")
    assert not any(f.deposit_rule for f in fees if f.kind == "le_phi")
    periods = {parse_rule(f.deposit_rule).period for f in fees if f.deposit_rule}
    assert periods == {"day", "week", "month"}
    # only phí chứng thực's "by the 5th of each month" was read in its circular (226/2016)
    assert {f.budget_code for f in fees if f.deposit_verified} == {"2716"}
    assert all(f.deposit_rule == "month:5" for f in fees if f.deposit_verified)
    with pytest.raises(ValueError, match="only a phí"):
        dc.Fee("le_phi", "Lệ phí", 1_000, "x", budget_code="2771", deposit_rule="month:5")


def test_every_fee_carries_its_budget_code_and_share() -> None:
    """Issue 18 §1: a lệ phí keeps nothing; some phí keep a share; every fee has a tiểu mục."""
    fees = [f for p in dc.PROCEDURES for f in p.fees]
    assert all(len(f.budget_code) == 4 and f.budget_code.isdigit() for f in fees)
    assert all(f.retention_bp == 0 for f in fees if f.kind == "le_phi")
    assert any(f.retention_bp > 0 for f in fees if f.kind == "phi")
    assert {f.budget_code for f in fees if "chứng thực" in f.name.lower()} == {"2716"}
    with pytest.raises(ValueError, match="lệ phí"):
        dc.Fee("le_phi", "x", 1_000, "Luật", budget_code="2771", retention_bp=1)


@pytest.mark.parametrize("kwargs", [{"quarter": 5}, {"quarter": 0}, {"year": 1999},
                                    {"dossiers": -1}])
def test_bad_arguments_fail_at_the_call(kwargs: dict[str, int]) -> None:
    args = {"year": 2021, "quarter": 2} | kwargs
    dossiers = args.pop("dossiers", 10)
    with pytest.raises(ValueError):
        dc.generate_quarter(args["year"], args["quarter"], dossiers=dossiers)


def test_a_quarter_is_fast() -> None:
    started = time.perf_counter()
    count = sum(1 for _ in dc.generate_quarter(2023, 4, dossiers=28_300, seed=1))
    elapsed = time.perf_counter() - started
    assert count == 28_300
    assert elapsed < 2.0  # about 0.25 s on a developer machine; slack for busy CI hosts
