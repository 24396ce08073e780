"""a bulk writer may write ``dossiers.fee_total`` itself (issue 15)

0037 keeps ``fee_total`` with triggers on ``fee_lines``. On PostgreSQL the insert trigger
moves each dossier a ``COPY`` of fee lines names: for a bulk import of new dossiers, every row
just inserted is written a second time. The page is full after the ``COPY``, so none of those
updates is a HOT update: each leaves a dead version and a second entry in every index of
``dossiers``, the import takes 27 % longer, and the live versions land in the order the
update visits them, so the dossiers' heap is no longer in id order (reading a range of
dossiers by id then costs random reads).

From here on the insert trigger does nothing while the transaction's setting
``recon.fee_total_by_writer`` is ``on``: the bulk importer (``recon.bulk.fee_totals_written``)
sets it around the ``COPY`` of the new dossiers' lines, having written each dossier with its
lines' sum. Every other write (the ORM, a reassessment, SQL by hand, the update and delete
triggers) moves the totals as before. SQLite is unchanged: its per-row triggers update the
row in place.

Revision ID: 0039_fee_totals_by_writer
Revises: 0038_incremental_indexes
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0039_fee_totals_by_writer'
down_revision: str | None = '0038_incremental_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: 0037's move of each dossier named by the inserted lines, as that migration wrote it
_MOVE = ("UPDATE dossiers d SET fee_total = d.fee_total + s.delta FROM "
         "(SELECT dossier_id, SUM(amount) AS delta FROM (SELECT dossier_id, amount FROM added) "
         "x GROUP BY dossier_id) s WHERE d.id = s.dossier_id AND s.delta <> 0")
_SKIP = ("IF current_setting('recon.fee_total_by_writer', true) = 'on' THEN RETURN NULL; "
         "END IF; ")


def _function(body: str) -> None:
    op.execute("CREATE OR REPLACE FUNCTION recon_fee_lines_total_insert() RETURNS trigger "
               f"LANGUAGE plpgsql AS $$ BEGIN {body}{_MOVE}; RETURN NULL; END $$")


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _function(_SKIP)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _function("")
