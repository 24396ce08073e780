"""periods: one row per month and agency scope, guarded by the database

``periods.scope_key`` is the row's agency id, or 0 for a close of every agency (SQL treats
NULLs as distinct, so ``agency_id`` alone cannot be unique for "all agencies"); a CHECK keeps
it equal to ``COALESCE(agency_id, 0)`` and the unique constraint ``uq_periods_month_scope_key``
admits one row per ``(month, scope_key)``. A month's proposal, close and reopening all live on
that one row (``recon.review.periods``), so two concurrent proposals for the same month and
scope cannot both be stored: the second one's insert fails and is refused with a clear message.
Plain columns and a plain unique constraint: the same on SQLite (batch mode) and PostgreSQL.

Upgrading refuses while two rows already share a month and scope (say which, so they can be
merged by hand).

Revision ID: 0012_periods_unique
Revises: 0011_periods
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_periods_unique'
down_revision: str | None = '0011_periods'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    bind = op.get_bind()
    twice = bind.execute(sa.text(
        "SELECT month, COALESCE(agency_id, 0), COUNT(*) FROM periods "
        "GROUP BY month, COALESCE(agency_id, 0) HAVING COUNT(*) > 1")).all()
    if twice:
        shown = ", ".join(f"{m} agency {a or 'all'} ({n} rows)" for m, a, n in twice)
        raise RuntimeError(f"cannot add uq_periods_month_scope_key: {shown}; keep one row per "
                           "month and agency (the closed one) and try again")
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_key', _ID, nullable=True))
    op.execute("UPDATE periods SET scope_key = COALESCE(agency_id, 0)")
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.alter_column('scope_key', existing_type=_ID, nullable=False)
        batch_op.create_check_constraint(op.f('ck_periods_scope_key_agency'),
                                         sa.text('scope_key = COALESCE(agency_id, 0)'))
        batch_op.create_unique_constraint(batch_op.f('uq_periods_month_scope_key'),
                                          ['month', 'scope_key'])


def downgrade() -> None:
    with op.batch_alter_table('periods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_periods_month_scope_key'), type_='unique')
        batch_op.drop_constraint(op.f('ck_periods_scope_key_agency'), type_='check')
        batch_op.drop_column('scope_key')
