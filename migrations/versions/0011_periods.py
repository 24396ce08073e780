"""periods: closed months (khóa sổ) and every snapshot their closes took

``periods`` holds one row per month (its first day, Vietnam time) and agency (NULL: every
agency), with its status (open, proposed, closed), who proposed and approved the close, who
reopened it and why, and the last snapshot with its sha256. ``period_snapshots`` keeps every
snapshot a close took, so reopening and closing again never loses the old one.

It also widens ``ck_discrepancies_kind_known`` (as 0008 does) to admit the kind
``late_for_closed_period``: data arriving for a payment of a closed month is reported in the
current month by a finding of that kind (``recon/engine/closed.py``). Downgrading refuses
while such a discrepancy exists.

Revision ID: 0011_periods
Revises: 0010_refused_calls
Create Date: 2026-12-06 05:40:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0011_periods'
down_revision: str | None = '0010_refused_calls'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

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
)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, 'late_for_closed_period')
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
    op.create_table('periods',
    sa.Column('id', _ID, nullable=False),
    sa.Column('agency_id', _ID, nullable=True),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('proposed_by', sa.String(length=100), nullable=True),
    sa.Column('proposed_at', recon.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('proposal_note', sa.Text(), nullable=True),
    sa.Column('carried_forward', sa.Text(), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_at', recon.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_by', sa.String(length=100), nullable=True),
    sa.Column('reopened_at', recon.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopen_reason', sa.Text(), nullable=True),
    sa.Column('snapshot', sa.Text(), nullable=True),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', recon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', recon.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'proposed', 'closed')",
                       name=op.f('ck_periods_status_known')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                            name=op.f('fk_periods_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_periods'))
    )
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.create_index('ix_periods_month', ['month'], unique=False)

    op.create_table('period_snapshots',
    sa.Column('id', _ID, nullable=False),
    sa.Column('period_id', _ID, nullable=False),
    sa.Column('taken_at', recon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.String(length=100), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('audit_event_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['audit_event_id'], ['audit_events.id'],
                            name=op.f('fk_period_snapshots_audit_event_id_audit_events')),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'],
                            name=op.f('fk_period_snapshots_period_id_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_snapshots'))
    )
    with op.batch_alter_table('period_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_period_snapshots_period_id'), ['period_id'],
                              unique=False)


def downgrade() -> None:
    in_use = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind = 'late_for_closed_period'")).scalar()
    if in_use:
        raise RuntimeError("cannot downgrade: discrepancies of kind late_for_closed_period "
                           "exist; delete or reclassify them first")
    _replace_check(PREVIOUS_KINDS)
    with op.batch_alter_table('period_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_snapshots_period_id'))
    op.drop_table('period_snapshots')
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.drop_index('ix_periods_month')
    op.drop_table('periods')
