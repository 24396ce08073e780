from __future__ import annotations

import json
import logging

from recon.logs import JsonFormatter, RequestIdFilter


def test_json_lines_carry_request_id_and_extras() -> None:
    record = logging.LogRecord("recon.ingest", logging.INFO, __file__, 1, "callback %s", ("x",),
                               None)
    record.provider = "sepay"
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "callback x"
    assert line["provider"] == "sepay"
    assert line["level"] == "info"
    assert "request_id" in line


def test_request_id_echoed_on_responses(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"
    generated = client.get("/login").headers["X-Request-Id"]
    assert len(generated) == 32
