"""Spreadsheet bombs (issue 16, item 4): refused before the workbook is opened or while its rows
stream, with a message naming the limit; nothing imported. A normal workbook still imports."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError, ValidationError
from recon.models import SettlementFile, SettlementLine
from recon.settlements.importer import XlsxLimits, import_settlement

HEADER = ["provider_txn_id", "amount", "fee", "transaction_at", "settled_on", "net_amount",
          "reference"]


def _row(n: int) -> list[Any]:
    return [f"31081{n:05d}", 180000, 1800, datetime(2026, 11, 24, 8, 15), date(2026, 11, 25),
            178200, f"memo {n}"]


def _xlsx(rows: list[list[Any]], *, far_cell: tuple[int, int] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    if far_cell is not None:
        ws.cell(row=far_cell[0], column=far_cell[1], value="x")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _with_part(data: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one part replaced (or added), compressed as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item, source.read(item.filename))
        target.writestr(name, content)
    return out.getvalue()


def _nothing_imported(db: Database) -> None:
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SettlementFile)) == 0
        assert s.scalar(select(func.count()).select_from(SettlementLine)) == 0


def _refusal(db: Database, clock: FixedClock, data: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        import_settlement(db, clock, "momo", data, "bomb.xlsx", actor="test")
    _nothing_imported(db)
    return str(caught.value.as_dict() if hasattr(caught.value, "as_dict") else caught.value)


def _shared_strings(count: int, text: str) -> bytes:
    items = f"<si><t>{text}</t></si>" * count
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{count}" uniqueCount="{count}">{items}</sst>').encode()


def test_shared_strings_bomb_is_refused_before_opening(db: Database, clock: FixedClock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # 8 MB of shared strings in a zip of a few kilobytes (the attack: 617 MB in 2.4 MB)
    data = _with_part(_xlsx([HEADER, _row(1)]), "xl/sharedStrings.xml",
                      _shared_strings(200_000, "A" * 24))
    assert len(data) < 100_000

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    message = _refusal(db, clock, data)
    assert "xl/sharedStrings.xml is compressed" in message
    assert "over the limit of 100 to 1" in message and "RECON_XLSX_MAX_RATIO" in message


def test_uncompressed_size_limit(db: Database, clock: FixedClock,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_XLSX_MAX_UNCOMPRESSED_BYTES", "20000")
    data = _xlsx([HEADER, *(_row(n) for n in range(300))])
    message = _refusal(db, clock, data)
    assert "over the limit of 20,000 bytes" in message
    assert "RECON_XLSX_MAX_UNCOMPRESSED_BYTES" in message


def test_too_many_shared_strings(db: Database, clock: FixedClock,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_XLSX_MAX_SHARED_STRINGS", "50")
    # under a name of its own: the part is found by its content type, as openpyxl finds it
    base = _xlsx([HEADER, _row(1)])
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").replace(
        b"</Types>", b'<Override PartName="/xl/strings2.xml" ContentType="application/vnd.'
        b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    data = _with_part(_with_part(base, "[Content_Types].xml", types), "xl/strings2.xml",
                      _shared_strings(60, "memo"))
    message = _refusal(db, clock, data)
    assert "more than 50 shared strings" in message
    assert "RECON_XLSX_MAX_SHARED_STRINGS" in message


def test_cell_in_column_xfd_is_refused(db: Database, clock: FixedClock) -> None:
    data = _xlsx([HEADER, *(_row(n) for n in range(20))], far_cell=(5, 16384))
    message = _refusal(db, clock, data)
    assert "row 5 has a cell in column XFD (column 16,384)" in message
    assert "at most 256 columns (up to IV)" in message and "RECON_XLSX_MAX_COLUMNS" in message


def test_too_many_rows(db: Database, clock: FixedClock,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_XLSX_MAX_ROWS", "40")
    data = _xlsx([HEADER, *(_row(n) for n in range(60))])
    message = _refusal(db, clock, data)
    assert "more than 40 rows (row 41 has data)" in message and "RECON_XLSX_MAX_ROWS" in message


def test_far_row_is_refused_without_reading_a_million_blank_rows(
        db: Database, clock: FixedClock) -> None:
    data = _xlsx([HEADER, _row(1)], far_cell=(1_048_576, 1))
    message = _refusal(db, clock, data)
    assert "more than 500,000 rows (row 1,048,576 has data)" in message


def test_normal_workbook_still_imports(db: Database, clock: FixedClock) -> None:
    rows = [HEADER, *(_row(n) for n in range(200))]
    rows.insert(1, [None] * 7)  # a blank row after the header is still skipped
    summary = import_settlement(db, clock, "momo", _xlsx(rows), "ok.xlsx", actor="test")
    assert summary.as_dict()["lines"] == 200
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SettlementLine)) == 200


def test_bad_limit_setting_is_clear() -> None:
    with pytest.raises(ConfigurationError, match="RECON_XLSX_MAX_ROWS must be above 0"):
        XlsxLimits.from_env({"RECON_XLSX_MAX_ROWS": "0"})
    assert XlsxLimits.from_env({"RECON_XLSX_MAX_COLUMNS": "30"}).columns == 30
