"""The schema is made only by migrations, and they match the models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from recon.cli.admin import alembic_config
from recon.db import Base, Database


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {heads}; run alembic merge"


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_audit_events_are_append_only_in_the_database(db: Database) -> None:
    import pytest
    from sqlalchemy.exc import DatabaseError

    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO audit_events (occurred_at, actor, action, entity_type, entity_id, data,"
            " prev_hash, hash) VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c', 'd', '{}', 'x', 'y')"))
    with pytest.raises(DatabaseError), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with pytest.raises(DatabaseError), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalar_one() == "a"


def test_0006_bank_reference_upgrades_and_downgrades_with_data(db: Database) -> None:
    """0006 adds payments.bank_reference and its partial index; downgrading to 0005 drops
    both and keeps every payment (and what refers to it); upgrading again gives NULLs."""
    from alembic import command

    from recon.cli.admin import upgrade_database

    def columns() -> set[str]:
        return {c["name"] for c in inspect(db.engine).get_columns("payments")}

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(db.engine).get_indexes("payments") if i["name"]}

    assert "bank_reference" in columns()
    assert "ix_payments_provider_bank_reference" in indexes()
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO payments (id, provider, provider_txn_id, channel, amount, status, "
            "paid_at, received_at, recorded_by, updated_at, bank_reference) VALUES "
            "(7, 'sepay', '92704', 'vietqr', 180000, 'succeeded', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, 'test', CURRENT_TIMESTAMP, 'FT24207000001')"))
        conn.execute(text(
            "INSERT INTO discrepancies (identity, kind, status, payment_id, expected_amount, "
            "actual_amount, delta, explanation, explanation_en, within_tolerance, detected_at, "
            "updated_at) VALUES ('unmatched_payment:payment=7', 'unmatched_payment', 'open', 7, "
            "0, 180000, 180000, 'x', 'x', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    db.dispose()
    command.downgrade(alembic_config(db.url), "0005")
    db.dispose()
    assert "bank_reference" not in columns()
    assert "ix_payments_provider_bank_reference" not in indexes()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT provider_txn_id FROM payments")).scalars().all() == [
            "92704"]
        assert conn.execute(text("SELECT payment_id FROM discrepancies")).scalar_one() == 7
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    assert "bank_reference" in columns()
    assert "ix_payments_provider_bank_reference" in indexes()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT bank_reference FROM payments")).all() == [(None,)]


def test_every_stamped_table_keeps_its_change_triggers(sqlite_template: Path) -> None:
    """SQLite's batch mode copies a table and drops its triggers: a later migration that
    rebuilds a table whose rows carry ``change_seq`` must put its stamps back, or incremental
    runs stop seeing its changes (0026 once lost the receipts' stamps this way). PostgreSQL
    alters tables in place and keeps them."""
    conn = sqlite3.connect(sqlite_template)
    try:
        triggers = set(conn.execute("SELECT tbl_name, name FROM sqlite_master "
                                    "WHERE type = 'trigger'").fetchall())
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        stamped = [t for t in tables
                   if any(col[1] == "change_seq"
                          for col in conn.execute(f'PRAGMA table_info("{t}")').fetchall())]
    finally:
        conn.close()
    assert {"receipts", "payments", "dossiers"} <= set(stamped)
    for table in stamped:
        if table == "discrepancies":  # stamped only when a finding reopens
            assert (table, "discrepancies_change_seq") in triggers
            continue
        for verb in ("insert", "update"):
            assert (table, f"{table}_change_seq_{verb}") in triggers, (table, verb)


def test_payments_and_lines_keep_their_span_triggers(sqlite_template: Path) -> None:
    """0040's triggers keep ``transaction_spans``; a later batch-mode copy of ``payments`` or
    ``settlement_lines`` would drop them, and full runs with closed months behind would stop
    reading the rows linked across their horizon."""
    conn = sqlite3.connect(sqlite_template)
    try:
        triggers = set(conn.execute("SELECT tbl_name, name FROM sqlite_master "
                                    "WHERE type = 'trigger'").fetchall())
    finally:
        conn.close()
    for table in ("payments", "settlement_lines"):
        for verb in ("insert", "update"):
            assert (table, f"{table}_spans_{verb}") in triggers, (table, verb)


def test_0027_receipt_collectors_backfills_the_register(db: Database) -> None:
    """0027 keys numbering per organisation: receipts issued before it get the collector of
    the dossier they name and the MST they state (a number without a document, the MST of
    its series), and the counter goes to that MST; the receipts keep their change stamps."""
    from datetime import UTC, datetime

    from alembic import command

    from recon.cli.admin import upgrade_database
    from recon.models import Agency, Dossier, Payment, Procedure

    at = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    with db.transaction() as s:
        agency = Agency(code="H57.STP", name="Sở Tư pháp", bank_bin="970415",
                        account_number="1", account_name="STP")
        dossier = Dossier(code="H57-1", agency=agency, applicant_name="An", received_at=at,
                          procedure=Procedure(code="P", name="Thủ tục"))
        s.add(dossier)
        s.flush()
        payment = Payment(provider="cash", provider_txn_id="C1", channel="cash", amount=5,
                          status="succeeded", paid_at=at, dossier_id=dossier.id)
        s.add(payment)
        s.flush()
        payment_id = payment.id
    # written as 0026 wrote them (no collector, no MST key), then downgraded and upgraded
    document = ("<CTu><DLCTu><NDCTu><TCThu><Ten>Sở Tư pháp</Ten><MST>3300101234</MST></TCThu>"
                "<HSo><MHSo>H57-1</MHSo></HSo></NDCTu></DLCTu></CTu>")
    with db.transaction() as conn:
        conn.execute(text("INSERT INTO receipt_counters (form_code, series, last_number) "
                          "VALUES ('EBL01', '26T', 2)"))
        conn.execute(text(
            "INSERT INTO receipts (id, form_code, series, number, status, issued_on, drawn_by, "
            "drawn_at, payment_id, amount, document) VALUES (1, 'EBL01', '26T', 1, 'issued', "
            "'2026-11-26', 't', CURRENT_TIMESTAMP, :p, 5, :d)"), {"p": payment_id, "d": document})
        conn.execute(text(
            "INSERT INTO receipts (id, form_code, series, number, status, issued_on, drawn_by, "
            "drawn_at, spoiled_reason) VALUES (2, 'EBL01', '26T', 2, 'spoiled', '2026-11-26', "
            "'t', CURRENT_TIMESTAMP, 'signing failed')"))
    db.dispose()
    command.downgrade(alembic_config(db.url), "0026_receipt_changes")
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    with db.engine.connect() as conn:
        assert conn.execute(text(
            "SELECT id, collector_code, issuer_tax_code FROM receipts ORDER BY id")).all() == [
            (1, "H57.STP", "3300101234"), (2, None, "3300101234")]
        assert conn.execute(text(
            "SELECT issuer_tax_code, form_code, series, last_number FROM receipt_counters")
        ).all() == [("3300101234", "EBL01", "26T", 2)]
        if db.dialect == "sqlite":
            triggers = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'receipts'"))}
            assert {"receipts_change_seq_insert", "receipts_change_seq_update"} <= triggers
    assert "tax_code" in {c["name"] for c in inspect(db.engine).get_columns("agencies")}


def test_0032_settlement_line_kinds_upgrade_and_downgrade_with_data(db: Database) -> None:
    """0032 adds settlement_lines.kind (NOT NULL, 'sale' by default, CHECK sale/refund) and
    original_txn_id with its index; downgrading to 0031 drops them and keeps every line;
    upgrading again reads every line as a sale. The change stamps keep working throughout."""
    import pytest
    from alembic import command
    from sqlalchemy.exc import DBAPIError

    from recon.cli.admin import upgrade_database

    def columns() -> set[str]:
        return {c["name"] for c in inspect(db.engine).get_columns("settlement_lines")}

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(db.engine).get_indexes("settlement_lines")
                if i["name"]}

    def add_line(conn: object, line_id: int, extra: str = "", values: str = "") -> None:
        conn.execute(text(  # type: ignore[attr-defined]
            "INSERT INTO settlement_lines (id, file_id, line_no, provider, provider_txn_id, "
            f"amount, fee, net, settled_on, created_at{extra}) VALUES ({line_id}, 1, "
            f"{line_id}, 'vnpay', 'T{line_id}', 100000, 3000, 97000, '2026-11-27', "
            f"CURRENT_TIMESTAMP{values})"))

    assert {"kind", "original_txn_id"} <= columns()
    assert "ix_settlement_lines_provider_original" in indexes()
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO settlement_files (id, provider, filename, sha256, size, content, "
            "source, imported_at, imported_by, row_count, total_amount) VALUES (1, 'vnpay', "
            "'f.csv', :sha, 1, :content, 'upload', CURRENT_TIMESTAMP, 'test', 2, 200000)"),
            {"sha": "0" * 64, "content": b"x"})
        add_line(conn, 1)
        add_line(conn, 2, ", kind, original_txn_id", ", 'refund', 'T1'")
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        add_line(conn, 3, ", kind", ", 'chargeback'")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, kind, original_txn_id, change_seq IS NOT NULL "
                                 "FROM settlement_lines ORDER BY id")).all() == [
            (1, "sale", None, True), (2, "refund", "T1", True)]
    db.dispose()
    command.downgrade(alembic_config(db.url), "0031_receipt_figures")
    db.dispose()
    assert not {"kind", "original_txn_id"} & columns()
    assert "ix_settlement_lines_provider_original" not in indexes()
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM settlement_lines")).scalar_one() == 2
        add_line(conn, 4)
        assert conn.execute(text(
            "SELECT change_seq IS NOT NULL FROM settlement_lines WHERE id = 4")).scalar_one()
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, kind, original_txn_id FROM settlement_lines "
                                 "ORDER BY id")).all() == [
            (1, "sale", None), (2, "sale", None), (4, "sale", None)]
