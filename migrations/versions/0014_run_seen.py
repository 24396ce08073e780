"""recon_runs.seen_open: a run that saw every open discrepancy, recorded once on its row

A full run used to rewrite every finding it found again only to move its ``last_run_id``. Now
a finding is written only when it changes (new, amounts or words changed, reopened,
auto-resolved), so ``discrepancies.last_run_id`` is the last run that *wrote* it, and a run
that judged every discrepancy left open after it (a full run) says so once, on its own row:
``seen_open`` true. The last run that saw an open discrepancy is the greater of its
``last_run_id`` and the latest successful run with ``seen_open``
(:func:`recon.models.reconciliation.last_seen_run`).

Two indexes on ``settlement_lines`` (``settled_on``, ``transaction_at``): a full run reads
the open months only, and finds the first month with data (``MIN``) and the lines dated in the
open months through them.

Runs recorded before this migration keep NULL (they rewrote their findings' ``last_run_id``).

Revision ID: 0014_run_seen
Revises: 0013_sessions
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_run_seen'
down_revision: str | None = '0013_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('recon_runs', sa.Column('seen_open', sa.Boolean(), nullable=True))
    op.create_index('ix_recon_runs_seen_open', 'recon_runs', ['id'],
                    postgresql_where=sa.text('seen_open'), sqlite_where=sa.text('seen_open'))
    op.create_index('ix_settlement_lines_settled_on', 'settlement_lines', ['settled_on'])
    op.create_index('ix_settlement_lines_transaction_at', 'settlement_lines', ['transaction_at'])


def downgrade() -> None:
    op.drop_index('ix_settlement_lines_transaction_at', table_name='settlement_lines')
    op.drop_index('ix_settlement_lines_settled_on', table_name='settlement_lines')
    op.drop_index('ix_recon_runs_seen_open', table_name='recon_runs')
    # a plain DROP COLUMN (SQLite >= 3.35 has it): batch mode would copy recon_runs, which
    # the discrepancies' foreign keys refer to
    op.execute("ALTER TABLE recon_runs DROP COLUMN seen_open")
