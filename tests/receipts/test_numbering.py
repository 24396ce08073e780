"""Receipt numbers: consecutive per (form code, series), never reused, never skipped, a new
series and number 1 each 1 January in Vietnam, spoiled numbers kept; concurrent draws from
several processes on PostgreSQL and on SQLite."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select, text, update

from recon.db import Database
from recon.errors import ConfigurationError, Conflict, ValidationError
from recon.models.receipts import MAX_RECEIPT_NUMBER, Receipt, ReceiptCounter
from recon.receipts.numbering import draw_number, gaps, issue_date, register, spoil
from recon.receipts.settings import ReceiptSettings

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SETTINGS = ReceiptSettings()


def _draw(db: Database, moment: datetime = T0, who: str = "desk-1") -> Receipt:
    with db.transaction() as s:
        return draw_number(s, SETTINGS, moment=moment, drawn_by=who)


def test_numbers_are_consecutive_from_one(db: Database) -> None:
    drawn = [_draw(db) for _ in range(5)]
    assert [(r.form_code, r.series, r.number) for r in drawn] == [
        ("EBL01", "26T", n) for n in range(1, 6)]
    with db.read() as s:
        assert [r.number for r in register(s, "EBL01", "26T")] == [1, 2, 3, 4, 5]
        assert s.scalar(select(ReceiptCounter.last_number)) == 5


def test_a_rolled_back_draw_gives_its_number_back(db: Database) -> None:
    _draw(db)
    with pytest.raises(RuntimeError), db.transaction() as s:
        assert draw_number(s, SETTINGS, moment=T0, drawn_by="desk-1").number == 2
        raise RuntimeError("the signing failed")
    assert _draw(db).number == 2
    with db.read() as s:
        assert gaps([r.number for r in register(s, "EBL01", "26T")]) == []


def test_a_spoiled_number_stays_in_the_register_and_is_never_reused(db: Database) -> None:
    first = _draw(db)
    with db.transaction() as s:
        receipt = s.get(Receipt, first.id)
        assert receipt is not None
        spoil(s, receipt, reason="the printer jammed before signing", moment=T0)
    assert _draw(db).number == 2
    with db.read() as s:
        rows = register(s, "EBL01", "26T")
    assert [(r.number, r.status, r.spoiled_reason) for r in rows] == [
        (1, "spoiled", "the printer jammed before signing"), (2, "reserved", None)]


def test_spoiling_needs_a_reason_and_a_reserved_number(db: Database) -> None:
    first = _draw(db)
    with db.transaction() as s:
        receipt = s.get(Receipt, first.id)
        assert receipt is not None
        with pytest.raises(ValidationError):
            spoil(s, receipt, reason="  ", moment=T0)
        receipt.status = "issued"
        with pytest.raises(Conflict):
            spoil(s, receipt, reason="too late", moment=T0)


def test_the_year_of_issue_is_vietnam_time_and_restarts_at_one(db: Database) -> None:
    before = datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC)  # 23:59:59 in Huế
    after = datetime(2026, 12, 31, 17, 0, 0, tzinfo=UTC)  # 00:00:00 on 1 January
    assert issue_date(before) == date(2026, 12, 31) and issue_date(after) == date(2027, 1, 1)
    assert (_draw(db, before).series, _draw(db, before).number) == ("26T", 2)
    new_year = _draw(db, after)
    assert (new_year.series, new_year.number, new_year.issued_on) == (
        "27T", 1, date(2027, 1, 1))
    assert _draw(db, before).number == 3  # the old series goes on where it was


def test_the_eighth_digit_is_the_last(db: Database) -> None:
    _draw(db)
    with db.transaction() as s:
        s.execute(update(ReceiptCounter).values(last_number=MAX_RECEIPT_NUMBER - 1))
    assert _draw(db).number == MAX_RECEIPT_NUMBER
    with pytest.raises(Conflict, match="used all"):
        _draw(db)
    with db.read() as s:
        assert s.scalar(select(ReceiptCounter.last_number)) == MAX_RECEIPT_NUMBER
        assert len(register(s, "EBL01", "26T")) == 2


def test_the_database_refuses_a_number_twice(db: Database) -> None:
    _draw(db)
    with pytest.raises(Exception, match=r"(?i)unique"), db.transaction() as s:
        s.add(Receipt(form_code="EBL01", series="26T", number=1, status="reserved",
                      issued_on=date(2026, 11, 26), drawn_by="forger"))
        s.flush()


def test_codes_are_patterns_from_settings() -> None:
    custom = ReceiptSettings.from_env({"RECON_RECEIPT_FORM_CODE": "EBL02",
                                       "RECON_RECEIPT_SERIES": "{yy}TA",
                                       "RECON_RECEIPT_SERIES_PATTERN": "[0-9]{2}T[A-Z]"})
    assert (custom.form_code, custom.series_for(date(2031, 5, 1))) == ("EBL02", "31TA")
    assert ReceiptSettings.from_env({}).series_for(date(2026, 1, 1)) == "26T"
    assert ReceiptSettings.from_env({}).enabled is False
    assert ReceiptSettings.from_env({"RECON_RECEIPTS": "on"}).enabled is True
    for bad in ({"RECON_RECEIPT_FORM_CODE": "01BLP2-001"},  # a paper form code
                {"RECON_RECEIPT_SERIES": "T"},  # no year: numbers would repeat each year
                {"RECON_RECEIPT_SERIES": "{yy}X"},
                {"RECON_RECEIPT_SERIES": "{year}T"},
                {"RECON_RECEIPT_SERIES_PATTERN": "("},
                {"RECON_RECEIPTS": "maybe"}):
        with pytest.raises(ConfigurationError):
            ReceiptSettings.from_env(bad)


def test_gaps_names_the_missing_numbers() -> None:
    assert gaps([]) == [] and gaps([1, 2, 3]) == []
    assert gaps([1, 2, 5, 7]) == [3, 4, 6] and gaps([3]) == [1, 2]


# --- concurrent draws -------------------------------------------------------------------------

def _worker(url: str, worker: int, count: int, start: Any, out: Any) -> None:
    database = Database(url)
    start.wait()
    numbers = []
    for _ in range(count):
        with database.transaction() as s:
            numbers.append(draw_number(s, SETTINGS, moment=T0, drawn_by=f"worker-{worker}")
                           .number)
    database.dispose()
    out.put((worker, numbers))


def _concurrent_draws(url: str, counts: tuple[int, ...]) -> dict[int, list[int]]:
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(url, w, n, start, out))
               for w, n in enumerate(counts)]
    for p in workers:
        p.start()
    start.set()
    seen = dict(out.get(timeout=120) for _ in workers)
    for p in workers:
        p.join()
        assert p.exitcode == 0
    return seen


def _check_fifty(url: str, seen: dict[int, list[int]]) -> None:
    assert sorted(n for numbers in seen.values() for n in numbers) == list(range(1, 51))
    for numbers in seen.values():
        assert numbers == sorted(numbers)  # each worker's own draws go up
    database = Database(url)
    try:
        with database.read() as s:
            rows = register(s, "EBL01", "26T")
            last = s.execute(text("SELECT last_number FROM receipt_counters")).scalar_one()
    finally:
        database.dispose()
    assert [r.number for r in rows] == list(range(1, 51)) and last == 50
    assert {w: sorted(r.number for r in rows if r.drawn_by == f"worker-{w}")
            for w in seen} == {w: sorted(n) for w, n in seen.items()}


@pytest.mark.postgres
def test_fifty_concurrent_draws_in_three_processes_on_postgresql(empty_pg: str) -> None:
    _check_fifty(empty_pg, _concurrent_draws(empty_pg, (17, 17, 16)))


def test_fifty_concurrent_draws_in_three_processes_on_sqlite(tmp_path: Any,
                                                             sqlite_template: Any) -> None:
    import shutil
    target = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite:///{target}"
    _check_fifty(url, _concurrent_draws(url, (17, 17, 16)))
