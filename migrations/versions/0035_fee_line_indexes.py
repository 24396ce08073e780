"""partial indexes for the few rows every run reads: fee lines under a deposit rule, refunded
payments (issue 15)

Every run's deposit pass reads the dossiers with a phí under a deposit rule (``deposit_period
IS NOT NULL``). Without an index that read scanned every fee line (about 0.19 s a scan at
2,000,000 lines on PostgreSQL, twice a run, incremental runs included); a partial index on
``dossier_id`` holds only the lines concerned (0034 has the same for the lines another
organisation collects, the forwarding and remittance passes' read). The payout
pass reads the refunded payments of the providers that pay in batches (its chargebacks): a
scan of every payment (0.09 s at 1M), now a partial index on ``provider``.

Plain CREATE INDEX on both databases (SQLite supports partial indexes), so no table is copied
and the tables' change triggers stay.

Revision ID: 0035_fee_line_indexes
Revises: 0034_owed_parts
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0035_fee_line_indexes'
down_revision: str | None = '0034_owed_parts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (("ix_fee_lines_deposit_rule", "fee_lines", "dossier_id",
             "deposit_period IS NOT NULL"),
            ("ix_payments_refunded", "payments", "provider", "status = 'refunded'"))


def upgrade() -> None:
    for name, table, column, where in _INDEXES:
        op.create_index(name, table, [column],
                        postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, table, _column, _where in _INDEXES:
        op.drop_index(name, table_name=table)
