"""The queue (filters, search, sort, keyset pages) and the exports, read back."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from recon.db import Database
from recon.models import Discrepancy
from recon.models.reconciliation import DISCREPANCY_KINDS
from recon.review import workbench
from tests.finance.helpers import T0, World, build_world, vn


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _ids(db: Database, **args: str) -> list[int]:
    filters = workbench.parse_filters(args)
    with db.read() as s:
        return [r.id for r in workbench.queue(s, filters, limit=200).rows]


def test_default_is_open_oldest_first(db: Database, world: World) -> None:
    d = world.discrepancies
    assert _ids(db) == [d["E"], d["D"], d["C"], d["B"], d["A"], d["G"]]
    assert _ids(db, sort="newest") == [d["G"], d["A"], d["B"], d["C"], d["D"], d["E"]]
    assert _ids(db, sort="amount_desc") == [d["A"], d["B"], d["E"], d["C"], d["G"], d["D"]]
    assert _ids(db, status="resolved") == [d["F"]]
    assert _ids(db, status="pending") == [d["G"]]
    assert len(_ids(db, status="all")) == 7


def test_filters(db: Database, world: World) -> None:
    d = world.discrepancies
    assert _ids(db, kind="missing_settlement") == [d["C"]]
    assert _ids(db, provider="sepay") == [d["D"], d["B"]]
    assert _ids(db, agency="AG2") == [d["C"], d["A"], d["G"]]
    assert _ids(db, channel="vietqr") == [d["D"], d["B"]]
    assert _ids(db, channel="momo") == [d["A"]]
    assert _ids(db, **{"from": "2026-11-23", "to": "2026-11-25"}) == [d["C"], d["B"]]
    assert _ids(db, **{"from": "25/11/2026"}) == [d["B"], d["A"], d["G"]]
    assert _ids(db, min="10.000", max="70000") == [d["E"], d["C"], d["B"]]
    filters = workbench.parse_filters({}, lambda name: ["overpaid", "status_mismatch"]
                                      if name == "kind" else [])
    with db.read() as s:
        assert [r.id for r in workbench.queue(s, filters).rows] == [d["E"], d["G"]]


def test_search_by_code_reference_and_transaction(db: Database, world: World) -> None:
    d = world.discrepancies
    assert _ids(db, q=world.codes["d4"]) == [d["A"]]
    assert _ids(db, q=world.codes["d4"].lower()) == [d["A"]]
    assert _ids(db, q="TX-unmatched") == [d["B"]]
    assert _ids(db, q="hs2abcdefgh7") == [d["D"]]  # the intent's reference, any case
    assert _ids(db, q="TX-d10") == [d["E"]]
    assert _ids(db, q="nothing-like-this") == []


def test_search_by_a_payments_bank_reference(db: Database, world: World) -> None:
    """The reference a bank statement shows for a transfer finds its payment's discrepancy."""
    from recon.models import Payment

    d = world.discrepancies
    assert _ids(db, q="FT21069123456789") == []
    with db.transaction() as s:
        s.get_one(Payment, world.payments["unmatched"]).bank_reference = "FT21069123456789"
    assert _ids(db, q="FT21069123456789") == [d["B"]]
    assert _ids(db, q="ft21069123456789") == [d["B"]]


@pytest.mark.parametrize("bad", [
    {"kind": "lost"}, {"status": "gone"}, {"provider": "paypal"}, {"channel": "cheque"},
    {"sort": "random"}, {"min": "1,5e3"}, {"from": "2026-13-01"}, {"min": "9", "max": "1"},
    {"from": "2026-11-02", "to": "2026-11-01"}, {"assigned": "bob"}, {"q": "x" * 81},
])
def test_bad_filters_are_refused_with_the_field(bad: dict[str, str]) -> None:
    with pytest.raises(workbench.FilterError) as exc:
        workbench.parse_filters(bad)
    assert exc.value.field in {*bad, "max", "to"}


def _many(db: Database, world: World, n: int = 57) -> None:
    rng = random.Random(6)
    with db.transaction() as s:
        for i in range(n):
            kind = rng.choice(DISCREPANCY_KINDS)
            s.add(Discrepancy(
                identity=f"{kind}:test={i}", kind=kind, status="open", provider="vnpay",
                expected_amount=0, actual_amount=0, delta=rng.choice([-2000, 0, 1000, 5000, 5000]),
                explanation="x", detected_at=T0 - timedelta(hours=rng.choice([1, 2, 2, 3, 50])),
                updated_at=T0, first_run_id=world.run_id, last_run_id=world.run_id))


@pytest.mark.parametrize("sort", workbench.SORTS)
def test_keyset_pages_walk_the_whole_order_both_ways(db: Database, world: World,
                                                     sort: str) -> None:
    _many(db, world)
    filters = workbench.parse_filters({"sort": sort})
    with db.read() as s:
        everything = [r.id for r in workbench.queue(s, filters, limit=200).rows]
        assert len(everything) == 63
        forward: list[int] = []
        pages = []
        cursor = None
        while True:
            page = workbench.queue(s, filters, limit=10, cursor=cursor)
            assert page.total == 63
            pages.append(page)
            forward += [r.id for r in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert forward == everything
        assert len(pages) == 7
        # and back again from the last page, with the "previous" links
        backward: list[int] = []
        page = pages[-1]
        backward = [r.id for r in page.rows]
        while page.prev_cursor is not None:
            page = workbench.queue(s, filters, limit=10, cursor=page.prev_cursor,
                                   direction="before")
            backward = [r.id for r in page.rows] + backward
        assert backward == everything
        assert page.first_page


def test_broken_cursor_is_a_filter_error(db: Database, world: World) -> None:
    with db.read() as s, pytest.raises(workbench.FilterError):
        workbench.queue(s, workbench.QueueFilters(), cursor="yesterday~x")


def test_csv_export_reads_back(db: Database, world: World) -> None:
    filters = workbench.parse_filters({"status": "all", "sort": "amount_desc"})
    header, rows, _ = workbench.queue_table(workbench.export_rows(db, filters), "vi")
    data = b"".join(workbench.csv_chunks(header, rows))
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM for Excel
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:4] == ["Mã", "Loại", "Trạng thái", "Phát hiện lúc"]
    assert len(table) == 1 + 7
    first = dict(zip(table[0], table[1], strict=True))
    assert first["Loại"] == "duplicate_payment"
    assert first["Chênh lệch (đồng)"] == "300000"
    assert first["Hồ sơ"] == world.codes["d4"]
    assert first["Phát hiện lúc"] == "2026-11-26 08:00:00"  # Vietnam time
    assert first["Diễn giải"] == "Giải thích A"


def test_xlsx_export_reads_back(db: Database, world: World) -> None:
    filters = workbench.parse_filters({"provider": "sepay"})
    header, rows, amounts = workbench.queue_table(workbench.export_rows(db, filters), "en")
    data = b"".join(workbench.xlsx_chunks("discrepancies", header, rows, amounts))
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][:3] == ["ID", "Kind", "Status"]
    assert [r[0] for r in table[1:]] == [world.discrepancies["D"], world.discrepancies["B"]]
    first = table[1] + [None] * (len(table[0]) - len(table[1]))  # empty trailing cells
    by_name = dict(zip(table[0], first, strict=True))
    assert by_name["Difference (VND)"] == -1000 and isinstance(by_name["Difference (VND)"], int)
    assert by_name["Explanation"] == "Explanation D"
    assert by_name["Detected (ICT)"].date() == date(2026, 11, 20)
    assert by_name["Provider transaction"] == "TX-d1"


def test_story_has_the_whole_chain(db: Database, world: World) -> None:
    with db.read() as s:
        story = workbench.story(s, world.discrepancies["A"])
    assert story is not None
    assert story.dossier is not None and story.dossier.code == world.codes["d4"]
    assert story.assessed == 300_000 and story.paid == 600_000
    assert [p.provider_txn_id for p in story.payments] == ["TX-d4", "TX-d4-dup"]
    [callback] = story.callbacks[world.payments["d4"]]
    assert '"signature": "••••"' in callback.body
    assert "970436******1234" in callback.body
    assert ("Authorization", "••••") in callback.headers
    assert story.runs and story.runs[0].id == world.run_id
    with db.read() as s:
        line_story = workbench.story(s, world.discrepancies["D"])
    assert line_story is not None
    assert [ln.provider_txn_id for ln in line_story.lines] == ["TX-d1"]
    assert list(line_story.files) == [world.files["a"]]
    assert [i.reference for i in line_story.intents] == ["HS2ABCDEFGH7"]
    with db.read() as s:
        unmatched = workbench.story(s, world.discrepancies["B"])
    assert unmatched is not None and unmatched.dossier is None
    assert [p.id for p in unmatched.payments] == [world.payments["unmatched"]]


def test_pretty_body_masks_and_reads_forms() -> None:
    body = workbench.pretty_body(b'{"data": "{\\"amount\\": 5}", "mac": "abc", "x": 1}')
    assert '"amount": 5' in body and '"mac": "••••"' in body
    form = workbench.pretty_body(b"vnp_Amount=100&vnp_SecureHash=deadbeef")
    assert form.splitlines() == ["vnp_Amount = 100", "vnp_SecureHash = ••••"]
    assert workbench.pretty_body(b"") == ""


def test_date_filters_are_vietnam_calendar_days(db: Database, world: World) -> None:
    """``from``/``to`` are days in Huế: 23:30 on the 24th (16:30 UTC) is the 24th, and 00:30
    on the 25th (17:30 UTC on the 24th) is the 25th, in the filters and in the exports."""
    with db.transaction() as s:
        for key, detected in (("late", vn(2026, 11, 24, 23, 30)),
                              ("early", vn(2026, 11, 25, 0, 30))):
            row = Discrepancy(
                identity=f"unmatched_payment:test={key}", kind="unmatched_payment",
                status="open", provider="vnpay", expected_amount=0, actual_amount=1_000,
                delta=1_000, explanation=key, detected_at=detected, updated_at=detected,
                first_run_id=world.run_id, last_run_id=world.run_id)
            s.add(row)
            s.flush()
            world.discrepancies[key] = row.id
    late, early = world.discrepancies["late"], world.discrepancies["early"]
    assert early not in _ids(db, to="2026-11-24")
    assert late in _ids(db, to="2026-11-24")
    assert late not in _ids(db, **{"from": "2026-11-25"})
    assert early in _ids(db, **{"from": "2026-11-25"})
    assert _ids(db, **{"from": "2026-11-24", "to": "2026-11-24", "provider": "vnpay"}) == [late]
    filters = workbench.parse_filters({"provider": "vnpay", "sort": "oldest"})
    header, rows, _ = workbench.queue_table(workbench.export_rows(db, filters), "en")
    table = list(csv.reader(io.StringIO(
        b"".join(workbench.csv_chunks(header, rows)).decode("utf-8-sig"))))
    shown = {row[0]: dict(zip(table[0], row, strict=True))["Detected (ICT)"]
             for row in table[1:]}
    assert shown[str(late)] == "2026-11-24 23:30:00"
    assert shown[str(early)] == "2026-11-25 00:30:00"


def test_story_shows_the_bank_statement_line_of_a_payment(db: Database, world: World) -> None:
    """A bank statement lists a SePay credit by the bank's reference: the payment's story
    shows that line, and the line's story shows the payment."""
    from recon.models import Payment, SettlementFile, SettlementLine

    with db.transaction() as s:
        payment = s.get(Payment, world.payments["unmatched"])
        assert payment is not None
        payment.bank_reference = "FT21069000777"
        f = SettlementFile(provider="sepay", filename="vietinbank-2021-03-10.csv",
                           sha256="e" * 64, size=1, content=b"x", imported_by="test",
                           profile="vietinbank_statement", row_count=1, total_amount=70_000)
        s.add(f)
        s.flush()
        line = SettlementLine(file_id=f.id, line_no=7, provider="sepay",
                              provider_txn_id="FT21069000777", amount=70_000, fee=0,
                              net=70_000, settled_on=date(2021, 3, 10))
        s.add(line)
        s.flush()
        s.add(Discrepancy(
            identity=f"duplicate_settlement:settlement_line={line.id}",
            kind="duplicate_settlement", status="open", settlement_line_id=line.id,
            provider="sepay", expected_amount=0, actual_amount=70_000, delta=70_000,
            explanation="x", explanation_en="x", detected_at=T0, updated_at=T0))
        line_id = line.id
    with db.read() as s:
        story = workbench.story(s, world.discrepancies["B"])
        assert story is not None
        assert [ln.id for ln in story.lines] == [line_id]
        about_line = s.scalar(select(Discrepancy.id).where(
            Discrepancy.settlement_line_id == line_id))
        line_story = workbench.story(s, about_line)
        assert line_story is not None
        assert [p.id for p in line_story.payments] == [world.payments["unmatched"]]
