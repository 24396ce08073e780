"""fee contracts: the kind fee_mismatch, and a settlement line's stated net

Widens ``ck_discrepancies_kind_known`` (as 0008, 0011 and 0015 do) to admit ``fee_mismatch``: a
settlement line whose fee is not its fee contract's, or whose file states a net that is not
gross - fee.

Adds ``settlement_lines.stated_net`` (nullable): the net a file stated when it contradicts
itself (net != amount - fee). Such a line is kept, not refused: ``net`` stays ``amount - fee``
(the CHECK ``net_is_amount_less_fee`` is unchanged, so every sum of nets stays consistent),
``stated_net`` keeps what the file said, and the engine reports the line as a
``fee_mismatch``. NULL for every line whose file agrees with itself. A plain ADD COLUMN on
both databases (no batch rebuild: that would drop the change-stamp triggers of 0009).

Revision ID: 0016_fee_contracts
Revises: 0015_payouts
Create Date: 2026-12-06 07:40:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_fee_contracts'
down_revision: str | None = '0015_payouts'
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
)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, 'fee_mismatch')
CHECK = 'ck_discrepancies_kind_known'
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def _replace_check(kinds: Sequence[str]) -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_='check')
        batch_op.create_check_constraint(
            op.f(CHECK), sa.text(f"kind IN ({', '.join(repr(k) for k in kinds)})"))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite's batch mode copies the table, and its triggers go with the old one: the
        # change stamp of 0009 (a discrepancy open again) is made again, as 0009 made it
        op.execute("DROP TRIGGER IF EXISTS discrepancies_change_seq")
        op.execute(
            "CREATE TRIGGER discrepancies_change_seq AFTER UPDATE OF status ON discrepancies "
            "FOR EACH ROW WHEN NEW.status = 'open' AND OLD.status <> 'open' BEGIN "
            f"UPDATE discrepancies SET change_seq = {COUNTER} WHERE id = NEW.id; END"
        )


def upgrade() -> None:
    _replace_check(KINDS)
    op.add_column('settlement_lines', sa.Column('stated_net', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind = 'fee_mismatch'")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: discrepancies of kind fee_mismatch exist; "
                           "delete or reclassify them first")
    stated = bind.execute(sa.text(
        "SELECT COUNT(*) FROM settlement_lines WHERE stated_net IS NOT NULL")).scalar()
    if stated:
        raise RuntimeError("cannot downgrade: settlement lines keep a stated net that "
                           "contradicts their file; the older schema cannot hold them")
    _replace_check(PREVIOUS_KINDS)
    if bind.dialect.name == 'sqlite':
        op.execute("ALTER TABLE settlement_lines DROP COLUMN stated_net")
    else:
        op.drop_column('settlement_lines', 'stated_net')
