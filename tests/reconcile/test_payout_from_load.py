"""A full run's payout pass takes its batch lines from the full load's settlement lines
(:func:`recon.engine.payout_load.batch_lines_of`) instead of reading them again: on random
files (statements, other profiles, none), providers, stated nets and credits, on SQLite and
PostgreSQL, the same batches, states, matches, findings and lines seen as the pass that reads
its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert

from recon.db import Database
from recon.engine import payout_load
from recon.engine.load import _tune_scans, load_full
from recon.engine.payouts import PayoutConfig, ProviderPayout
from recon.engine.records import SettlementLineRow
from recon.models import SettlementFile, SettlementLine

PROVIDERS = ("vnpay", "momo", "sepay")
PROFILES = (None, "vietinbank_statement", "other_profile")
DAY0 = date(2026, 10, 1)
AS_OF = datetime(2026, 11, 20, 3, tzinfo=UTC)
CONFIG = PayoutConfig(providers={
    "vnpay": ProviderPayout("vnpay", memo=r"VNPAY", merge_non_banking_days=True),
    "momo": ProviderPayout("momo", memo=r"MOMO", days=2, pays_gross=True)},
    statement_profiles=frozenset({"vietinbank_statement"}))

lines_st = st.lists(st.tuples(
    st.integers(0, len(PROFILES) - 1),                       # the file's profile
    st.sampled_from(PROVIDERS),
    st.integers(1, 500_000), st.integers(0, 5_000),          # gross, fee
    st.one_of(st.none(), st.integers(-100, 100)),            # stated net, off the net by
    st.integers(0, 40),                                      # settled_on, days after DAY0
    st.one_of(st.none(), st.integers(-86_400 * 2, 86_400 * 40)),  # transaction_at, seconds
    st.sampled_from([None, "CTY VNPAY TT", "MOMO PAYOUT", "CK khac"]),  # reference (memo)
), max_size=30)


def _fill(conn: Connection, lines: list[Any]) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    files = [conn.execute(insert(SettlementFile).values(
        provider="vnpay", filename=f"f{k}.csv", sha256=f"{k:064d}", size=0, content=b"",
        source="upload", profile=profile, imported_at=now, imported_by="t", row_count=0,
        total_amount=0).returning(SettlementFile.id)).scalar_one()
        for k, profile in enumerate(PROFILES)]
    for n, (f, provider, gross, fee, off, day, at, ref) in enumerate(lines):
        conn.execute(insert(SettlementLine).values(
            file_id=files[f], line_no=n, provider=provider, provider_txn_id=f"T{n}",
            amount=gross, fee=fee, net=gross - fee,
            stated_net=None if off is None else gross - fee + off,
            settled_on=DAY0 + timedelta(days=day),
            transaction_at=None if at is None else datetime(2026, 10, 1, tzinfo=UTC)
            + timedelta(seconds=at), reference=ref, created_at=now))


def _shown(found: payout_load.PayoutPass | None) -> tuple[Any, ...]:
    assert found is not None
    o = found.outcome
    return (repr(o.batches), repr(o.matches), repr(o.unexpected), o.states,
            repr(o.findings), sorted(found.seen), found.previous_open, sorted(found.claimed))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=lines_st)
def test_the_batch_lines_from_the_load_are_the_lines_read(db: Database,
                                                          lines: list[Any]) -> None:
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            if db.dialect == "postgresql":
                _tune_scans(conn)  # as in a run's snapshot: the pass's binary read
            _fill(conn, lines)
            loaded = load_full(conn, parallel=False).lines
            taken: list[int] = []

            def from_load() -> list[Any]:
                taken.append(len(loaded))
                return loaded

            fast = payout_load.prepare(conn, config=CONFIG, mode="full", as_of=AS_OF,
                                       loaded_lines=from_load)
            reference = payout_load.prepare(conn, config=CONFIG, mode="full", as_of=AS_OF)
        finally:
            outer.rollback()
    assert taken == [len(lines)]
    assert _shown(fast) == _shown(reference)
    # the data reached both: every line of vnpay or momo outside a statement is in a batch
    batch = [ln for ln in lines if ln[1] in CONFIG.providers
             and PROFILES[ln[0]] != "vietinbank_statement"]
    assert fast is not None
    assert sum(len(b.lines) for b in fast.outcome.batches) == len(batch)
    # a stated net never reaches a batch: the batch's net is the lines' gross less fee
    assert all(b.net == b.gross - b.fee for b in fast.outcome.batches)


def test_a_line_whose_file_stated_another_net_keeps_its_own_net_in_its_batch() -> None:
    line = SettlementLineRow(7, "vnpay", "T7", 100_000, 1_000, 98_000, DAY0)
    other = line._replace(id=8, provider="sepay")
    statement = line._replace(id=9)
    out = payout_load.batch_lines_of([line, other, statement], CONFIG.providers, {9},
                                     {7: 99_000})
    assert out == [line._replace(net=99_000)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=lines_st, opens_after=st.integers(0, 40), earlier=st.booleans(),
       mark=st.sampled_from([None, 0]))
def test_a_bounded_pass_takes_the_open_months_lines_from_their_load(
        db: Database, lines: list[Any], opens_after: int, earlier: bool,
        mark: int | None) -> None:
    """With closed months behind, the open months' load holds every line settled from the
    first open day on, and some earlier ones (linked to the open months: ``earlier``); the
    pass takes its batch lines from it and reads only the days before that its window
    reaches (``mark`` 0: every line changed since the last run, which widens the window to
    the earliest), and finds what the pass reading all of its own finds."""
    opens = DAY0 + timedelta(days=opens_after)
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            if db.dialect == "postgresql":
                _tune_scans(conn)
            _fill(conn, lines)
            everything = load_full(conn, parallel=False).lines
            loaded = [ln for ln in everything if ln.settled_on >= opens or earlier]
            fast = payout_load.prepare(conn, config=CONFIG, mode="full", as_of=AS_OF,
                                       opens=opens, mark=mark, loaded_lines=lambda: loaded)
            reference = payout_load.prepare(conn, config=CONFIG, mode="full", as_of=AS_OF,
                                            opens=opens, mark=mark)
        finally:
            outer.rollback()
    assert _shown(fast) == _shown(reference)
    # the window reached back before the first open day: the batches of those days are in
    reach = timedelta(days=CONFIG.reach())
    assert fast is not None
    low = opens if mark is None or not lines else min(
        opens, *(DAY0 + timedelta(days=ln[5]) for ln in lines))
    assert sum(len(b.lines) for b in fast.outcome.batches) == sum(
        1 for ln in lines if ln[1] in CONFIG.providers
        and PROFILES[ln[0]] != "vietinbank_statement"
        and DAY0 + timedelta(days=ln[5]) >= low - 2 * reach)
