"""transaction_spans: the months each provider transaction's rows lie in (issue 15)

A full run with closed months behind reads the open months and, from before them, the payments
and settlement lines of the open months' transactions (a payment paid on the 31st whose line is
settled on the 1st, a refund of a sale of an earlier month, an id a provider used again). It
found those by joining the open months' keys (about two million at 1,000,000 open dossiers)
against every older row: a scan of the history on the server (4 s at 5,000,000 dossiers) and
a set of every open key built in Python, both growing with the years behind.

``transaction_spans`` holds one row per (provider, transaction id) named by a payment or a
settlement line: the first and last Vietnam month of the rows naming it. A transaction has rows
on both sides of a horizon exactly when its span crosses it; a partial index holds the spans of
more than one month (about 2 % of the transactions in the bench's history), so a run reads the
few across its horizon (3,400 of 5,000,000) and their rows by the existing indexes.

What a row contributes, at its month:
- a payment: its own id and its bank reference, at the month of ``paid_at``;
- a settlement line: its own id and its sale's id (``original_txn_id``), at the later of the
  months of ``settled_on`` and ``transaction_at`` (a line is in the open months when either is).

Kept by triggers whatever writes the rows (the ORM, a webhook's insert, the bulk importer's
``COPY``, SQL by hand; not a write with triggers disabled, such as ``session_replication_role
= replica`` or a logical replica's apply: ``recon db spans --repair`` widens what they left
out), each an upsert on the primary key that widens a
span, never narrows it
(a row deleted or moved away leaves its span as it was: a run may read a few rows more than it
needs, never fewer). They never read ``payments`` or ``settlement_lines``: no plan of theirs
depends on those tables' statistics, and a webhook's insert costs one more index entry.
- PostgreSQL: statement-level ``AFTER INSERT`` triggers with transition tables (a ``COPY``
  upserts each transaction once) and row-level ``AFTER UPDATE OF`` the columns above;
- SQLite: row-level triggers for both.
Months are Vietnam's (UTC+7, as ``recon.clock.VN_TZ``).

A later migration that copies ``payments`` or ``settlement_lines`` in SQLite batch mode drops
these triggers and must make them again (``tests/foundation/test_migrations.py`` checks).

Revision ID: 0040_transaction_spans
Revises: 0039_fee_totals_by_writer
Create Date: 2026-12-07 11:30:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0040_transaction_spans'
down_revision: str | None = '0039_fee_totals_by_writer'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# a row's Vietnam month, as a date (its first day)
_PG_PAID = "date_trunc('month', {t}.paid_at AT TIME ZONE 'UTC' + interval '7 hours')::date"
_PG_LINE = ("GREATEST(date_trunc('month', {t}.settled_on::timestamp)::date, date_trunc('month', "
            "{t}.transaction_at AT TIME ZONE 'UTC' + interval '7 hours')::date)")
# (SQLite rounds fractional seconds to milliseconds: the seconds alone, so 23:59:59.9999 is
# not moved into the next day)
_SQLITE_PAID = "date(substr({t}.paid_at, 1, 19), '+7 hours', 'start of month')"
_SQLITE_LINE = ("max(date({t}.settled_on, 'start of month'), COALESCE(date(substr("
                "{t}.transaction_at, 1, 19), '+7 hours', 'start of month'), ''))")


def _named(month: str, rows: str, second: str) -> str:
    """(provider, txn_id, month) of every transaction the rows of ``rows`` name: their own id
    and, when set, the column ``second`` (a payment's bank reference, a line's sale's id)."""
    at = month.format(t="r")
    return (f"SELECT r.provider, r.provider_txn_id AS txn_id, {at} AS month FROM {rows} r "
            f"UNION ALL SELECT r.provider, r.{second}, {at} FROM {rows} r "
            f"WHERE r.{second} IS NOT NULL")


def _upsert(named: str, *, pg: bool) -> str:
    """Every transaction in ``named`` widened to its rows' months, in key order (two
    statements upserting the same transactions lock their rows in one order: no deadlock);
    the WHERE keeps SQLite's parser from reading the upsert's ON as a join's."""
    least, greatest = ("LEAST", "GREATEST") if pg else ("min", "max")
    return ("INSERT INTO transaction_spans (provider, txn_id, first_month, last_month) "
            f"SELECT provider, txn_id, MIN(month), MAX(month) FROM ({named}) n WHERE true "
            "GROUP BY provider, txn_id ORDER BY provider, txn_id "
            "ON CONFLICT (provider, txn_id) DO UPDATE SET "
            f"first_month = {least}(transaction_spans.first_month, excluded.first_month), "
            f"last_month = {greatest}(transaction_spans.last_month, excluded.last_month) "
            "WHERE excluded.first_month < transaction_spans.first_month "
            "OR excluded.last_month > transaction_spans.last_month")


#: (table, its second column naming a transaction, the columns a span is computed from: an
#: update of one of them moves it)
_TABLES = (
    ("payments", "bank_reference", ("provider", "provider_txn_id", "bank_reference", "paid_at")),
    ("settlement_lines", "original_txn_id", ("provider", "provider_txn_id", "original_txn_id",
                                             "settled_on", "transaction_at")),
)


def _triggers(pg: bool) -> None:
    paid, line = (_PG_PAID, _PG_LINE) if pg else (_SQLITE_PAID, _SQLITE_LINE)
    for table, second, columns in _TABLES:
        month = paid if table == "payments" else line
        new = "(SELECT " + ", ".join(f"NEW.{c} AS {c}" for c in columns) + ")"
        sources = {"insert": "added" if pg else new, "update": new}
        for verb, source in sources.items():
            named = _named(month, source, second)
            when = (f"AFTER INSERT ON {table}" if verb == "insert"
                    else f"AFTER UPDATE OF {', '.join(columns)} ON {table}")
            if not pg:
                op.execute(f"CREATE TRIGGER {table}_spans_{verb} {when} FOR EACH ROW "
                           f"BEGIN {_upsert(named, pg=False)}; END")
                continue
            op.execute(f"CREATE FUNCTION recon_{table}_spans_{verb}() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {_upsert(named, pg=True)}; "
                       "RETURN NULL; END $$")
            each = ("REFERENCING NEW TABLE AS added FOR EACH STATEMENT" if verb == "insert"
                    else "FOR EACH ROW")
            op.execute(f"CREATE TRIGGER {table}_spans_{verb} {when} {each} "
                       f"EXECUTE FUNCTION recon_{table}_spans_{verb}()")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    op.create_table(
        'transaction_spans',
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('txn_id', sa.String(length=64), nullable=False),
        sa.Column('first_month', sa.Date(), nullable=False),
        sa.Column('last_month', sa.Date(), nullable=False),
        sa.CheckConstraint('first_month <= last_month',
                           name=op.f('ck_transaction_spans_first_month_first')),
        sa.PrimaryKeyConstraint('provider', 'txn_id', name=op.f('pk_transaction_spans')),
    )
    op.create_index('ix_transaction_spans_across', 'transaction_spans', ['last_month'],
                    postgresql_where=sa.text('first_month < last_month'),
                    sqlite_where=sa.text('first_month < last_month'))
    # the triggers first: on PostgreSQL each takes a lock on its table that keeps writers
    # out until this migration commits, so no row is written between the backfill's read
    # and the triggers (writes wait for the backfill: about a minute at 5M payments)
    _triggers(pg)
    paid, line = (_PG_PAID, _PG_LINE) if pg else (_SQLITE_PAID, _SQLITE_LINE)
    op.execute(_upsert(_named(paid, "payments", "bank_reference") + " UNION ALL "
                       + _named(line, "settlement_lines", "original_txn_id"), pg=pg))


def downgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    for table, _second, _columns in _TABLES:
        for verb in ("insert", "update"):
            if pg:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_spans_{verb} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS recon_{table}_spans_{verb}()")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_spans_{verb}")
    op.drop_index('ix_transaction_spans_across', table_name='transaction_spans')
    op.drop_table('transaction_spans')
