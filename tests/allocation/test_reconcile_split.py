"""Reconciliation of split and unsplit transfers, full and incremental, on the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from recon.audit.chain import record_on
from recon.clock import FixedClock
from recon.engine import load
from recon.engine.records import EngineConfig
from recon.engine.runner import run_reconciliation
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Discrepancy, PaymentAllocation
from tests.foundation.helpers import dossier_body
from tests.webhooks.whkit import CODE, TOTAL, Hooks

CODE_B = "000.00.21.H57-210401-0002"


@pytest.fixture(autouse=True, params=["by id", "every allocation"])
def allocations_read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A partial load reads the allocations of its dossiers by id, or, for many dossiers
    (the open months), every allocation at once: both complete the load alike."""
    if request.param == "every allocation":
        monkeypatch.setattr(load, "_ALL_ALLOCATIONS_ABOVE", 0)
    return str(request.param)


def _run(hooks: Hooks, mode: str) -> None:
    run_reconciliation(hooks.db, clock=hooks.clock, audit=record_on, config=EngineConfig(),
                       mode=mode, triggered_by="test")  # type: ignore[arg-type]


def _open(hooks: Hooks) -> list[Discrepancy]:
    with hooks.db.read() as s:
        return list(s.scalars(select(Discrepancy).where(Discrepancy.status == "open")
                              .order_by(Discrepancy.identity)))


def _transfer(hooks: Hooks, amount: int) -> tuple[str, str]:
    a = hooks.intent("sepay").reference
    b = hooks.intent("sepay", CODE_B).reference
    hooks.send(hooks.call("sepay", amount=amount, reference=a, memo=f"{a} {b} dai ly nop"))
    return a, b


def test_split_transfer_pays_both_dossiers_in_full_and_incremental_runs(hooks: Hooks) -> None:
    _transfer(hooks, 2 * TOTAL)
    _run(hooks, "full")
    assert _open(hooks) == []  # neither unmatched nor underpaid
    # a later change to one dossier (reassessed up) is judged with its share counted
    assert isinstance(hooks.clock, FixedClock)
    hooks.clock.advance(timedelta(minutes=1))
    fees = [{"kind": "le_phi", "name": "Lệ phí", "amount": 200_000}]
    with hooks.db.transaction() as s:
        upsert_dossier(s, hooks.clock, parse_dossier(dossier_body(CODE_B, fees=fees)),
                       actor="test", reassess=True)
    _run(hooks, "incremental")
    (finding,) = _open(hooks)
    assert finding.kind == "underpaid"
    assert (finding.expected_amount, finding.actual_amount) == (200_000, TOTAL)


def test_refused_transfer_is_one_finding_and_a_later_match_never_splits(hooks: Hooks) -> None:
    a, b = _transfer(hooks, 2 * TOTAL + 20_000)
    _run(hooks, "full")
    unsplit = [d for d in _open(hooks) if d.kind == "multi_reference_unsplit"]
    assert len(unsplit) == 1
    assert a in unsplit[0].explanation and b in unsplit[0].explanation_en
    assert "20.000" in unsplit[0].explanation
    assert not [d for d in _open(hooks) if d.kind == "unmatched_payment"]
    # the dossiers are reassessed so that the amounts now match: still no split by guess
    hooks.clock.advance(timedelta(minutes=1))
    fees = [{"kind": "le_phi", "name": "Lệ phí", "amount": TOTAL + 20_000}]
    with hooks.db.transaction() as s:
        upsert_dossier(s, hooks.clock, parse_dossier(dossier_body(CODE, fees=fees)),
                       actor="test", reassess=True)
    _run(hooks, "incremental")
    with hooks.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PaymentAllocation)) == 0
    # (a dossier no payment reaches is not a finding: the engine judges what was paid)
    assert [d.kind for d in _open(hooks)] == ["multi_reference_unsplit"]
    _run(hooks, "full")
    assert [d.kind for d in _open(hooks)] == ["multi_reference_unsplit"]


def test_finance_detail_page_shows_the_allocations(hooks: Hooks, make_user: object,
                                                   make_token: object) -> None:
    _transfer(hooks, 2 * TOTAL)
    hooks.clock.advance(timedelta(minutes=1))
    fees = [{"kind": "le_phi", "name": "Lệ phí", "amount": 200_000}]
    with hooks.db.transaction() as s:
        upsert_dossier(s, hooks.clock, parse_dossier(dossier_body(CODE_B, fees=fees)),
                       actor="test", reassess=True)
    _run(hooks, "full")
    (finding,) = _open(hooks)
    make_user("ketoan", "finance")  # type: ignore[operator]
    token = make_token("finance", "pages", user="ketoan")  # type: ignore[operator]
    page = hooks.client.get(f"/finance/discrepancies/{finding.id}",
                            headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="allocations"' in html
    assert "Đã chia cho các hồ sơ" in html
    assert CODE in html and CODE_B in html
    assert "180.000" in html and "360.000" in html
