"""portal: the National Public Service Portal's daily transaction lists (issue 18 §5)

``portal_files``: each imported list, kept verbatim and hashed (the same bytes are refused a
second time), for one agency and the Vietnam days it covers (``day_from`` .. ``day_to``).
``portal_lines``: its rows (portal transaction id, dossier code, payment reference and provider
transaction id where given, provider, amount in VND, status, time), stamped with
``change_seq`` like the other tables the engine reads (0009). Widens
``ck_discrepancies_kind_known`` (as 0008, 0011, 0015, 0016 and 0018 do) to admit
``portal_mismatch``. Downgrading refuses while such a discrepancy or a portal list exists.

Revision ID: 0023_portal
Revises: 0022_remittances
Create Date: 2026-12-06 11:10:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0023_portal'
down_revision: str | None = '0022_remittances'
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
)
NEW_KINDS: tuple[str, ...] = ('portal_mismatch',)
KINDS: tuple[str, ...] = (*PREVIOUS_KINDS, *NEW_KINDS)
CHECK = 'ck_discrepancies_kind_known'
LINES = 'portal_lines'
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
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
        'portal_files',
        sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column('agency_id', BIGINT_PK, nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('profile', sa.String(length=64), nullable=False),
        sa.Column('day_from', sa.Date(), nullable=False),
        sa.Column('day_to', sa.Date(), nullable=False),
        sa.Column('imported_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('total_amount', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('day_from <= day_to', name=op.f('ck_portal_files_days_ordered')),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_portal_files_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_files')),
        sa.UniqueConstraint('sha256', name=op.f('uq_portal_files_sha256')),
    )
    op.create_index('ix_portal_files_agency_days', 'portal_files',
                    ['agency_id', 'day_from', 'day_to'])
    op.create_table(
        LINES,
        sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column('file_id', BIGINT_PK, nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('agency_id', BIGINT_PK, nullable=False),
        sa.Column('portal_txn_id', sa.String(length=64), nullable=False),
        sa.Column('dossier_code', sa.String(length=64), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=True),
        sa.Column('provider_txn_id', sa.String(length=64), nullable=True),
        sa.Column('provider', sa.String(length=20), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('transaction_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('created_at', recon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('change_seq', sa.BigInteger(), nullable=True),
        sa.CheckConstraint('amount >= 0', name=op.f('ck_portal_lines_amount_non_negative')),
        sa.CheckConstraint("status IN ('succeeded', 'failed', 'refunded', 'pending')",
                           name=op.f('ck_portal_lines_status_known')),
        sa.ForeignKeyConstraint(['file_id'], ['portal_files.id'],
                                name=op.f('fk_portal_lines_file_id_portal_files')),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_portal_lines_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_lines')),
        sa.UniqueConstraint('file_id', 'line_no', name=op.f('uq_portal_lines_file_id_line_no')),
    )
    op.create_index('ix_portal_lines_day_agency', LINES, ['day', 'agency_id'])
    op.create_index('ix_portal_lines_portal_txn_id', LINES, ['portal_txn_id'])
    op.create_index(f'ix_{LINES}_change_seq', LINES, ['change_seq'])
    if op.get_bind().dialect.name == 'postgresql':
        # as 0009 does for every table the engine reads
        op.execute(f"ALTER TABLE {LINES} ALTER COLUMN change_seq SET DEFAULT {XID}")
        op.execute(
            f"CREATE TRIGGER {LINES}_change_seq BEFORE INSERT OR UPDATE ON {LINES} "
            f"FOR EACH ROW WHEN (NEW.change_seq IS DISTINCT FROM {XID}) "
            "EXECUTE FUNCTION recon_stamp_change()")
    else:
        for verb in ('INSERT', 'UPDATE'):
            op.execute(
                f"CREATE TRIGGER {LINES}_change_seq_{verb.lower()} AFTER {verb} ON {LINES} "
                f"FOR EACH ROW WHEN NEW.change_seq IS NOT {COUNTER} BEGIN "
                f"UPDATE {LINES} SET change_seq = {COUNTER} WHERE id = NEW.id; END")
    _replace_check(KINDS)


def downgrade() -> None:
    bind = op.get_bind()
    in_use = bind.execute(sa.text(
        "SELECT COUNT(*) FROM discrepancies WHERE kind IN "
        f"({', '.join(repr(k) for k in NEW_KINDS)})")).scalar()
    lists = bind.execute(sa.text("SELECT COUNT(*) FROM portal_files")).scalar()
    if in_use or lists:
        raise RuntimeError("cannot downgrade: portal lists or portal_mismatch discrepancies "
                           "exist; imported files are kept, so this schema stays")
    _replace_check(PREVIOUS_KINDS)
    if bind.dialect.name == 'postgresql':
        op.execute(f"DROP TRIGGER IF EXISTS {LINES}_change_seq ON {LINES}")
    op.drop_index(f'ix_{LINES}_change_seq', table_name=LINES)
    op.drop_index('ix_portal_lines_portal_txn_id', table_name=LINES)
    op.drop_index('ix_portal_lines_day_agency', table_name=LINES)
    op.drop_table(LINES)  # its SQLite triggers go with it
    op.drop_index('ix_portal_files_agency_days', table_name='portal_files')
    op.drop_table('portal_files')
