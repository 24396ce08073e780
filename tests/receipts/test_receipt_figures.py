"""Issue 19: the run's receipt pass reads a receipt's dossier, total and fee lines from the
register's columns (migration 0031), not by parsing every signed XML; a row whose columns are
NULL is read from its XML, with the same result; 0031 fills the columns of receipts issued
before it. (That every writer stores them: tests/receipts/figures.py, used by the inline,
sweep, issue-missing, correction and demo tests.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from recon.cli.admin import alembic_config, upgrade_database
from recon.clock import FixedClock
from recon.db import Database
from recon.engine import receipt_load
from recon.engine.receipt_check import ReceiptRow, decode_lines, encode_lines
from recon.receipts import corrections
from recon.receipts.issuing import load_signer
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer
from tests.receipts.figures import assert_figures_stored
from tests.receipts.keys import PASSWORD, make_keys
from tests.receipts.test_corrections import LATER, _issued

_ALL = receipt_load._RECEIPTS + "id > 0 ORDER BY id"


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


@pytest.fixture
def settings(p12: Path) -> ReceiptSettings:
    return ReceiptSettings.from_env({"RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
                                     "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
                                     "RECON_RECEIPT_TAX_CODE": "3300101234"})


@pytest.fixture
def signer(settings: ReceiptSettings) -> Signer:
    return load_signer(settings)


def _register(db: Database, settings: ReceiptSettings, signer: Signer) -> list[int]:
    """Two receipts and an adjustment of the first (a negative line)."""
    first = _issued(db, settings, signer, "T1")
    second = _issued(db, settings, signer, "T2")
    clock = FixedClock(LATER)
    line = corrections.parse_line("lệ phí:Lệ phí cấp:-1.005")
    with db.transaction() as s:
        proposal = corrections.propose(s, clock, first, kind="adjustment", reason="thu thừa",
                                       lines=[line], actor="user:a").id
    with db.transaction() as s:
        third = corrections.approve(s, clock, proposal, actor="user:b", settings=settings,
                                    signer=signer).id
    return [first, second, third]


def _read(db: Database) -> list[ReceiptRow]:
    with db.engine.connect() as conn:
        return receipt_load._receipts(conn, _ALL, None)


def test_the_pass_reads_the_columns_and_the_xml_alike(
        db: Database, settings: ReceiptSettings, signer: Signer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _register(db, settings, signer)
    assert assert_figures_stored(db) == 3
    parsed: list[Any] = []
    real = receipt_load.read_document

    def counting(document: str | bytes) -> Any:
        parsed.append(document)
        return real(document)

    monkeypatch.setattr(receipt_load, "read_document", counting)
    from_columns = _read(db)
    assert parsed == []  # no XML parsed: every row has its figures
    assert [r.id for r in from_columns] == ids
    assert [(r.dossier_code, r.amount, r.lines) for r in from_columns] == [
        ("H57-T1", 101_005, (("phí", 100_000), ("lệ phí", 1_005))),
        ("H57-T2", 101_005, (("phí", 100_000), ("lệ phí", 1_005))),
        ("H57-T1", -1_005, (("lệ phí", -1_005),))]
    # rows without stored figures (issued before 0031, not backfilled) are read from the XML
    with db.transaction() as s:
        s.execute(text("UPDATE receipts SET dossier_code = NULL, total = NULL, "
                       "lines = NULL WHERE id <> :keep"), {"keep": ids[1]})
    from_xml = _read(db)
    assert len(parsed) == 2
    assert from_xml == from_columns
    # the stored total is what the pass states, not the register's amount
    with db.transaction() as s:
        s.execute(text("UPDATE receipts SET total = 7, amount = 9 WHERE id = :id"),
                  {"id": ids[1]})
    assert _read(db)[1].amount == 7


def test_0031_fills_the_figures_of_receipts_issued_before_it(
        db: Database, settings: ReceiptSettings, signer: Signer) -> None:
    ids = _register(db, settings, signer)
    with db.transaction() as s:  # a number without a document stays without figures
        s.execute(text(
            "INSERT INTO receipts (id, form_code, series, number, status, issued_on, drawn_by, "
            "drawn_at, spoiled_reason) VALUES (99, 'EBL01', '99T', 1, 'spoiled', '2026-11-26', "
            "'t', CURRENT_TIMESTAMP, 'signing failed')"))
    expected = _read(db)
    db.dispose()
    command.downgrade(alembic_config(db.url), "0030_fee_invoices")
    db.dispose()
    with db.engine.connect() as conn:
        columns = set(conn.execute(text("SELECT * FROM receipts WHERE id = 99")).keys())
    assert "lines" not in columns and "total" not in columns
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    assert assert_figures_stored(db) == 3
    assert _read(db) == expected
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT dossier_code, total, lines FROM receipts "
                                 "WHERE id = 99")).one() == (None, None, None)
        assert conn.execute(text("SELECT COUNT(*) FROM receipts WHERE lines IS NOT NULL "
                                 "AND id IN (:a, :b, :c)"),
                            dict(zip("abc", ids, strict=True))).scalar() == 3
        if db.dialect == "sqlite":  # plain ADD/DROP COLUMN: the change triggers stay
            triggers = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'receipts'"))}
            assert {"receipts_change_seq_insert", "receipts_change_seq_update"} <= triggers


def test_fee_lines_round_trip_and_refuse_anything_but_whole_vnd() -> None:
    lines = (("phí", 100_000), ("lệ phí", -1_005))
    assert encode_lines(lines) == '[["phí",100000],["lệ phí",-1005]]'
    assert decode_lines(encode_lines(lines)) == lines
    assert decode_lines("[]") == ()
    for bad in ('[["phí",1.5]]', '[["phí",true]]', '[["phí"]]', '{"phí":1}', '[[1,2]]'):
        with pytest.raises(ValueError, match=r"receipts\.lines"):
            decode_lines(bad)
