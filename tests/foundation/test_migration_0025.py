"""0025_receipt_lookup adds the receipts' lookup code (unique), filled from the signed XML of
receipts issued before it, and the table of failed public lookups; and takes them away."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from recon.cli.admin import alembic_config, upgrade_database
from recon.db import Database

REVISION = "0025_receipt_lookup"


def test_0025_fills_each_receipts_code_from_its_xml_and_downgrades(db: Database) -> None:
    config = alembic_config(db.url)
    before = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    db.dispose()
    command.downgrade(config, before)
    db.dispose()
    assert "lookup_code" not in {c["name"] for c in inspect(db.engine).get_columns("receipts")}
    assert "receipt_lookup_failures" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:
        for number, document in ((1, "<CTu><DLCTu><TTChung><MTCuu>K7Q2M9XW4PAB</MTCuu>"
                                     "</TTChung></DLCTu></CTu>"),
                                 (2, "<CTu><DLCTu><TTChung></TTChung></DLCTu></CTu>"),
                                 (3, None)):
            conn.execute(text(
                "INSERT INTO receipts (form_code, series, number, status, issued_on, drawn_by,"
                " drawn_at, document) VALUES ('EBL01', '26T', :n, :status, '2026-12-06', 't',"
                " CURRENT_TIMESTAMP, :doc)"),
                {"n": number, "doc": document, "status": "issued" if document else "reserved"})
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    with db.engine.begin() as conn:
        rows = conn.execute(text("SELECT number, lookup_code FROM receipts ORDER BY number"))
        assert rows.all() == [(1, "K7Q2M9XW4PAB"), (2, None), (3, None)]
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("UPDATE receipts SET lookup_code = 'K7Q2M9XW4PAB' WHERE number = 2"))
    db.dispose()
    assert "receipt_lookup_failures" in inspect(db.engine).get_table_names()
