"""The pure allocation of onward transfers (recon.engine.forwarding): oldest first, per ledger,
never paying what was collected after the transfer; overdue counted in hours; excess named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.engine.forwarding import (
    BUDGET,
    FeeLineShare,
    OwedPart,
    TransferRow,
    allocate,
    hours_since,
    match_forwarding,
    owed_parts,
)

T = datetime(2021, 3, 1, 2, 0, tzinfo=UTC)  # 09:00 in Huế


def part(pid: int, amount: int, hours: float, kind: str = "phi", collector: str = "STP"
         ) -> OwedPart:
    return OwedPart(pid, pid, "TT", collector, kind, amount, T + timedelta(hours=hours))


def transfer(tid: int, amount: int, hours: float, to: str = "STP") -> TransferRow:
    return TransferRow(tid, "TT", to, amount, T + timedelta(hours=hours), f"FT{tid}")


def test_owed_parts_take_only_what_another_organisation_collects() -> None:
    lines = [FeeLineShare(100_000, "le_phi", "STP"), FeeLineShare(50_000, "phi", "TT"),
             FeeLineShare(30_000, "phi", "STP")]
    parts = owed_parts(7, "TT", lines, [(1, 120_000, T), (2, 60_000, T + timedelta(hours=1))])
    assert [(p.payment_id, p.destination, p.amount) for p in parts] == [
        (1, BUDGET, 100_000), (2, "STP", 30_000)]


def test_transfers_pay_the_oldest_first_and_only_what_was_collected_before() -> None:
    parts = [part(1, 80_000, 0), part(2, 50_000, 2), part(3, 40_000, 10)]
    states, transfers = allocate(parts, [transfer(1, 100_000, 5)])
    assert [s.paid for s in states] == [80_000, 20_000, 0]
    assert transfers[0].excess == 0
    # the third part was collected after the transfer: the transfer's rest is an excess
    states, transfers = allocate(parts, [transfer(1, 150_000, 5)])
    assert [s.paid for s in states] == [80_000, 50_000, 0]
    assert transfers[0].excess == 20_000


def test_ledgers_are_apart_budget_and_each_collector() -> None:
    parts = [part(1, 100_000, 0, kind="le_phi"), part(1, 80_000, 0)]
    states, transfers = allocate(parts, [transfer(1, 100_000, 1, to="STP"),
                                         transfer(2, 100_000, 1, to=BUDGET)])
    assert {(s.part.destination, s.paid) for s in states} == {(BUDGET, 100_000), ("STP", 80_000)}
    assert [t.excess for t in transfers] == [20_000, 0]


def test_overdue_is_counted_in_hours_not_days() -> None:
    parts = [part(1, 80_000, 0)]
    at_24 = match_forwarding(parts, [], as_of=T + timedelta(hours=24), deadline_hours=24)
    assert at_24.findings == []
    at_25 = match_forwarding(parts, [], as_of=T + timedelta(hours=25, minutes=1),
                             deadline_hours=24, names={"STP": "Sở Tư pháp"})
    (d,) = at_25.findings
    assert d.identity == "forward_overdue:payment=1"
    assert (d.expected_amount, d.actual_amount, d.delta) == (80_000, 0, -80_000)
    assert "80.000\u00a0₫ cho Sở Tư pháp (phí)" in d.explanation
    assert "25 giờ, quá hạn 1 giờ" in d.explanation
    assert "1 hours past the 24-hour deadline" in d.explanation_en
    assert hours_since(T, T - timedelta(hours=3)) == 0


def test_a_late_transfer_clears_the_overdue_and_a_short_one_does_not() -> None:
    parts = [part(1, 80_000, 0)]
    short = match_forwarding(parts, [transfer(1, 70_000, 30)], as_of=T + timedelta(hours=40))
    assert [d.kind for d in short.findings] == ["forward_overdue"]
    assert short.findings[0].actual_amount == 70_000
    paid = match_forwarding(parts, [transfer(1, 80_000, 30)], as_of=T + timedelta(hours=40))
    assert paid.findings == []


def test_a_transfer_matching_nothing_is_a_mismatch_with_nothing_expected() -> None:
    found = match_forwarding([], [transfer(9, 55_000, 1, to=BUDGET)], as_of=T)
    (d,) = found.findings
    assert d.identity == "forward_mismatch:transfer=9"
    assert (d.expected_amount, d.actual_amount, d.delta) == (0, 55_000, 55_000)
    assert "không khớp khoản nào phải chuyển" in d.explanation


def test_the_deadline_must_be_whole_hours() -> None:
    with pytest.raises(ValueError, match="deadline_hours"):
        match_forwarding([], [], as_of=T, deadline_hours=-1)


@given(st.lists(st.integers(1, 500_000), min_size=1, max_size=8),
       st.lists(st.integers(1, 800_000), max_size=6))
def test_money_is_conserved(amounts: list[int], transfers: list[int]) -> None:
    parts = [part(i, a, i) for i, a in enumerate(amounts, start=1)]
    rows = [transfer(i, a, 3 * i) for i, a in enumerate(transfers, start=1)]
    states, out = allocate(parts, rows)
    assert sum(s.paid for s in states) == sum(t.applied for t in out)
    assert all(0 <= s.paid <= s.part.amount for s in states)
    assert all(t.applied + t.excess == t.transfer.amount and t.excess >= 0 for t in out)
