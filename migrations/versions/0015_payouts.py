"""payouts: the three payout kinds, and settlement lines by day

Widens ``ck_discrepancies_kind_known`` (as 0008 and 0011 do) to admit ``payout_missing``,
``payout_mismatch`` and ``payout_unexpected`` (``recon/engine/payouts.py``: a provider's batch
against the bank credit that paid it); the payout pass reads ``settlement_lines`` by
``settled_on`` through 0014's index. Batches are the
providers' settlement lines and credits the lines of bank statements, both already stamped with
``change_seq`` (0009): no new table. Downgrading refuses while a payout discrepancy exists.

Revision ID: 0015_payouts
Revises: 0014_run_seen
Create Date: 2026-12-06 07:50:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_payouts'
down_revision: str | None = '0014_run_seen'
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
)
NEW_KINDS: tuple[str, ...] = ('payout_missing', 'payout_mismatch', 'payout_unexpected')
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
    _replace_check(KINDS)


def downgrade() -> None:
    in_use = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: payout discrepancies exist; delete or "
                           "reclassify them first")
    _replace_check(PREVIOUS_KINDS)
