"""remittances: C1-02/NS vouchers paid into the state budget (issue 18 §3)

``remittance_files`` keeps each imported Treasury statement verbatim (unique by sha256);
``remittances`` holds one voucher (its number, unique; date; remitting organisation; imported
or entered by hand); ``remittance_lines`` its lines (dossier identifier where given, chương,
tiểu mục, ĐBHC, kỳ thuế where given, amount). Widens ``ck_discrepancies_kind_known`` (as 0008,
0011, 0015 and 0018 do) to admit ``remittance_overdue``, ``remittance_short`` and
``remittance_excess``. Downgrading refuses while a voucher or such a discrepancy exists.

Revision ID: 0022_remittances
Revises: 0021_transfers
Create Date: 2026-12-06 11:10:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0022_remittances'
down_revision: str | None = '0021_transfers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
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
)
NEW_KINDS: tuple[str, ...] = ('remittance_overdue', 'remittance_short', 'remittance_excess')
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
    op.create_table(
        'remittance_files',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('profile', sa.String(length=64), nullable=False),
        sa.Column('imported_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_remittance_files_sha256')),
    )
    op.create_table(
        'remittances',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('voucher_no', sa.String(length=40), nullable=False),
        sa.Column('voucher_date', sa.Date(), nullable=False),
        sa.Column('remitter_code', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('file_id', BIGINT_PK, nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.CheckConstraint("source IN ('import', 'manual')",
                           name=op.f('ck_remittances_source_known')),
        sa.ForeignKeyConstraint(['file_id'], ['remittance_files.id'],
                                name=op.f('fk_remittances_file_id_remittance_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_remittances')),
        sa.UniqueConstraint('voucher_no', name=op.f('uq_remittances_voucher_no')),
    )
    op.create_index('ix_remittances_remitter_code', 'remittances', ['remitter_code'])
    op.create_table(
        'remittance_lines',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('remittance_id', BIGINT_PK, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('dossier_code', sa.String(length=64), nullable=True),
        sa.Column('chapter', sa.String(length=8), nullable=False),
        sa.Column('budget_code', sa.String(length=8), nullable=False),
        sa.Column('area_code', sa.String(length=16), nullable=False),
        sa.Column('period', sa.Date(), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_remittance_lines_amount_positive')),
        sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'],
                                name=op.f('fk_remittance_lines_remittance_id_remittances')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_lines')),
    )
    op.create_index('ix_remittance_lines_remittance_id', 'remittance_lines', ['remittance_id'])
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    vouchers = bind.execute(sa.text("SELECT COUNT(*) FROM remittances")).scalar()
    if in_use or vouchers:
        raise RuntimeError("cannot downgrade: remittance vouchers or remittance_* "
                           "discrepancies exist; they are records of money paid to the state "
                           "budget and are kept")
    _replace_check(PREVIOUS_KINDS)
    op.drop_index('ix_remittance_lines_remittance_id', table_name='remittance_lines')
    op.drop_table('remittance_lines')
    op.drop_index('ix_remittances_remitter_code', table_name='remittances')
    op.drop_table('remittances')
    op.drop_table('remittance_files')
