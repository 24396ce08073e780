"""Where the Vietnamese banking calendar comes from.

1. The ``holidays`` package (vacanza/holidays, pinned in ``setup.cfg``): the Labour Code's
   holidays with the lunar ones (Tết Nguyên Đán, Giỗ Tổ Hùng Vương), their observed days and
   the swaps it knows.
2. The operator's file of announced days (TOML; ``RECON_CALENDAR_FILE``, default the shipped
   ``recon/data/banking_calendar.toml`` with the 2021–2026 announcements): ``off`` days (bridge
   days, local closures) and ``working`` days (make-up Saturdays, which the package does not
   expose as working days). The file wins over the package; the weekend is Saturday and Sunday.

The file::

    version = 1
    [[day]]
    date = 2024-05-04
    kind = "working"          # or "off"
    note = "Làm bù cho thứ Hai 29/4/2024"

Parsing (:func:`parse_calendar_file`) is pure and names every error with its entry; only
:func:`load_calendar` reads the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from recon.calendar.days import BankingCalendar

FORMAT_VERSION: Final = 1
KINDS: Final = ("off", "working")
COUNTRY: Final = "VN"


@dataclass(frozen=True, slots=True)
class DayEntry:
    day: date
    kind: Literal["off", "working"]
    note: str


@dataclass(frozen=True, slots=True)
class CalendarFile:
    entries: tuple[DayEntry, ...]
    origin: str

    @property
    def off(self) -> frozenset[date]:
        return frozenset(e.day for e in self.entries if e.kind == "off")

    @property
    def working(self) -> frozenset[date]:
        return frozenset(e.day for e in self.entries if e.kind == "working")

    def note(self, day: date) -> str | None:
        for e in self.entries:
            if e.day == day:
                return e.note
        return None


def default_calendar_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "banking_calendar.toml"


def parse_calendar_file(content: bytes, origin: str = "<calendar>") -> CalendarFile:
    """Read the file's bytes; ``ValueError`` naming every problem (and its entry) otherwise."""
    try:
        doc = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{origin}: not a UTF-8 TOML file ({exc})") from None
    errors: list[str] = []
    version = doc.get("version")
    if version != FORMAT_VERSION:
        errors.append(f"version must be {FORMAT_VERSION}, got {version!r}")
    unknown = sorted(set(doc) - {"version", "day"})
    if unknown:
        errors.append(f"unknown keys {unknown}: only 'version' and [[day]] entries")
    raw_days = doc.get("day", [])
    if not isinstance(raw_days, list):
        errors.append("'day' must be an array of tables ([[day]])")
        raw_days = []
    entries: list[DayEntry] = []
    seen: dict[date, int] = {}
    for i, raw in enumerate(raw_days, start=1):
        entry = _entry(raw, i, errors)
        if entry is None:
            continue
        if entry.day in seen:
            errors.append(f"day #{i}: {entry.day.isoformat()} is already entry #{seen[entry.day]}")
            continue
        seen[entry.day] = i
        entries.append(entry)
    if errors:
        raise ValueError(f"{origin}: " + "; ".join(errors))
    return CalendarFile(tuple(sorted(entries, key=lambda e: e.day)), origin)


def _entry(raw: Any, i: int, errors: list[str]) -> DayEntry | None:
    if not isinstance(raw, Mapping):
        errors.append(f"day #{i}: must be a table")
        return None
    bad = sorted(set(raw) - {"date", "kind", "note"})
    if bad:
        errors.append(f"day #{i}: unknown keys {bad}")
    day, kind, note = raw.get("date"), raw.get("kind"), raw.get("note", "")
    ok = True
    if isinstance(day, date) and not hasattr(day, "hour"):
        pass
    else:
        errors.append(f"day #{i}: date must be a TOML date like 2024-05-04, got {day!r}")
        ok = False
    if kind not in KINDS:
        errors.append(f"day #{i}: kind must be one of {KINDS}, got {kind!r}")
        ok = False
    if not isinstance(note, str):
        errors.append(f"day #{i}: note must be text")
        ok = False
    if not ok:
        return None
    assert isinstance(day, date) and isinstance(note, str)
    return DayEntry(day, "off" if kind == "off" else "working", note)


def _package_holidays(year: int) -> dict[date, str]:
    import holidays  # noqa: PLC0415 - a large package: loaded when a deadline is first counted

    return dict(holidays.country_holidays(COUNTRY, years=year, language="vi").items())


def load_package() -> None:
    """Import the ``holidays`` package's countries now (about 90 ms: the package imports every
    country's module to find Vietnam's) rather than when a run first counts a deadline: a
    command that runs reconciliation loads it with the rest of its code."""
    import holidays.countries  # noqa: F401, PLC0415 - the import is the point


@lru_cache(maxsize=64)
def _package_year(year: int) -> tuple[tuple[date, str], ...]:
    return tuple(sorted(_package_holidays(year).items()))


def vietnam_calendar(announced: CalendarFile) -> BankingCalendar:
    """Saturday and Sunday, the package's Vietnamese holidays, and the announced days."""
    return BankingCalendar(
        holidays_for=lambda year: (d for d, _name in _package_year(year)),
        extra_closed=announced.off,
        extra_working=announced.working,
        name=f"VN + {announced.origin}",
    )


def load_calendar(path: str | Path | None = None) -> tuple[BankingCalendar, CalendarFile]:
    """The Vietnamese calendar with the file at ``path`` (the shipped one when empty)."""
    target = Path(path) if path else default_calendar_path()
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the banking calendar {target}: {exc.strerror}; set "
                         f"RECON_CALENDAR_FILE to a readable file or unset it") from None
    announced = parse_calendar_file(content, str(target))
    return vietnam_calendar(announced), announced


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> tuple[BankingCalendar, CalendarFile]:
    return load_calendar(path)


def calendar_from_settings(env: Mapping[str, str]) -> BankingCalendar:
    """:func:`load_calendar` with ``RECON_CALENDAR_FILE`` (kept while the file is unchanged)."""
    raw = (env.get("RECON_CALENDAR_FILE") or "").strip()
    target = Path(raw) if raw else default_calendar_path()
    try:
        mtime = target.stat().st_mtime_ns
    except OSError as exc:
        raise ValueError(f"cannot read the banking calendar {target}: {exc.strerror}; set "
                         f"RECON_CALENDAR_FILE to a readable file or unset it") from None
    return _cached(str(target), mtime)[0]


def reasons(year: int, announced: CalendarFile, calendar: BankingCalendar,
            ) -> list[tuple[date, str]]:
    """Each non-banking day of ``year`` with why (the file's note, the package's holiday name
    in Vietnamese, or the weekend), for ``recon calendar show``."""
    names = dict(_package_year(year))
    out = []
    for day in calendar.non_banking_days(year):
        why = announced.note(day) or names.get(day)
        if why is None:
            why = "Thứ Bảy" if day.weekday() == 5 else "Chủ Nhật"
        out.append((day, why))
    return out


__all__ = ["COUNTRY", "FORMAT_VERSION", "CalendarFile", "DayEntry", "calendar_from_settings",
           "default_calendar_path", "load_calendar", "load_package", "parse_calendar_file",
           "reasons", "vietnam_calendar"]
