"""Deposits of phí into the collector's fee account awaiting budget remittance (Decree 120/2016
Art. 3(2)(a) as amended; the period set per fee): the pure rule (daily, weekly, monthly edge
cases), the allocation, and ``deposit_overdue`` on SQLite and PostgreSQL, found the same by
incremental and full runs and resolved when the deposit arrives; nothing judged for a collector
without a fee-pending account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from recon.cli import cli
from recon.clock import VN_TZ
from recon.engine import deposit_load
from recon.engine.deposits import (
    DepositPart,
    DepositRow,
    DepositRule,
    allocate,
    judge,
    parse_rule,
)
from recon.engine.explain import vn_date
from recon.errors import ValidationError
from recon.intake.agencies import create_agency
from recon.intake.dossiers import dossier_as_dict, parse_dossier, upsert_dossier
from recon.models import Agency, Discrepancy, Dossier, Transfer
from recon.money import format_vnd
from recon.scope import Scope, discrepancy_condition
from recon.settlements.transfers import import_debits, record_transfer, set_transfer_account
from tests.finance.test_roles import _session_client
from tests.foundation.helpers import AGENCY, dossier_body
from tests.reconcile.recon_builders import World

# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("text", "collected", "due"), [
    # "no later than the 5th of each month" for the previous month
    ("month:5", date(2021, 1, 31), date(2021, 2, 5)),
    ("month:5", date(2021, 1, 1), date(2021, 2, 5)),
    ("month:5", date(2020, 12, 15), date(2021, 1, 5)),  # over the year's end
    ("month:5", date(2024, 2, 29), date(2024, 3, 5)),  # a leap February
    ("month:0", date(2021, 2, 10), date(2021, 2, 28)),  # by the month's own last day
    # "no later than Thursday each week" for the previous week (Monday to Sunday)
    ("week:thu", date(2021, 3, 1), date(2021, 3, 11)),  # Monday
    ("week:thu", date(2021, 3, 7), date(2021, 3, 11)),  # Sunday: still that week
    ("week:thu", date(2021, 3, 8), date(2021, 3, 18)),  # Monday: the next week
    ("week:4", date(2021, 12, 29), date(2022, 1, 6)),  # a week across the year's end
    ("week:mon", date(2021, 3, 3), date(2021, 3, 8)),
    ("day:1", date(2021, 3, 31), date(2021, 4, 1)),
    ("day:0", date(2021, 3, 31), date(2021, 3, 31)),
])
def test_the_due_date_of_each_rule(text: str, collected: date, due: date) -> None:
    assert parse_rule(text).due(collected) == due


def test_rules_are_written_period_colon_due() -> None:
    assert parse_rule(" Week:THU ") == DepositRule("week", 4) == parse_rule("week:4")
    assert parse_rule("month:5").text() == "month:5"
    assert DepositRule("week", 4).bounds(date(2021, 3, 3)) == (date(2021, 3, 1),
                                                                date(2021, 3, 7))
    for bad, message in (("monthly", "PERIOD:DUE"), ("year:5", "one of day, week, month"),
                         ("day:thu", "number of days"), ("month:61", "0..60"),
                         ("week:x", "weekday")):
        with pytest.raises(ValueError, match=message):
            parse_rule(bad)


def _part(pid: int, day: date, amount: int, rule: str = "month:5", code: str = "2716",
          who: str = "C") -> DepositPart:
    at = datetime.combine(day, datetime.min.time(), VN_TZ) + timedelta(hours=10)
    return DepositPart(pid, pid, who, code, parse_rule(rule), amount, at)


def _deposit(i: int, day: date, amount: int, who: str = "C") -> DepositRow:
    return DepositRow(i, who, amount, datetime.combine(day, datetime.min.time(), VN_TZ)
                      + timedelta(hours=12), f"FT{i}")


def test_deposits_pay_the_earliest_due_first_and_only_what_was_collected_before() -> None:
    monthly = _part(1, date(2021, 3, 2), 100_000)  # due 5 April
    daily = _part(2, date(2021, 3, 20), 30_000, "day:1", "2632")  # due 21 March
    other = _part(3, date(2021, 3, 2), 50_000, who="D")
    deposits = [_deposit(1, date(2021, 3, 1), 999), _deposit(2, date(2021, 3, 20), 60_000),
                _deposit(3, date(2021, 4, 2), 70_000)]
    states, left = allocate([monthly, daily, other], deposits)
    paid = {s.part.payment_id: (s.paid, s.by) for s in states}
    # the first deposit predates every part; the second pays the daily part first
    assert paid == {1: (100_000, [2, 3]), 2: (30_000, [2]), 3: (0, [])}
    assert left == {1: 999, 2: 0, 3: 0}
    # judged the day after the due date, not on it
    assert [o.item for o in judge(states, date(2021, 4, 5))] == []
    assert [(o.item, o.owed, o.deposited) for o in judge(states, date(2021, 4, 6))] == [
        (("D", "2716", date(2021, 3, 1)), 50_000, 0)]


# --------------------------------------------------------------------------- the database


def _phi_dossier(w: World, rule: str = "week:thu", collector: str | None = None) -> int:
    fee = {"kind": "phi", "name": "Phí chứng thực", "amount": 80_000, "budget_code": "2716",
           "deposit_rule": rule, **({"collector_code": collector} if collector else {})}
    body = dossier_body("000.00.21.H57-261126-0007", fees=[fee])
    with w.db.transaction() as s:
        dossier, _ = upsert_dossier(s, w.clock, parse_dossier(body), actor="test")
        return dossier.id


def _deposits(w: World, status: str = "open") -> list:  # type: ignore[type-arg]
    return [d for d in w.discrepancies(status) if d.kind == "deposit_overdue"]


def test_the_intake_takes_a_rule_for_phi_only(w: World) -> None:
    d = _phi_dossier(w, "month:5")
    with w.db.read() as s:
        dossier = s.get(Dossier, d)
        assert dossier is not None
        assert dossier_as_dict(dossier)["fees"][0]["deposit_rule"] == "month:5"
    body = dossier_body("X-1", fees=[{"kind": "le_phi", "name": "Lệ phí", "amount": 1_000,
                                      "deposit_rule": "month:5"},
                                     {"kind": "phi", "name": "Phí", "amount": 1_000,
                                      "deposit_rule": "quarter:5"}])
    with pytest.raises(ValidationError) as caught:
        parse_dossier(body)
    assert [e.field for e in caught.value.errors] == ["fees[0].deposit_rule",
                                                      "fees[1].deposit_rule"]


def test_overdue_found_incrementally_as_fully_and_resolved_by_the_deposit(w: World) -> None:
    d = _phi_dossier(w)
    paid = w.clock.now()
    p = w.pay(80_000, provider="cash", reference=w.intent(d, 80_000, channel="cash"))
    due = parse_rule("week:thu").due(vn_date(paid))
    end_of_due = datetime.combine(due, datetime.min.time(), VN_TZ) + timedelta(days=1)
    # no fee-pending account: nothing judged, and the pass says whom it skipped
    w.run(as_of=end_of_due + timedelta(days=3))
    assert _deposits(w) == []
    with w.db.read() as s:
        assert deposit_load.unjudged(s.connection()) == [AGENCY]
    set_transfer_account(w.db, w.clock, agency=AGENCY, account="9527000000001", actor="test",
                         column="fee_pending_account")
    # the last minute of the due date: not late
    assert w.run(as_of=end_of_due - timedelta(minutes=1)).mode == "incremental"
    assert _deposits(w) == []
    assert w.run(as_of=end_of_due + timedelta(minutes=1)).mode == "incremental"
    (found,) = _deposits(w)
    assert found.identity.startswith("deposit_overdue:agency=")
    assert (found.expected_amount, found.actual_amount, found.delta) == (80_000, 0, -80_000)
    assert "hằng tuần" in found.explanation and "Nghị định 120/2016/NĐ-CP" in found.explanation
    assert "weekly" in found.explanation_en and "Decree 120/2016" in found.explanation_en
    full = w.run(mode="full", as_of=end_of_due + timedelta(minutes=2))
    assert full.mode == "full" and [x.identity for x in _deposits(w)] == [found.identity]
    # a deposit from its own account into its fee account, late: resolved
    record_transfer(w.db, w.clock, agency=AGENCY, to=AGENCY, amount=80_000,
                    at=end_of_due + timedelta(hours=2), reference="FT-DEP-1", actor="test",
                    into_fee_account=True)
    assert w.run(as_of=end_of_due + timedelta(hours=3)).auto_resolved == 1
    (resolved,) = _deposits(w, "auto_resolved")
    assert "80.000" in (resolved.auto_resolved_reason or "")
    # a deposit into one's own fee account is no onward transfer
    assert not [x for x in w.discrepancies() if x.kind.startswith("forward_")]
    assert p


def test_an_agency_sees_the_deposit_findings_of_its_own_collector(w: World) -> None:
    """A deposit finding is about no dossier, payment or line: an officer of the collector
    sees it through the agency its identity names, an officer of another agency does not."""
    d = _phi_dossier(w)
    w.pay(80_000, provider="cash", reference=w.intent(d, 80_000, channel="cash"))
    set_transfer_account(w.db, w.clock, agency=AGENCY, account="9527000000001", actor="test",
                         column="fee_pending_account")
    w.run(as_of=w.clock.now() + timedelta(days=30))
    (found,) = _deposits(w)
    with w.db.transaction() as s:
        other = create_agency(s, w.clock, code="KHAC", name="Cơ quan khác", bank_bin="970415",
                              account_number="113000000009", account_name="KHAC",
                              actor="test").id
    with w.db.read() as s:
        own = s.scalar(select(Agency.id).where(Agency.code == AGENCY))
        assert own is not None

        def seen(scope: Scope) -> list[str]:
            return list(s.scalars(select(Discrepancy.identity).where(
                Discrepancy.kind == "deposit_overdue", discrepancy_condition(scope))))
        assert seen(Scope.everything()) == [found.identity]
        assert seen(Scope.of([own])) == [found.identity]
        assert seen(Scope.of([other])) == []


def test_a_statement_debit_to_the_fee_account_is_a_deposit(w: World) -> None:
    set_transfer_account(w.db, w.clock, agency=AGENCY, account="9527000000001", actor="test",
                         column="fee_pending_account")
    content = ("Số tham chiếu,Ngày giao dịch,Số tiền ghi nợ,Tài khoản đối ứng,Nội dung\n"
               "FT1,02/03/2021 09:00:00,80000,9527000000001,Nop phi cho nop NS\n"
               "FT2,02/03/2021 10:00:00,22000,113999999999,Phi quan ly tai khoan\n")
    summary = import_debits(w.db, w.clock, agency=AGENCY, path="sao-ke.csv", actor="test",
                            content=content.encode())
    assert (summary.transfers, summary.not_onward) == (1, 1)
    with w.db.read() as s:
        (t,) = s.scalars(select(Transfer)).all()
        assert (t.destination, t.into_fee_account, t.amount) == (AGENCY, True, 80_000)


def test_the_fee_account_command(w: World, env: dict[str, str]) -> None:
    out = CliRunner().invoke(cli, ["transfers", "fee-account", "--agency", AGENCY,
                                   "--account", "9527 000 000 001"])
    assert out.exit_code == 0, out.output
    assert '"fee_pending_account": "9527000000001"' in out.output
    bad = CliRunner().invoke(cli, ["transfers", "fee-account", "--agency", AGENCY,
                                   "--account", "12-AB"])
    assert bad.exit_code != 0 and "not an account number" in bad.output


def test_the_transfers_page_shows_deposits_and_who_is_not_judged(
        w: World, app: Flask, make_user: Callable[..., str]) -> None:
    d = _phi_dossier(w)
    w.pay(80_000, provider="cash", reference=w.intent(d, 80_000, channel="cash"))
    client = _session_client(app, make_user, "finance", "ketoan1")[0]
    html = client.get("/finance/transfers").get_data(as_text=True)
    assert "Gửi tiền phí vào tài khoản phí chờ nộp ngân sách" in html
    assert f"{AGENCY} – " in html and "không được đối soát" in html
    set_transfer_account(w.db, w.clock, agency=AGENCY, account="9527000000001", actor="test",
                         column="fee_pending_account")
    html = client.get("/finance/transfers").get_data(as_text=True)
    assert "9527000000001" in html and "không được đối soát" not in html
    assert format_vnd(80_000) in html
    w.run(as_of=w.clock.now() + timedelta(days=20))
    (found,) = _deposits(w)
    detail = client.get(f"/finance/discrepancies/{found.id}")
    assert detail.status_code == 200
    assert "Chậm gửi tiền phí vào Kho bạc" in detail.get_data(as_text=True)
    english = client.get("/finance/transfers?lang=en").get_data(as_text=True)
    assert "Fees deposited into the Treasury fee accounts" in english
