"""issue_receipt: the receipt of a succeeded payment, signed and registered in the payment's
transaction; never at the cost of the payment; a failure gives its number back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from recon.db import Database
from recon.errors import ConfigurationError
from recon.models import Agency, Dossier, FeeLine, Payment, Procedure, Receipt
from recon.receipts import issuing
from recon.receipts.issuing import issue_receipt, load_signer
from recon.receipts.numbering import register
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import Signer, verify
from tests.receipts.keys import PASSWORD, make_keys

PAID = datetime(2026, 11, 26, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


@pytest.fixture
def settings(p12: Path) -> ReceiptSettings:
    return ReceiptSettings.from_env({"RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
                                     "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
                                     "RECON_RECEIPT_TAX_CODE": "3300101234"})


@pytest.fixture
def signer(settings: ReceiptSettings) -> Signer:
    return load_signer(settings)


def _payment(db: Database, amount: int = 101_005, status: str = "succeeded",
             txn: str = "T1", with_dossier: bool = True) -> int:
    with db.transaction() as s:
        dossier_id = None
        if with_dossier:
            agency = s.scalar(select(Agency).where(Agency.code == "STP")) or Agency(
                code="STP", name="Sở Tư pháp tỉnh Huế", bank_bin="970415",
                account_number="113000001234", account_name="SO TU PHAP")
            procedure = s.scalar(select(Procedure).where(Procedure.code == "LLTP")) or \
                Procedure(code="LLTP", name="Cấp phiếu lý lịch tư pháp")
            dossier = Dossier(code=f"H57-{txn}", agency=agency, procedure=procedure,
                              applicant_name="Nguyễn Thị Hoa", received_at=PAID)
            dossier.fee_lines = [FeeLine(position=1, kind="phi", name="Phí thẩm định",
                                         amount=100_000),
                                 FeeLine(position=2, kind="le_phi", name="Lệ phí cấp",
                                         amount=1_005)]
            s.add(dossier)
            s.flush()
            dossier_id = dossier.id
        payment = Payment(provider="sepay", provider_txn_id=txn, channel="vietqr",
                          amount=amount, status=status, paid_at=PAID, dossier_id=dossier_id)
        s.add(payment)
        s.flush()
        return payment.id


def _issue(db: Database, payment_id: int, settings: ReceiptSettings,
           signer: Signer) -> Receipt | None:
    with db.transaction() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        return issue_receipt(s, payment, settings=settings, signer=signer, moment=PAID)


def test_a_succeeded_payment_gets_a_signed_receipt(db: Database, settings: ReceiptSettings,
                                                   signer: Signer) -> None:
    receipt = _issue(db, _payment(db), settings, signer)
    assert receipt is not None and (receipt.number, receipt.status) == (1, "issued")
    assert receipt.document is not None
    document = receipt.document.encode("utf-8")
    assert verify(document).signing_time == "2026-11-26T10:04:05"
    root = etree.fromstring(document)
    assert root.findtext("DLCTu/TTChung/SCTu") == "1"
    assert root.findtext("DLCTu/NDCTu/TCThu/MST") == "3300101234"
    assert [k.findtext("LKThu") for k in root.iterfind("DLCTu/NDCTu/DSKThu/KThu")] == [
        "phí", "lệ phí"]
    assert root.findtext("DLCTu/NDCTu/TToan/TgTienBChu") == (
        "Một trăm linh một nghìn không trăm linh năm đồng")
    assert root.findtext("DLCTu/NDCTu/HTTToan/PThuc") == "QR"
    # a redelivered payment keeps its one receipt
    again = _issue(db, receipt.payment_id or 0, settings, signer)
    assert again is not None and again.id == receipt.id
    with db.read() as s:
        assert [(r.number, r.status) for r in register(s, "EBL01", "26T")] == [(1, "issued")]


@pytest.mark.parametrize("case", ["off", "failed", "no dossier"])
def test_no_receipt_and_no_number_when_it_cannot_be_issued(
        db: Database, settings: ReceiptSettings, signer: Signer, case: str) -> None:
    payment_id = _payment(db, amount=101_005,
                          status="failed" if case == "failed" else "succeeded",
                          with_dossier=case != "no dossier")
    chosen = ReceiptSettings() if case == "off" else settings
    assert _issue(db, payment_id, chosen, signer) is None
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Receipt)) == 0
        assert s.get(Payment, payment_id) is not None


def test_a_signing_failure_keeps_the_payment_and_gives_the_number_back(
        db: Database, settings: ReceiptSettings, signer: Signer,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    first = _payment(db, txn="T1")

    def broken(*_args: object) -> None:
        raise ValueError("the token is not plugged in")

    monkeypatch.setattr(issuing, "sign", broken)
    with caplog.at_level(logging.ERROR, logger="recon.receipts"):
        assert _issue(db, first, settings, signer) is None
    assert "given back" in caplog.text
    monkeypatch.undo()
    receipt = _issue(db, _payment(db, txn="T2"), settings, signer)
    assert receipt is not None and receipt.number == 1
    with db.read() as s:
        assert s.get(Payment, first) is not None
        assert [r.number for r in register(s, "EBL01", "26T")] == [1]


def test_receipts_on_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="RECON_RECEIPT_P12_FILE"):
        load_signer(ReceiptSettings.from_env({"RECON_RECEIPTS": "on"}))
