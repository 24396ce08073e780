"""The core may be handed its dossiers as a function, called once after the settlement lines
and payments are walked (the runner's full load still fetches them meanwhile): the answer is
the one it gives for the list itself, errors included. Before asking for them it hands the
findings that need no dossier to ``settled`` (the runner starts writing them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from recon.engine import Discrepancy, DossierRow, PaymentRow, classify, reconcile
from tests.engine.test_engine_properties import World, worlds


class _Late:
    """The dossiers, counted as they are asked for."""

    def __init__(self, rows: Sequence[DossierRow]) -> None:
        self.rows = list(rows)
        self.calls = 0

    def __call__(self) -> list[DossierRow]:
        self.calls += 1
        return self.rows


@settings(max_examples=200, deadline=None)
@given(world=worlds())
def test_dossiers_given_late_give_the_same_answer(world: World) -> None:
    late = _Late(world.dossiers)
    result = reconcile(dossiers=late, fee_lines=world.fee_lines, intents=world.intents,
                       payments=world.payments, settlement_lines=world.lines,
                       as_of=world.as_of, config=world.config)
    expected = world.run()
    assert late.calls == 1
    assert result.discrepancies == expected.discrepancies
    previous = [d.identity for d in expected.discrepancies]
    # what classify reads from the facts (dossiers included) is the same too
    assert classify(previous, result) == classify(previous, expected)
    for d in world.dossiers:
        assert result.dossier(d.id) == expected.dossier(d.id)
        assert result.assessed_total(d.id) == expected.assessed_total(d.id)
        assert result.paid_total(d.id) == expected.paid_total(d.id)


def _payment(dossier_id: int) -> PaymentRow:
    return PaymentRow(1, "vnpay", "T1", "vnpay", 1000, "succeeded",
                      datetime(2026, 11, 1, tzinfo=UTC), dossier_id)


def test_late_dossiers_are_checked_like_a_list() -> None:
    as_of = datetime(2026, 11, 30, tzinfo=UTC)
    twice = [DossierRow(7, "A", 1000), DossierRow(7, "B", 1000)]
    with pytest.raises(ValueError, match="dossier ids must be unique"):
        reconcile(dossiers=lambda: twice, payments=[_payment(7)], as_of=as_of)
    with pytest.raises(ValueError, match="matched to dossier 8, not given"):
        reconcile(dossiers=lambda: [DossierRow(7, "A", 1000)], payments=[_payment(8)],
                  as_of=as_of)
    found = reconcile(dossiers=lambda: [DossierRow(7, "A", 1500)], payments=[_payment(7)],
                      as_of=as_of)
    assert [d.identity for d in found] == ["missing_settlement:payment=1",
                                           "underpaid:dossier=7"]


DOSSIER_KINDS = {"underpaid", "overpaid", "duplicate_payment"}


@settings(max_examples=200, deadline=None)
@given(world=worlds())
def test_findings_without_a_dossier_are_handed_over_first(world: World) -> None:
    late = _Late(world.dossiers)
    handed: list[tuple[int, list[Discrepancy]]] = []

    def settled(findings: list[Discrepancy]) -> None:
        handed.append((late.calls, findings))

    result = reconcile(dossiers=late, fee_lines=world.fee_lines, intents=world.intents,
                       payments=world.payments, settlement_lines=world.lines,
                       as_of=world.as_of, config=world.config, settled=settled)
    assert result.discrepancies == world.run().discrepancies
    assert len(handed) == 1
    calls_then, findings = handed[0]
    assert calls_then == 0  # before the dossiers were asked for
    assert findings == [d for d in result.discrepancies if d.kind not in DOSSIER_KINDS]
