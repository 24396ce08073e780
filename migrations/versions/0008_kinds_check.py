"""discrepancies: the CHECK on kind, rebuilt from this migration's own list of kinds

The discrepancy kinds are declared once, in ``recon/engine/kinds.py``; the database's
``ck_discrepancies_kind_known`` must admit exactly them. A migration is history, so this one
does not import the registry (its meaning would change whenever a kind is added): it freezes
the kinds as they are today in ``KINDS`` below, which is also what 0001 admitted, so upgrading
changes no row. It is the template of every later widening: to add a kind, copy this file to
the next number, set ``down_revision`` to the head, ``PREVIOUS_KINDS`` to this ``KINDS`` and
``KINDS`` to ``recon.engine.kinds.REGISTRY.names`` (as a literal; ``REGISTRY.check_clause()``
prints the clause). ``tests/engine/test_kinds.py`` fails until the migrated database's CHECK
equals the registry.

Downgrading restores ``PREVIOUS_KINDS``; it refuses (and changes nothing) while a discrepancy
of a kind that list does not admit exists.

On SQLite a CHECK cannot be altered in place: the table is copied (batch mode), keeping its
rows, indexes and other constraints.

Revision ID: 0008_kinds_check
Revises: 0006
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_kinds_check'
down_revision: str | None = '0007_desk_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS: tuple[str, ...] = (
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
PREVIOUS_KINDS: tuple[str, ...] = KINDS  # what 0001 admitted

NAME = 'ck_discrepancies_kind_known'


def _clause(kinds: Sequence[str]) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def _replace_check(kinds: Sequence[str]) -> None:
    with op.batch_alter_table('discrepancies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_='check')
        batch_op.create_check_constraint(op.f(NAME), sa.text(_clause(kinds)))


def upgrade() -> None:
    _replace_check(KINDS)


def downgrade() -> None:
    dropped = sorted(set(KINDS) - set(PREVIOUS_KINDS))
    if dropped:
        in_use = op.get_bind().execute(
            sa.text('SELECT DISTINCT kind FROM discrepancies WHERE kind IN :kinds')
            .bindparams(sa.bindparam('kinds', expanding=True)), {'kinds': dropped},
        ).scalars().all()
        if in_use:
            raise RuntimeError(
                f"cannot downgrade: discrepancies of kind {', '.join(sorted(in_use))} exist; "
                f"delete or reclassify them first")
    _replace_check(PREVIOUS_KINDS)
