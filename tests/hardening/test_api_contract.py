"""The API contract, exactly: Schemathesis with every check and every phase (examples, coverage,
fuzzing, and the stateful phase that follows the document's links from a dossier to its intents,
their QR images and their cancellation), as an admin, over the Huế demo reconciled, against the
app served from a thread. The run reads the repository's ``schemathesis.toml``, the same file a run
from outside reads (docs/security.md gives the command).

Any failure Schemathesis reports (an undocumented answer, a schema-valid request refused, a
schema-violating one accepted, a 405 without ``Allow``, a server error) fails the test, listed.

``RECON_CONTRACT_EXAMPLES`` sets the examples per operation (CI: a few; the full run: 30).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import PhaseName
from werkzeug.serving import BaseWSGIServer, make_server

from recon.accounts.auth import create_token
from recon.audit.chain import record_on
from recon.clock import FixedClock
from recon.db import Database
from recon.demo.seed import seed_demo
from recon.engine.runner import engine_config_from_env, run_reconciliation
from recon.web.openapi import document
from tests.hardening.hkit import CODE, Api, make_api, make_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("RECON_CONTRACT_EXAMPLES") or "4")
SEED = int(os.environ.get("RECON_CONTRACT_SEED") or "2021")
DEMO_DOSSIERS = 200
EVERY_PHASE = {PhaseName.EXAMPLES, PhaseName.COVERAGE, PhaseName.FUZZING,
               PhaseName.STATEFUL_TESTING}


def _failures(event: events.ScenarioFinished) -> list[str]:
    """Each failed check of a scenario: the operation, the check, what failed, and how to
    reproduce it (a curl command)."""
    out = []
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE:
                info = check.failure_info
                title = info.failure.title if info else ""
                sample = info.code_sample if info else ""
                out.append(f"{event.phase.value} {event.recorder.label}: {check.name}: "
                           f"{title}\n    {sample}")
    return out


def test_every_check_every_phase_finds_nothing(env: dict[str, str], db: Database,
                                                clock: FixedClock) -> None:
    app = make_app(env, db, clock)
    seed_demo(db, clock, dossiers=DEMO_DOSSIERS)
    run_reconciliation(db, clock=clock, audit=record_on, config=engine_config_from_env({}),
                       mode="full", triggered_by="test")
    with db.transaction() as s:
        _, token = create_token(s, clock, name="contract", role="admin", user="quantri")

    config = SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml"))
    project = config.projects.default
    project.seed = SEED
    project.update(headers={"Authorization": f"Bearer {token}"}, workers=1)
    project.generation.update(max_examples=EXAMPLES)
    project.checks.update(included_check_names=["all"])
    failures: list[str] = []
    errors: list[str] = []
    finished: dict[PhaseName, Status] = {}
    scenarios = 0
    # a live server in a thread, as a caller from outside sees it (the engine's in-process WSGI
    # transport does not take every request option the engine passes)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        schema = schemathesis.openapi.from_url(
            f"http://127.0.0.1:{server.server_port}/api/v1/openapi.json", config=config)
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                scenarios += 1
                failures.extend(_failures(event))
            elif isinstance(event, events.NonFatalError | events.FatalError):
                errors.append(repr(getattr(event, "value", None)
                                   or getattr(event, "exception", None)))
            elif isinstance(event, events.PhaseFinished):
                finished[event.phase.name] = event.status
    finally:
        server.shutdown()
        thread.join()

    assert not errors, "\n".join(errors)
    assert not failures, f"{len(failures)} contract failures:\n" + "\n".join(failures)
    # every phase ran (the stateful one needs the document's links) and nothing was skipped
    ran = {name for name, status in finished.items() if status != Status.SKIP}
    assert ran >= EVERY_PHASE, finished
    operations = sum(len(item) for item in schema.raw_schema["paths"].values())
    assert scenarios >= operations, (scenarios, operations)


@pytest.fixture
def api(env: dict[str, str], db: Database, clock: FixedClock) -> Api:
    return make_api(env, db, clock)


@pytest.mark.parametrize(("method", "path", "allowed", "not_allowed"), [
    ("TRACE", "/api/v1/agencies", {"GET"}, {"POST"}),
    ("DELETE", "/api/v1/dossiers", {"GET", "POST"}, set()),
    ("GET", f"/api/v1/dossiers/{CODE}/cash-payments", {"POST"}, {"GET"}),
    ("GET", f"/api/v1/dossiers/{CODE}/payment-intents", {"POST"}, {"GET"}),
    ("GET", "/webhooks/momo", {"POST"}, {"GET"}),
    ("POST", "/webhooks/vnpay", {"GET"}, {"POST"}),
])
def test_every_405_names_the_allowed_methods(api: Api, method: str, path: str,
                                             allowed: set[str], not_allowed: set[str]) -> None:
    response = api.client.open(path, method=method, headers=api.auth("admin"))
    assert response.status_code == 405, response.get_data(as_text=True)
    methods = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= methods and not (not_allowed & methods), methods
    assert response.json["error"] == "method_not_allowed"


@pytest.mark.parametrize("query", [
    "/api/v1/dossiers?limit=", "/api/v1/dossiers?after=", "/api/v1/dossiers?q=",
    "/api/v1/dossiers?received_from=", "/api/v1/discrepancies?status=",
    "/api/v1/discrepancies?after=", "/api/v1/recon-runs?limit=", "/api/v1/recon-runs?status=",
    "/api/v1/settlement-files?before=", "/api/v1/settlement-files?provider=",
])
def test_an_empty_query_value_is_refused_not_taken_as_absent(api: Api, query: str) -> None:
    response = api.client.get(query, headers=api.auth("admin"))
    assert response.status_code == 422, response.get_data(as_text=True)
    name = query.rsplit("?", 1)[1].rstrip("=")
    assert [e["field"] for e in response.json["errors"]] == [name]
    assert "is empty" in response.json["errors"][0]["message"]
    assert api.client.get(query.rsplit("?", 1)[0], headers=api.auth("admin")).status_code == 200


def test_the_document_links_an_intent_to_its_state_images_and_cancellation() -> None:
    paths = document()["paths"]
    created = paths["/api/v1/dossiers/{code}/payment-intents"]["post"]["responses"]["201"]
    reached = {link["operationId"] for link in created["links"].values()}
    assert reached == {"getPaymentIntent", "getPaymentIntentQrPng", "getPaymentIntentQrSvg",
                       "cancelPaymentIntent"}
    ids = {op.get("operationId") for item in paths.values() for op in item.values()}
    assert reached <= ids
    assert all(link["parameters"] == {"intent_id": "$response.body#/id"}
               for link in created["links"].values())
