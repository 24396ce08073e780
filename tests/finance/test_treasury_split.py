"""The pure split of collected money (issue 18 §1): kept + to remit = collected, always."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.review.treasury import (
    BP,
    Collected,
    Line,
    allocate,
    group,
    kept_share,
    split,
    split_payment,
)

amounts = st.integers(min_value=0, max_value=10**13)
rates = st.integers(min_value=0, max_value=BP)
kinds = st.sampled_from(["phi", "le_phi"])


@given(amount=amounts, kind=kinds, bp=st.one_of(st.none(), rates))
def test_kept_plus_remit_is_collected(amount: int, kind: str, bp: int | None) -> None:
    kept, remit = split(amount, kind, bp)
    assert kept + remit == amount
    assert 0 <= kept <= amount and remit >= 0
    if kind == "le_phi" or not bp:
        assert kept == 0 and remit == amount  # a lệ phí is remitted in full
    else:  # rounded down: never a fraction of a đồng more than the share
        assert kept * BP <= amount * bp < (kept + 1) * BP


@given(parts=st.lists(st.tuples(st.integers(0, 5), kinds, rates,
                                st.integers(min_value=0, max_value=10**10)),
                      min_size=1, max_size=40))
def test_per_fee_declaration_rows_add_up(parts: list[tuple[int, str, int, int]]) -> None:
    """Random parts of random fees, grouped as the declaration groups them: per row, kept +
    to remit = collected, and the rows' total is every part's amount."""
    collected = [Collected(f"C{i % 2}", "C0", kind, f"27{i:02d}", bp, f"fee {i}", amount)
                 for i, kind, bp, amount in parts]
    decls = group(collected, {})
    rows = [r for d in decls for r in d.rows]
    for row in rows:
        assert row.kept + row.to_remit == row.collected
        if row.kind == "le_phi":
            assert row.kept == 0 and row.retention_bp == 0
    assert sum(r.collected for r in rows) == sum(p[3] for p in parts)
    assert sum(d.received_elsewhere for d in decls) == sum(
        p.amount for p in collected if p.collector != "C0")


lines_st = st.lists(st.tuples(st.integers(1, 10**9), kinds, rates, st.booleans()),
                    min_size=0, max_size=6)


@given(lines=lines_st, before=st.integers(0, 10**9), paid=st.integers(0, 10**10))
def test_a_payment_splits_into_forward_keep_remit_and_the_rest(
        lines: list[tuple[int, str, int, bool]], before: int, paid: int) -> None:
    fee_lines = [Line(a, k, bp, "2716", "OTHER" if other else "ME") for a, k, bp, other in lines]
    parts, left = allocate(fee_lines, before, paid)
    assert sum(parts) + left == paid
    assert all(0 <= p <= line.amount for p, line in zip(parts, fee_lines, strict=True))
    owed = max(0, sum(a for a, *_ in lines) - before)
    assert sum(parts) == min(paid, owed)
    result = split_payment(fee_lines, before, paid, receiver="ME")
    assert result.total == paid
    assert result.unallocated == left


def test_the_rounding_rule_on_examples() -> None:
    assert split(2_000, "phi", 5_000) == (1_000, 1_000)
    assert split(999, "phi", 3_333) == (332, 667)  # 332.9667 kept, rounded down
    assert split(1_000_000, "le_phi", None) == (0, 1_000_000)
    assert kept_share(200_000, "phi", 10_000) == 200_000
    with pytest.raises(ValueError, match="negative"):
        split(-1, "phi", 0)


def test_payments_fill_lines_in_order_and_excess_is_unallocated() -> None:
    lines = [Line(50_000, "le_phi", None, "2861", "CENTRE"),
             Line(100_000, "phi", 4_000, "2662", "DEPT")]
    assert allocate(lines, 0, 60_000) == ([50_000, 10_000], 0)
    assert allocate(lines, 60_000, 100_000) == ([0, 90_000], 10_000)
    # the centre received it: the department's phí is to forward, the lệ phí to remit
    paid = split_payment(lines, 0, 150_000, "CENTRE")
    assert (paid.to_forward, paid.to_keep, paid.to_remit, paid.unallocated) == (
        100_000, 0, 50_000, 0)
    own = split_payment(lines, 0, 150_000, "DEPT")
    assert (own.to_forward, own.to_keep, own.to_remit) == (50_000, 40_000, 60_000)
