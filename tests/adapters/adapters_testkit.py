"""Helpers shared by the adapter tests: recorded fixtures, clocks, tampering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import adapters
from adapters import Adapter, CallbackEvent, RawRequest, get_adapter

FIXTURES = Path(__file__).parent / "fixtures"
ERRORS: dict[str, type[adapters.AdapterError]] = {
    cls.__name__: cls
    for cls in (
        adapters.SignatureError,
        adapters.MalformedPayload,
        adapters.ReplayError,
        adapters.NotConfigured,
        adapters.NotAPayment,
        adapters.NotSupported,
    )
}
# the variable holding each provider's signing secret
SECRET_VAR = {
    "vnpay": "RECON_VNPAY_HASH_SECRET",
    "momo": "RECON_MOMO_SECRET_KEY",
    "zalopay": "RECON_ZALOPAY_KEY2",
    "payos": "RECON_PAYOS_CHECKSUM_KEY",
    "sepay": "RECON_SEPAY_API_KEY",
    "casso": "RECON_CASSO_CHECKSUM_KEY",
    "pos": "RECON_POS_SECRET",
}


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


NOW = datetime(2024, 5, 21, 2, 18, 10, tzinfo=UTC)


def env_for(provider: str, **overrides: str | None) -> dict[str, str]:
    env: dict[str, str] = json.loads((FIXTURES / provider / "env.json").read_text())
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def adapter_for(provider: str, *, max_age_seconds: int = 0, clock: Any = None,
                **env_overrides: str | None) -> Adapter:
    return get_adapter(provider, env_for(provider, **env_overrides),
                       max_age_seconds=max_age_seconds, clock=clock or FixedClock(NOW))


def fixture_names(provider: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / provider).glob("*.json") if p.stem != "env")


def all_fixtures() -> list[tuple[str, str]]:
    return [(p, n) for p in adapters.PROVIDERS for n in fixture_names(p)]


def load_fixture(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / provider / f"{name}.json").read_text("utf-8"))
    return data


def raw_request(spec: Mapping[str, Any]) -> RawRequest:
    return RawRequest(
        method=spec["method"],
        path=spec["path"],
        query_string=spec["query_string"],
        headers=spec["headers"],
        body=spec["body"].encode("utf-8"),
        received_at=datetime.fromisoformat(spec["received_at"]),
    )


def fixture_request(provider: str, name: str) -> RawRequest:
    return raw_request(load_fixture(provider, name)["request"])


def check_event(event: CallbackEvent, provider: str, expect: Mapping[str, Any]) -> None:
    assert event.provider == provider
    for key, value in expect.items():
        actual = getattr(event, key)
        if key == "transaction_at":
            assert actual == datetime.fromisoformat(value), (key, actual, value)
            assert actual.utcoffset() == datetime.fromisoformat(value).utcoffset()
        else:
            assert actual == value, (key, actual, value)


# -- tampering ----------------------------------------------------------------------------------


def replace_body(request: RawRequest, body: bytes | str | Mapping[str, Any]) -> RawRequest:
    if isinstance(body, Mapping):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return dataclasses.replace(request, body=body)


def replace_headers(request: RawRequest, **changes: str | None) -> RawRequest:
    headers = dict(request.headers)
    for key, value in changes.items():
        name = key.replace("_", "-")
        for existing in list(headers):
            if existing.lower() == name.lower():
                del headers[existing]
        if value is not None:
            headers[name] = value
    return dataclasses.replace(request, headers=headers)


def edit_query(request: RawRequest, edit: Callable[[dict[str, str]], None]) -> RawRequest:
    params = dict(parse_qsl(request.query_string, keep_blank_values=True))
    edit(params)
    return dataclasses.replace(request, query_string=urlencode(params))


def edit_json(request: RawRequest, edit: Callable[[dict[str, Any]], None]) -> RawRequest:
    body = json.loads(request.body)
    edit(body)
    return replace_body(request, body)


def _bump(obj: dict[str, Any], key: str) -> None:
    obj[key] = obj[key] + 1 if isinstance(obj[key], int) else obj[key] + "1"


def tamper(provider: str, request: RawRequest) -> RawRequest:
    """The same call with the amount changed, signature left as it was."""
    if provider == "vnpay":
        return edit_query(request, lambda p: p.update(vnp_Amount=str(int(p["vnp_Amount"]) + 100)))
    if provider == "zalopay":
        def edit(body: dict[str, Any]) -> None:
            data = json.loads(body["data"])
            _bump(data, "amount")
            body["data"] = json.dumps(data, separators=(",", ":"))
        return edit_json(request, edit)
    if provider in ("payos", "casso"):
        return edit_json(request, lambda b: _bump(b["data"], "amount"))
    if provider in ("momo", "pos", "sepay"):
        key = "transferAmount" if provider == "sepay" else "amount"
        return edit_json(request, lambda b: _bump(b, key))
    raise AssertionError(provider)


def strip_signature(provider: str, request: RawRequest) -> RawRequest:
    if provider == "vnpay":
        return edit_query(request, lambda p: p.pop("vnp_SecureHash"))
    if provider in ("momo", "payos"):
        return edit_json(request, lambda b: b.pop("signature"))
    if provider == "zalopay":
        return edit_json(request, lambda b: b.pop("mac"))
    header = {"sepay": "Authorization", "casso": "X-Casso-Signature",
              "pos": "X-Recon-Signature"}[provider]
    return replace_headers(request, **{header: None})
