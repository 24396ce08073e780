"""receipt figures: what an issued receipt's signed XML states, as columns (issue 19)

``receipts`` gains ``dossier_code`` (MHSo), ``total`` (TgTien, VND) and ``lines`` (each
KThu's LKThu and STien as compact JSON ``[["phí",50000],...]``), all nullable. Every writer of
a signed receipt stores them with its document in one transaction (``recon.receipts.document
.figures``); the run's receipt pass reads them instead of parsing every receipt's XML, and
parses the XML of a row whose ``lines`` is NULL. The signature stays the XML's (``recon
receipts verify``).

Plain ADD COLUMN (no batch copy on SQLite), so ``receipts``' change triggers (0024) stay.
Backfill: each document is parsed once, in batches of ids. The updates stamp ``change_seq``
(the triggers), so the first incremental run after the upgrade re-reads the receipts' payments
once (same figures, same findings). A document that cannot be read is left NULL: the pass
reads it as before.

Revision ID: 0031_receipt_figures
Revises: 0030_fee_invoices
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from lxml import etree

revision: str = '0031_receipt_figures'
down_revision: str | None = '0030_fee_invoices'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000
CODE_LENGTH = 64  # dossiers.code
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _figures(document: str) -> dict[str, object] | None:
    """The columns of one signed XML (as recon.engine.receipt_load reads it), or None."""
    try:
        root = etree.fromstring(document.encode("utf-8"), _PARSER)
        body = root.find("DLCTu/NDCTu")
        if body is None:
            return None
        lines = [[k.findtext("LKThu") or "", int(k.findtext("STien") or "0")]
                 for k in body.iterfind("DSKThu/KThu")]
        total = body.findtext("TToan/TgTien")
        code = body.findtext("HSo/MHSo")
        if code is not None and len(code) > CODE_LENGTH:
            return None
        return {"c": code, "t": None if total is None else int(total),
                "l": json.dumps(lines, ensure_ascii=False, separators=(",", ":"))}
    except (etree.XMLSyntaxError, ValueError):
        return None


def _backfill(bind: sa.Connection) -> None:
    after = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, document FROM receipts WHERE id > :after AND document IS NOT NULL "
            "ORDER BY id LIMIT :n"), {"after": after, "n": BATCH}).all()
        if not rows:
            return
        after = int(rows[-1][0])
        values = []
        for rid, document in rows:
            found = _figures(document)
            if found is not None:
                values.append({**found, "id": int(rid)})
        if values:
            bind.execute(sa.text("UPDATE receipts SET dossier_code = :c, total = :t, "
                                 "lines = :l WHERE id = :id"), values)


def upgrade() -> None:
    op.add_column('receipts', sa.Column('dossier_code', sa.String(length=CODE_LENGTH),
                                        nullable=True))
    op.add_column('receipts', sa.Column('total', sa.BigInteger(), nullable=True))
    op.add_column('receipts', sa.Column('lines', sa.Text(), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): no batch copy, the change triggers stay
    for column in ('lines', 'total', 'dossier_code'):
        op.drop_column('receipts', column)
