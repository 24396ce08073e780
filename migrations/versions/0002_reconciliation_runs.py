"""reconciliation runs: within_tolerance, auto-resolved reasons, settlement line index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('within_tolerance', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('auto_resolved_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('auto_resolved_reason_en', sa.Text(), nullable=True))
        batch_op.create_index('ix_discrepancies_settlement_line_id', ['settlement_line_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        batch_op.drop_index('ix_discrepancies_settlement_line_id')
        batch_op.drop_column('auto_resolved_reason_en')
        batch_op.drop_column('auto_resolved_reason')
        batch_op.drop_column('within_tolerance')
