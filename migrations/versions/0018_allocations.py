"""allocations: one transfer, several dossiers

``payment_allocations``: a payment split across the dossiers its memo names (issue 17 §4), one
row per (payment, dossier) with the amount that dossier was paid; stamped with ``change_seq``
like the other tables the engine reads (0009). ``payments.split_refusal``: why a payment
naming several references was not split (JSON: reason, references, culprits, difference),
NULL otherwise. Widens ``ck_discrepancies_kind_known`` (as 0008, 0011 and 0015 do) to admit
``multi_reference_unsplit``. Downgrading refuses while such a discrepancy or an allocation
exists.

Revision ID: 0018_allocations
Revises: 0017_fee_shares
Create Date: 2026-12-06 08:40:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_allocations'
down_revision: str | None = '0017_fee_shares'
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
)
NEW_KINDS: tuple[str, ...] = ('multi_reference_unsplit',)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
TABLE = 'payment_allocations'
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
    op.create_table(
        TABLE,
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('dossier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('change_seq', sa.BigInteger(), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_payment_allocations_amount_positive')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'],
                                name=op.f('fk_payment_allocations_payment_id_payments')),
        sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'],
                                name=op.f('fk_payment_allocations_dossier_id_dossiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_allocations')),
        sa.UniqueConstraint('payment_id', 'dossier_id',
                            name=op.f('uq_payment_allocations_payment_id_dossier_id')),
    )
    op.create_index('ix_payment_allocations_dossier_id', TABLE, ['dossier_id'])
    op.create_index(f'ix_{TABLE}_change_seq', TABLE, ['change_seq'])
    op.add_column('payments', sa.Column('split_refusal', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # as 0009 does for every table the engine reads
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
    allocated = bind.execute(sa.text(f"SELECT COUNT(*) FROM {TABLE}")).scalar()
    if in_use or allocated:
        raise RuntimeError("cannot downgrade: payment allocations or multi_reference_unsplit "
                           "discrepancies exist; delete or reclassify them first")
    _replace_check(PREVIOUS_KINDS)
    if bind.dialect.name == 'postgresql':
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_change_seq ON {TABLE}")
    op.drop_index(f'ix_{TABLE}_change_seq', table_name=TABLE)
    op.drop_index('ix_payment_allocations_dossier_id', table_name=TABLE)
    op.drop_table(TABLE)  # its SQLite triggers go with it
    # plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would drop 0009's triggers
    op.execute("ALTER TABLE payments DROP COLUMN split_refusal")
