"""``transaction_spans`` (migration 0040) holds every transaction whose rows lie in more than one
Vietnam month, with its first and last month, after every kind of write: a payment recorded
(the ORM), a settlement file imported (the bulk importer: ``COPY`` on PostgreSQL), SQL by hand
(a payment moved to another month, a bank reference set later, a line's dates changed). A
row deleted leaves its span (widened, never narrowed); the migration's backfill computes the
same spans from the rows. A full run with closed months behind reads its links across the
horizon through it (``tests/reconcile/test_bounded_runs.py``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from recon.bulk import sqlite_datetime
from recon.cli import cli
from recon.cli.admin import alembic_config, upgrade_database
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine import spans
from recon.models import TransactionSpan
from recon.settlements.importer import import_settlement
from tests.reconcile.recon_builders import World

Spans = dict[tuple[str, str], tuple[date, date]]


def _month(value: Any) -> date:
    """The Vietnam month (its first day) of an instant or a date."""
    if isinstance(value, datetime):
        value = value.astimezone(VN_TZ).date()
    first: date = value.replace(day=1)
    return first


def _expected(db: Database) -> Spans:
    """Every transaction's span by its definition, from every payment and line, in Python."""
    months: dict[tuple[str, str], set[date]] = defaultdict(set)
    with db.read() as s:
        for provider, txn, bank_reference, paid_at in s.execute(text(
                "SELECT provider, provider_txn_id, bank_reference, paid_at FROM payments")):
            at = datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else paid_at
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            for key in (txn, bank_reference):
                if key is not None:
                    months[provider, key].add(_month(at))
        for provider, txn, original, settled_on, transaction_at in s.execute(text(
                "SELECT provider, provider_txn_id, original_txn_id, settled_on, transaction_at "
                "FROM settlement_lines")):
            settled = (date.fromisoformat(settled_on) if isinstance(settled_on, str)
                       else settled_on)
            month = _month(settled)
            if transaction_at is not None:
                at = (datetime.fromisoformat(transaction_at) if isinstance(transaction_at, str)
                      else transaction_at)
                month = max(month, _month(at if at.tzinfo else at.replace(tzinfo=UTC)))
            for key in (txn, original):
                if key is not None:
                    months[provider, key].add(month)
    return {k: (min(ms), max(ms)) for k, ms in months.items()}


def _kept(db: Database) -> Spans:
    with db.read() as s:
        return {(r.provider, r.txn_id): (r.first_month, r.last_month)
                for r in s.scalars(select(TransactionSpan))}


def _across(spans: Spans) -> Spans:
    """The spans of more than one month."""
    return {k: v for k, v in spans.items() if v[0] < v[1]}


def _vn(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=VN_TZ)


def _csv(rows: list[tuple[str, int, str, str]]) -> bytes:
    """A canonical settlement report: (transaction id, amount, transaction time, settled on)."""
    head = "provider_txn_id,amount,fee,transaction_at,settled_on,net_amount,reference\n"
    body = "".join(f"{txn},{amount},0,{at},{on},{amount},\n" for txn, amount, at, on in rows)
    return (head + body).encode()


def test_spans_follow_every_write(db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    jan, feb, mar, apr = (date(2026, m, 1) for m in (1, 2, 3, 4))
    # the last microsecond of January in Vietnam, settled on the first of February: a span
    w.pay(180000, txn="A", paid_at=_vn(2026, 1, 31, 23, 59, 59, 999999))
    w.settle("vnpay", "A", 180000, settled_on=date(2026, 2, 1))
    # the first instant of February (17:00 UTC on the 31st), settled in February: none
    b = w.pay(180000, txn="B", paid_at=_vn(2026, 2, 1, 0, 0, 0))
    w.settle("vnpay", "B", 180000, settled_on=date(2026, 2, 2))
    # a sale of March refunded in April: the refund line names it by its sale's id
    w.pay(90000, txn="C", paid_at=_vn(2026, 3, 10))
    w.settle("vnpay", "C", 90000, settled_on=date(2026, 3, 11))
    w.settle("vnpay", "RF-C", 90000, settled_on=date(2026, 4, 2), kind="refund",
             original_txn_id="C")
    # a transfer of January whose bank statement line (its bank reference) lies in February
    w.pay(180000, provider="sepay", txn="SE1", paid_at=_vn(2026, 1, 20),
          bank_reference="FT1")
    w.settle("sepay", "FT1", 180000, settled_on=date(2026, 2, 3))
    # a line settled in January whose transaction lies in February (Vietnam time) is February's
    w.settle("momo", "M1", 50000, settled_on=date(2026, 1, 31),
             transaction_at=_vn(2026, 2, 1, 0, 30))
    w.pay(50000, provider="momo", txn="M1", paid_at=_vn(2026, 2, 1, 0, 30))
    kept = _kept(db)
    assert kept == _expected(db)
    assert _across(kept) == {
        ("vnpay", "A"): (jan, feb), ("vnpay", "C"): (mar, apr), ("sepay", "FT1"): (jan, feb)}
    assert kept[("vnpay", "B")] == kept[("momo", "M1")] == (feb, feb)
    assert kept[("vnpay", "RF-C")] == (apr, apr) and kept[("sepay", "SE1")] == (jan, jan)

    # the bulk importer: a January payment settled in March, a new id in two months at once
    w.pay(70000, txn="E", paid_at=_vn(2026, 1, 15))
    import_settlement(db, clock, "vnpay", _csv([
        ("E", 70000, "2026-01-15 10:00:00", "2026-03-01"),
        ("F", 60000, "2026-02-27 09:00:00", "2026-02-28"),
        ("F", 60000, "2026-03-02 09:00:00", "2026-03-03"),
    ]), "bulk.csv", actor="test")
    kept = _kept(db)
    assert kept == _expected(db)
    assert kept[("vnpay", "E")] == (jan, mar) and kept[("vnpay", "F")] == (feb, mar)

    # SQL by hand: a payment moved to April, a bank reference set later, a line's dates
    g = w.pay(180000, provider="sepay", txn="SE2", paid_at=_vn(2026, 1, 25))
    w.settle("sepay", "FT2", 180000, settled_on=date(2026, 3, 5))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET paid_at = :at WHERE id = :i"),
                     {"at": sqlite_datetime(_vn(2026, 4, 5)) if db.dialect == "sqlite"
                      else _vn(2026, 4, 5), "i": b})
        conn.execute(text("UPDATE payments SET bank_reference = 'FT2' WHERE id = :i"),
                     {"i": g})
        conn.execute(text("UPDATE settlement_lines SET settled_on = :on "
                          "WHERE provider_txn_id = 'RF-C'"), {"on": date(2026, 3, 20)})
        # a line's transaction time moved into April, a line given another id and another
        # sale's id
        conn.execute(text("UPDATE settlement_lines SET transaction_at = :at "
                          "WHERE provider_txn_id = 'M1'"),
                     {"at": sqlite_datetime(_vn(2026, 4, 1, 0, 5)) if db.dialect == "sqlite"
                      else _vn(2026, 4, 1, 0, 5)})
        conn.execute(text("UPDATE settlement_lines SET provider_txn_id = 'E2', "
                          "original_txn_id = 'SE9' WHERE provider_txn_id = 'E'"))
    kept = _kept(db)
    assert kept[("momo", "M1")] == (feb, apr)
    assert kept[("vnpay", "E2")] == kept[("vnpay", "SE9")] == (mar, mar)
    assert kept[("vnpay", "B")] == (feb, apr)
    assert kept[("sepay", "FT2")] == (jan, mar)
    # the refund moved back into March: the spans it named are widened, never narrowed
    assert kept[("vnpay", "C")] == kept[("vnpay", "RF-C")] == (mar, apr)
    expected = _expected(db)
    assert expected[("vnpay", "C")] == expected[("vnpay", "RF-C")] == (mar, mar)
    # (and E, whose line took another id: its span keeps March)
    assert kept[("vnpay", "E")] == (jan, mar) and expected[("vnpay", "E")] == (jan, jan)
    moved = {("vnpay", "C"), ("vnpay", "RF-C"), ("vnpay", "E")}
    assert ({k: v for k, v in kept.items() if k not in moved}
            == {k: v for k, v in expected.items() if k not in moved})

    # a row deleted leaves its span; the migration's backfill computes them from the rows
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM settlement_lines WHERE provider_txn_id = 'A'"))
    assert _kept(db)[("vnpay", "A")] == (jan, feb)
    db.dispose()
    command.downgrade(alembic_config(db.url), "0039_fee_totals_by_writer")
    upgrade_database(db.url)
    db.dispose()
    rebuilt = _kept(db)
    assert rebuilt == _expected(db)
    assert rebuilt[("vnpay", "A")] == (jan, jan) and rebuilt[("vnpay", "C")] == (mar, mar)
    assert rebuilt[("vnpay", "E")] == (jan, jan)


def test_the_triggers_stand_at_the_head(db: Database) -> None:
    """Both tables keep their insert and update triggers on either database (a later
    migration that rebuilt a table would drop them)."""
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            names = set(conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        else:
            names = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert {f"{t}_spans_{v}" for t in ("payments", "settlement_lines")
            for v in ("insert", "update")} <= names


def _spans_command(*args: str) -> Result:
    return CliRunner().invoke(cli, ["db", "spans", *args], catch_exceptions=False)


def test_a_gap_left_by_writes_without_triggers_is_found_and_repaired(
        env: dict[str, str], db: Database, clock: FixedClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`recon db spans` checks the table against every payment and line and `--repair`
    widens what is missing or too narrow, in ranges of ids (here of two rows, so that a
    transaction's rows fall into different ranges), never narrowing a span."""
    monkeypatch.setattr(spans, "RANGE", 2)
    w = World(db, clock)
    jan, feb, mar = (date(2026, m, 1) for m in (1, 2, 3))
    w.pay(180000, txn="A", paid_at=_vn(2026, 1, 31))
    w.pay(90000, txn="B", paid_at=_vn(2026, 1, 10))
    w.pay(50000, provider="sepay", txn="SE1", paid_at=_vn(2026, 1, 20), bank_reference="FT1")
    # (B's two lines three ids apart: in different ranges of two)
    w.settle("vnpay", "B", 90000, settled_on=date(2026, 1, 11))
    w.settle("sepay", "FT1", 50000, settled_on=date(2026, 2, 3))
    w.settle("vnpay", "A", 180000, settled_on=date(2026, 2, 1))
    w.settle("vnpay", "RF-B", 90000, settled_on=date(2026, 3, 2), kind="refund",
             original_txn_id="B")
    assert _spans_command().exit_code == 0
    # a span wider than its rows (one of them deleted since) is no gap: never narrowed
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE transaction_spans SET first_month = :a, last_month = :b "
                          "WHERE txn_id = 'SE1'"), {"a": date(2025, 12, 1), "b": mar})
    wide = {("sepay", "SE1"): (date(2025, 12, 1), mar)}
    # rows written with the triggers off (PostgreSQL: a replica's apply; SQLite has no such
    # switch): spans missing, or too narrow
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(text("UPDATE settlement_lines SET settled_on = :on "
                              "WHERE provider_txn_id = 'FT1'"), {"on": date(2026, 3, 3)})
        else:
            conn.execute(text("UPDATE transaction_spans SET first_month = :m "
                              "WHERE txn_id = 'FT1'"), {"m": feb})
        conn.execute(text("DELETE FROM transaction_spans WHERE txn_id = 'A'"))
        conn.execute(text("UPDATE transaction_spans SET first_month = :m WHERE txn_id = 'B'"),
                     {"m": mar})
    broken = _kept(db)
    assert broken != {**_expected(db), **wide}

    found = _spans_command()
    assert found.exit_code == 1
    assert "3 transactions have a span missing or too narrow" in found.output
    assert "recon db spans --repair" in found.output
    assert _kept(db) == broken  # a check writes nothing

    repaired = _spans_command("--repair", "--json")
    assert repaired.exit_code == 0
    report = json.loads(repaired.stdout.splitlines()[0])
    assert report["repaired"] is True and report["total"] == 3
    assert report["rows"] == {"payments": 3, "settlement_lines": 4}
    kept = _kept(db)
    assert kept == {**_expected(db), **wide}
    assert kept[("vnpay", "A")] == (jan, feb) and kept[("vnpay", "B")] == (jan, mar)
    assert kept[("sepay", "FT1")] == (jan, mar if db.dialect == "postgresql" else feb)
    assert _spans_command().exit_code == 0
    again = _spans_command("--repair", "--json")
    assert json.loads(again.stdout.splitlines()[0])["total"] == 0
    assert _kept(db) == kept
