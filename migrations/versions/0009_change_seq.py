"""change_seq: an order of changes the database itself keeps, for incremental runs

Every row the reconciliation engine reads carries ``change_seq``, stamped by the database on
every INSERT and UPDATE (whatever the writer, whatever its clock); a run records in
``recon_runs.change_mark`` the mark below which it has seen every change, and the next
incremental run reads what is stamped at or above it (see ``recon/engine/changes.py``).

- PostgreSQL: the stamp is the writing transaction's id (``pg_current_xact_id()``, an xid8,
  through text to bigint): a column default for inserts (``COPY`` too, no trigger call) and a
  ``BEFORE INSERT OR UPDATE`` row trigger for the rest. A run's mark is the ``xmin`` of a
  snapshot taken before it loads: every transaction below it had finished, so the load saw it.
- SQLite (one writer at a time): a one-row counter, ``recon_change_counter``, which each run
  bumps when it opens; ``AFTER INSERT`` / ``AFTER UPDATE`` triggers stamp the counter's value.
  (The table exists on PostgreSQL too, unused, so both schemas match the models.)

Tables: ``dossiers``, ``fee_lines`` (deleting a fee line, as a reassessment does, stamps its
dossier), ``payment_intents``, ``payments``, ``settlement_lines``, and ``discrepancies``, whose
stamp moves only when a discrepancy becomes ``open`` again (a reopening, by hand or by a run):
the findings a run writes are not changes of the data. Each has an index on ``change_seq``.
Rows from before this migration keep ``NULL`` (older than any mark); runs recorded before it
have no mark, and the first run after it is a full one.

Revision ID: 0009_change_seq
Revises: 0006
Create Date: 2026-12-06 05:00:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_change_seq'
down_revision: str | None = '0008_kinds_check'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_TABLES = ('dossiers', 'fee_lines', 'payment_intents', 'payments', 'settlement_lines')
XID = "(pg_current_xact_id()::text::bigint)"
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        'recon_change_counter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_recon_change_counter_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recon_change_counter')),
    )
    op.execute("INSERT INTO recon_change_counter (id, value) VALUES (1, 1)")
    # plain ADD COLUMN (no batch rebuild: that would drop the tables' triggers and FKs'
    # referents); nullable, so a catalogue change only on PostgreSQL
    for table in (*DATA_TABLES, 'discrepancies'):
        op.add_column(table, sa.Column('change_seq', sa.BigInteger(), nullable=True))
        op.create_index(f'ix_{table}_change_seq', table, ['change_seq'], unique=False)
    op.add_column('recon_runs', sa.Column('change_mark', sa.BigInteger(), nullable=True))
    if pg:
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION recon_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.change_seq := {XID}; RETURN NEW; END $$"
    )
    for table in DATA_TABLES:
        # new rows get the default; the trigger stamps updates (and inserts that name a value)
        op.execute(f"ALTER TABLE {table} ALTER COLUMN change_seq SET DEFAULT {XID}")
        op.execute(
            f"CREATE TRIGGER {table}_change_seq BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW WHEN (NEW.change_seq IS DISTINCT FROM {XID}) "
            "EXECUTE FUNCTION recon_stamp_change()"
        )
    op.execute(
        "CREATE TRIGGER discrepancies_change_seq BEFORE UPDATE ON discrepancies "
        "FOR EACH ROW WHEN (NEW.status = 'open' AND OLD.status <> 'open') "
        "EXECUTE FUNCTION recon_stamp_change()"
    )
    # a reassessment replaces fee lines: their dossier changed
    op.execute(
        "CREATE FUNCTION recon_fee_lines_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN UPDATE dossiers SET change_seq = {XID} "
        "WHERE id IN (SELECT dossier_id FROM gone) "
        f"AND change_seq IS DISTINCT FROM {XID}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER fee_lines_deleted AFTER DELETE ON fee_lines "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        "EXECUTE FUNCTION recon_fee_lines_deleted()"
    )


def _sqlite_triggers() -> None:
    # each trigger stamps only a row not stamped with the current value yet, so it never
    # re-fires itself even with PRAGMA recursive_triggers on
    for table in DATA_TABLES:
        for verb in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER {table}_change_seq_{verb.lower()} AFTER {verb} ON {table} "
                f"FOR EACH ROW WHEN NEW.change_seq IS NOT {COUNTER} BEGIN "
                f"UPDATE {table} SET change_seq = {COUNTER} WHERE id = NEW.id; END"
            )
    op.execute(
        "CREATE TRIGGER discrepancies_change_seq AFTER UPDATE OF status ON discrepancies "
        "FOR EACH ROW WHEN NEW.status = 'open' AND OLD.status <> 'open' BEGIN "
        f"UPDATE discrepancies SET change_seq = {COUNTER} WHERE id = NEW.id; END"
    )
    op.execute(
        "CREATE TRIGGER fee_lines_deleted AFTER DELETE ON fee_lines FOR EACH ROW BEGIN "
        f"UPDATE dossiers SET change_seq = {COUNTER} WHERE id = OLD.dossier_id "
        f"AND change_seq IS NOT {COUNTER}; END"
    )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS fee_lines_deleted ON fee_lines")
        op.execute("DROP TRIGGER IF EXISTS discrepancies_change_seq ON discrepancies")
        for table in DATA_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq ON {table}")
        op.execute("DROP FUNCTION IF EXISTS recon_fee_lines_deleted()")
        op.execute("DROP FUNCTION IF EXISTS recon_stamp_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS fee_lines_deleted")
        op.execute("DROP TRIGGER IF EXISTS discrepancies_change_seq")
        for table in DATA_TABLES:
            for verb in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq_{verb}")
    op.drop_column('recon_runs', 'change_mark')
    for table in (*DATA_TABLES, 'discrepancies'):
        op.drop_index(f'ix_{table}_change_seq', table_name=table)
        op.drop_column(table, 'change_seq')
    op.drop_table('recon_change_counter')
