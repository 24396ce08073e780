"""receipt collectors: one receipt per collecting organisation, numbered per organisation

``agencies.tax_code`` is an agency's MST as it signs e-receipts (NULL: it issues under
``RECON_RECEIPT_TAX_CODE``). ``receipts`` gains ``collector_code`` (the agency whose fee lines
the receipt carries) and ``issuer_tax_code`` (the MST its number is drawn under, '' when none
was configured); numbers are unique per (issuer_tax_code, form_code, series, number) and
``receipt_counters`` are keyed per (issuer_tax_code, form_code, series) (docs/receipts.md).

Backfill: a receipt's collector is the agency of the dossier its signed XML names (or of its
payment's dossier), its issuer the MST its XML states; a number without a document (spoiled,
reserved) takes the one MST of its series' issued receipts ('' when they state none or
several). Each counter goes to the issuer of its receipts (split, one row per issuer at its
highest number, in the rare register whose MST setting changed within a year).

Revision ID: 0027_receipt_collectors
Revises: 0026_receipt_changes
Create Date: 2026-12-06 15:50:00
"""

# ruff: noqa: S608 - DDL built from this module's constants only
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027_receipt_collectors'
down_revision: str | None = '0026_receipt_changes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTER = "COALESCE((SELECT value FROM recon_change_counter WHERE id = 1), 0)"
_MHSO = re.compile(r"<MHSo>([^<]*)</MHSo>")
_MST = re.compile(r"<TCThu><Ten>[^<]*</Ten><MST>([^<]*)</MST>")


def _restamp_receipts() -> None:
    """SQLite's batch mode copies ``receipts`` and drops its triggers: put back 0024's change
    stamps (as 0026 does)."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    for verb in ('INSERT', 'UPDATE'):
        op.execute(f"DROP TRIGGER IF EXISTS receipts_change_seq_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER receipts_change_seq_{verb.lower()} AFTER {verb} ON receipts "
            f"FOR EACH ROW WHEN NEW.change_seq IS NOT {COUNTER} BEGIN "
            f"UPDATE receipts SET change_seq = {COUNTER} WHERE id = NEW.id; END")


def _backfill(bind: sa.Connection) -> None:
    agency_of_dossier = {code: agency for code, agency in bind.execute(sa.text(
        "SELECT d.code, a.code FROM dossiers d JOIN agencies a ON a.id = d.agency_id"))}
    agency_of_payment = {pid: agency for pid, agency in bind.execute(sa.text(
        "SELECT p.id, a.code FROM payments p JOIN dossiers d ON d.id = p.dossier_id "
        "JOIN agencies a ON a.id = d.agency_id"))}
    rows = bind.execute(sa.text(
        "SELECT id, form_code, series, number, payment_id, document FROM receipts")).all()
    issuers: dict[tuple[str, str], set[str]] = defaultdict(set)
    found: dict[int, tuple[str | None, str | None]] = {}
    for rid, form_code, series, _number, pid, document in rows:
        dossier = _MHSO.search(document or "")
        mst = _MST.search(document or "")
        collector = (agency_of_dossier.get(dossier.group(1)) if dossier else None) or (
            agency_of_payment.get(pid) if pid is not None else None)
        issuer = mst.group(1) if mst else (None if not document else "")
        if issuer is not None:
            issuers[(form_code, series)].add(issuer)
        found[rid] = (collector, issuer)
    highest: dict[tuple[str, str, str], int] = {}
    for rid, form_code, series, number, _pid, _document in rows:
        collector, issuer = found[rid]
        if issuer is None:  # no document: the one MST of its series, if one
            known = issuers.get((form_code, series), set())
            issuer = next(iter(known)) if len(known) == 1 else ""
        if collector is not None or issuer:
            bind.execute(sa.text("UPDATE receipts SET collector_code = :c, "
                                 "issuer_tax_code = :t WHERE id = :id"),
                         {"c": collector, "t": issuer, "id": rid})
        key = (issuer, form_code, series)
        highest[key] = max(highest.get(key, 0), int(number))
    for cid, form_code, series, _last in bind.execute(sa.text(
            "SELECT id, form_code, series, last_number FROM receipt_counters")).all():
        mine = sorted((k, n) for k, n in highest.items() if k[1:] == (form_code, series))
        if not mine:
            continue  # no number drawn yet: the default organisation's ('')
        top = max(mine, key=lambda kn: kn[1])
        bind.execute(sa.text("UPDATE receipt_counters SET issuer_tax_code = :t WHERE id = :id"),
                     {"t": top[0][0], "id": cid})
        for (issuer, _f, _s), last in mine:
            if issuer != top[0][0]:
                bind.execute(sa.text(
                    "INSERT INTO receipt_counters (issuer_tax_code, form_code, series, "
                    "last_number) VALUES (:t, :f, :s, :n)"),
                    {"t": issuer, "f": form_code, "s": series, "n": last})


def upgrade() -> None:
    op.add_column('agencies', sa.Column('tax_code', sa.String(length=14), nullable=True))
    with op.batch_alter_table('receipt_counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer_tax_code', sa.String(length=14), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collector_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('issuer_tax_code', sa.String(length=14), nullable=False,
                                      server_default=''))
    _backfill(op.get_bind())
    with op.batch_alter_table('receipt_counters', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_receipt_counters_form_code_series'), type_='unique')
        batch_op.create_unique_constraint(
            op.f('uq_receipt_counters_issuer_tax_code_form_code_series'),
            ['issuer_tax_code', 'form_code', 'series'])
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_receipts_form_code_series_number'), type_='unique')
        batch_op.create_unique_constraint(
            op.f('uq_receipts_issuer_tax_code_form_code_series_number'),
            ['issuer_tax_code', 'form_code', 'series', 'number'])
    _restamp_receipts()


def downgrade() -> None:
    bind = op.get_bind()
    several = bind.execute(sa.text(
        "SELECT COUNT(*) FROM (SELECT form_code, series FROM receipt_counters "
        "GROUP BY form_code, series HAVING COUNT(*) > 1) t")).scalar()
    if several:
        raise RuntimeError("cannot downgrade: several organisations number receipts in one "
                           "series; one numbering for all would repeat their numbers")
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_receipts_issuer_tax_code_form_code_series_number'),
                                 type_='unique')
        batch_op.create_unique_constraint(op.f('uq_receipts_form_code_series_number'),
                                          ['form_code', 'series', 'number'])
        batch_op.drop_column('issuer_tax_code')
        batch_op.drop_column('collector_code')
    _restamp_receipts()
    with op.batch_alter_table('receipt_counters', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_receipt_counters_issuer_tax_code_form_code_series'),
                                 type_='unique')
        batch_op.create_unique_constraint(op.f('uq_receipt_counters_form_code_series'),
                                          ['form_code', 'series'])
        batch_op.drop_column('issuer_tax_code')
    # in place (SQLite >= 3.35 drops a column itself): copying agencies would break the
    # foreign keys that point at it
    op.drop_column('agencies', 'tax_code')
