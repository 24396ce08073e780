"""Issue 16 item 8: the example secret key (and other placeholders, and short keys) must not
start the service outside development: anyone could forge a session cookie with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.config import DEV_SECRET_KEY, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _example_key() -> str:
    for line in (ROOT / "deploy" / "recon.env.example").read_text(encoding="utf-8").splitlines():
        if line.startswith("RECON_SECRET_KEY="):
            return line.partition("=")[2].strip()
    raise AssertionError("deploy/recon.env.example names no RECON_SECRET_KEY")


@pytest.mark.parametrize("key", [
    _example_key(), DEV_SECRET_KEY, "change-me", "CHANGE-ME-please-0123456789abcdef0123",
    "changeme-changeme-changeme-changeme", "a1b2c3d4e5f6",  # short
    "0123456789abcdef0123456789abcde",  # 31 bytes
])
def test_production_refuses_placeholder_and_short_keys(key: str) -> None:
    with pytest.raises(ValueError) as refused:
        load_settings({"RECON_ENV": "production", "RECON_SECRET_KEY": key})
    assert "secrets.token_hex(32)" in str(refused.value)  # says how to make a good one
    assert key not in str(refused.value) or len(key) < 12


def test_production_accepts_a_random_key_and_development_keeps_its_default() -> None:
    good = "9f1c2b7e4d8a6f3051c9e2b47a8d6e1f"
    assert load_settings({"RECON_ENV": "production", "RECON_SECRET_KEY": good}).secret_key == good
    assert load_settings({"RECON_ENV": "development"}).secret_key == DEV_SECRET_KEY
    # the example's key stays usable where nothing real is at stake
    assert load_settings({"RECON_ENV": "test", "RECON_SECRET_KEY": _example_key()})
