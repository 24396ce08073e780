"""receipt changes: replacement and adjustment receipts, their proposals and error notices, and
the same-day summary tables' state (docs/receipts.md)

``receipts`` gains ``kind`` (original, replacement, adjustment), ``corrects_id`` (the receipt a
replacement or adjustment corrects) and ``corrected_as`` (replaced or adjusted: the mark on the
corrected receipt, which stays issued and readable). ``receipt_corrections`` holds each proposal
(four eyes) with its error notice; ``receipt_summaries`` the summary tables prepared and sent.

Revision ID: 0026_receipt_changes
Revises: 0025_receipt_lookup
Create Date: 2026-12-06 11:10:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0026_receipt_changes'
down_revision: str | None = '0025_receipt_lookup'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"


def _restamp_receipts() -> None:
    """SQLite's batch mode copies ``receipts`` and drops its triggers: put back 0024's change
    stamps, without which incremental runs would not see a receipt rewritten later."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    for verb in ('INSERT', 'UPDATE'):
        op.execute(f"DROP TRIGGER IF EXISTS receipts_change_seq_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER receipts_change_seq_{verb.lower()} AFTER {verb} ON receipts "
            f"FOR EACH ROW WHEN NEW.change_seq IS NOT {COUNTER} BEGIN "
            f"UPDATE receipts SET change_seq = {COUNTER} WHERE id = NEW.id; END")


def upgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=False,
                                      server_default='original'))
        batch_op.add_column(sa.Column('corrects_id', BIGINT_PK, nullable=True))
        batch_op.add_column(sa.Column('corrected_as', sa.String(length=10), nullable=True))
        batch_op.create_foreign_key(op.f('fk_receipts_corrects_id_receipts'), 'receipts',
                                    ['corrects_id'], ['id'])
        batch_op.create_check_constraint(
            op.f('ck_receipts_kind_known'),
            "kind IN ('original', 'replacement', 'adjustment')")
        batch_op.create_check_constraint(
            op.f('ck_receipts_corrected_as_known'),
            "corrected_as IS NULL OR corrected_as IN ('replaced', 'adjusted')")
    _restamp_receipts()
    op.create_table(
        'receipt_corrections',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('receipt_id', BIGINT_PK, nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('payer_name', sa.String(length=255), nullable=True),
        sa.Column('lines', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('proposed_by', sa.String(length=100), nullable=False),
        sa.Column('proposed_by_person', sa.String(length=100), nullable=True),
        sa.Column('proposed_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', recon.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('new_receipt_id', BIGINT_PK, nullable=True),
        sa.Column('notice', sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('replacement', 'adjustment')",
                           name=op.f('ck_receipt_corrections_kind_known')),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected')",
                           name=op.f('ck_receipt_corrections_status_known')),
        sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'],
                                name=op.f('fk_receipt_corrections_receipt_id_receipts')),
        sa.ForeignKeyConstraint(['new_receipt_id'], ['receipts.id'],
                                name=op.f('fk_receipt_corrections_new_receipt_id_receipts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_corrections')),
    )
    op.create_index('ix_receipt_corrections_receipt_id', 'receipt_corrections', ['receipt_id'])
    op.create_table(
        'receipt_summaries',
        sa.Column('id', BIGINT_PK, nullable=False),
        sa.Column('agency_id', BIGINT_PK, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('prepared_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('prepared_by', sa.String(length=100), nullable=False),
        sa.Column('receipts', sa.BigInteger(), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=True),
        sa.Column('sent_reference', sa.String(length=255), nullable=True),
        sa.Column('sent_by', sa.String(length=100), nullable=True),
        sa.Column('sent_at', recon.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_receipt_summaries_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_summaries')),
        sa.UniqueConstraint('agency_id', 'day', name=op.f('uq_receipt_summaries_agency_id_day')),
    )


def downgrade() -> None:
    bind = op.get_bind()
    corrected = bind.execute(sa.text(
        "SELECT COUNT(*) FROM receipts WHERE kind <> 'original' OR corrected_as IS NOT NULL"
    )).scalar()
    if corrected:
        raise RuntimeError("cannot downgrade: the register holds replacement or adjustment "
                           "receipts; receipts are kept for the retention period")
    op.drop_table('receipt_summaries')
    op.drop_index('ix_receipt_corrections_receipt_id', table_name='receipt_corrections')
    op.drop_table('receipt_corrections')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_receipts_corrected_as_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_receipts_kind_known'), type_='check')
        batch_op.drop_constraint(op.f('fk_receipts_corrects_id_receipts'), type_='foreignkey')
        batch_op.drop_column('corrected_as')
        batch_op.drop_column('corrects_id')
        batch_op.drop_column('kind')
    _restamp_receipts()
