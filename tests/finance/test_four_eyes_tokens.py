"""Issue 16, item 6: four eyes with a token. A token belongs to a person (`recon tokens create
--user NAME`), maker ≠ checker compares people, and a token that belongs to nobody can neither
propose nor approve what needs two people. Write-offs (recon/review/actions.py) and month
closes (recon/review/periods.py), through the services and through the HTTP routes a token
can call."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select, update

from recon.audit import four_eyes
from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.models import AuditEvent, Discrepancy, Period
from recon.review import actions as review
from recon.review import periods as close
from tests.finance.helpers import World, build_world

JAN = date(2021, 1, 1)


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _discrepancy(db: Database, did: int) -> Discrepancy:
    with db.read() as s:
        found = s.get(Discrepancy, did)
        assert found is not None
        return found


def _propose_write_off(db: Database, clock: FixedClock, did: int) -> None:
    with db.transaction() as s:
        review.resolve(s, clock, did, actor="user:ketoan", resolution_type="written_off",
                       note="10.000 ₫, not worth chasing")


def test_a_token_of_the_proposer_cannot_approve_the_write_off(
        client: FlaskClient, db: Database, clock: FixedClock, world: World,
        make_user: Any, make_token: Any) -> None:
    """The attack of the issue: ketoan proposes, then approves with a finance token. The token
    is ketoan's, so it is the same person: refused, nothing changes."""
    make_user("ketoan", "finance")
    make_user("kiemsoat", "finance")
    did = world.discrepancies["C"]
    _propose_write_off(db, clock, did)
    own = make_token("finance", "ketoan-script", user="ketoan")
    refused = client.post(f"/finance/discrepancies/{did}/approve", headers=_auth(own))
    assert refused.status_code == 403
    assert "Bạn là người đề xuất nên không thể tự phê duyệt" in refused.text
    assert _discrepancy(db, did).status == "open"
    # another person's token is a second pair of eyes
    other = make_token("finance", "kiemsoat-script", user="kiemsoat")
    done = client.post(f"/finance/discrepancies/{did}/approve", headers=_auth(other))
    assert done.status_code == 303, done.text
    d = _discrepancy(db, did)
    assert (d.status, d.resolved_by, d.proposed_by) == (
        "resolved", "token:kiemsoat-script", "user:ketoan")
    with db.read() as s:
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "discrepancy.resolution_approved")).one()
    assert json.loads(event.data)["person"] == "user:kiemsoat"  # who answers for the token


def test_a_proposal_made_with_a_token_binds_its_owner(
        client: FlaskClient, db: Database, clock: FixedClock, world: World,
        make_user: Any, make_token: Any, login: Any) -> None:
    """The other way round: ketoan proposes with their token, then tries to approve in the
    browser as user:ketoan. Refused; the proposal keeps the person behind the token."""
    make_user("ketoan", "finance")
    did = world.discrepancies["C"]
    token = make_token("finance", "ketoan-script", user="ketoan")
    proposed = client.post(f"/finance/discrepancies/{did}/resolve", headers=_auth(token),
                           data={"resolution_type": "written_off", "note": "not worth it"})
    assert proposed.status_code == 303, proposed.text
    d = _discrepancy(db, did)
    assert (d.proposed_by, d.proposed_by_person) == ("token:ketoan-script", "user:ketoan")
    csrf = login("finance", "ketoan-2")  # someone else logs in: a different person
    browser = client.post(f"/finance/discrepancies/{did}/approve",
                          data={"csrf_token": csrf})
    assert browser.status_code == 303
    assert _discrepancy(db, did).status == "resolved"
    with db.transaction() as s:  # and the owner, as a user, could not have
        s.execute(update(Discrepancy).where(Discrepancy.id == did).values(
            status="open", proposed_by="token:ketoan-script", proposed_by_person="user:ketoan",
            proposed_resolution_type="written_off", proposed_note="again"))
    with pytest.raises(four_eyes.SameUser), db.transaction() as s:
        review.approve(s, clock, did, actor="user:ketoan")


def test_an_unowned_token_can_neither_propose_nor_approve(
        client: FlaskClient, db: Database, clock: FixedClock, world: World,
        make_token: Any) -> None:
    """Tokens made before 0012 belong to nobody: they keep their other uses, but four-eyes
    actions are refused with a message saying to recreate the token with --user."""
    did = world.discrepancies["C"]
    unowned = make_token("finance", "old-script")
    propose = client.post(f"/finance/discrepancies/{did}/resolve", headers=_auth(unowned),
                          data={"resolution_type": "written_off", "note": "x"})
    assert propose.status_code == 403 and "--user" in propose.text
    assert _discrepancy(db, did).proposed_by is None
    _propose_write_off(db, clock, did)
    approve = client.post(f"/finance/discrepancies/{did}/approve", headers=_auth(unowned))
    assert approve.status_code == 403 and "--user" in approve.text
    assert _discrepancy(db, did).status == "open"
    # what needs one person still works for it: resolve at once
    ok = client.post(f"/finance/discrepancies/{world.discrepancies['D']}/resolve",
                     headers=_auth(unowned),
                     data={"resolution_type": "provider_corrected", "note": "fixed"})
    assert ok.status_code == 303
    with pytest.raises(four_eyes.UnownedToken) as exc, db.transaction() as s:
        review.approve(s, clock, did, actor="token:old-script")  # no person given: nobody
    assert "recon tokens create" in (exc.value.hint or "")


def test_a_proposal_left_by_an_unowned_token_cannot_be_approved(
        db: Database, clock: FixedClock, world: World) -> None:
    """A proposal from before 0012 made with a token has no person: nobody can be its second
    pair of eyes (it could be anyone), so it must be rejected and proposed again."""
    did = world.discrepancies["C"]
    with db.transaction() as s:
        s.execute(update(Discrepancy).where(Discrepancy.id == did).values(
            proposed_by="token:old-script", proposed_by_person=None,
            proposed_resolution_type="written_off", proposed_note="legacy"))
    with pytest.raises(four_eyes.UnknownProposer), db.transaction() as s:
        review.approve(s, clock, did, actor="user:kiemsoat")
    with db.transaction() as s:
        review.reject(s, clock, did, actor="user:kiemsoat")
    assert _discrepancy(db, did).proposed_by is None


def test_a_month_close_proposed_by_a_user_is_not_approved_by_their_token(
        client: FlaskClient, db: Database, clock: FixedClock, world: World,
        make_user: Any, make_token: Any) -> None:
    make_user("ketoan", "finance")
    make_user("kiemsoat", "finance")
    with db.transaction() as s:
        pid = close.propose(s, clock, actor="user:ketoan", month=JAN,
                            carry_forward={world.discrepancies["D"]: "bank owes"}).id
    own = make_token("finance", "ketoan-script", user="ketoan")
    unowned = make_token("finance", "old-script")
    for token in (own, unowned):
        refused = client.post(f"/api/v1/periods/{pid}/approve", headers=_auth(token))
        assert refused.status_code == 403, refused.json
    assert "--user" in client.post(f"/api/v1/periods/{pid}/approve",
                                   headers=_auth(unowned)).json["hint"]
    with db.read() as s:
        period = s.get(Period, pid)
        assert period is not None and period.status == "proposed"
    other = make_token("finance", "kiemsoat-script", user="kiemsoat")
    closed = client.post(f"/api/v1/periods/{pid}/approve", headers=_auth(other))
    assert closed.status_code == 200 and closed.json["status"] == "closed"


def test_a_month_close_proposed_with_a_token_binds_its_owner(
        client: FlaskClient, db: Database, clock: FixedClock, world: World,
        make_user: Any, make_token: Any) -> None:
    make_user("ketoan", "finance")
    token = make_token("finance", "ketoan-script", user="ketoan")
    made = client.post("/api/v1/periods", headers=_auth(token), json={
        "month": "2021-01", "carry_forward": {str(world.discrepancies["D"]): "bank owes"}})
    assert made.status_code == 201, made.json
    with pytest.raises(close.SameUser), db.transaction() as s:
        close.approve(s, clock, made.json["id"], actor="user:ketoan")  # e.g. the CLI's --by
    unowned = make_token("finance", "old-script")
    assert client.post("/api/v1/periods", headers=_auth(unowned),
                       json={"month": "2021-02"}).status_code == 403


def test_tokens_create_requires_a_person_and_a_disabled_owner_stops_the_token(
        env: dict[str, str], client: FlaskClient, db: Database) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "create", "ketoan", "--role", "finance",
                               "--all-agencies"], input="a-long-password\n").exit_code == 0
    missing = runner.invoke(cli, ["tokens", "create", "script", "--role", "finance"])
    assert missing.exit_code == 2 and "--user" in missing.output
    made = runner.invoke(cli, ["tokens", "create", "script", "--role", "finance",
                               "--user", "ketoan", "--all-agencies"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    listed = json.loads(runner.invoke(cli, ["tokens", "list", "--json"]).stdout)
    assert [t["user"] for t in listed] == ["ketoan"]
    assert client.get("/api/v1/agencies", headers=_auth(token)).status_code == 200
    assert runner.invoke(cli, ["users", "disable", "ketoan"]).exit_code == 0
    assert client.get("/api/v1/agencies", headers=_auth(token)).status_code == 401
