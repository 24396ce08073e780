"""fee_invoice_mismatch, incremental = full (Hypothesis, on a real database): any script of
subscription payments, invoices (some replacing the month's latest) and runs leaves the same
discrepancies whether every run is incremental or full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.clock import FixedClock
from recon.contracts import load_contracts
from recon.contracts.invoices import InvoiceIn
from recon.db import Database
from recon.engine import EngineConfig
from recon.settlements.fee_invoices import record_invoice
from tests.conftest import T0, backends
from tests.reconcile.recon_builders import TOTAL, World, state
from tests.reconcile.test_runner_properties import Harness

MONTHS = (date(2026, 10, 1), date(2026, 11, 1))
AMOUNTS = (199_000, 150_000, 221_000, 150_001, 90_000)  # sepay's and casso's charge among them


@dataclass(frozen=True)
class Pay:
    provider: str


@dataclass(frozen=True)
class Invoice:
    provider: str
    month: int
    amount: int
    replacing: bool


@dataclass(frozen=True)
class Run:
    pass


Event = Pay | Invoice | Run
events = st.one_of(
    st.builds(Pay, st.sampled_from(["sepay", "casso"])),
    st.builds(Invoice, st.sampled_from(["sepay", "casso", "payos"]), st.integers(0, 1),
              st.sampled_from(AMOUNTS), st.booleans()),
    st.just(Run()))


@pytest.fixture(scope="module")
def prop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("invoice-props")


def play(db: Database, script: list[Event], mode: str) -> World:
    w = World(db, FixedClock(T0), config=EngineConfig(contracts=load_contracts()))
    latest: dict[tuple[str, date], str] = {}
    for n, event in enumerate(script, start=1):
        w.later(minutes=5)
        if isinstance(event, Pay):
            d = w.dossier()
            w.pay(TOTAL, provider=event.provider, reference=w.intent(d, TOTAL))
        elif isinstance(event, Invoice):
            month = MONTHS[event.month]
            key = (event.provider, month)
            number = f"HD-{n}"
            replaces = latest.get(key) if event.replacing else None
            record_invoice(db, w.clock, InvoiceIn(
                event.provider, number, month + timedelta(days=40), month, event.amount,
                "billed", replaces=replaces), actor="test")
            latest[key] = number
        else:
            w.run("auto" if mode == "incremental" else "full", as_of=w.clock.now())
    w.later(minutes=5)
    w.run("auto" if mode == "incremental" else "full", as_of=w.clock.now())
    return w


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events, min_size=1, max_size=10))
def test_incremental_runs_judge_invoices_as_full_runs_do(
        backend: str, script: list[Event], sqlite_template: Path, prop_dir: Path,
        request: pytest.FixtureRequest) -> None:
    pg = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    harness = Harness(backend, sqlite_template, prop_dir, pg)
    try:
        db = harness.fresh()
        play(db, script, "incremental")
        incremental = [row for row in state(db) if row[1] == "fee_invoice_mismatch"]
        db = harness.fresh()
        play(db, script, "full")
        assert [row for row in state(db) if row[1] == "fee_invoice_mismatch"] == incremental
    finally:
        harness.close()
