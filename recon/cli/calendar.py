"""`recon calendar show YEAR|check FILE`: the banking calendar the deadlines count on.

``show`` lists the year's non-banking days (weekends, the holidays the ``holidays`` package
knows, the announced days of ``RECON_CALENDAR_FILE``) and the make-up working Saturdays;
``check`` validates a calendar file before an operator points ``RECON_CALENDAR_FILE`` at it.
Neither needs the database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from recon.cli.common import fail

_WEEKDAY_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


@click.group("calendar")
def calendar_group() -> None:
    """The banking-day calendar (ngày làm việc của ngân hàng): show a year, check a file."""


@calendar_group.command("show")
@click.argument("year", type=click.IntRange(1995, 2100))
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="A calendar file (default: RECON_CALENDAR_FILE, else the shipped one).")
@click.option("--weekends/--no-weekends", default=False,
              help="Also list every Saturday and Sunday (default: only the holidays).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
def show_command(year: int, path: Path | None, weekends: bool, as_json: bool) -> None:
    """List YEAR's non-banking days and its make-up working days."""
    from recon.calendar.source import load_calendar, reasons  # noqa: PLC0415

    target = path or (os.environ.get("RECON_CALENDAR_FILE") or "").strip() or None
    try:
        calendar, announced = load_calendar(target)
    except ValueError as exc:
        fail(str(exc))
    days = [(d, why) for d, why in reasons(year, announced, calendar)
            if weekends or d.weekday() < 5 or announced.note(d) is not None
            or why not in ("Thứ Bảy", "Chủ Nhật")]
    working = sorted(d for d in calendar.working_overrides() if d.year == year)
    if as_json:
        click.echo(json.dumps({
            "year": year, "calendar": announced.origin,
            "non_banking_days": [{"date": d.isoformat(), "reason": why} for d, why in days],
            "working_days": [{"date": d.isoformat(), "reason": announced.note(d) or ""}
                             for d in working],
        }, ensure_ascii=False))
        return
    click.echo(f"{year}: {len(days)} ngày nghỉ (non-banking days), lịch {announced.origin}")
    for d, why in days:
        click.echo(f"  {d.isoformat()}  {_WEEKDAY_VI[d.weekday()]:<8}  {why}")
    for d in working:
        click.echo(f"  {d.isoformat()}  {_WEEKDAY_VI[d.weekday()]:<8}  LÀM VIỆC (working): "
                   f"{announced.note(d) or ''}")


@calendar_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def check_command(path: Path) -> None:
    """Validate a calendar file; exit 1 naming every problem."""
    from recon.calendar.source import load_calendar  # noqa: PLC0415

    try:
        _calendar, announced = load_calendar(path)
    except ValueError as exc:
        fail(f"{exc}. Fix the file and check it again; nothing was changed.")
    off = sum(1 for e in announced.entries if e.kind == "off")
    click.echo(f"OK: {path}: {off} days off, {len(announced.entries) - off} working days")


COMMANDS: list[click.Command] = [calendar_group]
