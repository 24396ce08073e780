"""Who reaches what: every route × every role against the policy table; the desk never reaches
finance; no GET changes anything; every POST form carries the CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from werkzeug.routing import IntegerConverter, PathConverter, Rule

from recon.db import Base, Database
from recon.models import Discrepancy
from recon.web.policy import POLICY, PUBLIC, allowed
from tests.finance.helpers import World, build_world

SESSION_ROLES = ("cashier", "finance", "admin")
TOKEN_ROLES = ("intake", "cashier", "finance", "admin")
CALLERS = ("anonymous", *(f"user:{r}" for r in SESSION_ROLES),
           *(f"token:{r}" for r in TOKEN_ROLES))
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz")
STRING_VALUES = {"fmt": "csv", "provider": "sepay", "code": "en", "filename": "app.css"}


def _sample_url(app: Flask, rule: Rule, values: dict[str, Any] | None = None) -> str:
    args: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # a private map, to build a URL for every rule
        if values and name in values:
            args[name] = values[name]
        elif isinstance(converter, IntegerConverter):
            args[name] = 1
        elif isinstance(converter, PathConverter):
            args[name] = "000.00.21.H57-T-D1"
        else:
            args[name] = STRING_VALUES.get(name, "x")
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, args, method=next(iter(_methods(rule))))


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def _session_client(app: Flask, make_user: Callable[..., str], role: str,
                    username: str | None = None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    name = username or f"{role}-x"
    password = make_user(name, role)
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    response = client.post("/login", data={"username": name, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.data
    with client.session_transaction() as sess:
        return client, str(sess["csrf"])


def _callers(app: Flask, make_user: Callable[..., str], make_token: Callable[..., str]
             ) -> dict[str, tuple[FlaskClient, dict[str, str], str]]:
    """caller -> (client, headers, CSRF token sent with forms)."""
    out: dict[str, tuple[FlaskClient, dict[str, str], str]] = {}
    anonymous = app.test_client()
    with anonymous.session_transaction() as sess:
        sess["csrf"] = "anonymous-csrf"
    out["anonymous"] = (anonymous, {}, "anonymous-csrf")
    for role in SESSION_ROLES:
        client, csrf = _session_client(app, make_user, role)
        out[f"user:{role}"] = (client, {}, csrf)
    for role in TOKEN_ROLES:
        client = app.test_client()
        with client.session_transaction() as sess:  # the public forms (log-in) check it
            sess["csrf"] = f"token-{role}-csrf"
        out[f"token:{role}"] = (client, {"Authorization": f"Bearer {make_token(role)}"},
                                f"token-{role}-csrf")
    return out


def test_every_route_and_role_against_the_policy_table(
        app: Flask, make_user: Callable[..., str], make_token: Callable[..., str]) -> None:
    """The views are replaced by stubs: this checks the policy layer alone, for every rule the
    app registers, every method and every kind of caller."""
    callers = _callers(app, make_user, make_token)
    for endpoint in list(app.view_functions):
        app.view_functions[endpoint] = lambda **_kw: "stub-ok"
    rules = [r for r in app.url_map.iter_rules()]
    assert {r.endpoint for r in rules} <= set(POLICY)
    checked = 0
    problems = []
    for rule in rules:
        url = _sample_url(app, rule)
        for method in _methods(rule):
            for caller, (client, headers, csrf) in callers.items():
                role = None if caller == "anonymous" else caller.split(":", 1)[1]
                data = {"csrf_token": csrf} if method != "GET" else None
                response = client.open(url, method=method, headers=headers, data=data)
                public = POLICY[rule.endpoint] is PUBLIC
                expected_ok = public or (role is not None and allowed(rule.endpoint, role))
                if expected_ok:
                    ok = response.status_code == 200 and response.data == b"stub-ok"
                elif role is None:
                    ok = (response.status_code == 401 if url.startswith(JSON_PREFIXES)
                          else response.status_code == 302 and "/login" in
                          response.headers.get("Location", ""))
                else:
                    ok = response.status_code == 403
                if not ok:
                    problems.append(f"{caller} {method} {url} ({rule.endpoint}): "
                                    f"{response.status_code}, expected "
                                    f"{'allowed' if expected_ok else 'denied'}")
                checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= len(rules) * len(CALLERS)


def test_finance_endpoints_are_for_finance_and_admin_only() -> None:
    finance = {e: roles for e, roles in POLICY.items() if e.startswith("finance.")}
    assert len(finance) >= 15
    assert all(roles == frozenset({"finance", "admin"}) for roles in finance.values())


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _real_values(world: World) -> dict[str, Any]:
    return {"discrepancy_id": world.discrepancies["A"], "file_id": world.files["a"],
            "intent_id": world.intents["d1"], "code": world.codes["d1"], "fmt": "csv"}


def _finance_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("finance.")]


def _state(db: Database) -> dict[str, Any]:
    """Row counts of every table, plus what a discrepancy update would touch."""
    with db.read() as s:
        counts: dict[str, Any] = {
            t.name: int(s.execute(select(func.count()).select_from(t)).scalar_one())
            for t in Base.metadata.sorted_tables}
        counts["discrepancies:state"] = sorted(
            (d.id, d.status, d.updated_at.isoformat(), d.assigned_to_id, d.proposed_by)
            for d in s.scalars(select(Discrepancy)))
        counts["payments:max_updated"] = str(s.execute(
            text("SELECT MAX(updated_at) FROM payments")).scalar())
    return counts


def test_a_cashier_never_reaches_finance(app: Flask, db: Database, world: World,
                                         make_user: Callable[..., str],
                                         make_token: Callable[..., str]) -> None:
    client, csrf = _session_client(app, make_user, "cashier")
    bearer = {"Authorization": f"Bearer {make_token('cashier')}"}
    before = _state(db)
    for rule in _finance_rules(app):
        url = _sample_url(app, rule, _real_values(world))
        for method in _methods(rule):
            data = {"csrf_token": csrf, "resolution_type": "written_off", "note": "x",
                    "user_id": "me"} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code == 403, (method, url)
            assert "Bạn không có quyền truy cập trang này" in response.get_data(as_text=True)
            api = client.open(url, method=method, data=data, headers=bearer)
            assert api.status_code == 403, (method, url)
    after = _state(db)
    assert after == before
    page = client.get("/cashier").get_data(as_text=True)
    assert 'href="/finance"' not in page  # the menu does not even offer it


def test_no_get_changes_state(app: Flask, db: Database, world: World,
                              make_user: Callable[..., str]) -> None:
    client, _csrf = _session_client(app, make_user, "admin")
    values = _real_values(world)
    before = _state(db)
    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "webhooks.receive":
            continue  # VNPay's IPN is a GET by its protocol: it records the call, by design
        for fmt in (("csv", "xlsx", "json") if "fmt" in rule.arguments else (None,)):
            url = _sample_url(app, rule, {**values, "fmt": fmt} if fmt else values)
            for query in ("", "?status=all", "?day=2021-02-01&year=2021&quarter=1"):
                response = client.get(url + query)
                assert response.status_code < 500, (url, response.status_code)
                response.close()
                seen += 1
    # the approval page and the audit verification of the whole chain, too
    for url in (f"/finance/discrepancies/{world.discrepancies['G']}/approval",
                f"/finance/discrepancies/{world.discrepancies['F']}",
                "/finance/audit/verify", "/finance/outstanding/export.xlsx"):
        assert client.get(url).status_code == 200
    after = _state(db)
    # the one write a GET may make: the public receipt lookup counts wrong codes per address
    # for its rate limit (recon/receipts/lookup.py), as a login counts failures; no data
    assert after.pop("receipt_lookup_failures") > before.pop("receipt_lookup_failures") == 0
    assert after == before
    assert seen > 60


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._current = {"method": (a.get("method") or "get").lower(),
                             "action": a.get("action"), "csrf": []}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and a.get("name") == "csrf_token":
            self._current["csrf"].append(a.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _pages(world: World) -> list[str]:
    d = world.discrepancies
    return ["/finance", "/finance?day=2021-02-04", "/finance/discrepancies",
            "/finance/discrepancies?status=all&sort=amount_desc", "/finance/approvals",
            *(f"/finance/discrepancies/{i}" for i in d.values()),
            *(f"/finance/discrepancies/{i}/approval" for i in d.values()),
            "/finance/reports/daily?day=2021-02-01",
            "/finance/reports/quarterly?year=2021&quarter=1",
            "/finance/outstanding", "/finance/audit", "/finance/audit/verify", "/cashier"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_post_form_carries_the_csrf_token(app: Flask, world: World, lang: str,
                                                make_user: Callable[..., str]) -> None:
    client, csrf = _session_client(app, make_user, "admin")
    posts = 0
    for url in _pages(world):
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}lang={lang}")
        assert response.status_code == 200, url
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        assert parser.forms, url  # at least the language switch and log-out forms
        for form in parser.forms:
            if form["method"] == "post":
                assert form["csrf"] == [csrf], (url, form)
                posts += 1
            else:
                assert form["method"] == "get", (url, form)  # searches and filters only
                assert not form["csrf"], (url, form)  # the token never goes in a URL
    assert posts > 40


def test_finance_posts_without_the_token_are_refused(app: Flask, db: Database, world: World,
                                                     make_user: Callable[..., str]) -> None:
    client, csrf = _session_client(app, make_user, "finance")
    before = _state(db)
    for rule in _finance_rules(app):
        if "POST" not in (rule.methods or set()):
            continue
        url = _sample_url(app, rule, _real_values(world))
        for data in ({"note": "x", "resolution_type": "provider_corrected"},
                     {"csrf_token": "forged", "note": "x"}):
            response = client.post(url, data=data)
            assert response.status_code == 400, url
    assert _state(db) == before
    ok = client.post(f"/finance/discrepancies/{world.discrepancies['A']}/assign",
                     data={"csrf_token": csrf, "user_id": "me"})
    assert ok.status_code == 303
    assert re.search(r"/finance/discrepancies/\d+$", ok.headers["Location"])
