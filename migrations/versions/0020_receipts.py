"""receipts: the e-receipt number counters and the register (docs/receipts.md)

``receipt_counters`` holds the last number of each (form code, series); ``receipts`` holds
every number ever drawn, reserved, issued or spoiled, unique per (form code, series, number).

Revision ID: 0020_receipts
Revises: 0019_scope
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0020_receipts'
down_revision: str | None = '0019_scope'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'receipt_counters',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('form_code', sa.String(length=16), nullable=False),
        sa.Column('series', sa.String(length=16), nullable=False),
        sa.Column('last_number', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('last_number BETWEEN 0 AND 99999999',
                           name=op.f('ck_receipt_counters_last_number_range')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_counters')),
        sa.UniqueConstraint('form_code', 'series',
                            name=op.f('uq_receipt_counters_form_code_series')),
    )
    op.create_table(
        'receipts',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('form_code', sa.String(length=16), nullable=False),
        sa.Column('series', sa.String(length=16), nullable=False),
        sa.Column('number', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('drawn_by', sa.String(length=100), nullable=False),
        sa.Column('drawn_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('payment_id', BIGINT_PK, nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=True),
        sa.Column('signed_at', recon.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('document', sa.Text(), nullable=True),
        sa.Column('spoiled_reason', sa.Text(), nullable=True),
        sa.Column('spoiled_at', recon.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('number BETWEEN 1 AND 99999999',
                           name=op.f('ck_receipts_number_range')),
        sa.CheckConstraint("status IN ('reserved', 'issued', 'spoiled')",
                           name=op.f('ck_receipts_status_known')),
        sa.CheckConstraint("status <> 'spoiled' OR spoiled_reason IS NOT NULL",
                           name=op.f('ck_receipts_spoiled_has_reason')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'],
                                name=op.f('fk_receipts_payment_id_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
        sa.UniqueConstraint('form_code', 'series', 'number',
                            name=op.f('uq_receipts_form_code_series_number')),
    )
    op.create_index('ix_receipts_payment_id', 'receipts', ['payment_id'])
    op.create_index('ix_receipts_issued_on', 'receipts', ['issued_on'])


def downgrade() -> None:
    in_use = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM receipts")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: the receipt register is not empty; receipts "
                           "are kept for the retention period and are never deleted")
    op.drop_index('ix_receipts_issued_on', table_name='receipts')
    op.drop_index('ix_receipts_payment_id', table_name='receipts')
    op.drop_table('receipts')
    op.drop_table('receipt_counters')
