"""receipt lookup: each receipt's public lookup code, and the failed lookups per address

``receipts.lookup_code`` is the random code printed on a receipt (``MTCuu`` in its XML) by
which a citizen looks it up without logging in; unique. Receipts issued before this revision
get theirs from their signed XML. ``receipt_lookup_failures`` counts wrong codes per client
address, for the lookup's rate limit (docs/receipts.md).

Revision ID: 0025_receipt_lookup
Revises: 0024_receipt_kinds
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0025_receipt_lookup'
down_revision: str | None = '0024_receipt_kinds'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_MTCUU = re.compile(r"<MTCuu>([A-Z0-9]{10,16})</MTCuu>")


def upgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lookup_code', sa.String(length=16), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, document FROM receipts "
                                "WHERE document IS NOT NULL")).all()
    seen: set[str] = set()
    for receipt_id, document in rows:
        found = _MTCUU.search(document or "")
        if found and found.group(1) not in seen:
            seen.add(found.group(1))
            bind.execute(sa.text("UPDATE receipts SET lookup_code = :code WHERE id = :id"),
                         {"code": found.group(1), "id": receipt_id})
    op.create_index('ux_receipts_lookup_code', 'receipts', ['lookup_code'], unique=True)
    op.create_table(
        'receipt_lookup_failures',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('attempted_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_lookup_failures')),
    )
    op.create_index('ix_receipt_lookup_failures_client', 'receipt_lookup_failures',
                    ['client', 'attempted_at'])
    op.create_index('ix_receipt_lookup_failures_attempted_at', 'receipt_lookup_failures',
                    ['attempted_at'])


def downgrade() -> None:
    op.drop_index('ix_receipt_lookup_failures_attempted_at',
                  table_name='receipt_lookup_failures')
    op.drop_index('ix_receipt_lookup_failures_client', table_name='receipt_lookup_failures')
    op.drop_table('receipt_lookup_failures')
    op.drop_index('ux_receipts_lookup_code', table_name='receipts')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('lookup_code')
