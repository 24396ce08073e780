"""`recon periods list|close|approve|reopen` end to end on a database."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from recon.cli import cli
from recon.db import Database
from recon.errors import Forbidden, ValidationError
from recon.review.actions import ReviewError
from recon.review.periods import SameUser
from tests.finance.helpers import World, build_world


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_close_approve_reopen_from_the_command_line(db: Database, env: dict[str, str],
                                                    make_user: Any) -> None:
    world: World = build_world(db)
    for name, role in (("maker", "finance"), ("checker", "finance"), ("root", "admin"),
                       ("desk", "cashier")):
        make_user(name, role)
    assert "No month" in _invoke("periods", "list").output
    with pytest.raises(ReviewError, match="open discrepancies"):
        _invoke("periods", "close", "2021-01", "--by", "maker")
    with pytest.raises(Forbidden):
        _invoke("periods", "close", "2021-01", "--by", "desk")
    with pytest.raises(ValidationError, match="YYYY-MM"):
        _invoke("periods", "close", "January", "--by", "maker")
    out = _invoke("periods", "close", "2021-01", "--by", "maker", "--carry-forward",
                  f"{world.discrepancies['D']}=the bank owes 1.000 ₫")
    assert out.exit_code == 0, out.output
    [row] = json.loads(_invoke("periods", "list", "--format", "json").output)
    assert (row["month"], row["status"], row["proposed_by"]) == ("2021-01", "proposed",
                                                                 "user:maker")
    with pytest.raises(SameUser):
        _invoke("periods", "approve", str(row["id"]), "--by", "maker")
    out = _invoke("periods", "approve", str(row["id"]), "--by", "checker")
    assert "closed 2021-01" in out.output and "sha256" in out.output
    with pytest.raises(Forbidden):
        _invoke("periods", "reopen", str(row["id"]), "--by", "checker", "--reason", "x")
    out = _invoke("periods", "reopen", str(row["id"]), "--by", "root", "--reason",
                  "bank correction")
    assert "reopened 2021-01" in out.output
    [row] = json.loads(_invoke("periods", "list", "--format", "json").output)
    assert (row["status"], row["reopened_by"], row["snapshots"]) == ("open", "user:root", 1)
