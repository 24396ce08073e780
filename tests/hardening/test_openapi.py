"""The OpenAPI document: served publicly, valid, and complete for every API and webhook route."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from recon.web.openapi import document

DOCUMENTED_PREFIXES = ("/api/v1/", "/webhooks/")
MONEY_NAMES = re.compile(r"(^|_)(amount|total|outstanding|fee|net|delta|paid)(_|$)")


def openapi_path(rule: str) -> str:
    """``/api/v1/dossiers/<path:code>`` -> ``/api/v1/dossiers/{code}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def documented_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.add((method.lower(), openapi_path(rule.rule)))
    return routes


def test_served_publicly_as_openapi_31(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["openapi"] == "3.1.0"
    assert body["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert body == document()


def test_every_api_and_webhook_route_is_documented(app: Flask) -> None:
    doc = document()
    in_doc = {(method, p) for p, item in doc["paths"].items() for method in item}
    routes = documented_routes(app)
    missing = routes - in_doc
    assert not missing, ("routes missing from recon/web/openapi.py (document them): "
                         f"{sorted(missing)}")
    stale = {(m, p) for m, p in in_doc - routes if p.startswith(DOCUMENTED_PREFIXES)}
    assert not stale, f"documented but not routed: {sorted(stale)}"


def test_path_parameters_match_the_routes() -> None:
    for p, item in document()["paths"].items():
        names = set(re.findall(r"{([^}]+)}", p))
        for method, operation in item.items():
            declared = {x["name"] for x in operation.get("parameters", []) if x["in"] == "path"}
            assert declared == names, (method, p, declared)


def _walk(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, schema in value.items():
                    found.append((name, schema))
            found.extend(_walk(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk(value, f"{where}/{i}"))
    return found


def _types(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return set().union(*(_types(s) for s in schema["anyOf"]))
    if "$ref" in schema:
        return {"$ref"}
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def test_money_is_always_an_integer() -> None:
    """Every property named like money is an integer (or a null), never a number or text;
    amounts that cannot be negative say so with ``minimum``."""
    checked = 0
    for name, schema in _walk(document()):
        if not MONEY_NAMES.search(name) or name in {"payment_status", "paid_at", "total_count"}:
            continue
        if name.endswith(("_id", "_at")) or _types(schema) == {"array"}:
            continue
        types = _types(schema) - {"null"}
        if types in ({"object"}, {"$ref"}):
            continue  # a group of money fields (checked one by one)
        assert types == {"integer"}, (name, schema)
        checked += 1
        plain = schema if "anyOf" not in schema else schema["anyOf"][0]
        if name not in {"delta", "total_net"}:
            assert plain.get("minimum") in (0, 1), (name, schema)
    assert checked >= 20


def test_the_document_is_valid_openapi() -> None:
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(document())
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises on the first violation
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    assert len(results) >= 18
