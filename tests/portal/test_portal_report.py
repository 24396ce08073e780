"""The Art. 36 daily report's portal section: the portal's figure, recon's and whether they
agree when a list of that day and agency was imported, and plainly "none" when not."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from recon.clock import FixedClock
from recon.db import Database
from recon.review import reports
from recon.review.portal_report import portal_text
from tests.portal.test_portal_run import portal, row, three_payments
from tests.reconcile.recon_builders import World

DAY = date(2026, 11, 26)


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock)


def test_the_report_gives_the_portal_figure_and_the_agreement(w: World) -> None:
    codes, _ = three_payments(w)
    with w.db.read() as s:
        [none] = reports.art36_report(s, DAY).portal
    assert (none.imported, none.agrees, none.recon_count, none.recon_amount) == (
        False, None, 3, 540000)
    assert "no portal list was imported for this day" in "\n".join(portal_text([none]))

    portal(w, [row(1, codes[0], "V1", 180000), row(2, codes[1], "V2", 180000)])
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    with w.db.read() as s:
        report = reports.art36_report(s, DAY)
    [p] = report.portal
    assert (p.imported, p.portal_count, p.portal_amount, p.recon_count, p.recon_amount,
            p.differences, p.agrees) == (True, 2, 360000, 3, 540000, 1, False)
    assert report.as_dict()["portal"]["agencies"][0]["agrees"] is False
    assert "DIFFERS" in "\n".join(portal_text(report.portal))

    portal(w, [row(1, codes[0], "V1", 180000), row(2, codes[1], "V2", 180000),
               row(3, codes[2], "V3", 180000)], "corrected.csv")
    w.later(minutes=5)
    w.run("incremental", as_of=w.clock.now())
    with w.db.read() as s:
        [p] = reports.art36_report(s, DAY).portal
        # another day: nothing imported for it
        assert reports.art36_report(s, DAY + timedelta(days=1)).portal == []
    assert (p.portal_count, p.portal_amount, p.differences, p.agrees, p.filename) == (
        3, 540000, 0, True, "corrected.csv")


def test_the_cli_report_shows_the_portal_section(w: World, env: dict[str, str]) -> None:
    from recon.cli import cli

    codes, _ = three_payments(w)
    portal(w, [row(1, codes[0], "V1", 180000)])
    out = CliRunner().invoke(cli, ["report", "daily", "--date", DAY.isoformat(),
                                   "--format", "json"], catch_exceptions=False)
    data = json.loads(out.output)
    assert data["portal"]["imported"] is True
    assert data["portal"]["agencies"][0]["portal_amount"] == 180000
