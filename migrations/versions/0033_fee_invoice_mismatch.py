"""fee invoice mismatch: the kind ``fee_invoice_mismatch`` and ``fee_invoices.replaces``

- widens ``ck_discrepancies_kind_known`` (as 0028 does) to admit ``fee_invoice_mismatch``: a
  subscription provider's month invoiced other than its contract's charge, or an invoice for a
  month no contract covers (``recon.engine.fee_invoices``);
- ``fee_invoices.replaces`` (nullable): the number of the provider's invoice this one
  corrects (a replacement invoice, hóa đơn thay thế); the replaced invoice no longer counts.

Plain ``ADD COLUMN`` (no batch copy on SQLite: ``fee_invoices`` keeps 0030's triggers).
Downgrading refuses while a ``fee_invoice_mismatch`` discrepancy or a replacing invoice exists.

Revision ID: 0033_fee_invoice_mismatch
Revises: 0032_settlement_line_kinds
Create Date: 2026-12-06 19:00:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0033_fee_invoice_mismatch'
down_revision: str | None = '0032_settlement_line_kinds'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREVIOUS_KINDS: tuple[str, ...] = (
    'underpaid',
    'overpaid',
    'duplicate_payment',
    'unmatched_payment',
    'missing_settlement',
    'unexpected_settlement',
    'amount_mismatch',
    'duplicate_settlement',
    'status_mismatch',
    'late_for_closed_period',
    'payout_missing',
    'payout_mismatch',
    'payout_unexpected',
    'fee_mismatch',
    'multi_reference_unsplit',
    'forward_overdue',
    'forward_mismatch',
    'remittance_overdue',
    'remittance_short',
    'remittance_excess',
    'portal_mismatch',
    'receipt_missing',
    'receipt_mismatch',
    'receipt_orphan',
    'deposit_overdue',
)
NEW_KINDS: tuple[str, ...] = ('fee_invoice_mismatch',)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def _replace_check(kinds: Sequence[str]) -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_='check')
        batch_op.create_check_constraint(
            op.f(CHECK), sa.text(f"kind IN ({', '.join(repr(k) for k in kinds)})"))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite's batch mode copies the table and drops its triggers: 0009's stamp again
        op.execute("DROP TRIGGER IF EXISTS discrepancies_change_seq")
        op.execute(
            "CREATE TRIGGER discrepancies_change_seq AFTER UPDATE OF status ON discrepancies "
            "FOR EACH ROW WHEN NEW.status = 'open' AND OLD.status <> 'open' BEGIN "
            f"UPDATE discrepancies SET change_seq = {COUNTER} WHERE id = NEW.id; END"
        )


def upgrade() -> None:
    op.add_column('fee_invoices', sa.Column('replaces', sa.String(64), nullable=True))
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: fee_invoice_mismatch discrepancies exist; delete "
                           "or reclassify them first")
    replacing = bind.execute(sa.text(
        "SELECT COUNT(*) FROM fee_invoices WHERE replaces IS NOT NULL")).scalar()
    if replacing:
        raise RuntimeError("cannot downgrade: some fee invoices replace others; 0031 cannot "
                           "say so")
    _replace_check(PREVIOUS_KINDS)
    if bind.dialect.name == 'sqlite':  # SQLite >= 3.35; no table copy
        op.execute('ALTER TABLE fee_invoices DROP COLUMN replaces')
    else:
        op.drop_column('fee_invoices', 'replaces')
