"""`recon simulate pay` against a real HTTP server: every provider pays an intent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import BaseWSGIServer, make_server

from recon.cli import cli
from recon.cli.simulate import answer_accepted
from recon.clock import SystemClock
from recon.db import Database
from tests.webhooks.whkit import PROVIDER_ENV, PROVIDERS, SECRET_VAR, TOTAL, Hooks, make_hooks


def _serve(hooks: Hooks) -> Iterator[str]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, hooks.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def live(env: dict[str, str], db: Database, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[Hooks, str]]:
    for name, value in PROVIDER_ENV.items():  # the CLI reads the same secrets as the server
        monkeypatch.setenv(name, value)
    hooks = make_hooks(env, db, SystemClock())  # real time: signed timestamps must be fresh
    for url in _serve(hooks):
        yield hooks, url


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_simulate_pay_marks_the_intent_paid(live: tuple[Hooks, str], provider: str) -> None:
    hooks, url = live
    intent = hooks.intent(provider)
    result = run("simulate", "pay", intent.reference.lower(), "--provider", provider,
                 "--url", url)
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    (payment,) = hooks.payments()
    assert (payment.amount, payment.intent_id) == (TOTAL, intent.id)
    assert hooks.intent_row(intent.id).status == "paid"
    if provider in ("sepay", "casso"):
        assert payment.memo is not None
        assert payment.memo.startswith("MBVCB.") and intent.reference in payment.memo


def test_simulate_duplicate_and_partial_amount(live: tuple[Hooks, str]) -> None:
    hooks, url = live
    intent = hooks.intent("vnpay")
    first = run("simulate", "pay", intent.reference, "--provider", "vnpay", "--url", url,
                "--amount", "80000", "--txn-id", "555")
    assert first.exit_code == 1  # VNPay's 04 (amount differs) makes VNPay retry
    assert '"RspCode":"04"' in first.output
    again = run("simulate", "pay", intent.reference, "--provider", "vnpay", "--url", url,
                "--amount", "80000", "--txn-id", "555")
    assert '"RspCode":"04"' in again.output  # VNPay's order: the amount check comes first
    assert len(hooks.payments()) == 1
    pos = hooks.intent("pos")
    run("simulate", "pay", pos.reference, "--provider", "pos", "--url", url, "--txn-id", "9")
    dup = run("simulate", "pay", pos.reference, "--provider", "pos", "--url", url,
              "--txn-id", "9")
    assert dup.exit_code == 0
    assert '"duplicate"' in dup.output


def test_simulate_unknown_reference_needs_an_amount(live: tuple[Hooks, str]) -> None:
    hooks, url = live
    hooks.dossier()
    refused = run("simulate", "pay", "HSNOPE", "--provider", "sepay", "--url", url)
    assert refused.exit_code != 0
    assert "--amount" in refused.output
    sent = run("simulate", "pay", "HSNOPE", "--provider", "sepay", "--url", url,
               "--amount", "50000")
    assert sent.exit_code == 0
    (payment,) = hooks.payments()
    assert payment.intent_id is None


def test_simulate_fails_when_the_server_refuses(env: dict[str, str], db: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PROVIDER_ENV.items():
        monkeypatch.setenv(name, value)
    server_side = make_hooks(env, db, SystemClock(), drop=(SECRET_VAR["sepay"],))
    intent = server_side.intent("sepay")
    for url in _serve(server_side):
        result = run("simulate", "pay", intent.reference, "--provider", "sepay", "--url", url)
        assert result.exit_code == 1
        assert "503" in result.output
    unreachable = run("simulate", "pay", intent.reference, "--provider", "sepay",
                      "--url", "http://127.0.0.1:9")
    assert unreachable.exit_code == 1
    assert "could not reach" in unreachable.output


def test_answer_accepted_per_protocol() -> None:
    assert answer_accepted("vnpay", 200, '{"RspCode":"02","Message":"x"}')
    assert not answer_accepted("vnpay", 200, '{"RspCode":"97","Message":"x"}')
    assert answer_accepted("momo", 204, "")
    assert not answer_accepted("momo", 401, "{}")
    assert answer_accepted("zalopay", 200, '{"return_code":1}')
    assert not answer_accepted("zalopay", 200, '{"return_code":0}')
    assert answer_accepted("sepay", 200, '{"success":true}')
    assert not answer_accepted("payos", 503, '{"success":false}')
    assert answer_accepted("pos", 200, '{"status":"duplicate"}')
    assert not answer_accepted("pos", 200, "not json")
