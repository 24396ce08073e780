"""refused webhook calls: a bounded prefix, a per-address rate limit, a retention period

- ``callbacks.body_length``: for a refused call whose body was cut to a prefix
  (``RECON_REFUSED_CALLBACK_BYTES``), the body's length as received; NULL when the body is whole.
- Two partial indexes over unverified calls only (``signature_valid IS NOT TRUE``): by source
  address and time (the rate limit) and by time (the retention sweep). Accepted calls are not
  in them.
- ``refused_call_counts``: per UTC day, how many calls the rate limit answered 429 (those are
  not archived).

Revision ID: 0010_refused_calls
Revises: 0009_change_seq
Create Date: 2026-12-06 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_refused_calls'
down_revision: str | None = '0009_change_seq'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNVERIFIED = 'signature_valid IS NOT TRUE'


def upgrade() -> None:
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_length', sa.Integer(), nullable=True))
    op.create_index('ix_callbacks_refused_addr', 'callbacks', ['remote_addr', 'received_at'],
                    postgresql_where=sa.text(UNVERIFIED), sqlite_where=sa.text(UNVERIFIED))
    op.create_index('ix_callbacks_refused_received', 'callbacks', ['received_at'],
                    postgresql_where=sa.text(UNVERIFIED), sqlite_where=sa.text(UNVERIFIED))
    op.create_table(
        'refused_call_counts',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('limited', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_refused_call_counts')),
    )


def downgrade() -> None:
    op.drop_table('refused_call_counts')
    op.drop_index('ix_callbacks_refused_received', table_name='callbacks')
    op.drop_index('ix_callbacks_refused_addr', table_name='callbacks')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_column('body_length')
