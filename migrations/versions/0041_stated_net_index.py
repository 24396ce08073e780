"""a partial index of the settlement lines whose file stated another net (issue 15)

The payout pass reads, in every full run, the lines whose file stated a net other than amount
less fee (``stated_net``, migration 0016): the batches take the net the line computes. Such
lines are rare (a file contradicting itself), but the read walked every line of its window:
90 ms at 1,000,000 dossiers, 134 ms for a full run with closed months behind at 5,000,000,
where it waits on the run's critical path. The index holds those lines alone.

Plain CREATE INDEX on both databases (SQLite supports partial indexes), so no table is copied
and the table's change triggers stay.

Revision ID: 0041_stated_net_index
Revises: 0040_transaction_spans
Create Date: 2026-12-07 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0041_stated_net_index'
down_revision: str | None = '0040_transaction_spans'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "stated_net IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_settlement_lines_stated_net", "settlement_lines", ["settled_on"],
                    postgresql_where=sa.text(_WHERE), sqlite_where=sa.text(_WHERE))


def downgrade() -> None:
    op.drop_index("ix_settlement_lines_stated_net", table_name="settlement_lines")
