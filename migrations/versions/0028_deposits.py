"""deposits: the per-fee deposit rule, the collectors' fee-pending accounts, deposits among the
transfers, the voucher's bank reference, and the ``deposit_overdue`` kind

- ``fee_lines.deposit_period`` (``day``, ``week`` or ``month``) and ``fee_lines.deposit_due_days``
  (days after the period's end, inclusive deadline): how often a phí must be sent to the
  collector's fee account awaiting budget remittance (Decree 120/2016 Art. 3(2)(a) as amended
  by Decree 82/2023; the period is set per fee by its circular). NULL: no rule known.
- ``agencies.fee_pending_account``: the collector's "tài khoản phí chờ nộp ngân sách" at the
  State Treasury; NULL: deposits are not judged for it.
- ``transfers.into_fee_account``: the transfer went into the destination's fee-pending account
  (a deposit; the destination may then be the sending agency itself).
- ``remittances.bank_reference``: the bank reference of the payment a C1-02/NS voucher records
  (tells a voucher and a receiver's budget debit for the same money apart).
- widens ``ck_discrepancies_kind_known`` (as 0024 does) to admit ``deposit_overdue``.

Plain ``ADD COLUMN`` (no batch copy on SQLite: the tables carry 0009's triggers). Downgrading
refuses while a ``deposit_overdue`` discrepancy exists.

Revision ID: 0028_deposits
Revises: 0027_receipt_collectors
Create Date: 2026-12-06 15:50:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0028_deposits'
down_revision: str | None = '0027_receipt_collectors'
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
)
NEW_KINDS: tuple[str, ...] = ('deposit_overdue',)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"
COLUMNS: tuple[tuple[str, str], ...] = (
    ('fee_lines', 'deposit_period'),
    ('fee_lines', 'deposit_due_days'),
    ('agencies', 'fee_pending_account'),
    ('transfers', 'into_fee_account'),
    ('remittances', 'bank_reference'),
)


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
    op.add_column('fee_lines', sa.Column('deposit_period', sa.String(5), nullable=True))
    op.add_column('fee_lines', sa.Column('deposit_due_days', sa.SmallInteger(), nullable=True))
    op.add_column('agencies', sa.Column('fee_pending_account', sa.String(40), nullable=True))
    op.add_column('transfers', sa.Column('into_fee_account', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column('remittances', sa.Column('bank_reference', sa.String(100), nullable=True))
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: deposit_overdue discrepancies exist; delete or "
                           "reclassify them first")
    _replace_check(PREVIOUS_KINDS)
    for table, column in reversed(COLUMNS):
        if bind.dialect.name == 'sqlite':  # SQLite >= 3.35; no table copy
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        else:
            op.drop_column(table, column)
