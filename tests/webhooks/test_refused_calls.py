"""Refused webhook calls cannot fill the disk (issue 16, item 3): a bounded prefix, a
per-address rate limit answered 429, a retention sweep. Accepted calls are never touched."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from adapters import RawRequest
from adapters.scrub import PAN_MAX_BYTES
from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.models import Callback
from recon.payments import refused
from recon.scheduler import Jobs
from tests.webhooks.whkit import Hooks, is_accepted, make_hooks

ATTACKER = "203.0.113.9"
OTHER = "198.51.100.7"


def _send(hooks: Hooks, raw: RawRequest, addr: str) -> Any:
    return hooks.client.open(raw.path, method=raw.method, headers=dict(raw.headers),
                             data=raw.body, environ_base={"REMOTE_ADDR": addr})


def _forged(hooks: Hooks, size: int = 60_000) -> RawRequest:
    raw = hooks.call("sepay", amount=180_000, memo="HS123 chuyen tien")
    return replace(raw, body=raw.body + b" " * (size - len(raw.body)),
                   headers={**dict(raw.headers), "Authorization": "Apikey nope",
                            "X-Junk": "j" * 8000})


def test_refused_call_keeps_a_bounded_prefix_marked_with_its_length(hooks: Hooks) -> None:
    response = _send(hooks, _forged(hooks), ATTACKER)
    assert response.status_code == 401
    (callback,) = hooks.callbacks()
    assert callback.outcome == "bad_signature"
    assert len(callback.body) == 2048
    assert callback.body_length == 60_000
    assert "first 2048 of 60000 bytes kept" in (callback.outcome_detail or "")
    headers = json.loads(callback.headers)
    assert "X-Junk" in headers and len(headers["X-Junk"]) < 1100


def test_refused_call_with_ninety_big_headers_keeps_a_bounded_masked_part(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 item 2: 90 headers of 8 KiB ("0-" repeated, every digit window a card
    number) on a forged call. What is kept is bounded, masked, and only it was scanned."""
    scanned: list[int] = []
    real = refused.redact_header

    def counting(name: str, value: str, **kwargs: Any) -> str:
        scanned.append(len(value))
        return real(name, value, **kwargs)

    monkeypatch.setattr(refused, "redact_header", counting)
    junk = ("0-" * 4096)[:8192]
    raw = _forged(hooks, 3000)
    raw = replace(raw, headers={**dict(raw.headers), "X-Card": "4111 1111 1111 1111",
                                **{f"X-Junk-{i:02}": junk for i in range(90)}})
    assert _send(hooks, raw, ATTACKER).status_code == 401
    (callback,) = hooks.callbacks()
    headers = json.loads(callback.headers)
    assert sum(len(n) + len(v) for n, v in headers.items()) <= refused.HEADERS_CHARS + 200
    assert headers["X-Card"] == "4111 11** **** 1111"
    assert headers["…"].endswith("chars, not kept")
    kept_junk = [v for n, v in headers.items() if n.startswith("X-Junk-")]
    assert kept_junk and all(v.count("0") <= 10 for v in kept_junk)  # first 6 + last 4
    # only the kept part of each kept header was scanned, never the 720 KiB sent
    assert sum(scanned) <= refused.HEADERS_CHARS + len(scanned) * PAN_MAX_BYTES


def test_refused_call_keeps_a_bounded_masked_query_string(hooks: Hooks) -> None:
    raw = _forged(hooks, 3000)
    query = "card=4111-1111-1111-1111&junk=" + "0-" * 50_000
    response = hooks.client.open(raw.path + "?" + query, method=raw.method,
                                 headers=dict(raw.headers), data=raw.body,
                                 environ_base={"REMOTE_ADDR": ATTACKER})
    assert response.status_code == 401
    (callback,) = hooks.callbacks()
    assert len(callback.query_string) == refused.QUERY_STRING_CHARS
    assert callback.query_string.startswith("card=4111-11**-****-1111&junk=0-0-0-0-0-0-*-*")


def test_oversized_refused_call_keeps_the_prefix_and_declared_length(hooks: Hooks) -> None:
    raw = replace(hooks.call("sepay", amount=180_000, memo="HS123 chuyen tien"),
                  body=b"x" * 200_000)
    response = _send(hooks, raw, ATTACKER)
    assert response.status_code == 413
    (callback,) = hooks.callbacks()
    assert len(callback.body) == 2048 and callback.body_length == 200_000


def test_prefix_size_is_a_setting(env: dict[str, str], db: Database,
                                  clock: FixedClock) -> None:
    hooks = make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_BYTES="100")
    _send(hooks, _forged(hooks), ATTACKER)
    (callback,) = hooks.callbacks()
    assert len(callback.body) == 100 and callback.body_length == 60_000


def test_refused_calls_are_rate_limited_per_address(env: dict[str, str], db: Database,
                                                    clock: FixedClock) -> None:
    hooks = make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_LIMIT="3",
                       RECON_REFUSED_CALLBACK_WINDOW_SECONDS="60")
    answers = [_send(hooks, _forged(hooks), ATTACKER) for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    assert answers[3].headers["Retry-After"] == "60"
    assert "too_many_refused_calls" in answers[3].get_data(as_text=True)
    assert len(hooks.callbacks()) == 3  # the limited calls are not archived
    # another address is not limited
    assert _send(hooks, _forged(hooks), OTHER).status_code == 401
    assert len(hooks.callbacks()) == 4
    health = hooks.client.get("/healthz").get_json()
    assert health["webhooks"] == {"rate_limited_today": 2}
    # the window slides
    clock.advance(timedelta(seconds=61))
    assert _send(hooks, _forged(hooks), ATTACKER).status_code == 401


def test_accepted_call_from_a_limited_address_is_recorded_whole(env: dict[str, str],
                                                                db: Database,
                                                                clock: FixedClock) -> None:
    hooks = make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_LIMIT="1",
                       RECON_REFUSED_CALLBACK_BYTES="16")
    for _ in range(3):
        _send(hooks, _forged(hooks), ATTACKER)
    assert _send(hooks, _forged(hooks), ATTACKER).status_code == 429
    intent = hooks.intent("sepay")
    raw = hooks.call("sepay", intent)
    raw = replace(raw, body=raw.body + b" " * 3000)  # longer than any refused prefix
    response = _send(hooks, raw, ATTACKER)
    assert is_accepted("sepay", response), response.get_data(as_text=True)
    assert len(hooks.payments()) == 1
    accepted = hooks.callbacks()[-1]
    assert accepted.outcome == "accepted" and accepted.signature_valid is True
    assert len(accepted.body) == len(raw.body) and accepted.body_length is None


def _age_all(db: Database, days: int) -> None:
    with db.transaction() as s:
        for cb in s.query(Callback).all():
            s.execute(update(Callback).where(Callback.id == cb.id).values(
                received_at=cb.received_at - timedelta(days=days)))


def test_scheduler_sweeps_refused_calls_past_retention(env: dict[str, str], db: Database,
                                                       clock: FixedClock) -> None:
    hooks = make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_DAYS="30")
    intent = hooks.intent("sepay")
    assert is_accepted("sepay", _send(hooks, hooks.call("sepay", intent), OTHER))
    _send(hooks, _forged(hooks), ATTACKER)
    _age_all(db, 31)
    _send(hooks, _forged(hooks), ATTACKER)  # recent: kept
    Jobs(hooks.app, name="test").sweep_refused_callbacks()
    outcomes = [cb.outcome for cb in hooks.callbacks()]
    assert outcomes == ["accepted", "bad_signature"]
    assert len(hooks.payments()) == 1


def test_cli_sweeps_refused_calls(env: dict[str, str], db: Database, clock: FixedClock,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = make_hooks(env, db, clock)
    intent = hooks.intent("sepay")
    assert is_accepted("sepay", _send(hooks, hooks.call("sepay", intent), OTHER))
    _send(hooks, _forged(hooks), ATTACKER)
    _age_all(db, 400)  # the CLI runs on the wall clock
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["callbacks", "sweep", "--days", "300"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Deleted 1 refused webhook calls older than 300 days" in result.output
    assert [cb.outcome for cb in hooks.callbacks()] == ["accepted"]


def test_bad_setting_is_refused_clearly(env: dict[str, str], db: Database,
                                        clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="RECON_REFUSED_CALLBACK_LIMIT must be a whole number"):
        make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_LIMIT="lots")
    with pytest.raises(ValueError, match="RECON_REFUSED_CALLBACK_DAYS must be at least 1"):
        make_hooks(env, db, clock, RECON_REFUSED_CALLBACK_DAYS="0")
