"""transfers: onward transfers out of a receiving centre's account (issue 18 §2)

``transfer_files`` keeps every imported statement of debits verbatim; ``transfers`` holds each
transfer to a collecting organisation (its agency code) or into the state budget (``budget``),
read from such a statement or recorded by hand, unique per (agency, bank reference).
``agencies.transfer_account``: a collector's account for onward transfers. Widens
``ck_discrepancies_kind_known`` (as 0008, 0011, 0015 and 0018 do) to admit ``forward_overdue``
and ``forward_mismatch``. Downgrading refuses while such a discrepancy or a transfer exists.

Revision ID: 0021_transfers
Revises: 0020_receipts
Create Date: 2026-12-06 11:20:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0021_transfers'
down_revision: str | None = '0020_receipts'
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
)
NEW_KINDS: tuple[str, ...] = ('forward_overdue', 'forward_mismatch')
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


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
        'transfer_files',
        sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column('agency_id', BIGINT_PK, nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('profile', sa.String(length=64), nullable=False),
        sa.Column('imported_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('total_amount', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_transfer_files_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_transfer_files_sha256')),
    )
    op.create_table(
        'transfers',
        sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column('agency_id', BIGINT_PK, nullable=False),
        sa.Column('destination', sa.String(length=40), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('transferred_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('bank_reference', sa.String(length=100), nullable=False),
        sa.Column('counterparty_account', sa.String(length=40), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('file_id', BIGINT_PK, nullable=True),
        sa.Column('line_no', sa.Integer(), nullable=True),
        sa.Column('created_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_transfers_amount_positive')),
        sa.CheckConstraint("source IN ('statement', 'manual')",
                           name=op.f('ck_transfers_source_known')),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_transfers_agency_id_agencies')),
        sa.ForeignKeyConstraint(['file_id'], ['transfer_files.id'],
                                name=op.f('fk_transfers_file_id_transfer_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
        sa.UniqueConstraint('agency_id', 'bank_reference',
                            name=op.f('uq_transfers_agency_id_bank_reference')),
    )
    op.create_index(op.f('ix_transfers_agency_id'), 'transfers', ['agency_id'])
    op.create_index(op.f('ix_transfers_transferred_at'), 'transfers', ['transferred_at'])
    # plain ADD COLUMN: a batch rebuild would drop the SQLite triggers of 0009
    op.add_column('agencies', sa.Column('transfer_account', sa.String(length=40),
                                        nullable=True))
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    transfers = bind.execute(sa.text("SELECT COUNT(*) FROM transfers")).scalar()
    if in_use or transfers:
        raise RuntimeError("cannot downgrade: transfers or forward_* discrepancies exist; "
                           "delete or reclassify them first")
    _replace_check(PREVIOUS_KINDS)
    op.execute("ALTER TABLE agencies DROP COLUMN transfer_account")
    op.drop_index(op.f('ix_transfers_transferred_at'), table_name='transfers')
    op.drop_index(op.f('ix_transfers_agency_id'), table_name='transfers')
    op.drop_table('transfers')
    op.drop_table('transfer_files')
