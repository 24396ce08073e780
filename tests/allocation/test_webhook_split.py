"""A SePay transfer naming two references: split when it adds up, else one refusal kept."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from recon.models import AuditEvent, Payment, PaymentAllocation
from recon.payments import intents as intents_module
from tests.webhooks.whkit import TOTAL, Hooks, is_accepted

CODE_B = "000.00.21.H57-210401-0002"


def _two_intents(hooks: Hooks) -> tuple[str, str]:
    first = hooks.intent("sepay")
    second = hooks.intent("sepay", CODE_B)
    return first.reference, second.reference


def _allocations(hooks: Hooks) -> list[tuple[int, int, int]]:
    with hooks.db.read() as s:
        return [(a.payment_id, a.dossier_id, a.amount) for a in s.scalars(
            select(PaymentAllocation).order_by(PaymentAllocation.dossier_id))]


def _events(hooks: Hooks, action: str) -> list[dict[str, object]]:
    with hooks.db.read() as s:
        return [json.loads(e.data) if isinstance(e.data, str) else e.data
                for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action))]


def test_two_references_that_add_up_are_split_and_audited(hooks: Hooks) -> None:
    ref_a, ref_b = _two_intents(hooks)
    memo = f"MBVCB.123.{ref_a} {ref_b}.DAI LY DICH VU nop ho so"
    response = hooks.send(hooks.call("sepay", amount=2 * TOTAL, reference=ref_a, memo=memo))
    assert is_accepted("sepay", response)
    (payment,) = hooks.payments()
    assert payment.amount == 2 * TOTAL
    assert payment.dossier_id is None and payment.intent_id is None  # it pays two dossiers
    allocations = _allocations(hooks)
    assert [(pid, amount) for pid, _d, amount in allocations] == [
        (payment.id, TOTAL), (payment.id, TOTAL)]
    assert len({d for _p, d, _a in allocations}) == 2
    assert sum(a for _p, _d, a in allocations) == payment.amount
    (event,) = _events(hooks, "payment.allocated")
    assert [a["reference"] for a in event["allocations"]] == [ref_a, ref_b]  # type: ignore[index]
    assert _events(hooks, "payment.split_refused") == []
    # each dossier's intent is paid
    with hooks.db.read() as s:
        statuses = set(s.scalars(select(Payment.status)))
    assert statuses == {"succeeded"}


def test_amount_that_differs_is_refused_naming_both_references(hooks: Hooks) -> None:
    ref_a, ref_b = _two_intents(hooks)
    memo = f"{ref_a} {ref_b} nop ho so"
    hooks.send(hooks.call("sepay", amount=2 * TOTAL - 10_000, reference=ref_a, memo=memo))
    (payment,) = hooks.payments()
    assert payment.dossier_id is None
    assert _allocations(hooks) == []
    with hooks.db.read() as s:
        stored = s.scalar(select(Payment.split_refusal))
    assert stored is not None
    refusal = json.loads(stored)
    assert refusal == {"reason": "amount_differs", "references": [ref_a, ref_b],
                       "culprits": [], "difference": -10_000}
    (event,) = _events(hooks, "payment.split_refused")
    assert event["references"] == [ref_a, ref_b]


def test_an_unknown_reference_is_never_split(hooks: Hooks) -> None:
    ref_a, _ref_b = _two_intents(hooks)
    from recon.payments.references import mint
    stranger = mint()
    hooks.send(hooks.call("sepay", amount=2 * TOTAL, reference=ref_a,
                          memo=f"{ref_a} {stranger}"))
    assert _allocations(hooks) == []
    with hooks.db.read() as s:
        refusal = json.loads(s.scalar(select(Payment.split_refusal)) or "{}")
    assert refusal["reason"] == "unknown_reference"
    assert refusal["culprits"] == [stranger]


def test_redelivery_splits_once(hooks: Hooks) -> None:
    ref_a, ref_b = _two_intents(hooks)
    raw = hooks.call("sepay", amount=2 * TOTAL, reference=ref_a, memo=f"{ref_a} {ref_b}")
    hooks.send(raw)
    hooks.send(raw)
    assert len(hooks.payments()) == 1
    assert len(_allocations(hooks)) == 2
    assert len(_events(hooks, "payment.allocated")) == 1


def test_each_split_dossier_reads_as_paid_at_the_desk_and_in_reports(hooks: Hooks) -> None:
    """A share of a split transfer is a payment of its dossier wherever a person reads what a
    dossier was paid: the API and desk (paid_amount), the desk's queue and the outstanding
    figures (before, both dossiers still read as owing everything)."""
    from recon.clock import VN_TZ
    from recon.intake.desk_queue import owing_queue
    from recon.intake.dossiers import paid_amounts
    from recon.models import Dossier
    from recon.review.reports import _outstanding_figure

    ref_a, ref_b = _two_intents(hooks)
    with hooks.db.read() as s:
        ids = list(s.scalars(select(Dossier.id).order_by(Dossier.id)))
        outstanding_before = _outstanding_figure(s, None, None).count
        day = s.scalars(select(Dossier.received_at)).first().astimezone(VN_TZ).date()
        queue_before = {r.code for r in owing_queue(s, day).rows}
    assert {CODE_B} <= queue_before
    memo = f"MBVCB.123.{ref_a} {ref_b}.DAI LY DICH VU nop ho so"
    assert is_accepted("sepay", hooks.send(
        hooks.call("sepay", amount=2 * TOTAL, reference=ref_a, memo=memo)))
    with hooks.db.read() as s:
        assert paid_amounts(s, ids) == {ids[0]: TOTAL, ids[1]: TOTAL}
        assert _outstanding_figure(s, None, None).count == outstanding_before - 2
        assert CODE_B not in {r.code for r in owing_queue(s, day).rows}  # owes nothing now


def test_a_look_alike_in_the_memo_leaves_the_transfer_matched_to_its_intent(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference's tail and the next word of the memo make a valid look-alike: the
    transfer is still one payment of its intent, not a refused two-dossier transfer."""
    monkeypatch.setattr(intents_module, "mint", lambda prefix: "HS69UJTHSEM3")
    intent = hooks.intent("sepay")
    assert intent.reference == "HS69UJTHSEM3"
    response = hooks.send(hooks.call("sepay", intent))  # memo: MBVCB.….HS69UJTHSEM3.NGUYEN …
    assert is_accepted("sepay", response)
    (payment,) = hooks.payments()
    assert payment.intent_id == intent.id
    with hooks.db.read() as s:
        assert s.scalar(select(Payment.split_refusal).where(Payment.id == payment.id)) is None
    assert _events(hooks, "payment.split_refused") == []
