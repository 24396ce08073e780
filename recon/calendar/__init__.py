"""The banking-day calendar: which days count when a deadline is counted in banking days.

:mod:`recon.calendar.days` is pure (:class:`BankingCalendar` and its arithmetic);
:mod:`recon.calendar.source` builds the Vietnamese calendar from the ``holidays`` package and
the operator's file of announced days (``RECON_CALENDAR_FILE``, default
``recon/data/banking_calendar.toml``).
"""

from __future__ import annotations

from recon.calendar.days import EVERY_DAY, BankingCalendar
from recon.calendar.source import (
    CalendarFile,
    DayEntry,
    calendar_from_settings,
    default_calendar_path,
    load_calendar,
    parse_calendar_file,
    vietnam_calendar,
)

__all__ = [
    "EVERY_DAY",
    "BankingCalendar",
    "CalendarFile",
    "DayEntry",
    "calendar_from_settings",
    "default_calendar_path",
    "load_calendar",
    "parse_calendar_file",
    "vietnam_calendar",
]
