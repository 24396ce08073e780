"""Hypothesis (issue 15 §1): after every incremental run, the open discrepancies (kind,
subject, amounts, sentences) are exactly those a full run computes on the same data, whatever
happened before: intake and reassessment, new intents, payments (duplicates, redeliveries,
refunds), settlement files (by the provider's id or the bank's reference), resolutions and
manual matches by hand, reopenings, runs with ``as_of`` in the past, present or future, full
runs in between, and writers whose clocks run behind or ahead of the scheduler's.

"What a full run computes" is the pure core over a full load in one snapshot, less the
findings a person resolved (no run touches those): what ``recon reconcile --full`` would leave
open, without writing it. The runs have the remittance pass (due on the 1st, so the month
paid in falls due among the runs' ``as_of``): its findings are held to what the whole-history
query (``declarations.owed``) says is owed, while the runs read the parts kept between runs
(``recon.review.owed_store``), recomputing only the changed dossiers. Examples are
derandomized (the same ones every time); those that found bugs while this was built are kept
below as ``@example``\\ s.
"""

from __future__ import annotations

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
from recon.engine import EngineConfig, reconcile
from recon.engine.remittances import findings_of as remittance_findings
from recon.engine.runner import load_full, read_snapshot
from recon.review.actions import approve, reopen, resolve
from recon.review.remittances import with_remittance_pass
from tests.conftest import T0, backends
from tests.reconcile.recon_builders import World
from tests.reconcile.test_runner_properties import BANK_REFERENCES, PROVIDERS, Harness

FEES = ((100000, 80000), (50000,), (30000, 30000), (100000, 80000, 20000))
SKEWS = (-48, -1, 0, 0, 0, 1)  # hours a writer's clock is off the scheduler's
OFFSETS = (-72, -1, 0, 0, 1, 72, 192)  # hours from now of a run's as_of


@dataclass(frozen=True)
class Intake:  # a reassessment of dossier ``dossier``: its fee lines replaced
    dossier: int
    fees: int
    skew: int = 0


@dataclass(frozen=True)
class Intent:  # a new intent for the dossier's current total; later payments use it
    dossier: int
    skew: int = 0


@dataclass(frozen=True)
class Pay:  # a delivery of transaction ``key`` (the first one decides its facts)
    key: int
    dossier: int | None
    amount_kind: int
    minutes: int
    skew: int = 0


@dataclass(frozen=True)
class Refund:
    key: int
    skew: int = 0


@dataclass(frozen=True)
class Settle:
    key: int
    extra: int
    day: int
    by_bank: bool = False
    skew: int = 0


@dataclass(frozen=True)
class Resolve:  # a person resolves an open discrepancy
    pick: int


@dataclass(frozen=True)
class Reopen:  # a person reopens a closed one
    pick: int


@dataclass(frozen=True)
class Match:  # a person matches an unmatched payment to a dossier (proposed and approved)
    pick: int
    dossier: int


@dataclass(frozen=True)
class Later:
    hours: int


@dataclass(frozen=True)
class Run:
    offset: int = 0  # as_of = now + offset hours
    full: bool = False


Event = Intake | Intent | Pay | Refund | Settle | Resolve | Reopen | Match | Later | Run

keys = st.integers(0, 5)
skews = st.sampled_from(SKEWS)
dossier_ix = st.integers(0, 2)
events = st.one_of(
    st.builds(Pay, key=keys, dossier=st.one_of(st.none(), dossier_ix),
              amount_kind=st.integers(0, 3), minutes=st.integers(0, 6000), skew=skews),
    st.builds(Settle, key=keys, extra=st.sampled_from([0, 0, 0, 1000]),
              day=st.integers(-3, 4), by_bank=st.booleans(), skew=skews),
    st.builds(Refund, key=keys, skew=skews),
    st.builds(Intake, dossier=dossier_ix, fees=st.integers(0, 3), skew=skews),
    st.builds(Intent, dossier=dossier_ix, skew=skews),
    st.builds(Resolve, pick=st.integers(0, 9)),
    st.builds(Reopen, pick=st.integers(0, 9)),
    st.builds(Match, pick=st.integers(0, 9), dossier=dossier_ix),
    st.builds(Later, hours=st.sampled_from([1, 6, 30, 50])),
    st.builds(Run, offset=st.sampled_from(OFFSETS), full=st.sampled_from([False] * 4 + [True])),
)

Finding = tuple[Any, ...]


def open_in_db(db: Database) -> set[Finding]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT identity, expected_amount, actual_amount, delta, explanation, "
            "explanation_en, within_tolerance FROM discrepancies WHERE status = 'open'")).all()
    return {(*r[:6], bool(r[6])) for r in rows}


def open_after_full(db: Database, as_of: datetime, config: EngineConfig) -> set[Finding]:
    """What a full run as of ``as_of`` would leave open now (nothing is written), with the
    remittance pass's findings judged on what the whole-history query says is owed (the
    reference the kept parts of recon.review.owed_store stand for)."""
    with read_snapshot(db) as conn:
        loaded = load_full(conn, parallel=False)
        by_hand = set(conn.execute(text(
            "SELECT identity FROM discrepancies WHERE status = 'resolved'")).scalars())
        remitted = config.remittances.read(conn) if config.remittances is not None else None
    result = reconcile(dossiers=loaded.dossiers, intents=loaded.intents,
                       payments=loaded.payments, settlement_lines=loaded.lines, as_of=as_of,
                       config=config)
    found = list(result.discrepancies)
    if remitted is not None and config.remittances is not None:
        found += remittance_findings(remitted, as_of,
                                     due_day=config.remittances.due_day).findings
    return {(d.identity, d.expected_amount, d.actual_amount, d.delta, d.explanation,
             d.explanation_en, bool(d.within_tolerance))
            for d in found if d.identity not in by_hand}


def _provider(key: int) -> str:
    return PROVIDERS[key % len(PROVIDERS)]


def _ids(db: Database, where: str) -> list[int]:
    with db.engine.connect() as conn:
        return list(conn.execute(text(
            f"SELECT id FROM discrepancies WHERE {where} ORDER BY identity")).scalars())


class Play:
    """Writes a script's events into a database, checking after every incremental run."""

    def __init__(self, db: Database, script: list[Event]) -> None:
        self.db = db
        self.now = T0  # the scheduler's clock
        # with the remittance pass, due on the 1st: the month paid in (11/2026) falls due
        # within the runs' as_of (up to a week ahead), so its findings open and close
        self.w = World(db, FixedClock(T0), config=with_remittance_pass(
            EngineConfig(), {"RECON_REMITTANCE_DUE_DAY": "1"}))
        self.codes = [f"000.00.21.H57-CHG-{i:04d}" for i in range(3)]
        self.fees = [FEES[i] for i in range(3)]
        self.ids = [self.w.dossier(code, amounts=fees)
                    for code, fees in zip(self.codes, self.fees, strict=True)]
        self.refs = [self.w.intent(d, sum(f)) for d, f in zip(self.ids, self.fees, strict=True)]
        self.facts: dict[int, tuple[int | None, int, int]] = {}
        for e in script:
            if isinstance(e, Pay):
                self.facts.setdefault(e.key, (e.dossier, e.amount_kind, e.minutes))
        self.checked = 0
        self.remittances: list[set[str]] = []  # after each checked run: the open ones

    def at(self, skew: int) -> None:
        """The writer's clock: ``skew`` hours off the scheduler's."""
        self.w.clock = FixedClock(self.now + timedelta(hours=skew))

    def txn(self, key: int) -> tuple[int, datetime, int | None]:
        if key not in self.facts:
            return 50000, T0 - timedelta(days=2), None
        dossier, kind, minutes = self.facts[key]
        total = sum(FEES[dossier]) if dossier is not None else 77000
        amount = (total, total // 2, total + 5000, total)[kind]
        return amount, T0 - timedelta(days=3) + timedelta(minutes=minutes), dossier

    def apply(self, e: Event) -> None:
        w = self.w
        if isinstance(e, Pay | Refund):
            self.at(e.skew)
            amount, paid_at, dossier = self.txn(e.key)
            provider = _provider(e.key)
            kwargs: dict[str, Any] = {}
            ref = self.refs[dossier] if dossier is not None else None
            if provider == "cash":
                kwargs["channel"] = "cash"
                if dossier is not None:
                    kwargs["dossier_code"] = self.codes[dossier]
                ref = None
            w.pay(amount, provider=provider, txn=f"K{e.key}", reference=ref,
                  status="succeeded" if isinstance(e, Pay) else "refunded", paid_at=paid_at,
                  bank_reference=BANK_REFERENCES.get(e.key), **kwargs)
        elif isinstance(e, Settle):
            provider = _provider(e.key)
            if provider == "cash":
                return
            self.at(e.skew)
            txn = (BANK_REFERENCES[e.key] if e.by_bank and e.key in BANK_REFERENCES
                   else f"K{e.key}")
            base = self.txn(e.key)[0] if e.key in self.facts else 66000
            w.settle(provider, txn, base + e.extra,
                     settled_on=(T0 + timedelta(days=e.day)).date())
        elif isinstance(e, Intake):
            self.at(e.skew)
            w.dossier(self.codes[e.dossier], amounts=FEES[e.fees])
        elif isinstance(e, Intent):
            self.at(e.skew)
            self.refs[e.dossier] = w.intent(self.ids[e.dossier], 1000 + 7 * e.dossier)
        elif isinstance(e, Resolve | Reopen | Match):
            self.by_hand(e)
        elif isinstance(e, Later):
            self.now += timedelta(hours=e.hours)
        else:
            self.run(e)
        self.now += timedelta(minutes=1)

    def by_hand(self, e: Resolve | Reopen | Match) -> None:
        clock = FixedClock(self.now)
        if isinstance(e, Resolve):
            ids = _ids(self.db, "status = 'open' AND proposed_by IS NULL")
            if ids:
                with self.db.transaction() as s:
                    resolve(s, clock, ids[e.pick % len(ids)], actor="user:ketoan1",
                            resolution_type="provider_corrected", note="đã đối chiếu")
        elif isinstance(e, Reopen):
            ids = _ids(self.db, "status <> 'open'")
            if ids:
                with self.db.transaction() as s:
                    reopen(s, clock, ids[e.pick % len(ids)], actor="user:ketoan1", note="xem lại")
        else:
            ids = _ids(self.db, "status = 'open' AND proposed_by IS NULL "
                                "AND kind = 'unmatched_payment'")
            if ids:
                target = ids[e.pick % len(ids)]
                with self.db.transaction() as s:
                    resolve(s, clock, target, actor="user:ketoan1",
                            resolution_type="matched_manually", note="khớp tay",
                            dossier_code=self.codes[e.dossier])
                with self.db.transaction() as s:
                    approve(s, clock, target, actor="user:truongphong")

    def run(self, e: Run) -> None:
        self.w.clock = FixedClock(self.now)
        as_of = self.now + timedelta(hours=e.offset)
        summary = self.w.run("full" if e.full else "incremental", as_of=as_of)
        # what the loads read as assessed: the fee lines' sum the database keeps (0037)
        with self.db.engine.connect() as conn:
            drift = conn.execute(text(
                "SELECT d.id FROM dossiers d WHERE d.fee_total <> COALESCE((SELECT SUM(f.amount) "
                "FROM fee_lines f WHERE f.dossier_id = d.id), 0)")).all()
        assert drift == []
        if summary.mode == "incremental":
            expected = open_after_full(self.db, as_of, self.w.config)
            assert open_in_db(self.db) == expected, (
                f"run {summary.run_id} as of {as_of}: missing "
                f"{sorted(expected - open_in_db(self.db))}, extra "
                f"{sorted(open_in_db(self.db) - expected)}")
            self.checked += 1
            self.remittances.append({f[0] for f in expected if f[0].startswith("remittance_")})


def check(db: Database, script: list[Event]) -> Play:
    play = Play(db, script)
    play.apply(Run(full=True))
    for event in script:
        play.apply(event)
    play.apply(Run(offset=1))
    play.apply(Run(offset=-1))
    assert play.checked >= 2
    return play


@pytest.fixture(scope="module")
def change_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("changes")


@pytest.mark.parametrize("backend", backends())
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(events, min_size=1, max_size=16))
# the first four fail on the rule this replaced (a window from the last as_of less 5 minutes);
# the first was found by this test on it:
# a payment written by a clock an hour behind is never read
@example(script=[Pay(key=0, dossier=None, amount_kind=0, minutes=0, skew=-1)])
# the late file after a run as of next week
@example(script=[Pay(key=1, dossier=0, amount_kind=0, minutes=0), Run(offset=192),
                 Settle(key=1, extra=0, day=0), Run(offset=192)])
# a reassessment by an intake host two days behind
@example(script=[Pay(key=1, dossier=0, amount_kind=0, minutes=0), Run(offset=1),
                 Intake(dossier=0, fees=3, skew=-48), Run(offset=1)])
# a discrepancy reopened by hand after its condition stopped holding
@example(script=[Pay(key=1, dossier=0, amount_kind=0, minutes=0), Run(),
                 Settle(key=1, extra=0, day=0), Later(hours=6), Run(), Later(hours=6),
                 Reopen(pick=0), Run()])
# a manual match, then the payment refunded by a writer two days behind (passes on the old
# rule too: kept for the manual-match path)
@example(script=[Pay(key=0, dossier=None, amount_kind=0, minutes=0), Run(), Later(hours=6),
                 Match(pick=0, dossier=1), Refund(key=0, skew=-48), Run()])
def test_every_incremental_run_leaves_open_what_a_full_run_would(
        backend: str, script: list[Event], sqlite_template: Path, change_tmp: Path,
        request: pytest.FixtureRequest) -> None:
    pg = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    harness = Harness(backend, sqlite_template, change_tmp, pg)
    try:
        check(harness.fresh(), script)
    finally:
        harness.close()


@pytest.mark.parametrize("backend", backends())
def test_remittance_findings_open_move_and_close_in_incremental_runs(
        backend: str, sqlite_template: Path, change_tmp: Path,
        request: pytest.FixtureRequest) -> None:
    """A month falls due unremitted (overdue), its dossier is reassessed and paid again (the
    amount owed moves), then its payments are refunded (nothing owed: the finding closes):
    every incremental run, reading the kept parts of the changed dossiers only, leaves what the
    whole-history query says."""
    pg = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    harness = Harness(backend, sqlite_template, change_tmp, pg)
    try:
        play = check(harness.fresh(), [
            Pay(key=1, dossier=0, amount_kind=1, minutes=0), Run(offset=192),
            Intake(dossier=0, fees=3), Pay(key=7, dossier=0, amount_kind=1, minutes=5),
            Run(offset=192), Refund(key=1), Refund(key=7), Run(offset=192)])
    finally:
        harness.close()
    overdue = [sorted(found) for found in play.remittances[:3]]
    assert overdue[0] and overdue[0] == overdue[1]  # one month, one collector: moved amount
    assert all(i.startswith("remittance_overdue:") for i in overdue[0])
    assert play.remittances[2] == set()  # refunded: nothing is owed any more
