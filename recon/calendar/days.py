"""Banking-day arithmetic, pure: no I/O, no clock.

A *banking day* is a day that is not a weekend day and not a holiday, or that the operator
declared a working day (a make-up Saturday, *ngày làm bù*). The three operations:

- :meth:`BankingCalendar.add_banking_days` ``(d, n)``: for ``n > 0`` the ``n``-th banking day
  strictly after ``d``; for ``n < 0`` the ``|n|``-th banking day strictly before ``d``; ``d``
  itself for ``n == 0``. So "2 banking days after Friday" is Tuesday, and so is "2 banking
  days after Saturday": a deadline counted from a non-banking day starts on the next one.
- :meth:`BankingCalendar.banking_days_between` ``(a, b)``: the banking days in ``(a, b]`` when
  ``b >= a``, minus those in ``[b, a)`` when ``b < a``. It inverts the former:
  ``banking_days_between(d, add_banking_days(d, n)) == n`` for every ``d`` and ``n``.
- :meth:`BankingCalendar.is_banking_day` ``(d)``.

Holidays come from a function of the year (``holidays_for``), asked once per year and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Final

_ONE: Final = timedelta(days=1)
SATURDAY: Final = 5
SUNDAY: Final = 6


def _no_holidays(_year: int) -> frozenset[date]:
    return frozenset()


class BankingCalendar:
    """Which days are banking days. ``weekend`` are ``date.weekday()`` numbers (Saturday 5,
    Sunday 6); ``holidays_for(year)`` gives that year's days off; ``extra_closed`` adds days off
    (bridge days, local closures); ``extra_working`` are working days whatever else says
    (make-up Saturdays). A day in both extra sets is refused."""

    __slots__ = ("_by_year", "_closed", "_holidays_for", "_working", "name", "weekend")

    def __init__(
        self,
        *,
        holidays_for: Callable[[int], Iterable[date]] = _no_holidays,
        extra_closed: Iterable[date] = (),
        extra_working: Iterable[date] = (),
        weekend: Iterable[int] = (SATURDAY, SUNDAY),
        name: str = "custom",
    ) -> None:
        self._holidays_for = holidays_for
        self._closed = frozenset(extra_closed)
        self._working = frozenset(extra_working)
        both = self._closed & self._working
        if both:
            raise ValueError(
                f"{min(both).isoformat()} is declared both a day off and a working day")
        self.weekend = frozenset(weekend)
        if not self.weekend <= set(range(7)) or len(self.weekend) > 5:
            raise ValueError("weekend must be at most five weekday numbers 0..6")
        self._by_year: dict[int, frozenset[date]] = {}
        self.name = name

    def __repr__(self) -> str:
        return f"BankingCalendar({self.name})"

    def holidays(self, year: int) -> frozenset[date]:
        """The year's days off from ``holidays_for`` and ``extra_closed`` (not the weekends)."""
        found = self._by_year.get(year)
        if found is None:
            base = {d for d in self._holidays_for(year) if d.year == year}
            base |= {d for d in self._closed if d.year == year}
            found = self._by_year[year] = frozenset(base)
        return found

    def is_banking_day(self, day: date) -> bool:
        if day in self._working:
            return True
        if day.weekday() in self.weekend:
            return False
        return day not in self.holidays(day.year)

    def add_banking_days(self, day: date, n: int) -> date:
        """See the module doc."""
        step = _ONE if n > 0 else -_ONE
        left = abs(n)
        while left:
            day += step
            if self.is_banking_day(day):
                left -= 1
        return day

    def banking_days_between(self, a: date, b: date) -> int:
        """See the module doc."""
        if b >= a:
            return sum(1 for i in range(1, (b - a).days + 1)
                       if self.is_banking_day(a + timedelta(days=i)))
        return -sum(1 for i in range((a - b).days)
                    if self.is_banking_day(b + timedelta(days=i)))

    def non_banking_days(self, year: int) -> list[date]:
        """Every day of ``year`` that is not a banking day, in order."""
        day, end, out = date(year, 1, 1), date(year + 1, 1, 1), []
        while day < end:
            if not self.is_banking_day(day):
                out.append(day)
            day += _ONE
        return out

    def working_overrides(self) -> frozenset[date]:
        """The days declared working days (make-up Saturdays)."""
        return self._working


EVERY_DAY: Final = BankingCalendar(weekend=(), name="every day")
"""Every day counts: calendar days (the engine's default when no calendar is configured)."""

__all__ = ["EVERY_DAY", "SATURDAY", "SUNDAY", "BankingCalendar"]
