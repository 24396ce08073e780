"""dossiers: the applicant's name folded for the cashier's search (applicant_name_folded)

The desk finds a dossier by the applicant's name typed without diacritics: "nguyen van a" finds
"Nguyễn Văn A". The folded form (no diacritics, đ/Đ as d, lower case, single spaces) is stored
beside the name so that the comparison is a plain ``LIKE`` on SQLite and PostgreSQL alike; the
model keeps it on every write (``recon.models.dossiers.fold_name``) and the bulk importer
writes it with the row.

The column is added NOT NULL with the default ``''`` (a catalogue change on PostgreSQL, a plain
ALTER TABLE ADD COLUMN on SQLite), then every existing dossier is backfilled: on SQLite by one
UPDATE through a function registered on the migration's connection, on PostgreSQL in batches
of ``BATCH`` rows by id, one round trip each. The folding below is a frozen copy of the
model's (a migration must not change when the application does); a test checks they agree.

No index: the desk searches the day's dossiers of one agency, which the index on
``(agency_id, received_at)`` narrows first.

Revision ID: 0007_desk_search
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_desk_search'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
LENGTH = 255


def fold(text: str | None) -> str:
    """No diacritics, đ/Đ as d, lower case, single spaces (as fold_name on 2026-11-30)."""
    if text is None:
        return ''
    bare = ''.join(c for c in unicodedata.normalize('NFD', text)
                   if not unicodedata.combining(c)).lower()
    bare = ''.join(c for c in unicodedata.normalize('NFD', bare) if not unicodedata.combining(c))
    return ' '.join(bare.replace('đ', 'd').split())[:LENGTH]


def _backfill_sqlite(bind: sa.engine.Connection) -> None:
    raw = bind.connection.dbapi_connection
    assert raw is not None
    raw.create_function('recon_fold_0007', 1, fold, deterministic=True)
    bind.execute(sa.text(
        'UPDATE dossiers SET applicant_name_folded = recon_fold_0007(applicant_name)'))


def _backfill_postgresql(bind: sa.engine.Connection) -> None:
    after = 0
    while True:
        rows = bind.execute(sa.text(
            'SELECT id, applicant_name FROM dossiers WHERE id > :after ORDER BY id LIMIT :n'),
            {'after': after, 'n': BATCH}).all()
        if not rows:
            return
        bind.execute(sa.text(
            'UPDATE dossiers AS d SET applicant_name_folded = v.folded '
            'FROM unnest(CAST(:ids AS bigint[]), CAST(:folded AS text[])) AS v(id, folded) '
            'WHERE d.id = v.id'),
            {'ids': [r[0] for r in rows], 'folded': [fold(r[1]) for r in rows]})
        after = rows[-1][0]


def _backfill_any(bind: sa.engine.Connection) -> None:
    rows = bind.execute(sa.text('SELECT id, applicant_name FROM dossiers')).all()
    if rows:
        bind.execute(sa.text('UPDATE dossiers SET applicant_name_folded = :f WHERE id = :i'),
                     [{'i': r[0], 'f': fold(r[1])} for r in rows])


def upgrade() -> None:
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applicant_name_folded', sa.String(length=LENGTH),
                                      server_default='', nullable=False))
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        _backfill_sqlite(bind)
    elif bind.dialect.name == 'postgresql':
        _backfill_postgresql(bind)
    else:  # pragma: no cover - recon runs on the two above
        _backfill_any(bind)


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both (SQLite has it since 3.35): a batch rebuild of
    # dossiers would have to drop a table that fee lines, intents and payments refer to
    op.drop_column('dossiers', 'applicant_name_folded')
