"""The pure splitter: a split's shares sum to the amount; anything doubtful is refused."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from recon.payments.references import find_references, mint
from recon.payments.split import (
    AllocationPlan,
    Owed,
    Refusal,
    is_multi_reference,
    memo_references,
    split_by_references,
)

RNG = random.Random(17)
REFS = [mint(rng=RNG.randrange) for _ in range(8)]
A, B, C = REFS[:3]


def test_two_valid_references_that_add_up_split() -> None:
    plan = split_by_references([A, B], 300_000, {A: Owed(1, 120_000), B: Owed(2, 180_000)})
    assert isinstance(plan, AllocationPlan)
    assert [(s.reference, s.dossier_id, s.amount) for s in plan.shares] == [
        (A, 1, 120_000), (B, 2, 180_000)]
    assert plan.total == 300_000


def test_unknown_reference_is_named() -> None:
    out = split_by_references([A, B], 300_000, {A: Owed(1, 300_000)})
    assert out == Refusal("unknown_reference", (A, B), (B,))


def test_already_paid_is_named() -> None:
    out = split_by_references([A, B], 180_000, {A: Owed(1, 0), B: Owed(2, 180_000)})
    assert out == Refusal("already_paid", (A, B), (A,))


def test_amount_difference_is_given() -> None:
    out = split_by_references([A, B], 290_000, {A: Owed(1, 120_000), B: Owed(2, 180_000)})
    assert out == Refusal("amount_differs", (A, B), (), -10_000)


def test_duplicate_reference_is_refused() -> None:
    out = split_by_references([A, A, B], 300_000, {A: Owed(1, 120_000), B: Owed(2, 180_000)})
    assert out == Refusal("duplicate_reference", (A, B), (A,))


def test_two_references_of_one_dossier_are_refused() -> None:
    out = split_by_references([A, B], 300_000, {A: Owed(1, 150_000), B: Owed(1, 150_000)})
    assert isinstance(out, Refusal) and out.reason == "same_dossier"
    assert out.culprits == (A, B)


def test_memo_references_in_order_with_repeats() -> None:
    memo = f"nop ho so {B.lower()} va {A} va {B}"
    assert memo_references(memo, "HS") == [B, A, B]
    assert is_multi_reference(memo, "HS")
    assert not is_multi_reference(f"chuyen tien {A}", "HS")
    assert memo_references(None, "HS") == []


#: a bank feed's memo around a reference, whose tail and the next word make a valid look-alike
LOOK_ALIKE_MEMO = "MBVCB.3278907687.HS69UJTHSEM3.NGUYEN VAN A chuyen tien"


def test_a_look_alike_overlapping_a_reference_is_not_a_second_one() -> None:
    # the one-reference matcher still tries both, best first: only an intent's can match
    assert find_references(LOOK_ALIKE_MEMO, "HS") == ["HS69UJTHSEM3", "HSEM3NGUYENV"]
    assert memo_references(LOOK_ALIKE_MEMO, "HS") == ["HS69UJTHSEM3"]
    assert not is_multi_reference(LOOK_ALIKE_MEMO, "HS")
    # two references written apart stay two, each without its look-alike
    two = f"{LOOK_ALIKE_MEMO} va HS23V6HSZD8Y.NGUYEN VAN B"
    assert memo_references(two, "HS") == ["HS69UJTHSEM3", "HS23V6HSZD8Y"]


def test_a_bank_feed_memo_names_its_one_reference_whatever_was_minted() -> None:
    rng = random.Random(2026)
    for _ in range(20_000):  # about three look-alikes among them
        ref = mint(rng=rng.randrange)
        memo = f"MBVCB.3278907687.{ref}.NGUYEN VAN A chuyen tien"
        assert memo_references(memo, "HS") == [ref], memo


owed_st = st.integers(min_value=0, max_value=5_000_000)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, 5), owed=st.lists(owed_st, min_size=5, max_size=5),
       amount=st.integers(0, 25_000_000), known=st.lists(st.booleans(), min_size=5, max_size=5),
       dossier_of=st.lists(st.integers(1, 6), min_size=5, max_size=5),
       exact=st.booleans())
def test_split_sums_to_amount_and_never_guesses(n: int, owed: list[int], amount: int,
                                                known: list[bool], dossier_of: list[int],
                                                exact: bool) -> None:
    refs = REFS[:n]
    table = {r: Owed(dossier_of[i], owed[i]) for i, r in enumerate(refs) if known[i]}
    if exact:
        amount = sum(o.owed for o in table.values())
    out = split_by_references(refs, amount, table)
    if isinstance(out, AllocationPlan):
        assert out.total == amount  # a split's shares always sum to the amount
        assert all(r in table for r in refs)  # never with an unknown reference
        assert len({s.dossier_id for s in out.shares}) == n  # one share per dossier
        assert all(s.amount == table[s.reference].owed > 0 for s in out.shares)
    else:
        assert out.references == tuple(refs)  # every reference found is named
        if any(r not in table for r in refs):
            assert out.reason == "unknown_reference"
