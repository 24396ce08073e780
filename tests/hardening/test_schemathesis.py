"""Schemathesis against the app in-process (WSGI), authenticated as admin, with a seeded agency,
dossier and intent: every operation of the OpenAPI document, bounded examples each.

Asserts no 5xx, and that every answer conforms to the document: a documented status code,
content type, headers and body schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recon.clock import FixedClock
from recon.db import Database
from recon.web.openapi import document
from tests.hardening.hkit import Api, make_api

SCHEMA = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
MAX_EXAMPLES = 30


@pytest.fixture
def api(env: dict[str, str], db: Database, clock: FixedClock) -> Api:
    return make_api(env, db, clock)


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case[Any], api: Api) -> None:
    case.call_and_validate(app=api.app, headers=api.auth("admin"), checks=CHECKS)
