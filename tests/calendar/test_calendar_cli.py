"""`recon calendar show|check`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from recon.cli import cli


def test_show_lists_tet_and_the_make_up_saturday() -> None:
    out = CliRunner().invoke(cli, ["calendar", "show", "2026", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    off = {d["date"] for d in doc["non_banking_days"]}
    assert {"2026-02-16", "2026-02-20", "2026-08-31", "2026-04-27"} <= off
    assert "2026-02-13" not in off
    assert [d["date"] for d in doc["working_days"]] == ["2026-08-22"]
    text = CliRunner().invoke(cli, ["calendar", "show", "2021"])
    assert "2021-02-10  Thứ Tư" in text.output and "Tết Nguyên Đán" in text.output


def test_check_names_the_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[[day]]\ndate = 2027-13-01\nkind = "off"\n')
    out = CliRunner().invoke(cli, ["calendar", "check", str(bad)])
    assert out.exit_code == 1
    assert "not a UTF-8 TOML file" in out.output
    good = tmp_path / "good.toml"
    good.write_text('version = 1\n[[day]]\ndate = 2027-02-05\nkind = "off"\nnote = "Tết"\n')
    ok = CliRunner().invoke(cli, ["calendar", "check", str(good)])
    assert ok.exit_code == 0 and "1 days off, 0 working days" in ok.output
