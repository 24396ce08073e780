"""dossiers.fee_total: what a dossier is assessed, kept by the database (issue 15)

A full run read every dossier with the sum of its fee lines: a join and an aggregate over every
fee line (1.86 s of the server's time at 1,000,000 dossiers and 2,000,000 fee lines, against
0.12 s to read the dossiers alone), the costliest query of the run, which a run with closed
months behind repeated under its keys. ``fee_total`` holds that sum, kept by triggers on
``fee_lines`` whatever writes them (the ORM, the bulk importer's ``COPY``, a reassessment that
deletes and inserts lines, SQL by hand):

- PostgreSQL: statement-level ``AFTER INSERT``/``UPDATE``/``DELETE`` triggers with transition
  tables, so a ``COPY`` of a million fee lines moves each dossier once, by one set-based
  ``UPDATE`` (per-row triggers would update a dossier once per line);
- SQLite: per-row triggers (in-process, cheap).

The backfill does not stamp ``change_seq`` (0009's trigger is off during it: the data did not
change); later moves do, through ``dossiers``' own trigger (a dossier reassessed changed).
``tests/foundation/test_fee_totals.py`` holds the column to ``SUM(fee_lines.amount)`` through
every kind of write, and the runner's property test checks it after each step.

A later migration that copies ``fee_lines`` or ``dossiers`` in SQLite batch mode drops these
triggers and must make them again (as 0033 does for 0009's).

Revision ID: 0037_dossier_fee_totals
Revises: 0036_discrepancy_references
Create Date: 2026-12-06 23:40:00
"""


from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0037_dossier_fee_totals'
down_revision: str | None = '0036_discrepancy_references'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: move each dossier named in the set ``{rows}`` (dossier_id, amount) by its amounts' sum
_PG_MOVE = ("UPDATE dossiers d SET fee_total = d.fee_total + s.delta FROM "
            "(SELECT dossier_id, SUM(amount) AS delta FROM ({rows}) x GROUP BY dossier_id) s "
            "WHERE d.id = s.dossier_id AND s.delta <> 0")
_PG_TRIGGERS = (
    ("fee_lines_total_insert", "INSERT", "REFERENCING NEW TABLE AS added",
     "SELECT dossier_id, amount FROM added"),
    ("fee_lines_total_delete", "DELETE", "REFERENCING OLD TABLE AS gone",
     "SELECT dossier_id, -amount AS amount FROM gone"),
    ("fee_lines_total_update", "UPDATE", "REFERENCING OLD TABLE AS before NEW TABLE AS after",
     "SELECT dossier_id, amount FROM after UNION ALL SELECT dossier_id, -amount AS amount FROM before"),
)
_SQLITE_TRIGGERS = (
    ("fee_lines_total_insert", "AFTER INSERT ON fee_lines",
     "UPDATE dossiers SET fee_total = fee_total + NEW.amount WHERE id = NEW.dossier_id;"),
    ("fee_lines_total_delete", "AFTER DELETE ON fee_lines",
     "UPDATE dossiers SET fee_total = fee_total - OLD.amount WHERE id = OLD.dossier_id;"),
    ("fee_lines_total_update", "AFTER UPDATE OF amount, dossier_id ON fee_lines",
     "UPDATE dossiers SET fee_total = fee_total - OLD.amount WHERE id = OLD.dossier_id; "
     "UPDATE dossiers SET fee_total = fee_total + NEW.amount WHERE id = NEW.dossier_id;"),
)
_BACKFILL = ("UPDATE dossiers SET fee_total = (SELECT SUM(f.amount) FROM fee_lines f "
             "WHERE f.dossier_id = dossiers.id) "
             "WHERE EXISTS (SELECT 1 FROM fee_lines f WHERE f.dossier_id = dossiers.id)")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    op.add_column('dossiers', sa.Column('fee_total', sa.BigInteger(), nullable=False,
                                        server_default='0'))
    if pg:
        op.execute("ALTER TABLE dossiers DISABLE TRIGGER dossiers_change_seq")
        op.execute(_BACKFILL)
        op.execute("ALTER TABLE dossiers ENABLE TRIGGER dossiers_change_seq")
        for name, verb, tables, rows in _PG_TRIGGERS:
            op.execute(f"CREATE FUNCTION recon_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {_PG_MOVE.format(rows=rows)}; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER {name} AFTER {verb} ON fee_lines {tables} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION recon_{name}()")
    else:
        # SQLite's stamp trigger (0009) fires on any UPDATE of a dossier: it is set aside
        # for the backfill and made again as it was
        bind = op.get_bind()
        stamp = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'dossiers_change_seq_update'").scalar()
        if stamp is not None:
            op.execute("DROP TRIGGER dossiers_change_seq_update")
        op.execute(_BACKFILL)
        if stamp is not None:
            op.execute(stamp)
        for name, when, body in _SQLITE_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW BEGIN {body} END")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    for name, *_rest in _PG_TRIGGERS:
        if pg:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON fee_lines")
            op.execute(f"DROP FUNCTION IF EXISTS recon_{name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if pg:
        op.drop_column('dossiers', 'fee_total')
    else:  # SQLite >= 3.35; no table copy (that would drop 0009's triggers)
        op.execute('ALTER TABLE dossiers DROP COLUMN fee_total')
