"""The payment method a query answer states, read as a callback's is: by the adapter's own
``payment_methods`` table (the same object), from the fields the answer has (VNPay querydr
``vnp_CardType``/``vnp_BankCode``, MoMo ``payType``; ZaloPay's and payOS's answers name none),
with the operator's table laid over it when one is given; an unknown code is no method."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from adapters import ADAPTERS, adapter_class
from adapters.momo import MoMoQuery
from adapters.payos import PayOSQuery, sign
from adapters.pull import ConfirmApi, ConfirmedPayment, StatementApi
from adapters.vnpay import QUERYDR_RESPONSE_FIELDS, VNPayQuery
from adapters.zalopay import ZaloPayQuery
from recon.payments.methods import effective_table, parse_methods
from tests.adapters import test_adapters_vnpay as ipn
from tests.adapters.adapters_testkit import NOW, adapter_for, env_for
from tests.adapters.test_adapters_pull import PAYOS_ENV

VNPAY_ENV = {"RECON_VNPAY_TMN_CODE": "HUETTHCC", "RECON_VNPAY_HASH_SECRET": "vnp-secret"}


def vnpay_answer(**method: str) -> bytes:
    """A querydr answer for a paid order, signed over QUERYDR_RESPONSE_FIELDS (which hold
    vnp_BankCode, not vnp_CardType), with ``method``'s fields."""
    doc: dict[str, Any] = {
        "vnp_ResponseId": "R1", "vnp_Command": "querydr", "vnp_ResponseCode": "00",
        "vnp_Message": "QueryDR Success", "vnp_TmnCode": "HUETTHCC", "vnp_TxnRef": "HS7K3M9QX2PA",
        "vnp_Amount": "18000000", "vnp_PayDate": "20261126093512",
        "vnp_TransactionNo": "14509170", "vnp_TransactionType": "01",
        "vnp_TransactionStatus": "00", "vnp_OrderInfo": "Thanh toan le phi", **method}
    message = "|".join(str(doc.get(k, "")) for k in QUERYDR_RESPONSE_FIELDS)
    doc["vnp_SecureHash"] = hmac.new(b"vnp-secret", message.encode(), hashlib.sha512
                                     ).hexdigest()
    return json.dumps(doc).encode()


def momo_answer(**method: str) -> bytes:
    """MoMo's query answer for the PROVIDERS.md vector's order, as the IPN's fields."""
    return json.dumps({
        "partnerCode": "MOMO", "orderId": "MOMO1702610780570", "requestId": "MOMO1702610780570",
        "extraData": "", "amount": 1000, "transId": 3108111745, "resultCode": 0,
        "message": "Successful.", "responseTime": 1702610801454, "lastUpdated": 1702610801454,
        "refundTrans": [], **method}).encode()


def test_each_query_reads_its_adapters_table_and_only_fields_its_answer_has() -> None:
    fields = {}
    for name, cls in ADAPTERS.items():
        api = cls.pull_api
        if api is None or issubclass(api, StatementApi):
            continue
        assert issubclass(api, ConfirmApi)
        if api.method_fields:  # one table for callbacks and answers: the same object
            assert api.payment_methods is cls.payment_methods, name
        assert set(api.method_fields) <= set(cls.payment_methods), name
        fields[name] = api.method_fields
    assert fields == {"vnpay": ("vnp_CardType", "vnp_BankCode"), "momo": ("payType",),
                      "zalopay": (), "payos": ()}
    # SePay's statement lines are bank transfers: its webhook reads no method either
    assert adapter_class("sepay").payment_methods == {}


@pytest.mark.parametrize(("method", "expected"), [
    ({"vnp_CardType": "ATM", "vnp_BankCode": "NCB"}, "domestic_card"),  # as the IPN vector
    ({"vnp_CardType": "QRCODE", "vnp_BankCode": "VNPAYQR"}, "qr"),
    ({"vnp_BankCode": "VNPAYQR"}, "qr"),  # the documented answer: vnp_BankCode alone
    ({"vnp_BankCode": "vnbank"}, "domestic_card"),
    ({"vnp_BankCode": "INTCARD"}, "intl_card"),
    ({"vnp_BankCode": "NCB"}, None),  # a bank alone says nothing of the method
    ({"vnp_CardType": "SOMETHINGNEW", "vnp_BankCode": "XYZ"}, None),  # unknown: none
    ({}, None),
])
def test_vnpay_querydr_answer_names_the_method(method: dict[str, str],
                                               expected: str | None) -> None:
    outcome = VNPayQuery(VNPAY_ENV).read(vnpay_answer(**method))
    (payment,) = outcome.payments
    assert (outcome.state, payment.amount) == ("paid", 180000)
    assert (payment.method, payment.card_foreign) == (expected, None)


def test_vnpay_querydr_method_is_the_ipns_for_the_same_codes() -> None:
    """The querydr answer and the IPN read by the same table: the same codes, the same
    method (PROVIDERS.md's IPN vector pays by an ATM card at NCB)."""
    event = adapter_for("vnpay").parse_callback(ipn.signed(ipn.VECTOR))
    (pulled,) = VNPayQuery(VNPAY_ENV).read(vnpay_answer(
        vnp_CardType=ipn.VECTOR["vnp_CardType"], vnp_BankCode=ipn.VECTOR["vnp_BankCode"])
    ).payments
    assert pulled.method == event.method == "domestic_card"


@pytest.mark.parametrize(("pay_type", "expected"), [
    ("qr", "wallet"), ("webApp", "wallet"), ("napas", "domestic_card"),
    ("credit", "intl_card"), ("somethingNew", None), ("", None), (None, None),
])
def test_momo_query_answer_names_the_method(pay_type: str | None,
                                            expected: str | None) -> None:
    answer = momo_answer() if pay_type is None else momo_answer(payType=pay_type)
    outcome = MoMoQuery(env_for("momo")).read(answer)
    (payment,) = outcome.payments
    assert (payment.provider_txn_id, payment.amount) == ("3108111745", 1000)
    assert (payment.method, payment.card_foreign) == (expected, None)


def test_zalopay_and_payos_answers_name_no_method() -> None:
    """ZaloPay's query answer has no channel (a callback's field): even one put there is not
    read; payOS's transactions are bank transfers and name none."""
    zalo = ZaloPayQuery({"RECON_ZALOPAY_APP_ID": "2553", "RECON_ZALOPAY_KEY1": "k1"}).read(
        json.dumps({"return_code": 1, "return_message": "Giao dịch thành công",
                    "sub_return_code": 1, "sub_return_message": "", "is_processing": False,
                    "amount": 180000, "zp_trans_id": 261126000000123,
                    "server_time": 1795675200000, "discount_amount": 0, "channel": 38}
                   ).encode())
    assert [(p.amount, p.method, p.card_foreign) for p in zalo.payments] == [
        (180000, None, None)]
    data = {"orderCode": 880001, "amount": 180000, "amountPaid": 180000, "status": "PAID",
            "transactions": [{"reference": "FT1", "amount": 180000, "description": "CT HS",
                              "transactionDateTime": "2026-11-26 09:31:05"}]}
    payos = PayOSQuery(PAYOS_ENV).read(json.dumps({
        "code": "00", "desc": "success", "data": data,
        "signature": sign(data, PAYOS_ENV["RECON_PAYOS_CHECKSUM_KEY"])}).encode())
    assert [(p.provider_txn_id, p.method) for p in payos.payments] == [("FT1", None)]


OVERRIDE = """version = 1

[vnpay.vnp_CardType]
ATM = "intl_card"
qrcode = "unknown"

[vnpay.vnp_BankCode]
NEWQR = "qr"

[momo.payType]
qr = "qr"
"""


def test_the_operators_table_reads_the_answers_as_it_reads_the_callbacks() -> None:
    override = parse_methods(OVERRIDE.encode(), "m.toml")
    vnpay = VNPayQuery(VNPAY_ENV)
    vnpay.use_methods(effective_table("vnpay", override))
    adapter = adapter_for("vnpay")
    adapter.use_methods(effective_table("vnpay", override))

    def pulled(api: ConfirmApi, answer: bytes) -> str | None:
        (payment,) = api.read(answer).payments
        return payment.method

    assert pulled(vnpay, vnpay_answer(vnp_CardType="ATM", vnp_BankCode="NCB")) == \
        adapter.method_of({"vnp_CardType": "ATM", "vnp_BankCode": "NCB"}) == "intl_card"
    # QRCODE taken out: the next field decides, as for a callback
    assert pulled(vnpay, vnpay_answer(vnp_CardType="QRCODE", vnp_BankCode="INTCARD")) == \
        "intl_card"
    assert pulled(vnpay, vnpay_answer(vnp_BankCode="NEWQR")) == "qr"  # a code the file adds
    assert pulled(VNPayQuery(VNPAY_ENV), vnpay_answer(vnp_BankCode="NEWQR")) is None
    momo = MoMoQuery(env_for("momo"))
    momo.use_methods(effective_table("momo", override))
    assert pulled(momo, momo_answer(payType="qr")) == "qr"
    assert pulled(momo, momo_answer(payType="napas")) == "domestic_card"  # the adapter's
    # the classes' tables are untouched by an instance's
    assert VNPayQuery.payment_methods["vnp_CardType"]["ATM"] == "domestic_card"


def test_a_bad_table_or_method_is_refused() -> None:
    with pytest.raises(ValueError, match="VNPayQuery: vnp_CardType 'atm'"):
        VNPayQuery(VNPAY_ENV).use_methods({"vnp_CardType": {"atm": "qr"}})
    with pytest.raises(ValueError, match="VNPayQuery: vnp_CardType 'ATM' -> 'cash'"):
        VNPayQuery(VNPAY_ENV).use_methods({"vnp_CardType": {"ATM": "cash"}})
    with pytest.raises(ValueError, match="method must be None or one of"):
        ConfirmedPayment("T1", 1000, NOW, method="cash")
