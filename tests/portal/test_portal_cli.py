"""`recon portal import` and `recon portal profiles` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from tests.foundation.helpers import AGENCY, seed_agency
from tests.portal.test_portal_import import csv_bytes


def test_import_prints_a_summary_and_refuses_the_same_file(
        env: dict[str, str], db: Database, clock: FixedClock, tmp_path: Path) -> None:
    seed_agency(db, clock)
    path = tmp_path / "dvc-26-11.csv"
    path.write_bytes(csv_bytes())
    first = CliRunner().invoke(cli, ["portal", "import", "--agency", AGENCY, str(path)])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output.strip().splitlines()[-1])
    assert (summary["rows"], summary["total_amount"], summary["day_from"]) == (
        2, 230000, "2026-11-26")
    assert "Checking" in first.output  # the progress line
    again = CliRunner().invoke(cli, ["portal", "import", "--agency", AGENCY, str(path)])
    assert again.exit_code != 0
    assert "was already imported" in again.output and "nothing was changed" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes().replace(b"180.000", b"180.5"))
    refused = CliRunner().invoke(cli, ["portal", "import", "--agency", AGENCY, str(bad)])
    assert refused.exit_code == 1
    assert "nothing was imported" in refused.output and "line 2" in refused.output


def test_profiles_lists_the_unverified_guess(env: dict[str, str]) -> None:
    out = CliRunner().invoke(cli, ["portal", "profiles"])
    assert out.exit_code == 0 and "dvcqg_daily" in out.output and "UNVERIFIED" in out.output
    as_json = json.loads(CliRunner().invoke(cli, ["portal", "profiles", "--json"]).output)
    assert as_json[0]["statuses"]["thành công"] == "succeeded"
