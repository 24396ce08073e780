"""0017_fee_shares adds three nullable columns to fee_lines, and takes them away again
without copying the table (its 0009 triggers stay)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, inspect, text

from recon.cli.admin import alembic_config, upgrade_database
from recon.db import Database

NEW = {"collector_code", "retention_bp", "budget_code"}


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("fee_lines")}


def _seed(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO agencies (id, code, name, bank_bin, account_number, "
                          "account_name, created_at) VALUES (1, 'A', 'A', '970415', '1234567',"
                          " 'A', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO procedures (id, code, name, created_at) VALUES "
                          "(1, 'P', 'P', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO dossiers (id, code, agency_id, procedure_id, "
                          "applicant_name, received_at, received_channel, status, created_at, "
                          "updated_at) VALUES (1, 'D', 1, 1, 'X', CURRENT_TIMESTAMP, 'counter',"
                          " 'received', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO fee_lines (dossier_id, position, kind, name, amount) "
                          "VALUES (1, 0, 'phi', 'Phí', 2000), (1, 1, 'le_phi', 'Lệ phí', 5000)"))


def _triggers(db: Database, conn: Connection) -> set[str]:
    """The triggers on fee_lines (0009's; PostgreSQL has one function-backed trigger per
    verb, SQLite one per verb as well): a table copy would lose SQLite's."""
    if db.engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'fee_lines'"
    else:
        sql = ("SELECT tgname FROM pg_trigger WHERE tgrelid = 'fee_lines'::regclass "
               "AND NOT tgisinternal")
    return set(conn.execute(text(sql)).scalars())


def test_0017_downgrades_and_upgrades_keeping_lines_and_triggers(db: Database) -> None:
    assert _columns(db) >= NEW
    _seed(db)
    db.dispose()
    command.downgrade(alembic_config(db.url), "0016_fee_contracts")
    db.dispose()
    assert not NEW & _columns(db)
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM fee_lines")).scalar_one() == 2
        assert "fee_lines_deleted" in _triggers(db, conn)
        assert any(t.startswith("fee_lines_change_seq") for t in _triggers(db, conn))
        conn.execute(text("DELETE FROM fee_lines WHERE position = 1"))
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    assert _columns(db) >= NEW
    with db.engine.connect() as conn:
        assert "fee_lines_deleted" in _triggers(db, conn)
        assert conn.execute(text("SELECT retention_bp, budget_code, collector_code FROM "
                                 "fee_lines")).all() == [(None, None, None)]
