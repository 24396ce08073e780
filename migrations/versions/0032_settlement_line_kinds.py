"""settlement line kinds: a sale or a refund, and the sale a refund reverses (issue 17)

``settlement_lines`` gains ``kind`` (NOT NULL, default ``'sale'``, CHECK ``sale``/``refund``:
every line imported before is a sale, as the engine took it) and ``original_txn_id``
(nullable: for a refund line, the provider's id of the sale it reverses when the file gives
one; the engine pairs a refund with its payment on ``original_txn_id``, else on the line's own
``provider_txn_id``). An index on ``(provider, original_txn_id)`` lets a run read a
payment's refund lines.

Plain ADD COLUMN on both databases (the CHECK is the column's own on SQLite, which cannot add
a table constraint without a batch copy): no batch rebuild, so the change-stamp triggers of
0009 on ``settlement_lines`` stay. Downgrade drops the index and both columns (refund lines
are then read as sales again, as before this migration).

Revision ID: 0032_settlement_line_kinds
Revises: 0031_receipt_figures
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0032_settlement_line_kinds'
down_revision: str | None = '0031_receipt_figures'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = 'ck_settlement_lines_kind_known'
INDEX = 'ix_settlement_lines_provider_original'


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(
            "ALTER TABLE settlement_lines ADD COLUMN kind VARCHAR(10) DEFAULT 'sale' NOT NULL "
            f"CONSTRAINT {CHECK} CHECK (kind IN ('sale', 'refund'))")
    else:
        op.add_column('settlement_lines', sa.Column(
            'kind', sa.String(length=10), server_default='sale', nullable=False))
        op.create_check_constraint(CHECK, 'settlement_lines', "kind IN ('sale', 'refund')")
    op.add_column('settlement_lines', sa.Column('original_txn_id', sa.String(length=64),
                                                nullable=True))
    op.create_index(INDEX, 'settlement_lines', ['provider', 'original_txn_id'], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='settlement_lines')
    op.drop_column('settlement_lines', 'original_txn_id')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(CHECK, 'settlement_lines', type_='check')
    op.drop_column('settlement_lines', 'kind')
