"""A whole-table scan keeps one object per value of the columns that hold a handful of
distinct strings (payments: provider, channel, status; settlement lines: provider) instead of
psycopg's one per row, and changes no value: the rows equal the SQLAlchemy read's (the
reference), field for field and type for type, on SQLite and PostgreSQL; the sharing itself
is held to the rows it was given on random batches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, text

from recon.db import Database
from recon.engine import load
from recon.engine.load import _FULL_PAYMENTS, _make_payment, _Reader, _sharing, read_snapshot
from recon.models import Payment

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PROVIDERS = ("vnpay", "momo", "zalopay", "cash")
STATUSES = ("succeeded", "failed", "refunded")


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "server cursor"])
def test_a_payment_scan_equals_the_reference_and_shares_its_strings(
        db: Database, streamed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways PostgreSQL reads a whole table (streamed in chunks with libpq 17 or later,
    else a server-side cursor), in batches smaller than the table."""
    monkeypatch.setattr(load, "STREAMED", streamed)
    monkeypatch.setattr(load, "SCAN_BATCH", 7)
    with db.engine.begin() as conn:
        for n in range(60):
            conn.execute(insert(Payment).values(
                provider=PROVIDERS[n % 4], provider_txn_id=f"T{n}",
                channel=PROVIDERS[(n // 4) % 4], amount=1_000 * (n % 7),
                status=STATUSES[n % 3], paid_at=NOW + timedelta(minutes=n),
                reference=f"R{n % 5}", method=None if n % 2 else "qr"))
    with read_snapshot(db) as conn:
        reader = _Reader(conn)
        scanned = sorted(reader.scan(_FULL_PAYMENTS, _make_payment, kind="payment"))
        reference = sorted(reader.rows(_FULL_PAYMENTS, _make_payment, kind="payment"))
    assert len(scanned) == 60
    assert scanned == reference
    for got, want in zip(scanned, reference, strict=True):
        assert [type(v) for v in got] == [type(v) for v in want]
        assert got.paid_at.utcoffset() == timedelta(0)
    if db.dialect == "postgresql":  # (SQLite reads through SQLAlchemy: nothing to share)
        for column in load._SHARED["payment"]:
            values = {r[column] for r in scanned}
            assert len({id(r[column]) for r in scanned}) == len(values), column


_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b", "vnpay"]))


@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES, _VALUES), min_size=1, max_size=40),
       st.sets(st.integers(0, 3), min_size=1))
def test_sharing_changes_no_value_and_keeps_one_object_per_value(
        rows: list[tuple[Any, ...]], columns: set[int]) -> None:
    # fresh objects per row, as psycopg makes them
    batch = [tuple(v if not isinstance(v, str) else "".join(list(v)) for v in r) for r in rows]
    pool: dict[Any, Any] = {}
    got = list(_sharing(batch, tuple(sorted(columns)), pool))
    assert got == rows
    for c in columns:
        for value in {r[c] for r in rows}:
            assert len({id(r[c]) for r in got if r[c] == value}) == 1, (c, value)


class _Failed(Exception):
    """A row builder that gives up mid-way."""


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "server cursor"])
def test_a_scan_that_fails_midway_raises_and_frees_its_connection(
        db: Database, streamed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error reaches the caller and the transaction rolls back: a stream left open holds
    its connection, and the rollback would wait for it forever (the scan runs on a thread
    here, so that a hang fails the test instead of the suite)."""
    monkeypatch.setattr(load, "STREAMED", streamed)
    monkeypatch.setattr(load, "SCAN_BATCH", 7)
    with db.engine.begin() as conn:
        for n in range(60):
            conn.execute(insert(Payment).values(
                provider="vnpay", provider_txn_id=f"T{n}", channel="vnpay", amount=1_000,
                status="succeeded", paid_at=NOW + timedelta(minutes=n)))
    built: list[Any] = []

    def make(row: Any) -> Any:
        if len(built) == 20:
            raise _Failed
        built.append(row)
        return _make_payment(row)

    outcome: list[BaseException] = []

    def scan() -> None:
        try:
            with read_snapshot(db) as conn:
                _Reader(conn).scan(_FULL_PAYMENTS, make, kind="payment")
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # free the stuck connection, so that the teardown can go on
        if db.dialect == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() "
                                  "AND pid <> pg_backend_pid()"))
        pytest.fail("the failed scan's rollback never returned")
    assert len(outcome) == 1 and isinstance(outcome[0], _Failed), outcome
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM payments")).scalar_one() == 60
