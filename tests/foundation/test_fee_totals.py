"""``dossiers.fee_total`` (migration 0037) is the sum of the dossier's fee lines after every kind
of write: the intake API (ORM), a reassessment that replaces the lines, the bulk importer
(``COPY`` on PostgreSQL), and SQL by hand (an amount changed, a line moved to another dossier,
lines deleted). The engine's loads read it as what a dossier is assessed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from recon.bulk import fee_totals_written
from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.models import Dossier, FeeLine
from tests.foundation.helpers import dossier_body, seed_agency


def _totals(db: Database) -> dict[str, tuple[int, int]]:
    """Each dossier's code: (kept total, sum of its fee lines)."""
    with db.read() as s:
        summed = (select(func.coalesce(func.sum(FeeLine.amount), 0))
                  .where(FeeLine.dossier_id == Dossier.id).scalar_subquery())
        rows = s.execute(select(Dossier.code, Dossier.fee_total, summed)).all()
    return {code: (int(kept), int(total)) for code, kept, total in rows}


def _consistent(db: Database) -> dict[str, int]:
    totals = _totals(db)
    assert all(kept == summed for kept, summed in totals.values()), totals
    return {code: kept for code, (kept, _summed) in totals.items()}


def _bodies(prefix: str, n: int, step: int, phi: int) -> list[dict[str, Any]]:
    """``n`` dossiers, each a lệ phí of ``step`` × (its number + 1) and a phí of ``phi``."""
    return [dossier_body(code=f"{prefix}-{i}", fees=[
        {"kind": "le_phi", "name": "Lệ phí", "amount": step * (i + 1)},
        {"kind": "phi", "name": "Phí", "amount": phi}]) for i in range(n)]


def _import(path: Path, bodies: list[dict[str, Any]]) -> None:
    """``recon dossiers import`` of ``bodies`` as JSON Lines (the bulk importer: ``COPY`` on
    PostgreSQL, ``executemany`` on SQLite)."""
    path.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\n",
                    encoding="utf-8")
    done = CliRunner().invoke(cli, ["dossiers", "import", str(path)], catch_exceptions=False)
    assert done.exit_code == 0, done.output


def _stamp(db: Database, code: str) -> int | None:
    with db.read() as s:
        return s.scalar(select(Dossier.change_seq).where(Dossier.code == code))


def test_fee_totals_follow_every_write(client: FlaskClient, db: Database, clock: FixedClock,
                                       make_token: Any, tmp_path: Path) -> None:
    seed_agency(db, clock)
    headers = {"Authorization": f"Bearer {make_token('intake')}"}

    def post(body: dict[str, Any]) -> None:
        response = client.post("/api/v1/dossiers", data=json.dumps(body), headers=headers,
                               content_type="application/json")
        assert response.status_code in (200, 201), response.json

    post(dossier_body(code="A"))
    post(dossier_body(code="B", fees=[]))  # no fee line: 0
    assert _consistent(db) == {"A": 180_000, "B": 0}
    # a reassessment replaces the lines (deletes and inserts in one transaction)
    post(dossier_body(code="A", fees=[{"kind": "le_phi", "name": "Lệ phí", "amount": 50_000},
                                      {"kind": "phi", "name": "Phí", "amount": 7_000}]))
    assert _consistent(db)["A"] == 57_000
    # the bulk importer (COPY on PostgreSQL, executemany on SQLite)
    _import(tmp_path / "d.jsonl", _bodies("I", 40, 1_000, 500))
    totals = _consistent(db)
    assert totals["I-0"] == 1_500 and totals["I-39"] == 40_500
    # SQL by hand: an amount changed, a line moved to another dossier, lines deleted, a line
    # updated without its amount changing; each stamps the dossier it moves (what an
    # incremental run reads), and only those
    before_b, before_i5 = _stamp(db, "B"), _stamp(db, "I-5")
    with db.transaction() as s:  # (SQLite's stamp is a counter each run bumps: bumped here)
        s.execute(text("UPDATE recon_change_counter SET value = value + 1"))
        a_id = s.scalar(select(Dossier.id).where(Dossier.code == "A"))
        b_id = s.scalar(select(Dossier.id).where(Dossier.code == "B"))
        i1 = s.scalar(select(Dossier.id).where(Dossier.code == "I-1"))
        i2 = s.scalar(select(Dossier.id).where(Dossier.code == "I-2"))
        s.execute(text("UPDATE fee_lines SET amount = amount + 3 WHERE dossier_id = :d"),
                  {"d": a_id})
        s.execute(text("UPDATE fee_lines SET dossier_id = :to WHERE dossier_id = :d "
                       "AND amount = 500"), {"d": i1, "to": b_id})
        s.execute(text("DELETE FROM fee_lines WHERE dossier_id = :d"), {"d": i2})
        s.execute(text("UPDATE fee_lines SET name = 'Phí (sửa tên)' WHERE amount = 500"))
    totals = _consistent(db)
    assert (totals["A"], totals["B"], totals["I-1"], totals["I-2"]) == (57_006, 500, 2_000, 0)
    assert _stamp(db, "B") != before_b
    assert _stamp(db, "I-5") == before_i5  # a renamed line moves no total


def _commands(db: Database, code: str) -> tuple[int, list[int]]:
    """PostgreSQL: the command of its transaction that wrote a dossier's row as it is now,
    and those that wrote its fee lines (``cmin``: a row the trigger's update rewrote was
    written by a command after its lines')."""
    with db.read() as s:
        dossier = s.execute(text("SELECT id, cmin::text::bigint FROM dossiers "
                                 "WHERE code = :c"), {"c": code}).one()
        lines = s.scalars(text("SELECT cmin::text::bigint FROM fee_lines "
                               "WHERE dossier_id = :d"), {"d": dossier[0]})
        return int(dossier[1]), sorted(int(x) for x in lines)


def test_a_bulk_import_writes_each_new_dossier_once(db: Database, env: dict[str, str],
                                                    clock: FixedClock, tmp_path: Path) -> None:
    """The importer writes a new dossier with its total; on PostgreSQL the fee lines' insert
    trigger then leaves the row alone (0039): the dossier's row is the one written before its
    lines (an update by the trigger would have written a new one after them). The totals are
    the sums on both databases, and a reassessment through the same importer still moves
    them."""
    seed_agency(db, clock)
    bodies = _bodies("W", 30, 2_000, 700)
    _import(tmp_path / "w.jsonl", bodies)
    totals = _consistent(db)
    assert totals["W-0"] == 2_700 and totals["W-29"] == 60_700
    if db.dialect == "postgresql":
        for code in ("W-0", "W-17", "W-29"):
            own, lines = _commands(db, code)
            assert len(lines) == 2 and own < lines[0], (code, own, lines)
    # the same file with one dossier reassessed: existing dossiers go by the upsert rule
    bodies[3]["fees"] = [{"kind": "le_phi", "name": "Lệ phí", "amount": 9_000}]
    _import(tmp_path / "w.jsonl", bodies)
    assert _consistent(db)["W-3"] == 9_000


def test_fee_lines_after_the_writers_block_move_the_totals_again(db: Database,
                                                                 clock: FixedClock) -> None:
    """The setting that spares the trigger holds only inside the block: a line inserted
    after it, in the same transaction, moves its dossier's total (PostgreSQL), and SQLite's
    triggers are never spared."""
    seed_agency(db, clock)
    with db.transaction() as s:
        agency = s.scalar(text("SELECT id FROM agencies"))
        s.execute(text("INSERT INTO procedures (code, name, created_at) "
                       "VALUES ('1.000001', 'Thủ tục thử', :t)"), {"t": clock.now()})
        procedure = s.scalar(text("SELECT id FROM procedures WHERE code = '1.000001'"))
        with fee_totals_written(s) as by_writer:
            s.execute(text(
                "INSERT INTO dossiers (code, agency_id, procedure_id, applicant_name, "
                "received_at, received_channel, status, created_at, updated_at, fee_total) "
                "VALUES ('S-1', :a, :p, 'Lê Văn Tám', :t, 'counter', 'received', :t, :t, "
                ":total)"),
                {"a": agency, "p": procedure, "t": clock.now(),
                 "total": 4_000 if by_writer else 0})
            dossier = s.scalar(text("SELECT id FROM dossiers WHERE code = 'S-1'"))
            s.execute(text("INSERT INTO fee_lines (dossier_id, position, kind, name, amount) "
                           "VALUES (:d, 0, 'phi', 'Phí', 4000)"), {"d": dossier})
        assert by_writer == (db.dialect == "postgresql")
        s.execute(text("INSERT INTO fee_lines (dossier_id, position, kind, name, amount) "
                       "VALUES (:d, 1, 'le_phi', 'Lệ phí', 600)"), {"d": dossier})
    assert _consistent(db)["S-1"] == 4_600


def test_code_ahead_of_its_schema_leaves_the_totals_to_the_trigger(db: Database) -> None:
    """On a PostgreSQL schema before 0039 (a deployment that runs the new code before
    `recon db upgrade`), the insert trigger would add the lines to totals the writer wrote
    too: the writer is told to write none. At 0039 it writes them (SQLite: never)."""
    pg = db.dialect == "postgresql"
    with Session(db.engine) as s:  # rolled back when it closes: the schema stays as it is
        with fee_totals_written(s) as by_writer:
            assert by_writer is pg
        if pg:  # 0037's body, as 0039's downgrade puts it back
            s.execute(text(
                "CREATE OR REPLACE FUNCTION recon_fee_lines_total_insert() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"))
        with fee_totals_written(s) as by_writer:
            assert by_writer is False
