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
    bodies = [dossier_body(code=f"I-{i}", fees=[
        {"kind": "le_phi", "name": "Lệ phí", "amount": 1_000 * (i + 1)},
        {"kind": "phi", "name": "Phí", "amount": 500}]) for i in range(40)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in bodies) + "\n",
                    encoding="utf-8")
    imported = CliRunner().invoke(cli, ["dossiers", "import", str(path)],
                                  catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
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
