"""RECON_PAYMENT_METHODS: the operator's payment method codes laid over the adapters' own,
validated at start (file, line, key and what to write), used by the webhook ingest, shown by
`recon contracts methods`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters import adapter_class
from adapters.base import merge_methods
from recon import create_app
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.payments.methods import MethodsFileError, effective_table, parse_methods
from tests.webhooks.whkit import is_accepted, make_hooks

GOOD = """version = 1

[vnpay.vnp_CardType]
ATM = "intl_card"          # this centre's contract: ATM priced as... a test's choice
qrcode = "unknown"         # taken out

[zalopay.channel]
"42" = "wallet"
"""


def test_the_file_is_laid_over_the_adapters_table() -> None:
    override = parse_methods(GOOD.encode(), "m.toml")
    assert override == {"vnpay": {"vnp_CardType": {"ATM": "intl_card", "QRCODE": "unknown"}},
                        "zalopay": {"channel": {"42": "wallet"}}}
    vnpay = effective_table("vnpay", override)
    assert vnpay["vnp_CardType"]["ATM"] == "intl_card" and "QRCODE" not in vnpay["vnp_CardType"]
    assert vnpay["vnp_CardType"]["VISA"] == "intl_card"  # the adapter's, untouched
    assert list(vnpay) == ["vnp_CardType", "vnp_BankCode"]  # the adapter's field order
    assert effective_table("zalopay", override)["channel"]["42"] == "wallet"
    assert effective_table("momo", override) == merge_methods(
        adapter_class("momo").payment_methods, {})
    # the adapter's own class table is not changed by any of this
    assert adapter_class("vnpay").payment_methods["vnp_CardType"]["ATM"] == "domestic_card"


@pytest.mark.parametrize(("text", "message"), [
    ('version = 1\n[vnpay.vnp_CardType]\nATM = "debit"\n',
     'm.toml: line 3, vnpay.vnp_CardType.ATM: \'debit\' is no method: write one of qr, '),
    ('version = 1\n[vnpay.vnp_CardKind]\nATM = "qr"\n',
     "line 2, vnpay.vnp_CardKind: vnpay reads no field 'vnp_CardKind'; the fields it reads: "
     "vnp_CardType, vnp_BankCode"),
    ('version = 1\n[sepay.method]\nX = "qr"\n',
     "sepay reads no field 'method'; the fields it reads: none"),
    ('version = 1\n[paypal.x]\nA = "qr"\n', "line 2, paypal: unknown provider 'paypal'"),
    ('version = 1\n[momo.payType]\nqr = "wallet"\nQR = "qr"\n',
     "line 4, momo.payType.QR: the same value as 'qr'"),
    ('[momo.payType]\nqr = "wallet"\n', "version: write version = 1 at the top"),
    ('version = 1\n[momo.payType\n', "not a UTF-8 TOML file"),
])
def test_every_problem_is_named_with_its_line_and_key(text: str, message: str) -> None:
    with pytest.raises(MethodsFileError) as caught:
        parse_methods(text.encode(), "m.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("m.toml: ")


def test_a_bad_file_stops_the_start(env: dict[str, str], db: Database, clock: FixedClock,
                                    tmp_path: Path) -> None:
    bad = tmp_path / "methods.toml"
    bad.write_text('version = 1\n[momo.payType]\nqr = "cash"\n', encoding="utf-8")
    with pytest.raises(MethodsFileError, match=r"methods.toml: line 3, momo.payType.qr"):
        create_app(load_settings({**env, "RECON_PAYMENT_METHODS": str(bad)}), clock=clock,
                   database=db)
    missing = tmp_path / "absent.toml"
    with pytest.raises(MethodsFileError, match="set RECON_PAYMENT_METHODS to a readable file"):
        create_app(load_settings({**env, "RECON_PAYMENT_METHODS": str(missing)}), clock=clock,
                   database=db)


def test_the_webhook_records_the_overridden_method(env: dict[str, str], db: Database,
                                                   clock: FixedClock, tmp_path: Path) -> None:
    """The simulator's VNPay call pays by an ATM card (vnp_CardType ATM): domestic_card by the
    adapter, intl_card by this file."""
    path = tmp_path / "methods.toml"
    path.write_text(GOOD, encoding="utf-8")
    hooks = make_hooks(env, db, clock, RECON_PAYMENT_METHODS=str(path))
    intent = hooks.intent("vnpay")
    assert is_accepted("vnpay", hooks.send(hooks.call("vnpay", intent, provider_txn_id="M1")))
    plain = make_hooks(env, db, clock)
    other = plain.intent("vnpay", code="000.00.21.H57-210401-0002")
    assert is_accepted("vnpay", plain.send(plain.call("vnpay", other, provider_txn_id="M2")))
    methods = {p.provider_txn_id: p.method for p in hooks.payments()}
    assert methods == {"M1": "intl_card", "M2": "domestic_card"}


def test_the_command_shows_the_effective_table(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from recon.cli import cli

    path = tmp_path / "methods.toml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("RECON_PAYMENT_METHODS", str(path))
    shown = CliRunner().invoke(cli, ["contracts", "methods", "--provider", "vnpay"],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    lines = [ln.rstrip() for ln in shown.output.splitlines()]
    assert f"Payment method codes: the adapters' own, with {path}." in lines
    assert "  ATM                intl_card  (file)" in lines
    assert "  QRCODE             unknown  (file: taken out)" in lines
    assert "  VISA               intl_card" in lines
    as_json = CliRunner().invoke(cli, ["contracts", "methods", "--json"],
                                 catch_exceptions=False)
    data = json.loads(as_json.output)
    assert data["providers"]["zalopay"]["channel"]["42"] == "wallet"
    assert data["providers"]["sepay"] == {}
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[momo.payType]\nqr = "cash"\n', encoding="utf-8")
    refused = CliRunner().invoke(cli, ["contracts", "methods", "--file", str(bad)])
    assert refused.exit_code == 1 and "line 3, momo.payType.qr" in refused.output
