"""owed parts: what each dossier contributes to what is owed the budget, kept between runs

The remittance pass needs, per Vietnam month, collector, kind, tiểu mục and retention rate,
what the succeeded payments collected (``recon.review.declarations.owed``: one query over every
payment and fee line). These tables keep it between runs (``recon/review/owed_store.py``):

- ``owed_parts``: one row per dossier and (month, collector, kind, budget_code, retention_bp),
  its amount (> 0); ``budget_code`` '' when the fee line has none, ``retention_bp`` 0 for a
  lệ phí or a phí without a rate (as the declarations read them);
- ``owed_totals``: their sums per (month, collector, kind, budget_code, retention_bp), kept by
  delta (new parts less old parts of the dossiers recomputed);
- ``owed_state``: one row, the change mark the tables are current to (every change since is
  stamped at or above it) and the agency codes they were computed with. No row: never built;
  the next run builds them (nothing is backfilled here).

Derived data only: no change triggers (nothing reads them by ``change_seq``), no foreign keys.

Also ``ix_fee_lines_collected_elsewhere``, a partial index of the fee lines that name a
collector: the forwarding and remittance passes read those in every run, and found them by
scanning every fee line.

Revision ID: 0034_owed_parts
Revises: 0033_fee_invoice_mismatch
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0034_owed_parts'
down_revision: str | None = '0033_fee_invoice_mismatch'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ('month', 'collector', 'kind', 'budget_code', 'retention_bp')


def _key_columns() -> list[sa.Column[object]]:
    return [sa.Column('month', sa.Integer(), nullable=False),
            sa.Column('collector', sa.String(length=40), nullable=False),
            sa.Column('kind', sa.String(length=10), nullable=False),
            sa.Column('budget_code', sa.String(length=4), nullable=False),
            sa.Column('retention_bp', sa.Integer(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'owed_parts',
        sa.Column('dossier_id', sa.BigInteger(), nullable=False),
        *_key_columns(),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_owed_parts_amount_positive')),
        sa.PrimaryKeyConstraint('dossier_id', *KEY, name=op.f('pk_owed_parts')),
    )
    op.create_table(
        'owed_totals',
        *_key_columns(),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_owed_totals_amount_positive')),
        sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_owed_totals')),
    )
    op.create_table(
        'owed_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('change_mark', sa.BigInteger(), nullable=False),
        sa.Column('agencies', sa.Text(), nullable=False),
        sa.Column('built_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_owed_state_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_owed_state')),
    )


    op.create_index('ix_fee_lines_collected_elsewhere', 'fee_lines', ['dossier_id'],
                    postgresql_where=sa.text('collector_code IS NOT NULL'),
                    sqlite_where=sa.text('collector_code IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_fee_lines_collected_elsewhere', table_name='fee_lines')
    op.drop_table('owed_state')
    op.drop_table('owed_totals')
    op.drop_table('owed_parts')
