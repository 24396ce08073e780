"""payment methods: ``payments.method`` and ``payments.card_foreign``

How the payer paid (a short code: ``qr``, ``domestic_card``, ``intl_card``, ``wallet``,
``bank_account`` or a card scheme such as ``visa``, ``napas``) and whether the card was issued
abroad, both as the provider's call reported them; NULL where it said nothing (every payment
recorded before this revision). A fee contract's ``channel`` names the method
(docs/reconciliation.md#fee-contracts).

Both columns are nullable and carry no constraint, so they are added with a plain
``ALTER TABLE ... ADD COLUMN`` on both databases: SQLite keeps the table (no batch copy), and
with it the change-sequence triggers of migration 0009 on ``payments``. The method's vocabulary
is checked where it is written (adapters.base.CallbackEvent), not by a CHECK that every new
method would have to migrate.

Revision ID: 0029_payment_methods
Revises: 0028_deposits
Create Date: 2026-12-06 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0029_payment_methods'
down_revision: str | None = '0028_deposits'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('payments', sa.Column('method', sa.String(length=16), nullable=True))
    op.add_column('payments', sa.Column('card_foreign', sa.Boolean(), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would drop 0009's triggers
    op.drop_column('payments', 'card_foreign')
    op.drop_column('payments', 'method')
