"""receipt kinds: the receipt pass's three kinds, and receipts stamped for incremental runs

Widens ``ck_discrepancies_kind_known`` (as 0008, 0015 and 0018 do) to admit
``receipt_missing``, ``receipt_mismatch`` and ``receipt_orphan`` (docs/receipts.md), and gives
``receipts`` the ``change_seq`` stamp of every table the engine reads (0009): an incremental run
judges again the payments whose receipts changed. Downgrading refuses while a discrepancy of
those kinds exists.

Revision ID: 0024_receipt_kinds
Revises: 0023_portal
Create Date: 2026-12-06 11:20:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024_receipt_kinds'
down_revision: str | None = '0023_portal'
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
)
NEW_KINDS: tuple[str, ...] = ('receipt_missing', 'receipt_mismatch', 'receipt_orphan')
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
TABLE = 'receipts'
XID = "(pg_current_xact_id()::text::bigint)"
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
    # plain ADD COLUMN (no batch rebuild), nullable: rows from before are older than any mark
    op.add_column(TABLE, sa.Column('change_seq', sa.BigInteger(), nullable=True))
    op.create_index(f'ix_{TABLE}_change_seq', TABLE, ['change_seq'])
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
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: receipt_missing, receipt_mismatch or "
                           "receipt_orphan discrepancies exist; delete or reclassify them first")
    _replace_check(PREVIOUS_KINDS)
    if bind.dialect.name == 'postgresql':
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_change_seq ON {TABLE}")
    else:
        for verb in ('insert', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_change_seq_{verb}")
    op.drop_index(f'ix_{TABLE}_change_seq', table_name=TABLE)
    # plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would drop the triggers
    op.execute(f"ALTER TABLE {TABLE} DROP COLUMN change_seq")
