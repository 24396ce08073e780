"""Hypothesis over random event sequences written to a real database:

- incremental runs leave exactly the table full runs leave (statuses, amounts, sentences,
  auto-resolution reasons), whatever the events and wherever the runs fall;
- the outcome does not depend on the order the events arrived in;
- a rerun changes nothing;
- every succeeded payment is either matched to a dossier or reported unmatched.

Settlement lines are now and then refund lines (``RF<key>`` naming ``K<key>``): judged against
the payment of their sale, never its settlement, alike in both kinds of run.

SePay transactions carry a bank reference and may be settled by a bank statement line keyed by
it: keys 2 and 5 share one (the lower payment id takes the line), and key 4's is key 2's own id
(which key 2 keeps when it is paid).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from recon.clock import FixedClock
from recon.db import Database
from recon.engine import parse_identity
from tests.conftest import T0, _truncate_pg, backends
from tests.reconcile.recon_builders import World, state

PROVIDERS = ("vnpay", "momo", "sepay", "cash", "sepay", "sepay")
BANK_REFERENCES = {2: "FT2", 4: "K2", 5: "FT2"}  # the bank's reference of SePay's credits
FEES = ((100000, 80000), (50000,), (30000, 30000))


@dataclass(frozen=True)
class Pay:
    key: int  # which transaction (provider fixed per key)
    dossier: int | None  # index into the dossiers, None: no reference (unmatched)
    amount_kind: int  # 0 the dossier total, 1 part of it, 2 a bit more, 3 the same again
    minutes: int  # paid_at = T0 - 3 days + minutes (fixed by the event, not by its arrival)


@dataclass(frozen=True)
class Settle:
    key: int
    extra: int  # added to the payment's amount (0 = clean)
    day: int  # settled_on = T0 + day
    by_bank: bool = False  # a bank statement line: keyed by the bank's reference (SePay keys)
    refund: bool = False  # a refund line RF<key> naming K<key> as its sale (never by_bank)


@dataclass(frozen=True)
class Refund:
    key: int


@dataclass(frozen=True)
class Later:
    hours: int


@dataclass(frozen=True)
class Run:
    pass


Event = Pay | Settle | Refund | Later | Run

keys = st.integers(0, 5)
events = st.one_of(
    st.builds(Pay, key=keys, dossier=st.one_of(st.none(), st.integers(0, 2)),
              amount_kind=st.integers(0, 3), minutes=st.integers(0, 6000)),
    st.builds(Settle, key=keys, extra=st.sampled_from([0, 0, 0, 1000]),
              day=st.integers(0, 4), by_bank=st.booleans(),
              refund=st.sampled_from([False, False, True])),
    st.builds(Refund, key=keys),
    st.builds(Later, hours=st.sampled_from([1, 6, 20, 30, 50])),
    st.just(Run()),
)


def _provider(key: int) -> str:
    return PROVIDERS[key % len(PROVIDERS)]


class Harness:
    """A fresh database per call of :meth:`fresh`, on the backend under test."""

    def __init__(self, backend: str, template: Path, tmp: Path,
                 pg_url: str | None) -> None:
        self.backend = backend
        self.template = template
        self.tmp = tmp
        self.pg_url = pg_url
        self.opened: list[Database] = []

    def fresh(self) -> Database:
        if self.backend == "sqlite":
            target = self.tmp / f"{uuid.uuid4().hex}.db"
            shutil.copyfile(self.template, target)
            db = Database(f"sqlite:///{target}")
        else:
            assert self.pg_url is not None
            for old in self.opened:
                old.dispose()
            self.opened.clear()
            _truncate_pg(self.pg_url)
            db = Database(self.pg_url)
        self.opened.append(db)
        return db

    def close(self) -> None:
        for db in self.opened:
            db.dispose()
        self.opened.clear()


def facts_of(script: list[Event]) -> dict[int, tuple[int | None, int, int]]:
    """Per transaction key, what its first ``Pay`` (in script order) says: dossier index,
    amount kind, minutes. Every delivery of the key carries these, whatever order they
    arrive in (a provider sends one transaction with one amount)."""
    out: dict[int, tuple[int | None, int, int]] = {}
    for e in script:
        if isinstance(e, Pay):
            out.setdefault(e.key, (e.dossier, e.amount_kind, e.minutes))
    return out


def play(db: Database, script: list[Event], *, mode: str,
         facts: dict[int, tuple[int | None, int, int]] | None = None) -> World:
    """Write the dossiers, then the events in order; ``Run`` runs ``mode``. Ends with a run."""
    facts = facts if facts is not None else facts_of(script)
    w = World(db, FixedClock(T0))
    dossiers = [w.dossier(f"000.00.21.H57-PROP-{i:04d}", amounts=FEES[i]) for i in range(3)]
    totals = [sum(FEES[i]) for i in range(3)]
    refs = [w.intent(d, t) for d, t in zip(dossiers, totals, strict=True)]

    def txn_facts(key: int) -> tuple[int, datetime, int | None]:
        if key not in facts:
            return 50000, T0 - timedelta(days=2), None
        dossier, amount_kind, minutes = facts[key]
        total = totals[dossier] if dossier is not None else 77000
        amount = (total, total // 2, total + 5000, total)[amount_kind]
        return amount, T0 - timedelta(days=3) + timedelta(minutes=minutes), dossier

    for event in script:
        if isinstance(event, Pay | Refund):
            amount, paid_at, dossier = txn_facts(event.key)
            status = "succeeded" if isinstance(event, Pay) else "refunded"
            provider = _provider(event.key)
            kwargs: dict[str, Any] = {}
            ref = refs[dossier] if dossier is not None else None
            if provider == "cash":
                kwargs["channel"] = "cash"
                if dossier is not None:
                    kwargs["dossier_code"] = w.codes[dossiers[dossier]]
                ref = None
            w.pay(amount, provider=provider, txn=f"K{event.key}", reference=ref,
                  status=status, paid_at=paid_at, bank_reference=BANK_REFERENCES.get(event.key),
                  **kwargs)
        elif isinstance(event, Settle):
            provider = _provider(event.key)
            if provider == "cash":
                continue
            base = txn_facts(event.key)[0] if event.key in facts else 66000
            w.settle(provider, _line_txn(event), base + event.extra,
                     settled_on=(T0 + timedelta(days=event.day)).date(),
                     kind="refund" if event.refund else "sale",
                     original_txn_id=f"K{event.key}" if event.refund else None)
        elif isinstance(event, Later):
            w.later(hours=event.hours)
        else:
            w.run(mode, as_of=w.clock.now())
        w.later(minutes=1)
    w.run(mode, as_of=w.clock.now())
    return w


def natural(db: Database) -> set[tuple[Any, ...]]:
    """Open and auto-resolved discrepancies with ids replaced by natural keys."""
    with db.engine.connect() as conn:
        codes = dict(conn.execute(text("SELECT id, code FROM dossiers")).all())
        txns = {r[0]: f"{r[1]}:{r[2]}" for r in conn.execute(text(
            "SELECT id, provider, provider_txn_id FROM payments"))}
        lines = {r[0]: f"{r[1]}:{r[2]}:{r[3]}:{r[4]}" for r in conn.execute(text(
            "SELECT id, provider, provider_txn_id, settled_on, amount FROM settlement_lines"))}
    out = set()
    for row in state(db):
        if row[2] != "open":
            continue
        kind, ids = parse_identity(row[0])
        key = [kind]
        for name, value in ids.items():
            key.append({"dossier": codes, "payment": txns, "settlement_line": lines}[name][value])
        out.add((tuple(key), *row[7:12]))
    return out


def _check_every_payment_accounted(db: Database) -> None:
    with db.engine.connect() as conn:
        stray = conn.execute(text(
            "SELECT p.id FROM payments p WHERE p.status = 'succeeded' AND p.dossier_id IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM discrepancies d WHERE d.kind = 'unmatched_payment' "
            "AND d.payment_id = p.id AND d.status = 'open')")).all()
    assert stray == []


def _line_txn(event: Settle) -> str:
    if event.refund:
        return f"RF{event.key}"
    if event.by_bank and event.key in BANK_REFERENCES:
        return BANK_REFERENCES[event.key]
    return f"K{event.key}"


def _distinct_times(script: list[Event]) -> bool:
    minutes = [e.minutes for e in script if isinstance(e, Pay)]
    days: dict[tuple[str, str], list[int]] = {}
    for e in script:
        if isinstance(e, Settle):
            days.setdefault((_provider(e.key), _line_txn(e)), []).append(e.day)
    paid = {e.key for e in script if isinstance(e, Pay | Refund)}
    # two payments with one bank reference: the lower id, the first to arrive, takes the line
    return len(set(minutes)) == len(minutes) and all(
        len(set(v)) == len(v) for v in days.values()) and not {2, 5} <= paid


@pytest.fixture(scope="module")
def prop_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events, min_size=1, max_size=14))
# found 2026-12-06: SePay K4, refunded, then settled by the bank's reference after its
# status_mismatch was judged; K0 paid and refunded three times around it
@example(script=[Run(), Refund(key=0), Refund(key=4), Pay(key=0, dossier=None, amount_kind=0,
                                                          minutes=0),
                 Refund(key=0), Run(), Refund(key=0), Settle(key=4, extra=0, day=0, by_bank=True),
                 Pay(key=0, dossier=None, amount_kind=0, minutes=0), Refund(key=0),
                 Pay(key=0, dossier=None, amount_kind=0, minutes=0), Run(),
                 Pay(key=0, dossier=None, amount_kind=0, minutes=0), Refund(key=2)])
def test_incremental_runs_leave_what_full_runs_leave(
        backend: str, script: list[Event], sqlite_template: Path, prop_tmp: Path,
        request: pytest.FixtureRequest) -> None:
    pg = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    harness = Harness(backend, sqlite_template, prop_tmp, pg)
    try:
        db = harness.fresh()
        play(db, script, mode="incremental")
        incremental = state(db)
        db = harness.fresh()
        w = play(db, script, mode="full")
        assert state(db) == incremental
        _check_every_payment_accounted(db)
        # a rerun, of either kind, changes nothing
        w.run("full", as_of=w.clock.now())
        w.run("incremental", as_of=w.clock.now())
        assert state(db) == incremental
    finally:
        harness.close()


@pytest.mark.parametrize("backend", ["sqlite"])
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events.filter(lambda e: not isinstance(e, Later | Run)), min_size=1,
                       max_size=12),
       order=st.randoms(use_true_random=False), split=st.integers(0, 12))
def test_outcome_does_not_depend_on_arrival_order(
        backend: str, script: list[Event], order: Any, split: int, sqlite_template: Path,
        prop_tmp: Path) -> None:
    if not _distinct_times(script):
        return  # ties in paid_at / settled_on are broken by arrival (id): not comparable
    shuffled = list(script)
    order.shuffle(shuffled)
    shuffled.insert(min(split, len(shuffled)), Run())  # an incremental run somewhere between
    harness = Harness(backend, sqlite_template, prop_tmp, None)
    try:
        a = harness.fresh()
        play(a, script, mode="full")
        b = harness.fresh()
        play(b, shuffled, mode="incremental", facts=facts_of(script))
        assert natural(b) == natural(a)
    finally:
        harness.close()
