"""Budget remittance (issue 18 §3) on SQLite and PostgreSQL: C1-02/NS vouchers recorded and
imported, allocated per collector, month and tiểu mục; the remittance kinds found by full and
incremental runs and auto-resolved when the money is remitted; the declarations' "remitted"."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from recon.audit.chain import record_on
from recon.cli import cli
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine.records import EngineConfig
from recon.engine.remittances import (
    EXCESS,
    OVERDUE,
    SHORT,
    VoucherLine,
    ageing,
    allocate,
    due_on,
    judge,
)
from recon.engine.runner import run_reconciliation
from recon.errors import ValidationError
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Agency, AuditEvent, Discrepancy, Remittance, RemittanceFile
from recon.money import format_vnd
from recon.payments.recording import PaymentEvent, record_payment
from recon.review import declarations
from recon.review.remittances import not_remitted, remittance_config, voucher_page
from recon.scope import Scope, discrepancy_condition
from recon.settlements.remittances import (
    LineIn,
    VoucherIn,
    import_statement,
    parse_line,
    record_voucher,
)
from tests.finance.test_roles import _session_client

MARCH = date(2021, 3, 1)
APRIL = date(2021, 4, 1)

# --------------------------------------------------------------------------- pure


def test_the_deadline_is_the_20th_of_the_following_month() -> None:
    assert due_on(MARCH) == date(2021, 4, 20)
    assert due_on(date(2021, 12, 1)) == date(2022, 1, 20)
    assert due_on(date(2021, 1, 1), 31) == date(2021, 2, 28)  # clamped to a short month
    with pytest.raises(ValueError, match=r"1\.\.31"):
        due_on(MARCH, 0)


def _line(i: int, amount: int, on: date, month: date | None = None, code: str = "2716",
          who: str = "A") -> VoucherLine:
    return VoucherLine(i, f"V{i}", on, who, code, amount, month, 1)


def test_allocation_pins_named_months_and_pays_the_oldest_first() -> None:
    owed = {("A", "2716", MARCH): 100, ("A", "2716", APRIL): 50, ("A", "2771", MARCH): 7}
    lines = [_line(1, 30, date(2021, 5, 2), month=APRIL),  # names April
             _line(2, 120, date(2021, 5, 3)),  # March 100, then April's 20 left
             _line(3, 9, date(2021, 4, 10), code="2771")]  # March 7, 2 in excess
    out = allocate(owed, lines)
    assert out.remitted == {("A", "2716", MARCH): 100, ("A", "2716", APRIL): 50,
                            ("A", "2771", MARCH): 9}
    assert sum(p.amount for p in out.parts) == 159
    # judged the day after the April deadline: only the excess on 2771 holds
    found = judge(owed, out, date(2021, 4, 21))
    assert [(j.kind, j.key, j.owed, j.remitted) for j in found] == [
        (EXCESS, ("A", "2771", MARCH), 7, 9)]
    assert found[0].vouchers == ("V3",)


def test_judging_waits_for_the_deadline_or_a_voucher_after_the_month() -> None:
    owed = {("A", "2716", MARCH): 100}
    assert judge(owed, allocate(owed, []), date(2021, 4, 20)) == []
    [late] = judge(owed, allocate(owed, []), date(2021, 4, 21))
    assert (late.kind, late.owed, late.remitted, late.due) == (OVERDUE, 100, 0,
                                                               date(2021, 4, 20))
    # a voucher dated in April settles March: short at once, before the deadline
    [short] = judge(owed, allocate(owed, [_line(1, 60, date(2021, 4, 5))]), date(2021, 4, 6))
    assert (short.kind, short.difference) == (SHORT, -40)
    # a deposit within March itself waits for the deadline
    assert judge(owed, allocate(owed, [_line(1, 60, date(2021, 3, 25))]),
                 date(2021, 4, 6)) == []
    # nothing owed, something remitted: an excess of the month before the voucher's
    [extra] = judge({}, allocate({}, [_line(1, 5, date(2021, 4, 5))]), date(2021, 4, 6))
    assert (extra.kind, extra.key) == (EXCESS, ("A", "2716", MARCH))


def test_ageing_counts_days_past_the_deadline() -> None:
    owed = {("A", "2716", date(2020, 12, 1)): 10, ("A", "2716", date(2021, 2, 1)): 20,
            ("A", "2716", MARCH): 40, ("B", "2771", MARCH): 5}
    [a, b] = ageing(owed, allocate(owed, [_line(1, 15, date(2021, 4, 1))]), date(2021, 4, 10))
    # December's 10 paid first, then 5 of February's 20
    assert (a.collector, a.not_due, a.up_to_30, a.up_to_90, a.older) == ("A", 40, 15, 0, 0)
    assert (b.collector, b.total) == ("B", 5)


@given(owed=st.dictionaries(
           st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["2716", "2771"]),
                     st.sampled_from([date(2021, m, 1) for m in (1, 2, 3)])),
           st.integers(0, 10**9), max_size=8),
       lines=st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["2716", "2771"]),
                                st.integers(1, 10**9), st.integers(0, 120),
                                st.booleans()), max_size=8))
def test_allocation_never_loses_or_invents_a_dong(
        owed: dict[tuple[str, str, date], int],
        lines: list[tuple[str, str, int, int, bool]]) -> None:
    vouchers = [VoucherLine(i, f"V{i}", date(2021, 1, 1).fromordinal(
        date(2021, 1, 1).toordinal() + days), who, code, amount,
        date(2021, 2, 1) if pinned else None, 1)
        for i, (who, code, amount, days, pinned) in enumerate(lines)]
    out = allocate(owed, vouchers)
    assert sum(p.amount for p in out.parts) == sum(v.amount for v in vouchers)
    assert sum(out.remitted.values()) == sum(v.amount for v in vouchers)
    for key, paid in out.remitted.items():
        assert paid == sum(p.amount for p in out.parts if p.key == key)
        assert key[0] in {v.remitter for v in vouchers}  # only the remitter's own dues
    for part in out.parts:
        line = vouchers[part.line_id]
        assert (part.key[0], part.key[1]) == (line.remitter, line.budget_code)
        assert part.key[2] <= line.voucher_date.replace(day=1) or line.month is not None


# --------------------------------------------------------------------------- the database


def _world(db: Database, clock: FixedClock) -> None:
    """CENTRE receives; a lệ phí of 5.001 ₫ it collects itself (2771), a phí of 200.000 ₫ that
    DEPT collects and keeps 40 % of (2719): March owes CENTRE 5.001 ₫, DEPT 120.000 ₫."""
    with db.transaction() as s:
        for code, name in (("CENTRE", "Trung tâm Phục vụ hành chính công"),
                           ("DEPT", "Sở Tư pháp")):
            create_agency(s, clock, code=code, name=name, bank_bin="970415",
                          account_number="113000000000", account_name="TEST", actor="test")
    body = {"code": "LLTP-1", "agency_code": "CENTRE", "procedure_code": "2.000488",
            "procedure_name": "Cấp Phiếu lý lịch tư pháp", "applicant_name": "Lê Văn Tám",
            "received_at": "2021-03-02T09:00:00+07:00",
            "fees": [{"kind": "le_phi", "name": "Lệ phí hộ tịch", "amount": 5_001,
                      "budget_code": "2771"},
                     {"kind": "phi", "name": "Phí cung cấp thông tin lý lịch tư pháp",
                      "amount": 200_000, "retention_bp": 4_000, "budget_code": "2719",
                      "collector_code": "DEPT"}]}
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(body), actor="test")
        record_payment(s, clock, PaymentEvent(
            provider="cash", provider_txn_id="CASH-1", channel="cash", amount=205_001,
            status="succeeded", paid_at=datetime(2021, 3, 2, 10, tzinfo=VN_TZ),
            dossier_code="LLTP-1"), actor="user:thungan", reference_prefix="HS")


def _run(db: Database, clock: FixedClock, when: datetime) -> str:
    config = EngineConfig(remittances=remittance_config({}))
    summary = run_reconciliation(db, clock=clock, audit=record_on, config=config, as_of=when,
                                 triggered_by="test")
    return summary.mode


def _state(db: Database) -> dict[str, tuple[str, int, int]]:
    with db.read() as s:
        rows = s.execute(select(Discrepancy.kind, Discrepancy.identity, Discrepancy.status,
                                Discrepancy.expected_amount, Discrepancy.actual_amount,
                                Discrepancy.explanation, Discrepancy.auto_resolved_reason)
                         .where(Discrepancy.kind.like("remittance_%"))).all()
    return {f"{r[0]}:{r[1].split(':')[1]}": (r[2], r[3], r[4]) for r in rows}


def _voucher(no: str, on: date, who: str, *lines: LineIn) -> VoucherIn:
    return VoucherIn(no, on, who, lines)


def test_runs_find_overdue_short_and_excess_and_resolve_them(db: Database,
                                                             clock: FixedClock) -> None:
    _world(db, clock)
    # on the deadline itself nothing is late
    assert _run(db, clock, datetime(2021, 4, 20, 23, 0, tzinfo=VN_TZ)) == "full"
    assert _state(db) == {}
    # the day after: both months' amounts are overdue
    assert _run(db, clock, datetime(2021, 4, 21, 9, 0, tzinfo=VN_TZ)) == "incremental"
    state = _state(db)
    assert sorted(state.values()) == [("open", 5_001, 0), ("open", 120_000, 0)]
    assert all(k.startswith("remittance_overdue") for k in state)
    with db.read() as s:
        text = s.scalar(select(Discrepancy.explanation).where(
            Discrepancy.kind == "remittance_overdue", Discrepancy.expected_amount == 120_000))
    assert text is not None and format_vnd(120_000) in text and "2719" in text and "03/2021" in text
    assert "20/04/2021" in text and "Sở Tư pháp" in text
    # DEPT remits 100.000 ₫ for March, CENTRE its 5.001 ₫ (no period: the oldest month)
    record_voucher(db, clock, _voucher("C102-0001", date(2021, 4, 22), "DEPT",
                                       LineIn("599", "2719", "27280", 100_000,
                                              period=MARCH)), actor="test")
    record_voucher(db, clock, _voucher("C102-0002", date(2021, 4, 22), "CENTRE",
                                       LineIn("599", "2771", "27280", 5_001)), actor="test")
    assert _run(db, clock, datetime(2021, 4, 23, 9, 0, tzinfo=VN_TZ)) == "incremental"
    state = _state(db)
    overdue = {k: v for k, v in state.items() if k.startswith("remittance_overdue")}
    assert sorted(v[0] for v in overdue.values()) == ["auto_resolved", "auto_resolved"]
    assert [v for k, v in state.items() if k.startswith("remittance_short")] == [
        ("open", 120_000, 100_000)]
    # 30.000 ₫ more: 20.000 ₫ settles March, 10.000 ₫ is an excess
    record_voucher(db, clock, _voucher("C102-0003", date(2021, 4, 28), "DEPT",
                                       LineIn("599", "2719", "27280", 30_000)), actor="test")
    _run(db, clock, datetime(2021, 4, 29, 9, 0, tzinfo=VN_TZ))
    state = _state(db)
    assert [v for k, v in state.items() if k.startswith("remittance_short")] == [
        ("auto_resolved", 120_000, 100_000)]
    assert [v for k, v in state.items() if k.startswith("remittance_excess")] == [
        ("open", 120_000, 130_000)]
    with db.read() as s:
        reason = s.scalar(select(Discrepancy.auto_resolved_reason).where(
            Discrepancy.kind == "remittance_short"))
        decl = declarations.monthly(s, MARCH)
        aged = not_remitted(s, date(2021, 4, 29))
        pages = voucher_page(s)
    assert reason is not None and format_vnd(130_000) in reason
    rows = {(d.code, r.budget_code): r for d in decl.collectors for r in d.rows}
    assert (rows["DEPT", "2719"].to_remit, rows["DEPT", "2719"].remitted,
            rows["DEPT", "2719"].difference) == (120_000, 130_000, -10_000)
    assert (rows["CENTRE", "2771"].remitted, rows["CENTRE", "2771"].difference) == (5_001, 0)
    assert decl.remittances_recorded and decl.as_dict()["collectors"][0]["totals"]["remitted"]
    assert aged == []  # nothing owed is left unremitted
    assert [v.voucher_no for v in pages] == ["C102-0003", "C102-0002", "C102-0001"]
    [third] = [v for v in pages if v.voucher_no == "C102-0003"]
    # what March still owed, then the excess
    assert [(a["month"], a["amount"]) for a in third.lines[0]["allocated"]] == [
        ("03/2021", 20_000), ("03/2021", 10_000)]
    # a full run finds the same open findings
    config = EngineConfig(remittances=remittance_config({}))
    run_reconciliation(db, clock=clock, audit=record_on, config=config, mode="full",
                       as_of=datetime(2021, 4, 30, 9, 0, tzinfo=VN_TZ), triggered_by="test")
    assert [k for k, v in _state(db).items() if v[0] == "open"] == [
        k for k, v in state.items() if v[0] == "open"]


def test_not_remitted_shows_the_unpaid_amount_by_age(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    with db.read() as s:
        before = not_remitted(s, date(2021, 4, 10))
        after = not_remitted(s, date(2021, 6, 1), collectors=["DEPT"])
    assert [(a.collector, a.not_due, a.total) for a in before] == [
        ("CENTRE", 5_001, 5_001), ("DEPT", 120_000, 120_000)]
    assert [(a.collector, a.up_to_90) for a in after] == [("DEPT", 120_000)]


def test_a_voucher_is_recorded_once_and_checked(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    good = _voucher("GNT-7", date(2021, 4, 5), "DEPT",
                    LineIn("599", "2719", "27280", 1_000, dossier_code="LLTP-1"))
    record_voucher(db, clock, good, actor="user:ketoan")
    with pytest.raises(ValidationError, match="already recorded"):
        record_voucher(db, clock, good, actor="user:ketoan")
    bad = _voucher("GNT-8", date(2021, 4, 5), "NOBODY",
                   LineIn("59", "27", "x", 0, dossier_code="NO-SUCH"))
    with pytest.raises(ValidationError) as caught:
        record_voucher(db, clock, bad, actor="user:ketoan")
    fields = {e.field for e in caught.value.errors}
    assert fields == {"remitter", "lines[0].chapter", "lines[0].budget_code",
                      "lines[0].area_code", "lines[0].amount", "lines[0].dossier_code"}
    with db.read() as s:
        assert s.scalar(select(func.count(Remittance.id))) == 1
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "remittances.recorded")).one()
    assert event.actor == "user:ketoan" and "GNT-7" in event.data
    assert parse_line("599:2716:27280:1250000:HS-1:2021-03") == LineIn(
        "599", "2716", "27280", 1_250_000, "HS-1", MARCH)
    with pytest.raises(ValueError, match="whole number"):
        parse_line("599:2716:27280:12.5")


CANONICAL = (
    "voucher_no,voucher_date,remitter,dossier_code,period,chapter,budget_code,area_code,amount\n"
    "KB-1,2021-04-10,DEPT,,2021-03,599,2719,27280,70000\n"
    "KB-1,2021-04-10,DEPT,LLTP-1,,599,2719,27280,50000\n"
    "KB-2,2021-04-11,CENTRE,,,599,2771,27280,5001\n")


def test_a_statement_is_imported_whole_or_not_at_all(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    broken = CANONICAL.replace("50000", "50000.5").replace("5001\n", "5001\nKB-3,x,DEPT,,,"
                                                                       "599,2719,27280,1\n")
    with pytest.raises(ValidationError) as caught:
        import_statement(db, clock, broken.encode(), "broken.csv", actor="test")
    assert {(e.field, e.line) for e in caught.value.errors} == {("amount", 3),
                                                                ("voucher_date", 5)}
    result = import_statement(db, clock, CANONICAL.encode(), "kbnn-2021-04.csv", actor="test")
    assert (result.vouchers, result.lines, result.total) == (["KB-1", "KB-2"], 3, 125_001)
    with pytest.raises(ValidationError, match="already imported"):
        import_statement(db, clock, CANONICAL.encode(), "again.csv", actor="test")
    again = CANONICAL.replace("KB-2", "KB-9") + "\n"
    with pytest.raises(ValidationError, match="KB-1 of 10/04/2021 is already recorded"):
        import_statement(db, clock, again.encode(), "other.csv", actor="test")
    with db.read() as s:
        files = s.scalars(select(RemittanceFile)).all()
        assert [f.content for f in files] == [CANONICAL.encode()]
        assert s.scalar(select(func.count(Remittance.id))) == 2
        decl = declarations.monthly(s, MARCH)
    rows = {(d.code, r.budget_code): r for d in decl.collectors for r in d.rows}
    assert rows["DEPT", "2719"].remitted == 120_000 and rows["DEPT", "2719"].difference == 0
    assert rows["CENTRE", "2771"].remitted == 5_001


def test_the_kbnn_profile_reads_vietnamese_titles(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    text = ("Số chứng từ;Ngày chứng từ;Mã đơn vị nộp;Mã định danh hồ sơ;Kỳ thuế;Mã chương;"
            "Mã NDKT;Mã ĐBHC;Số tiền VND\n"
            "GNT-21;22/04/2021;DEPT;;03/2021;599;2719;27280;120.000\n")
    result = import_statement(db, clock, text.encode(), "gnt.csv", profile="kbnn",
                              actor="test")
    assert result.total == 120_000
    with pytest.raises(ValidationError, match="unknown profile"):
        import_statement(db, clock, b"x", "x.csv", profile="nope", actor="test")


def test_the_commands_record_and_list(db: Database, env: dict[str, str],
                                      clock: FixedClock) -> None:
    _world(db, clock)
    runner = CliRunner()
    done = runner.invoke(cli, ["remittances", "record", "--voucher-no", "GNT-1", "--date",
                               "2021-04-12", "--remitter", "DEPT", "--line",
                               "599:2719:27280:120000::2021-03"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    twice = runner.invoke(cli, ["remittances", "record", "--voucher-no", "GNT-1", "--date",
                                "2021-04-12", "--remitter", "DEPT", "--line",
                                "599:2719:27280:120000"])
    assert twice.exit_code == 1 and "already recorded" in twice.output
    bad = runner.invoke(cli, ["remittances", "record", "--voucher-no", "GNT-2", "--date",
                              "12/04/2021", "--remitter", "DEPT", "--line", "599:2719:1:1"])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output
    listed = runner.invoke(cli, ["remittances", "list"], catch_exceptions=False)
    assert "GNT-1" in listed.output and f"03/2021 {format_vnd(120_000)}" in listed.output


def test_the_dashboard_and_the_remittances_page(app: Flask, db: Database, clock: FixedClock,
                                                make_user: Callable[..., str]) -> None:
    _world(db, clock)
    record_voucher(db, clock, _voucher("GNT-55", date(2021, 4, 9), "DEPT",
                                       LineIn("599", "2719", "27280", 100_000, period=MARCH)),
                   actor="test")
    client: FlaskClient = _session_client(app, make_user, "finance", "ketoan1")[0]
    board = client.get("/finance").get_data(as_text=True)
    assert "Đã thu, chưa nộp ngân sách" in board
    # the clock is in 2026: March 2021's unpaid 20.000 ₫ (DEPT) and 5.001 ₫ (CENTRE) are old
    assert format_vnd(20_000) in board and format_vnd(5_001) in board
    page = client.get("/finance/remittances")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "GNT-55" in html and "Nộp ngân sách nhà nước" in html
    assert f"03/2021 (phải nộp {format_vnd(120_000)}): {format_vnd(100_000)}" in html
    english = client.get("/finance/remittances?lang=en").get_data(as_text=True)
    assert "Remittances to the state budget" in english and "Collected, not yet remitted" in english


def test_a_run_without_the_remittance_pass_leaves_its_findings(db: Database,
                                                               clock: FixedClock) -> None:
    _world(db, clock)
    _run(db, clock, datetime(2021, 4, 21, 9, 0, tzinfo=VN_TZ))
    assert sorted(v[0] for v in _state(db).values()) == ["open", "open"]
    summary = run_reconciliation(db, clock=clock, audit=record_on, config=EngineConfig(),
                                 mode="full", as_of=datetime(2021, 4, 22, tzinfo=VN_TZ),
                                 triggered_by="test")
    assert summary.auto_resolved == 0
    assert sorted(v[0] for v in _state(db).values()) == ["open", "open"]


def test_the_import_command(db: Database, env: dict[str, str], clock: FixedClock,
                            tmp_path: Path) -> None:
    _world(db, clock)
    path = tmp_path / "kbnn.csv"
    path.write_text(CANONICAL, encoding="utf-8")
    done = CliRunner().invoke(cli, ["remittances", "import", str(path)],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output.strip().splitlines()[-1])["vouchers"] == ["KB-1", "KB-2"]
    again = CliRunner().invoke(cli, ["remittances", "import", str(path)])
    assert again.exit_code == 1 and "already imported" in again.output
    wrong = CliRunner().invoke(cli, ["remittances", "import", "--profile", "kbnn", str(path)])
    assert wrong.exit_code == 1 and "Số chứng từ" in wrong.output


def test_an_agency_sees_the_remittance_findings_of_its_own_collectors(
        db: Database, clock: FixedClock) -> None:
    """A remittance finding is about no dossier, payment or line: an officer of one agency
    sees it through the collector its identity names, and no other agency's."""
    _world(db, clock)
    _run(db, clock, datetime(2021, 4, 21, 9, 0, tzinfo=VN_TZ))
    with db.read() as s:
        ids = dict(s.execute(select(Agency.code, Agency.id)).all())
        def seen(scope: Scope) -> list[int]:
            return sorted(s.scalars(select(Discrepancy.expected_amount).where(
                Discrepancy.kind.like("remittance_%"), discrepancy_condition(scope))).all())
        assert seen(Scope.everything()) == [5_001, 120_000]
        assert seen(Scope.of([ids["DEPT"]])) == [120_000]
        assert seen(Scope.of([ids["CENTRE"]])) == [5_001]
        assert seen(Scope.of([])) == []

