"""scope: which agencies a user or an API token may see (issue 16)

``user_agencies`` and ``token_agencies`` name the agencies of a scoped user or token. A user
or token without a row sees the whole deployment: every user and token that exists before this
migration keeps seeing what it saw (the backwards-compatible choice; narrow one with
``recon users scope`` / ``recon tokens scope``). The tables ``users`` and ``api_tokens`` keep
their shape.

Revision ID: 0019_scope
Revises: 0018_allocations
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019_scope'
down_revision: str | None = '0018_allocations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('user_agencies',
    sa.Column('user_id', _ID, nullable=False),
    sa.Column('agency_id', _ID, nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                            name=op.f('fk_user_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                            name=op.f('fk_user_agencies_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'agency_id', name=op.f('pk_user_agencies'))
    )
    op.create_table('token_agencies',
    sa.Column('token_id', _ID, nullable=False),
    sa.Column('agency_id', _ID, nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                            name=op.f('fk_token_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE',
                            name=op.f('fk_token_agencies_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('token_id', 'agency_id', name=op.f('pk_token_agencies'))
    )


def downgrade() -> None:
    op.drop_table('token_agencies')
    op.drop_table('user_agencies')
