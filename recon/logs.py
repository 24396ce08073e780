"""Structured logs: one JSON object per line, with the request id of the request being served.

``RECON_LOG_FORMAT=json`` (the default outside development) or ``text``; ``RECON_LOG_LEVEL``
(default INFO). Secrets never go into log records: log names and ids, never keys, tokens, bodies
or card numbers.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_HANDLER_NAME = "recon"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


_second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second formatted, and how


def _timestamp(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`` (rounded to
    the microsecond the same way), with the date and time formatted once per second."""
    global _second  # noqa: PLW0603 - one tuple, replaced whole: safe across threads
    seconds = math.floor(created)
    micros = round((created - seconds) * 1_000_000)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    cached_seconds, text = _second
    if cached_seconds != seconds:
        text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")[:19]
        _second = (seconds, text)
    return f"{text}.{micros // 1000:03d}+00:00"


# what json.dumps(..., ensure_ascii=False, default=str) builds on every call: built once
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key[:1] != "_":
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(out)


def configure_logging(fmt: str, level: str = "INFO") -> None:
    """Install one handler on the root logger (idempotent: app factories run many times)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
