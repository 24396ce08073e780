"""payments: the bank's own reference of a credit (bank_reference), indexed per provider

SePay, Casso and payOS report the bank's reference for each credit (SePay ``referenceCode``,
Casso and payOS ``data.reference``); a bank statement lists the credit by that reference, not
by the provider's own id. Reconciliation matches a statement line that no payment's
``(provider, provider_txn_id)`` claims to the payment whose ``(provider, bank_reference)`` is
the line's. The index serves the incremental run's lookups; only bank-feed payments carry a
reference, so it leaves the others out (a partial index: PostgreSQL and SQLite both have them).

Existing payments keep ``NULL``: their statement lines still show as unexpected until matched
by hand (their callbacks are archived in ``callbacks`` should anyone want to backfill).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_REFERENCE = sa.text('bank_reference IS NOT NULL')


def upgrade() -> None:
    # a nullable column without a default: a catalogue change only (no table rewrite on
    # PostgreSQL, a plain ALTER TABLE ADD COLUMN on SQLite)
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_reference', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_payments_provider_bank_reference',
                              ['provider', 'bank_reference'], unique=False,
                              postgresql_where=WITH_REFERENCE, sqlite_where=WITH_REFERENCE)


def downgrade() -> None:
    op.drop_index('ix_payments_provider_bank_reference', table_name='payments')
    # ALTER TABLE ... DROP COLUMN on both (SQLite has it since 3.35): a batch rebuild of
    # payments would have to drop a table that discrepancies refer to
    op.drop_column('payments', 'bank_reference')
