"""One transfer, several dossiers: split a payment by the references in its memo, or refuse.

Pure: no database, no clock. A service agent or a family may pay several dossiers with one
bank transfer whose memo names several payment references. The transfer is split only when
there is nothing to guess:

- the memo names at least two references, each exactly once;
- every reference is known and belongs to a dossier of its own (no two to the same dossier);
- every one of those dossiers still owes something;
- the amount equals exactly the sum of what they owe.

Then each dossier is allocated what it owes (the allocations sum to the amount). Anything else
is a :class:`Refusal` naming every reference found and the reason; the payment stays unsplit
for a person to decide. Never split by guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from recon.payments.references import find_reference_matches, without_overlaps

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

RefusalReason = Literal["duplicate_reference", "unknown_reference", "same_dossier",
                        "already_paid", "amount_differs"]
REASONS: tuple[RefusalReason, ...] = ("duplicate_reference", "unknown_reference",
                                      "same_dossier", "already_paid", "amount_differs")


@dataclass(frozen=True)
class Owed:
    """What a reference stands for: its dossier and what that dossier still owes (VND)."""

    dossier_id: int
    owed: int


@dataclass(frozen=True)
class Share:
    """One dossier's part of a split payment."""

    reference: str
    dossier_id: int
    amount: int


@dataclass(frozen=True)
class AllocationPlan:
    """A split: one share per reference, in memo order, summing to the payment's amount."""

    shares: tuple[Share, ...]

    @property
    def total(self) -> int:
        return sum(s.amount for s in self.shares)


@dataclass(frozen=True)
class Refusal:
    """Why a payment naming several references was not split, and every reference found.

    ``references`` in memo order (a repeated one once); ``culprits`` the references the reason
    is about (empty for ``amount_differs``); ``difference`` the amount minus the sum owed
    (``amount_differs`` only, else 0)."""

    reason: RefusalReason
    references: tuple[str, ...]
    culprits: tuple[str, ...] = ()
    difference: int = 0


def memo_references(memo: str | None, prefix: str) -> list[str]:
    """Every valid reference in ``memo`` in the order written, a repeated one as often as it
    is written (so that a duplicate can be named); of references overlapping in the memo,
    the best (:func:`recon.payments.references.without_overlaps`)."""
    if not memo:
        return []
    matches = without_overlaps(find_reference_matches(memo, prefix))
    # find_reference_matches keeps each reference once; count how often each is written
    normalized = memo.translate(_ASCII_UPPER)  # ASCII only: indices stay the memo's
    out: list[tuple[int, str]] = []
    for m in matches:
        out.append((m.start, m.reference))
        if normalized.count(m.reference) > 1:
            start = m.start
            while True:
                start = normalized.find(m.reference, start + 1)
                if start < 0:
                    break
                if start != m.start:
                    out.append((start, m.reference))
    out.sort()
    return [ref for _start, ref in out]


def is_multi_reference(memo: str | None, prefix: str) -> bool:
    """True when ``memo`` names two or more references (distinct or repeated): a payment that
    :func:`split_by_references` decides, never the one-reference matcher alone."""
    return len(memo_references(memo, prefix)) >= 2


def split_by_references(references: Sequence[str], amount: int,
                        owed_by_reference: Mapping[str, Owed]) -> AllocationPlan | Refusal:
    """Split ``amount`` over ``references`` (as :func:`memo_references` finds them, two or
    more) by what each reference's dossier owes, or refuse saying why (see the module doc).

    ``owed_by_reference`` maps each known reference to its dossier and what that dossier owes
    now; a reference missing from it is unknown. The checks run in the order of
    :data:`REASONS`; the first that fails is the reason."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("amount must be a non-negative int of VND")
    if len(references) < 2:
        raise ValueError("a split needs two or more references")
    found = tuple(dict.fromkeys(references))
    repeated = tuple(r for r in found if references.count(r) > 1)
    if repeated:
        return Refusal("duplicate_reference", found, repeated)
    unknown = tuple(r for r in found if r not in owed_by_reference)
    if unknown:
        return Refusal("unknown_reference", found, unknown)
    by_dossier: dict[int, list[str]] = {}
    for ref in found:
        by_dossier.setdefault(owed_by_reference[ref].dossier_id, []).append(ref)
    shared = tuple(r for refs in by_dossier.values() if len(refs) > 1 for r in refs)
    if shared:
        return Refusal("same_dossier", found, shared)
    paid = tuple(r for r in found if owed_by_reference[r].owed <= 0)
    if paid:
        return Refusal("already_paid", found, paid)
    total = sum(owed_by_reference[r].owed for r in found)
    if amount != total:
        return Refusal("amount_differs", found, (), amount - total)
    return AllocationPlan(tuple(Share(r, owed_by_reference[r].dossier_id,
                                      owed_by_reference[r].owed) for r in found))


__all__ = [
    "REASONS",
    "AllocationPlan",
    "Owed",
    "Refusal",
    "RefusalReason",
    "Share",
    "is_multi_reference",
    "memo_references",
    "split_by_references",
]
