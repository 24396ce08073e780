"""A check shared by the receipt tests: every signed receipt's stored figures (migration 0031:
``dossier_code``, ``total``, ``lines``) say what its XML says."""

from __future__ import annotations

from sqlalchemy import select

from recon.db import Database
from recon.engine.receipt_check import decode_lines
from recon.engine.receipt_load import read_document
from recon.models import Receipt


def assert_figures_stored(db: Database) -> int:
    """Every receipt with a document has its figures stored, equal to its XML's; how many."""
    checked = 0
    with db.read() as s:
        for receipt in s.scalars(select(Receipt).where(Receipt.document.is_not(None))):
            assert receipt.document is not None
            assert receipt.lines is not None, f"receipt {receipt.id} has no stored figures"
            stored = (receipt.dossier_code, receipt.total, decode_lines(receipt.lines))
            assert stored == read_document(receipt.document), receipt.id
            assert receipt.total == receipt.amount  # the register's amount, the XML's total
            checked += 1
    return checked
