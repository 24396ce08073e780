"""Receipts issued as payments are recorded (RECON_RECEIPTS=on): a webhook's payment, cash at the
desk, each share of a split transfer; consecutive numbers, valid signatures; nothing when off;
a receipt failure leaves the payment recorded and says why in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import Payment, PaymentAllocation, Receipt
from recon.payments.intents import record_cash
from recon.receipts.signing import verify
from tests.receipts.figures import assert_figures_stored
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import TOTAL, Hooks, is_accepted, make_hooks

CODE_B = "000.00.21.H57-210401-0002"
CODE_C = "000.00.21.H57-210401-0003"
CODE_D = "000.00.21.H57-210401-0004"


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _hooks(env: dict[str, str], db: Database, clock: FixedClock, p12: Path | None,
           switch: str = "on") -> Hooks:
    extra = {"RECON_RECEIPTS": switch, "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
             "RECON_RECEIPT_TAX_CODE": "3300101234"}
    if p12 is not None:
        extra["RECON_RECEIPT_P12_FILE"] = str(p12)
    return make_hooks(env, db, clock, **extra)


def _receipts(hooks: Hooks) -> list[Receipt]:
    with hooks.db.read() as s:
        return list(s.scalars(select(Receipt).order_by(Receipt.number)))


def _dossier_code(receipt: Receipt) -> str | None:
    assert receipt.document is not None
    return etree.fromstring(receipt.document.encode("utf-8")).findtext(".//MHSo")


def _cash(hooks: Hooks, code: str, receipt_number: str) -> None:
    hooks.dossier(code)
    with hooks.db.transaction() as s:
        record_cash(s, hooks.clock, hooks.settings, dossier_code=code, amount=TOTAL,
                    receipt_number=receipt_number, actor="cashier1")


def _split(hooks: Hooks) -> None:
    first = hooks.intent("sepay", CODE_C)
    second = hooks.intent("sepay", CODE_D)
    memo = f"MBVCB.123.{first.reference} {second.reference}.nop ho so"
    response = hooks.send(hooks.call("sepay", amount=2 * TOTAL, reference=first.reference,
                                     memo=memo))
    assert is_accepted("sepay", response)


def test_webhook_cash_and_split_each_get_signed_consecutive_receipts(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = _hooks(env, db, clock, p12)
    intent = hooks.intent("sepay")
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", intent)))
    _cash(hooks, CODE_B, "BL-0001")
    _split(hooks)
    receipts = _receipts(hooks)
    assert [(r.number, r.status) for r in receipts] == [(n, "issued") for n in range(1, 5)]
    assert [_dossier_code(r) for r in receipts] == [
        "000.00.21.H57-210401-0001", CODE_B, CODE_C, CODE_D]
    assert all(r.amount == TOTAL for r in receipts)
    for receipt in receipts:
        assert receipt.document is not None
        assert verify(receipt.document.encode("utf-8")).signing_time
    with db.read() as s:
        payments = list(s.scalars(select(Payment).order_by(Payment.id)))
        split_id = s.scalar(select(PaymentAllocation.payment_id))
    assert [p.channel for p in payments] == ["vietqr", "cash", "vietqr"]
    assert [r.payment_id for r in receipts] == [payments[0].id, payments[1].id,
                                                 split_id, split_id]
    # a redelivery issues nothing more
    hooks.send(hooks.call("sepay", intent, provider_txn_id=payments[0].provider_txn_id))
    assert len(_receipts(hooks)) == 4
    assert assert_figures_stored(db) == 4  # issued inline: the columns say what the XML says


def test_receipts_off_issue_nothing(env: dict[str, str], db: Database, clock: FixedClock,
                                    p12: Path) -> None:
    hooks = _hooks(env, db, clock, p12, switch="off")
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
    _cash(hooks, CODE_B, "BL-0001")
    _split(hooks)
    assert len(hooks.payments()) == 3
    assert _receipts(hooks) == []


def test_a_missing_key_leaves_the_payments_recorded_and_logs_why(
        env: dict[str, str], db: Database, clock: FixedClock,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    hooks = _hooks(env, db, clock, tmp_path / "no-such-key.p12")
    with caplog.at_level(logging.ERROR, logger="recon.receipts"):
        assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
        _cash(hooks, CODE_B, "BL-0001")
    assert [p.status for p in hooks.payments()] == ["succeeded", "succeeded"]
    assert "signing key cannot be loaded" in caplog.text
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Receipt)) == 0


def test_a_bad_receipts_switch_stops_the_start(env: dict[str, str], db: Database,
                                               clock: FixedClock) -> None:
    from recon.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="RECON_RECEIPTS must be on or off"):
        make_hooks(env, db, clock, RECON_RECEIPTS="maybe")
