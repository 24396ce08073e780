"""The payout pass's PostgreSQL read (binary tuples on the raw psycopg connection) against its
reference (SQLAlchemy rows), on random settlement files, lines and refunds: the same batch
lines, credits and deductions, field for field (datetimes in UTC, dates as dates, ints), with
and without a window of days. And the run reads through it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from recon.db import Database
from recon.engine import payout_load
from recon.engine.load import read_snapshot
from tests.conftest import _truncate_pg

PROVIDERS = ("vnpay", "momo", "sepay", "zalopay")
PROFILES = (None, "vietinbank_statement", "other_profile")
DAY0 = date(2026, 10, 1)

lines_st = st.lists(st.tuples(
    st.integers(0, len(PROFILES) - 1),                      # the file's profile
    st.sampled_from(PROVIDERS),
    st.integers(0, 5_000_000), st.integers(0, 50_000),     # gross, fee
    st.integers(0, 60),                                     # settled_on, days after DAY0
    st.one_of(st.none(), st.integers(-86_400 * 3, 86_400 * 60)),  # transaction_at, seconds
    st.one_of(st.none(), st.text("ABCXYZ 0123456789ăđ", max_size=12)),  # reference
), max_size=40)
refunds_st = st.lists(st.tuples(st.sampled_from(PROVIDERS),
                                st.sampled_from(("refunded", "succeeded", "failed")),
                                st.integers(1, 900_000)), max_size=10)


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    yield db
    db.dispose()
    _truncate_pg(pg_url)


def _fill(db: Database, lines: list[Any], refunds: list[Any]) -> None:
    _truncate_pg(db.url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        for k, profile in enumerate(PROFILES, start=1):
            conn.execute(text(
                "INSERT INTO settlement_files (id, provider, filename, sha256, size, content, "
                "source, profile, imported_at, imported_by, row_count, total_amount) VALUES "
                "(:k, 'vnpay', :name, :sha, 0, '', 'upload', :profile, :now, 't', 0, 0)"),
                {"k": k, "name": f"f{k}.csv", "sha": f"{k:064d}", "profile": profile,
                 "now": now})
        for n, (f, provider, gross, fee, day, at, ref) in enumerate(lines):
            conn.execute(text(
                "INSERT INTO settlement_lines (file_id, line_no, provider, provider_txn_id, "
                "amount, fee, net, settled_on, transaction_at, reference, created_at) VALUES "
                "(:f, :n, :p, :txn, :gross, :fee, :net, :day, :at, :ref, :now)"),
                {"f": f + 1, "n": n, "p": provider, "txn": f"T{n}", "gross": gross, "fee": fee,
                 "net": gross - fee, "day": DAY0 + timedelta(days=day),
                 "at": None if at is None else datetime(2026, 10, 1, tzinfo=UTC)
                 + timedelta(seconds=at),
                 "ref": ref, "now": now})
        for n, (provider, status, amount) in enumerate(refunds):
            conn.execute(text(
                "INSERT INTO payments (provider, provider_txn_id, channel, amount, status, "
                "paid_at, received_at, recorded_by, updated_at) VALUES "
                "(:p, :txn, 'vietqr', :a, :s, :now, :now, 't', :now)"),
                {"p": provider, "txn": f"P{n}", "a": amount, "s": status, "now": now})


def _shown(rows: tuple[list[Any], ...]) -> list[list[str]]:
    """Every field with its type and, for datetimes, its zone: ``==`` alone would take
    07:00+07:00 for 00:00 UTC. In any order: the reads have no ORDER BY (the pass does not
    depend on the order), and two reads of one snapshot may return the rows in two orders."""
    return [sorted(repr(r) for r in part) for part in rows]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=lines_st, refunds=refunds_st,
       providers=st.lists(st.sampled_from(PROVIDERS), min_size=1, unique=True),
       window=st.one_of(st.none(), st.tuples(st.integers(-5, 65), st.integers(0, 30))))
def test_the_binary_read_is_the_row_read(pg: Database, lines: list[Any], refunds: list[Any],
                                         providers: list[str],
                                         window: tuple[int, int] | None) -> None:
    _fill(pg, lines, refunds)
    params: dict[str, Any] = {"providers": sorted(providers),
                              "statements": ["vietinbank_statement"]}
    where = ""
    if window is not None:
        params.update(low=DAY0 + timedelta(days=window[0]),
                      high=DAY0 + timedelta(days=window[0] + window[1]))
        where = payout_load._WINDOW
    with read_snapshot(pg) as conn:
        chosen = payout_load._read(conn, params, where)
        # (the two readers take the statement files' ids as _read looks them up)
        params["statement_files"] = payout_load._statement_files(conn, params)
        fast = payout_load._read_pg(conn, params, where)
        reference = payout_load._read_rows(conn, params, where)
    assert _shown(fast) == _shown(reference)
    assert _shown(chosen) == _shown(reference)
    # the data reached both: every batch line of the chosen providers outside statements
    expected = [ln for ln in lines if ln[1] in providers and PROFILES[ln[0]] !=
                "vietinbank_statement" and (window is None or window[0] <= ln[4]
                                            <= window[0] + window[1])]
    assert len(fast[0]) == len(expected)


def test_a_run_reads_through_the_binary_read(pg: Database,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a run's read snapshot (session time zone UTC) :func:`payout_load._read` takes
    the binary path."""
    _fill(pg, [(0, "vnpay", 100_000, 880, 3, 3600, None)], [])
    taken: list[int] = []
    real = payout_load._read_pg

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        taken.append(len(out[0]))
        return out

    monkeypatch.setattr(payout_load, "_read_pg", spy)
    with read_snapshot(pg) as conn:
        payout_load._read(conn, {"providers": ["vnpay"], "statements": ["x"]}, "")
    assert taken == [1]
