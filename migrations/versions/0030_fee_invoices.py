"""fee invoices: the providers' invoices for their fees (issue 17 §1–§2)

``fee_invoice_files`` keeps every imported file of invoices verbatim (unique by sha256);
``fee_invoices`` holds one invoice: its provider, its number (unique per provider), issue
date, the month it bills (``period``, the month's first day), the amount in VND including VAT,
the VAT where the invoice states it, and how it is paid: ``deducted`` (the provider takes it
off a payout: the payout pass names it, docs/reconciliation.md#payouts-a-providers-batch-
against-the-bank-credit) or ``billed`` (paid separately, e.g. a subscription). Invoices carry
the ``change_seq`` stamp of every table the engine reads (0009), so an incremental run sees an
invoice imported since the previous run. No new discrepancy kind: an invoice that differs from
its subscription contract is a figure of the fees page. Downgrading refuses while an invoice
exists.

Revision ID: 0030_fee_invoices
Revises: 0029_payment_methods
Create Date: 2026-12-06 16:00:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0030_fee_invoices'
down_revision: str | None = '0029_payment_methods'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLE = 'fee_invoices'
XID = "(pg_current_xact_id()::text::bigint)"
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def upgrade() -> None:
    op.create_table(
        'fee_invoice_files',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('imported_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_invoice_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_fee_invoice_files_sha256')),
    )
    op.create_table(
        TABLE,
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('vat_amount', sa.BigInteger(), nullable=True),
        sa.Column('charged_as', sa.String(length=10), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('file_id', BIGINT_PK, nullable=True),
        sa.Column('recorded_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.Column('change_seq', sa.BigInteger(), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_fee_invoices_amount_positive')),
        sa.CheckConstraint('vat_amount IS NULL OR (vat_amount >= 0 AND vat_amount <= amount)',
                           name=op.f('ck_fee_invoices_vat_within_amount')),
        sa.CheckConstraint("charged_as IN ('deducted', 'billed')",
                           name=op.f('ck_fee_invoices_charged_as_known')),
        sa.ForeignKeyConstraint(['file_id'], ['fee_invoice_files.id'],
                                name=op.f('fk_fee_invoices_file_id_fee_invoice_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_invoices')),
        sa.UniqueConstraint('provider', 'number', name=op.f('uq_fee_invoices_provider_number')),
    )
    op.create_index(f'ix_{TABLE}_change_seq', TABLE, ['change_seq'])
    op.create_index('ix_fee_invoices_period', TABLE, ['period'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN change_seq SET DEFAULT {XID}")
        op.execute(
            f"CREATE TRIGGER {TABLE}_change_seq BEFORE INSERT OR UPDATE ON {TABLE} "
            f"FOR EACH ROW WHEN (NEW.change_seq IS DISTINCT FROM {XID}) "
            "EXECUTE FUNCTION recon_stamp_change()")
    else:
        for verb in ('INSERT', 'UPDATE'):
            op.execute(
                f"CREATE TRIGGER {TABLE}_change_seq_{verb.lower()} AFTER {verb} ON {TABLE} "
                f"FOR EACH ROW WHEN NEW.change_seq IS NOT {COUNTER} BEGIN "
                f"UPDATE {TABLE} SET change_seq = {COUNTER} WHERE id = NEW.id; END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT COUNT(*) FROM {TABLE}")).scalar():
        raise RuntimeError("cannot downgrade: fee invoices are recorded; they are the "
                           "providers' invoices and are kept")
    if bind.dialect.name == 'postgresql':
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_change_seq ON {TABLE}")
    else:
        for verb in ('insert', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_change_seq_{verb}")
    op.drop_index('ix_fee_invoices_period', table_name=TABLE)
    op.drop_index(f'ix_{TABLE}_change_seq', table_name=TABLE)
    op.drop_table(TABLE)
    op.drop_table('fee_invoice_files')
