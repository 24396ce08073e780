"""audit chain sealed after commit: seq, nullable prev_hash/hash, one-time sealing allowed

On PostgreSQL the audit chain's advisory lock was held through every commit's fsync (locks are
released after the commit record is flushed), so every audited write in the service — every
webhook payment — waited for the one before it. Events are now written unsealed and chained
right after by ``recon.audit.chain.seal`` in the order it finds them (``seq``), so writers never
wait for each other; the database still refuses every UPDATE and DELETE except sealing an
unsealed event once, without changing its content. SQLite keeps sealing each event as it is
written (its one writer at a time makes that free).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the one change allowed: sealing an unsealed event, once, its content untouched
  IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.seq IS NULL AND OLD.prev_hash IS NULL
     AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
     AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at AND NEW.actor = OLD.actor
     AND NEW.action = OLD.action AND NEW.entity_type = OLD.entity_type
     AND NEW.entity_id = OLD.entity_id AND NEW.data = OLD.data THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only';
END $$
"""
PG_APPEND_ONLY_0001 = (
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
)


def _sqlite_triggers() -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
    # every event so far was chained in id order
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        op.execute("UPDATE audit_events SET seq = id")
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        for verb in ("update", "delete"):  # SQLite: the rebuilt table lost them anyway
            op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}")
        op.execute("UPDATE audit_events SET seq = id")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
        batch_op.create_index('ix_audit_events_unsealed', ['id'], unique=False,
                              postgresql_where=sa.text('hash IS NULL'),
                              sqlite_where=sa.text('hash IS NULL'))
    if postgres:
        op.execute(PG_APPEND_ONLY)
    else:
        _sqlite_triggers()


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_APPEND_ONLY_0001)
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}")
    # unsealed events cannot satisfy NOT NULL: seal with `recon audit seal` first
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_unsealed')
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('seq')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
    if not postgres:
        _sqlite_triggers()
