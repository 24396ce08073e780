"""a partial index of the payments that carry no dossier of their own but an intent: the
incremental load's read of a dossier's payments through its intents (issue 15)

An incremental run reads every payment of each changed dossier, including those that reach it
only through their intent (``dossier_id IS NULL``). That read probed ``ix_payments_intent_id``
(every payment) once per intent of the dossiers and fetched each payment's row to find it had a
dossier after all: 13-47 ms for 999 dossiers at 1M (pages cached or not), for no row. Such
payments are rare (a payment takes its intent's dossier when it is recorded), so an index of
them alone is tiny: the load hashes it against the dossiers' intents (0.05 ms when it is
empty: the intents are then not read at all).

Plain CREATE INDEX on both databases (SQLite supports partial indexes), so no table is copied
and the table's change triggers stay.

Revision ID: 0038_incremental_indexes
Revises: 0037_dossier_fee_totals
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0038_incremental_indexes'
down_revision: str | None = '0037_dossier_fee_totals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "dossier_id IS NULL AND intent_id IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_payments_intent_no_dossier", "payments", ["intent_id"],
                    postgresql_where=sa.text(_WHERE), sqlite_where=sa.text(_WHERE))


def downgrade() -> None:
    op.drop_index("ix_payments_intent_no_dossier", table_name="payments")
