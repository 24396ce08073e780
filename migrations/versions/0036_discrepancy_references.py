"""discrepancies: the run's subject and run references without foreign keys (issue 15)

A finding names the dossier, payment, settlement line and runs it is about. As foreign keys,
PostgreSQL checked each of those on every inserted finding, one trigger and one index probe per
reference, and took a ``FOR KEY SHARE`` row lock on the payment, line, dossier and run named:
at a million dossiers the 45,000 findings of a first full run spent 0.93 s of their 1.47 s
insert in those checks (measured with ``INSERT … SELECT`` of the same rows, with and without
the constraints), and the locks dirtied pages of the big tables.

Findings are derived: the engine writes only ids it read in the run's own snapshot, and none
of the referenced tables ever loses a row (nothing in recon deletes a dossier, payment,
settlement line or run; "nothing is ever lost"). So the references stay indexed columns
without constraints; the integrity they held is tested instead
(``tests/reconcile/test_discrepancy_references.py``: after runs over every kind, every
reference names an existing row, on both databases). ``assigned_to_id`` keeps its key to
``users`` (set by people, one row at a time).

SQLite copies the table to drop a constraint (batch mode), which drops its triggers: 0009's
stamp is made again, as 0033 does.

Revision ID: 0036_discrepancy_references
Revises: 0035_fee_line_indexes
Create Date: 2026-12-06 23:10:00
"""

# ruff: noqa: S608 - SQL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0036_discrepancy_references'
down_revision: str | None = '0035_fee_line_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (constraint, column, referred table)
_KEYS: tuple[tuple[str, str, str], ...] = (
    ('fk_discrepancies_dossier_id_dossiers', 'dossier_id', 'dossiers'),
    ('fk_discrepancies_payment_id_payments', 'payment_id', 'payments'),
    ('fk_discrepancies_settlement_line_id_settlement_lines', 'settlement_line_id',
     'settlement_lines'),
    ('fk_discrepancies_first_run_id_recon_runs', 'first_run_id', 'recon_runs'),
    ('fk_discrepancies_last_run_id_recon_runs', 'last_run_id', 'recon_runs'),
)
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def _stamp_again() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite's batch mode copies the table and drops its triggers: 0009's stamp again
        op.execute("DROP TRIGGER IF EXISTS discrepancies_change_seq")
        op.execute(
            "CREATE TRIGGER discrepancies_change_seq AFTER UPDATE OF status ON discrepancies "
            "FOR EACH ROW WHEN NEW.status = 'open' AND OLD.status <> 'open' BEGIN "
            f"UPDATE discrepancies SET change_seq = {COUNTER} WHERE id = NEW.id; END"
        )


def upgrade() -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        for name, _column, _table in _KEYS:
            batch_op.drop_constraint(name, type_='foreignkey')
    _stamp_again()


def downgrade() -> None:
    bind = op.get_bind()
    for _name, column, table in _KEYS:
        dangling = bind.exec_driver_sql(
            f"SELECT COUNT(*) FROM discrepancies d WHERE d.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.id = d.{column})").scalar()
        if dangling:
            raise RuntimeError(f"cannot downgrade: {dangling} discrepancies name a {column} "
                               f"missing from {table}; correct them first")
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        for name, column, table in _KEYS:
            batch_op.create_foreign_key(name, table, [column], ['id'])
    _stamp_again()
