"""audit events: an index on (entity_type, entity_id) for the audit trail of one thing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain CREATE INDEX: no table rebuild, so the append-only triggers stay as they are
    op.create_index('ix_audit_events_entity', 'audit_events', ['entity_type', 'entity_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_entity', table_name='audit_events')
