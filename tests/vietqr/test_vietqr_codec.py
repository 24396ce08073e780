"""The VietQR codec: PROVIDERS.md section 1 vectors, CRC, field errors, round-trips, tampering."""

from __future__ import annotations

import itertools
import string
import unicodedata
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.vietqr.banks import directory
from recon.vietqr.codec import (
    DecodedVietQR,
    VietQRError,
    VietQRRequest,
    crc16_ccitt_false,
    decode,
    encode,
    format_crc,
)
from recon.vietqr.translit import transliterate

V_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045406"
    "1800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
V_STATIC_PADDED_CRC = (
    "00020101021138580010A000000727012800069704070114190304136010180208QRIBFTTA53037045802VN"
    "63040283"
)
V_LOWER_CRC = (
    "00020101021138540010A00000072701240006970422011003523509170208QRIBFTTA53037045802VN"
    "630479db"
)

EXPECTED = {
    V_DYNAMIC: {
        "valid": True, "initiation": "dynamic", "bin": "970403", "bank": "Sacombank",
        "account": "0011012345678", "service": "QRIBFTTA", "amount": 180000,
        "purpose": "thanh toan don hang", "bill_number": "NPS6869", "reference_label": None,
        "crc": "2E2E", "errors": [],
    },
    V_STATIC_PADDED_CRC: {
        "valid": True, "initiation": "static", "bin": "970407", "bank": "Techcombank",
        "account": "19030413601018", "service": "QRIBFTTA", "amount": None, "purpose": None,
        "bill_number": None, "reference_label": None, "crc": "0283", "errors": [],
    },
    V_LOWER_CRC: {
        "valid": True, "initiation": "static", "bin": "970422", "bank": "MB Bank",
        "account": "0352350917", "service": "QRIBFTTA", "amount": None, "purpose": None,
        "bill_number": None, "reference_label": None, "crc": "79db", "errors": [],
    },
}


def tlv(tag: str, value: str) -> str:
    """A TLV object written by hand (the tests' own, independent of the codec)."""
    assert len(value) <= 99
    return f"{tag}{len(value):02d}{value}"


def with_crc(body: str) -> str:
    """Close ``body`` with a correct CRC, so that a test isolates the field it breaks."""
    return body + "6304" + format_crc(crc16_ccitt_false(body + "6304"))


def napas(bin_code: str = "970436", account: str = "0011012345678",
          service: str = "QRIBFTTA") -> str:
    return tlv("38", tlv("00", "A000000727")
               + tlv("01", tlv("00", bin_code) + tlv("01", account))
               + tlv("02", service))


def body(**over: str | None) -> str:
    """A dynamic VietQR body (no CRC) with root fields replaced (None drops one)."""
    fields: dict[str, str | None] = {
        "00": "01", "01": "12", "38": None, "53": "704", "54": "150000", "58": "VN",
        "62": tlv("08", "HS7K3M9QX2RP"),
    }
    for key, value in over.items():
        fields[key.lstrip("f")] = value
    out = ""
    for tag, value in fields.items():
        if tag == "38":
            out += napas()
        elif value is not None:
            out += tlv(tag, value)
    return out


# --------------------------------------------------------------------------------------------
# vectors and CRC


@pytest.mark.parametrize("payload", list(EXPECTED), ids=["dynamic", "static-0283", "lower-crc"])
def test_providers_vectors_decode_exactly(payload: str) -> None:
    result = decode(payload)
    assert result.as_dict() == EXPECTED[payload]
    assert result.is_vietqr


def test_crc_check_value() -> None:
    assert crc16_ccitt_false("123456789") == 0x29B1
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert format_crc(0x29B1) == "29B1"


def test_crc_zero_padded_and_uppercase() -> None:
    assert format_crc(0x283) == "0283"
    assert format_crc(0x5) == "0005"
    assert format_crc(0xABCD) == "ABCD"


def test_vectors_reencode_to_the_same_payload() -> None:
    assert encode(VietQRRequest(
        bin="970403", account="0011012345678", amount=180000,
        purpose="thanh toan don hang", bill_number="NPS6869",
    )) == V_DYNAMIC
    assert encode(VietQRRequest(bin="970407", account="19030413601018", static=True)) == (
        V_STATIC_PADDED_CRC
    )
    # Emitted uppercase; the vector's lowercase CRC is the same number.
    assert encode(VietQRRequest(bin="970422", account="0352350917", static=True)) == (
        V_LOWER_CRC[:-4] + "79DB"
    )


def test_crc_accepted_in_either_case() -> None:
    assert decode(V_LOWER_CRC).valid
    assert decode(V_LOWER_CRC[:-4] + "79DB").valid
    assert decode(V_DYNAMIC[:-4] + "2e2e").valid
    assert decode(V_LOWER_CRC[:-4] + "79dB").valid


def test_wrong_crc_rejected_and_names_63() -> None:
    result = decode(V_DYNAMIC[:-4] + "2E2F")
    assert not result.valid
    assert result.errors[0].startswith("63 (CRC)")
    assert "2E2E" in result.errors[0]


# --------------------------------------------------------------------------------------------
# not VietQR


VNPAY_MERCHANT = with_crc(
    tlv("00", "01") + tlv("01", "12")
    + tlv("26", tlv("00", "A000000775") + tlv("01", "0104531246"))
    + tlv("52", "5411") + tlv("53", "704") + tlv("54", "180000") + tlv("58", "VN")
    + tlv("59", "CUA HANG ABC") + tlv("60", "HA NOI")
    + tlv("62", tlv("01", "HD123") + tlv("07", "POS01"))
)
EVN_BILL = with_crc(
    tlv("00", "01") + tlv("01", "12")
    + tlv("26", tlv("00", "A000000779") + tlv("01", "PE01000123456"))
    + tlv("53", "704") + tlv("54", "352000") + tlv("58", "VN") + tlv("59", "EVN HANOI")
)


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        (VNPAY_MERCHANT, "A000000775 (VNPAY-QR merchant)"),
        (EVN_BILL, "26 with GUID A000000779"),
        (with_crc(tlv("00", "01") + tlv("01", "11") + tlv("53", "704") + tlv("58", "VN")),
         "no NAPAS account field"),
        (with_crc(tlv("00", "01") + tlv("01", "11")
                  + tlv("38", tlv("00", "A000000999") + tlv("01", "X1"))
                  + tlv("53", "704") + tlv("58", "VN")),
         "field 38 holds GUID A000000999"),
    ],
    ids=["vnpay-qr", "evn-bill", "no-merchant-account", "foreign-guid-in-38"],
)
def test_other_emv_codes_are_not_vietqr(payload: str, mentions: str) -> None:
    result = decode(payload)
    assert not result.valid
    assert not result.is_vietqr
    assert result.errors[0].startswith("not a VietQR transfer code")
    assert mentions in result.errors[0]
    # Nothing is misread as a transfer.
    assert result.bin is None and result.account is None and result.amount is None


# --------------------------------------------------------------------------------------------
# decode errors name the field


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (with_crc(body(f54="100.0")), "54 (amount)"),
        (with_crc(body(f54="50 000")), "54 (amount)"),
        (with_crc(body(f54="0")), "54 (amount)"),
        (with_crc(body(f54="000")), "54 (amount)"),
        (with_crc(body(f54="-5000")), "54 (amount)"),
        (with_crc(body(f54="1e5")), "54 (amount)"),
        (with_crc(body(f54="12345678901234")), "54 (amount)"),
        (with_crc(body(f53="840")), "53 (currency)"),
        (with_crc(body(f53=None)), "53 (currency)"),
        (with_crc(body(f58="US")), "58 (country)"),
        (with_crc(body(f58=None)), "58 (country)"),
        (with_crc(body(f01="13")), "01 (point of initiation)"),
        (with_crc(body(f01=None)), "01 (point of initiation)"),
        (with_crc(body(f00="02")), "00 (payload format indicator)"),
        (with_crc(body(f62=tlv("08", "X" * 26))), "62.08 (purpose of transaction)"),
        (with_crc(body(f62=tlv("01", "B" * 26))), "62.01 (bill number)"),
        (with_crc(body(f62=tlv("05", "R" * 26))), "62.05 (reference label)"),
        (with_crc(body(f62="0805ABC")), "62 (additional data)"),
        (with_crc(body(f62=tlv("08", "nộp phí")).replace(napas(), napas())),
         "62 (additional data)"),
        (with_crc(body(f52="54A1")), "52 (merchant category code)"),
        (with_crc(body(f59="N" * 26)), "59 (merchant name)"),
        (with_crc(body(f60="C" * 16)), "60 (merchant city)"),
        (with_crc(body(f70="X")), "70"),
        (body() + "6304", "payload structure"),
        (body() + "63052E2E1", "63 (CRC)"),
        (body(), "63 (CRC)"),
        (with_crc(body()) + tlv("62", "0801X"), "62: appears more than once"),
    ],
    ids=lambda v: v if len(v) < 40 else None,
)
def test_decode_errors_name_the_field(payload: str, field: str) -> None:
    result = decode(payload)
    assert not result.valid
    assert any(error.startswith(field) for error in result.errors), result.errors


def with_account_template(template: str) -> str:
    return with_crc(tlv("00", "01") + tlv("01", "12") + tlv("38", template)
                    + tlv("53", "704") + tlv("58", "VN"))


GUID = tlv("00", "A000000727")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (with_account_template(GUID + tlv("01", tlv("00", "97043") + tlv("01", "123"))
                               + tlv("02", "QRIBFTTA")), "38.01.00 (BIN)"),
        (with_account_template(GUID + tlv("01", tlv("00", "970436") + tlv("01", "0011-0123"))
                               + tlv("02", "QRIBFTTA")), "38.01.01 (account)"),
        (with_account_template(GUID + tlv("01", tlv("00", "970436") + tlv("01", "1" * 20))
                               + tlv("02", "QRIBFTTA")), "38.01.01 (account)"),
        (with_account_template(GUID + tlv("01", tlv("00", "970436")) + tlv("02", "QRIBFTTA")),
         "38.01.01 (account)"),
        (with_account_template(GUID + tlv("01", tlv("00", "970436") + tlv("01", "123"))
                               + tlv("02", "QRIBFTTX")), "38.02 (service code)"),
        # The public-library bug: 02 nested inside 01 instead of beside it.
        (with_account_template(GUID + tlv("01", tlv("00", "970436") + tlv("01", "123")
                                          + tlv("02", "QRIBFTTA"))), "38.02 (service code)"),
        (with_account_template(GUID + tlv("02", "QRIBFTTA")), "38.01 (beneficiary)"),
        (with_account_template(GUID + "0110ABC"), "38 (NAPAS account information)"),
    ],
    ids=["bin-5-digits", "account-dash", "account-20", "no-account", "service", "02-nested",
         "no-beneficiary", "broken-38"],
)
def test_decode_account_errors_name_the_subfield(payload: str, field: str) -> None:
    result = decode(payload)
    assert not result.valid
    assert result.is_vietqr
    assert any(error.startswith(field) for error in result.errors), result.errors


def test_amount_with_trailing_point_is_legal() -> None:
    result = decode(with_crc(body(f54="50000.")))
    assert result.valid, result.errors
    assert result.amount == 50000


def test_three_digit_length_is_never_read() -> None:
    # What a buggy encoder writes for a 100-character 62: "62" + "100" + value.
    broken = body(f62=None) + "62100" + tlv("08", "X" * 25) * 3 + tlv("08", "Y" * 17)
    result = decode(with_crc(broken))
    assert not result.valid


def test_unknown_bin_is_not_an_error() -> None:
    payload = with_crc(tlv("00", "01") + tlv("01", "11") + napas(bin_code="979999")
                       + tlv("53", "704") + tlv("58", "VN"))
    result = decode(payload)
    assert result.valid, result.errors
    assert result.bin == "979999"
    assert result.bank is None


def test_fields_in_any_order_between_00_and_63() -> None:
    parts = [tlv("01", "12"), napas(), tlv("53", "704"), tlv("54", "25000"),
             tlv("58", "VN"), tlv("62", tlv("08", "HS7K3M9QX2RP") + tlv("01", "B1"))]
    for order in itertools.permutations(parts):
        result = decode(with_crc(tlv("00", "01") + "".join(order)))
        assert result.valid, (order, result.errors)
        assert (result.bin, result.account, result.amount, result.purpose,
                result.bill_number) == ("970436", "0011012345678", 25000, "HS7K3M9QX2RP", "B1")


def test_subfields_in_any_order() -> None:
    beneficiary = tlv("01", "9704361234567890") + tlv("00", "970436")
    template = tlv("02", "QRIBFTTC") + tlv("01", beneficiary) + tlv("00", "A000000727")
    result = decode(with_account_template(template))
    assert result.valid, result.errors
    assert (result.bin, result.account, result.service) == ("970436", "9704361234567890",
                                                            "QRIBFTTC")
    assert result.is_card


def test_00_must_be_first() -> None:
    result = decode(with_crc(tlv("01", "12") + tlv("00", "01") + napas()
                             + tlv("53", "704") + tlv("58", "VN")))
    assert not result.valid
    first = "00 (payload format indicator): must come first"
    assert any(e.startswith(first) for e in result.errors)


def test_63_must_be_last() -> None:
    payload = with_crc(body()) + tlv("64", "0002vi")
    result = decode(payload)
    assert not result.valid
    assert any(e.startswith("63 (CRC): must be the last") for e in result.errors)


def test_empty_and_garbage() -> None:
    assert decode("").errors == ["payload: empty"]
    assert decode("hello").errors[0].startswith("payload structure")
    with pytest.raises(TypeError):
        decode(b"000201")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# tampering: every single-character change is rejected


def longest_legal_request() -> VietQRRequest:
    return VietQRRequest(
        bin="970436", account="ABCDEFGHIJ123456789", amount=9_999_999_999_999,
        bill_number="B" * 25, reference_label="R" * 25, terminal_label="T" * 25,
        purpose="P" * 8, static=False, card=False,
        merchant_name="N" * 25, merchant_city="C" * 15, mcc="9399",
    )


def sample_payloads() -> list[str]:
    return [
        V_DYNAMIC,
        V_STATIC_PADDED_CRC,
        V_LOWER_CRC,
        encode(VietQRRequest(bin="971025", account="99MM24011M34291", amount=50000,
                             purpose="HS7K3M9QX2RP", card=False)),
        encode(VietQRRequest(bin="970418", account="9704180123456789", card=True,
                             static=True, purpose="Lệ phí hồ sơ")),
        encode(longest_legal_request()),
    ]


SUBSTITUTES = string.printable + "đƠ\u00a0"


def _same_crc_value(payload: str, pos: int, ch: str) -> bool:
    """A case change of a CRC hex digit writes the same number: not a change of content."""
    return pos >= len(payload) - 4 and ch.upper() == payload[pos].upper()


@pytest.mark.parametrize("payload", sample_payloads(), ids=lambda p: p[-4:])
def test_every_single_substitution_is_rejected(payload: str) -> None:
    assert decode(payload).valid
    accepted = []
    for pos, original in enumerate(payload):
        for ch in SUBSTITUTES:
            if ch == original or _same_crc_value(payload, pos, ch):
                continue
            changed = payload[:pos] + ch + payload[pos + 1:]
            if decode(changed).valid:
                accepted.append((pos, ch))
    assert accepted == []


@pytest.mark.parametrize("payload", sample_payloads(), ids=lambda p: p[-4:])
def test_every_single_deletion_or_insertion_is_rejected(payload: str) -> None:
    for pos in range(len(payload)):
        assert not decode(payload[:pos] + payload[pos + 1:]).valid, pos
        for ch in "0A9 .":
            assert not decode(payload[:pos] + ch + payload[pos:]).valid, (pos, ch)


# --------------------------------------------------------------------------------------------
# encode


def test_longest_legal_payload() -> None:
    payload = encode(longest_legal_request())
    assert len(payload) == 276
    result = decode(payload)
    assert result.valid, result.errors
    assert result.terminal_label == "T" * 25
    assert result.merchant_name == "N" * 25 and result.merchant_city == "C" * 15
    assert result.mcc == "9399"
    assert result.amount == 9_999_999_999_999


BASE = VietQRRequest(bin="970436", account="0011012345678", amount=150000,
                     purpose="HS7K3M9QX2RP")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bin": "970499"}, "bin"),
        ({"bin": "97043"}, "bin"),
        ({"bin": "97043A"}, "bin"),
        ({"account": ""}, "account"),
        ({"account": "1" * 20}, "account"),
        ({"account": "0011 0123"}, "account"),
        ({"account": "tài khoản"}, "account"),
        ({"amount": 0}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": 10**13}, "amount"),
        ({"purpose": "Thanh toán lệ phí hồ sơ số 1"}, "purpose"),
        ({"purpose": "P" * 26}, "purpose"),
        ({"purpose": "phí 10€"}, "purpose"),
        ({"purpose": "line\nbreak"}, "purpose"),
        ({"bill_number": "B" * 26}, "bill_number"),
        ({"reference_label": "R" * 26}, "reference_label"),
        ({"terminal_label": "T" * 26}, "terminal_label"),
        ({"merchant_name": "Trung tâm Hành chính công tỉnh"}, "merchant_name"),
        ({"merchant_city": "Thành phố Hồ Chí Minh"}, "merchant_city"),
        ({"mcc": "93A9"}, "mcc"),
        ({"mcc": "939"}, "mcc"),
        ({"purpose": "P" * 25, "bill_number": "B" * 25, "reference_label": "R" * 25,
          "terminal_label": "T" * 25}, "additional_data"),
    ],
)
def test_encode_errors_name_the_field(change: dict[str, object], field: str) -> None:
    request = replace(BASE, **change)  # type: ignore[arg-type]
    with pytest.raises(VietQRError) as caught:
        encode(request)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


def test_encode_limits_count_after_transliteration() -> None:
    # 25 Vietnamese letters are 25 ASCII letters: allowed, not truncated.
    purpose = "Nộp lệ phí đăng ký HKD số"
    assert len(purpose) == 25
    result = decode(encode(replace(BASE, purpose=purpose)))
    assert result.purpose == "Nop le phi dang ky HKD so"
    # Decomposed input (NFD) has more code points but the same ASCII length.
    nfd = unicodedata.normalize("NFD", purpose)
    assert len(nfd) > 25
    assert decode(encode(replace(BASE, purpose=nfd))).purpose == "Nop le phi dang ky HKD so"


def test_encode_transliterates_every_text_field() -> None:
    payload = encode(replace(BASE, purpose="Lệ phí", bill_number="Hóa đơn 1",
                             reference_label="Đợt 2", merchant_name="UBND Phường Ưng",
                             merchant_city="Đà Nẵng"))
    assert payload.isascii()
    result = decode(payload)
    assert (result.purpose, result.bill_number, result.reference_label, result.merchant_name,
            result.merchant_city) == ("Le phi", "Hoa don 1", "Dot 2", "UBND Phuong Ung",
                                      "Da Nang")


def test_static_and_card_flags() -> None:
    result = decode(encode(replace(BASE, static=True, card=True, account="9704361234567890")))
    assert result.initiation == "static"
    assert result.service == "QRIBFTTC"
    dynamic = decode(encode(BASE))
    assert dynamic.initiation == "dynamic"
    assert dynamic.service == "QRIBFTTA"


def test_empty_text_fields_are_left_out() -> None:
    payload = encode(VietQRRequest(bin="970436", account="123", purpose="", bill_number=""))
    assert payload == with_crc(tlv("00", "01") + tlv("01", "12") + napas(account="123")
                               + tlv("53", "704") + tlv("58", "VN"))
    result = decode(payload)
    assert result.purpose is None and result.bill_number is None and result.amount is None


# --------------------------------------------------------------------------------------------
# Hypothesis round-trips

VIETNAMESE = "aàảãáạăằẳẵắặâầẩẫấậeèẻẽéẹêềểễếệiìỉĩíịoòỏõóọôồổỗốộơờởỡớợuùủũúụưừửữứựyỳỷỹýỵđ"
TEXT_CHARS = VIETNAMESE + VIETNAMESE.upper() + "".join(chr(c) for c in range(32, 127))

texts = st.text(alphabet=TEXT_CHARS, max_size=25)
accounts = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=19)


@st.composite
def requests(draw: st.DrawFn) -> VietQRRequest:
    return VietQRRequest(
        bin=draw(st.sampled_from(sorted(directory()))),
        account=draw(accounts),
        amount=draw(st.none() | st.integers(1, 10**13 - 1)),
        purpose=draw(texts),
        bill_number=draw(texts),
        reference_label=draw(texts),
        terminal_label=draw(st.text(alphabet=TEXT_CHARS, max_size=8)),
        static=draw(st.booleans()),
        card=draw(st.booleans()),
        merchant_name=draw(st.none() | st.text(alphabet=TEXT_CHARS, min_size=1, max_size=25)),
        merchant_city=draw(st.none() | st.text(alphabet=TEXT_CHARS, min_size=1, max_size=15)),
        mcc=draw(st.none() | st.from_regex(r"[0-9]{4}", fullmatch=True)),
    )


def _text_or_none(text: str | None) -> str | None:
    return transliterate(text) if text else None


@settings(max_examples=400, deadline=None)
@given(requests())
def test_round_trip(request: VietQRRequest) -> None:
    payload = encode(request)
    assert payload.isascii()
    result = decode(payload)
    assert result.valid, result.errors
    bank = directory()[request.bin]
    assert result == DecodedVietQR(
        valid=True,
        is_vietqr=True,
        initiation="static" if request.static else "dynamic",
        bin=request.bin,
        bank=bank.short_name,
        account=request.account,
        service="QRIBFTTC" if request.card else "QRIBFTTA",
        amount=request.amount,
        purpose=_text_or_none(request.purpose),
        bill_number=_text_or_none(request.bill_number),
        reference_label=_text_or_none(request.reference_label),
        terminal_label=_text_or_none(request.terminal_label),
        merchant_name=_text_or_none(request.merchant_name),
        merchant_city=_text_or_none(request.merchant_city),
        mcc=request.mcc,
        crc=payload[-4:],
        errors=[],
    )
    # Decoding then encoding again gives the same payload.
    again = VietQRRequest(
        bin=request.bin, account=request.account, amount=result.amount,
        purpose=result.purpose or "", bill_number=result.bill_number or "",
        reference_label=result.reference_label or "",
        terminal_label=result.terminal_label or "", static=result.initiation == "static",
        card=result.is_card, merchant_name=result.merchant_name,
        merchant_city=result.merchant_city, mcc=result.mcc,
    )
    assert encode(again) == payload


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_decode_never_raises_on_arbitrary_text(text: str) -> None:
    result = decode(text)
    assert result.valid == (not result.errors)


@settings(max_examples=300, deadline=None)
@given(requests(), st.data())
def test_any_single_change_of_an_encoded_payload_is_rejected(
    request: VietQRRequest, data: st.DataObject
) -> None:
    payload = encode(request)
    pos = data.draw(st.integers(0, len(payload) - 1))
    ch = data.draw(st.sampled_from(SUBSTITUTES).filter(
        lambda c: c != payload[pos] and not _same_crc_value(payload, pos, c)))
    assert not decode(payload[:pos] + ch + payload[pos + 1:]).valid
