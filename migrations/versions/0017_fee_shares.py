"""fee shares: who collects each fee line, its retained share and its budget sub-item

Adds three nullable columns to ``fee_lines`` (issue 18 §1, docs/treasury.md):

- ``collector_code``: the collecting organisation (the agency whose procedure it is); NULL
  means the dossier's own agency collects it (receiver = collector, nothing to forward);
- ``retention_bp``: for a phí, the retained share (tỷ lệ để lại) in basis points, 0..10000;
  a lệ phí is remitted in full and keeps NULL or 0 (Law 97/2015 Art. 13);
- ``budget_code``: the budget sub-item (tiểu mục of the Mục lục NSNN, e.g. 2716, 2771).

Plain ``ADD COLUMN`` (no batch copy on SQLite: the table carries 0009's triggers). The rules on
the values (ranges, lệ phí never retained) are the intake's, which refuses bad input.

Revision ID: 0017_fee_shares
Revises: 0016_fee_contracts
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_fee_shares'
down_revision: str | None = '0016_fee_contracts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('collector_code', 'retention_bp', 'budget_code')


def upgrade() -> None:
    op.add_column('fee_lines', sa.Column('collector_code', sa.String(40), nullable=True))
    op.add_column('fee_lines', sa.Column('retention_bp', sa.Integer(), nullable=True))
    op.add_column('fee_lines', sa.Column('budget_code', sa.String(4), nullable=True))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        if op.get_bind().dialect.name == 'sqlite':  # SQLite >= 3.35; no table copy
            op.execute(f'ALTER TABLE fee_lines DROP COLUMN {column}')
        else:
            op.drop_column('fee_lines', column)
