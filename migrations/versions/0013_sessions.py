"""sessions: server-side login sessions, token owners, people behind proposals, login limits

Issue 16. ``web_sessions`` holds one row per login (the cookie carries only a random id; the
row has its SHA-256), so logging out, changing a password or disabling a user ends every
session of that user, and the idle and absolute limits hold. ``api_tokens.user_id`` names the
person a token belongs to; tokens made before this migration stay unowned (they keep working
for what their role allows, but may neither propose nor approve a four-eyes action).
``discrepancies.proposed_by_person`` and ``periods.proposed_by_person`` keep the person behind
a proposal, which maker ≠ checker compares. ``ix_login_attempts_client`` serves the
per-address login limit across usernames.

Revision ID: 0013_sessions
Revises: 0011_periods
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recon.db

revision: str = '0013_sessions'
down_revision: str | None = '0012_periods_unique'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', _ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', _ID, nullable=False),
    sa.Column('created_at', recon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', recon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', recon.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                            name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_sessions_token_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_web_sessions_last_seen_at', ['last_seen_at'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', _ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_user_id_users'), 'users',
                                    ['user_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    # plain ADD COLUMN (nullable, no constraint): no table copy on SQLite, whose copy would
    # lose the triggers 0009 put on discrepancies
    op.add_column('discrepancies',
                  sa.Column('proposed_by_person', sa.String(length=100), nullable=True))
    op.add_column('periods',
                  sa.Column('proposed_by_person', sa.String(length=100), nullable=True))

    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_client', ['client', 'attempted_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_client')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite (3.35+) drops a plain column in place, without copying the table
        op.execute('ALTER TABLE periods DROP COLUMN proposed_by_person')
        op.execute('ALTER TABLE discrepancies DROP COLUMN proposed_by_person')
    else:
        op.drop_column('periods', 'proposed_by_person')
        op.drop_column('discrepancies', 'proposed_by_person')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_user_id_users'), type_='foreignkey')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_last_seen_at')
        batch_op.drop_index('ix_web_sessions_user_id')
    op.drop_table('web_sessions')
