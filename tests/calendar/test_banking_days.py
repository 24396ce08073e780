"""The banking calendar: pinned days of 2021 and 2026, the announced bridge and make-up days,
the arithmetic's round trip (Hypothesis), the file's validation and the operator's override."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.calendar import EVERY_DAY, BankingCalendar, load_calendar, parse_calendar_file
from recon.calendar.source import calendar_from_settings, default_calendar_path

VN, ANNOUNCED = load_calendar()


def test_tet_2021_is_ten_to_sixteen_february() -> None:
    # Tết Tân Sửu: Wed 10 – Tue 16 Feb 2021 off; Tue 9 and Wed 17 are banking days
    for d in range(10, 17):
        assert not VN.is_banking_day(date(2021, 2, d)), d
    assert VN.is_banking_day(date(2021, 2, 9)) and VN.is_banking_day(date(2021, 2, 17))
    # paid on Tue 9 Feb, 2 banking days later is Thu 18 Feb (the 17th is the first)
    assert VN.add_banking_days(date(2021, 2, 9), 2) == date(2021, 2, 18)
    assert VN.banking_days_between(date(2021, 2, 9), date(2021, 2, 17)) == 1


def test_tet_2026_is_sixteen_to_twenty_february() -> None:
    for d in range(14, 23):  # Sat 14 – Sun 22 Feb 2026: nine days without a banking day
        assert not VN.is_banking_day(date(2026, 2, d)), d
    assert VN.add_banking_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    assert VN.banking_days_between(date(2026, 2, 13), date(2026, 2, 23)) == 1


def test_the_hung_kings_day_and_observed_days() -> None:
    assert not VN.is_banking_day(date(2021, 4, 21))  # 10/3 lunar, a Wednesday
    assert not VN.is_banking_day(date(2026, 4, 27))  # Sunday 26 Apr 2026, observed Monday
    assert not VN.is_banking_day(date(2021, 5, 3))  # Labour Day on Sat 1 May, off on Monday


def test_bridge_days_and_make_up_saturdays() -> None:
    # Mon 29 Apr 2024 off, worked on Sat 4 May 2024 (Official Letter 2450/VPCP-KGVX)
    assert not VN.is_banking_day(date(2024, 4, 29))
    assert VN.is_banking_day(date(2024, 5, 4))
    # Fri 2 May 2025 off, worked Sat 26 Apr 2025; Mon 31 Aug 2026 off, worked Sat 22 Aug 2026
    assert not VN.is_banking_day(date(2025, 5, 2)) and VN.is_banking_day(date(2025, 4, 26))
    assert not VN.is_banking_day(date(2026, 8, 31)) and VN.is_banking_day(date(2026, 8, 22))
    # from Friday 21 Aug 2026, the next banking day is the make-up Saturday
    assert VN.add_banking_days(date(2026, 8, 21), 1) == date(2026, 8, 22)
    assert VN.add_banking_days(date(2026, 8, 28), 1) == date(2026, 9, 3)
    # an ordinary Saturday is not
    assert not VN.is_banking_day(date(2026, 8, 29))


def test_the_shipped_file_matches_the_package_on_every_announced_weekday() -> None:
    """Each weekday the holidays package calls a holiday in 2021–2026 is in the file, and the
    file's days off are all weekdays (so the two sources agree where both speak)."""
    import holidays

    for year in range(2021, 2027):
        package = {d for d in holidays.country_holidays("VN", years=year) if d.weekday() < 5}
        announced = {d for d in ANNOUNCED.off if d.year == year}
        assert package <= announced, (year, sorted(package - announced))
    assert all(d.weekday() < 5 for d in ANNOUNCED.off)
    assert sorted(ANNOUNCED.working) == [date(2024, 5, 4), date(2025, 4, 26), date(2026, 8, 22)]


def test_counting_a_year() -> None:
    # 2026: 365 days, 104 weekend days, +1 make-up Saturday, 13 weekdays off (1 Jan, Tết 5,
    # 27 Apr, 30 Apr, 1 May, 31 Aug, 1–2 Sep, 24 Nov)
    banking = sum(1 for i in range(365) if VN.is_banking_day(date(2026, 1, 1) + timedelta(i)))
    assert banking == 365 - 104 + 1 - 13
    assert VN.banking_days_between(date(2025, 12, 31), date(2026, 12, 31)) == banking


def test_every_day_counts_calendar_days() -> None:
    d = date(2021, 2, 12)
    assert EVERY_DAY.add_banking_days(d, 3) == date(2021, 2, 15)
    assert EVERY_DAY.add_banking_days(d, -3) == date(2021, 2, 9)
    assert EVERY_DAY.banking_days_between(d, date(2021, 3, 1)) == 17


days_ = st.dates(min_value=date(2020, 1, 1), max_value=date(2027, 12, 31))


@given(days_, st.integers(-40, 40))
def test_add_then_between_round_trips(start: date, n: int) -> None:
    end = VN.add_banking_days(start, n)
    assert VN.banking_days_between(start, end) == n
    if n:
        assert VN.is_banking_day(end)
        assert (end > start) is (n > 0)


@given(days_, days_)
def test_between_counts_the_banking_days(a: date, b: date) -> None:
    if b >= a:
        expected = sum(1 for i in range(1, (b - a).days + 1)
                       if VN.is_banking_day(a + timedelta(i)))
    else:
        expected = -sum(1 for i in range((a - b).days) if VN.is_banking_day(b + timedelta(i)))
    assert VN.banking_days_between(a, b) == expected


@given(days_, days_, st.integers(0, 10))
def test_adding_never_moves_back(a: date, b: date, n: int) -> None:
    """The deadline of a later day is never earlier (the engine's cutoff relies on it)."""
    if a <= b:
        assert VN.add_banking_days(a, n) <= VN.add_banking_days(b, n)


def _file(body: str) -> bytes:
    return ("version = 1\n" + body).encode()


def test_a_file_is_validated_with_every_error_named() -> None:
    with pytest.raises(ValueError) as caught:
        parse_calendar_file(_file(
            '[[day]]\ndate = "2027-02-05"\nkind = "off"\n'
            '[[day]]\ndate = 2027-02-06\nkind = "holiday"\n'
            '[[day]]\ndate = 2027-02-08\nkind = "off"\n'
            '[[day]]\ndate = 2027-02-08\nkind = "working"\n'), "x.toml")
    message = str(caught.value)
    assert "x.toml" in message
    assert "day #1: date must be a TOML date" in message
    assert "day #2: kind must be one of" in message
    assert "day #4: 2027-02-08 is already entry #3" in message
    with pytest.raises(ValueError, match="version must be 1"):
        parse_calendar_file(b"version = 2\n")
    with pytest.raises(ValueError, match="not a UTF-8 TOML file"):
        parse_calendar_file(b"version = = 1")


def test_a_day_both_off_and_working_is_refused() -> None:
    with pytest.raises(ValueError, match="both a day off and a working day"):
        BankingCalendar(extra_closed=[date(2027, 1, 2)], extra_working=[date(2027, 1, 2)])


def test_the_operator_file_overrides(tmp_path: Path) -> None:
    """A copy with 2027's announced days: a bridge Friday and a make-up Saturday."""
    path = tmp_path / "calendar.toml"
    path.write_bytes(default_calendar_path().read_bytes() + (
        '\n[[day]]\ndate = 2027-04-30\nkind = "off"\nnote = "x"\n'
        '[[day]]\ndate = 2027-05-08\nkind = "working"\nnote = "làm bù"\n').encode())
    cal = calendar_from_settings({"RECON_CALENDAR_FILE": str(path)})
    assert not cal.is_banking_day(date(2027, 4, 30)) and cal.is_banking_day(date(2027, 5, 8))
    assert VN.is_banking_day(date(2027, 5, 7)) and not VN.is_banking_day(date(2027, 5, 8))
    assert not cal.is_banking_day(date(2026, 2, 17))  # and the shipped days are still there
    with pytest.raises(ValueError, match="RECON_CALENDAR_FILE"):
        calendar_from_settings({"RECON_CALENDAR_FILE": str(tmp_path / "missing.toml")})
