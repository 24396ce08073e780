"""VietQR (NAPAS247 transfer QR) payloads: encode and decode. Pure: no I/O, no database.

The payload is an EMVCo Merchant-Presented QR: a run of TLV objects, each a 2-digit ID, a 2-digit
length (01-99, a count of characters) and the value. See PROVIDERS.md section 1 for the fields.

- :func:`encode` builds a payload from a :class:`VietQRRequest` or raises :class:`VietQRError`
  naming the field that is wrong. Vietnamese text is transliterated to ASCII first; lengths are
  checked afterwards and never silently truncated.
- :func:`decode` never raises on bad input: it returns a :class:`DecodedVietQR` whose ``errors``
  name each field that is wrong and why, and whose ``valid`` is true only when there are none.
  EMV codes that are not NAPAS transfers (VNPAY-QR merchant codes and EVN bills under ID 26, or
  anything without a NAPAS ``38``) are reported as "not a VietQR transfer code".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from recon.errors import FieldError
from recon.vietqr.banks import lookup
from recon.vietqr.translit import non_printable_ascii, transliterate

NAPAS_GUID = "A000000727"
SERVICE_ACCOUNT = "QRIBFTTA"
SERVICE_CARD = "QRIBFTTC"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
INITIATION_STATIC = "11"
INITIATION_DYNAMIC = "12"

MAX_TLV_LENGTH = 99
MAX_ACCOUNT = 19
MAX_AMOUNT_CHARS = 13
MAX_NAME = 25
MAX_CITY = 15
MAX_ADDITIONAL_FIELD = 25

# GUIDs seen in Vietnamese EMV codes, to say what a code is when it is not a transfer.
KNOWN_GUIDS = {
    NAPAS_GUID: "NAPAS VietQR",
    "A000000775": "VNPAY-QR merchant",
}

Initiation = Literal["static", "dynamic"]

_DIGITS = re.compile(r"[0-9]+")
_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_MCC = re.compile(r"[0-9]{4}")
_AMOUNT = re.compile(r"([0-9]+)\.?")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")

# ID 62 sub-objects we read and write: id -> (attribute name, label for messages).
_ADDITIONAL = {
    "01": ("bill_number", "bill number"),
    "05": ("reference_label", "reference label"),
    "07": ("terminal_label", "terminal label"),
    "08": ("purpose", "purpose of transaction"),
}

_ROOT_NAMES = {
    "00": "payload format indicator",
    "01": "point of initiation",
    "38": "NAPAS account information",
    "52": "merchant category code",
    "53": "currency",
    "54": "amount",
    "58": "country",
    "59": "merchant name",
    "60": "merchant city",
    "62": "additional data",
    "63": "CRC",
    "64": "language template",
}


# --------------------------------------------------------------------------------------------
# CRC-16/CCITT-FALSE


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte << 8
        for _ in range(8):
            reg = ((reg << 1) ^ 0x1021) if reg & 0x8000 else (reg << 1)
            reg &= 0xFFFF
        table.append(reg)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16_ccitt_false(data: str | bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    Text is taken as UTF-8 (a VietQR payload is ASCII, where characters and bytes agree).
    ``crc16_ccitt_false("123456789") == 0x29B1``.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    crc = 0xFFFF
    for byte in raw:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def format_crc(value: int) -> str:
    """4 uppercase hex digits, zero-padded: ``0x283`` -> ``"0283"``."""
    return f"{value:04X}"


def payload_crc(payload_without_crc: str) -> str:
    """The CRC to append to a payload that ends just before ``6304``."""
    return format_crc(crc16_ccitt_false(payload_without_crc + "6304"))


# --------------------------------------------------------------------------------------------
# Errors and the typed request/result


class VietQRError(ValueError):
    """A request that cannot become a VietQR code; ``field`` names the request field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def as_field_error(self) -> FieldError:
        return FieldError(self.field, self.reason)


@dataclass(frozen=True)
class VietQRRequest:
    """What to put in a VietQR transfer code.

    ``bin`` must be a bank in the directory (:func:`recon.vietqr.banks.directory`).
    ``amount`` is whole VND (``None`` lets the payer type it). Text fields are transliterated to
    ASCII and must then fit (25 characters each; the additional data ``62`` as a whole 99).
    ``static`` makes a reusable code (initiation 11) instead of a one-payment code (12);
    ``card`` pays to a card number (``QRIBFTTC``) instead of an account (``QRIBFTTA``).
    """

    bin: str
    account: str
    amount: int | None = None
    purpose: str = ""
    bill_number: str = ""
    reference_label: str = ""
    terminal_label: str = ""
    static: bool = False
    card: bool = False
    merchant_name: str | None = None
    merchant_city: str | None = None
    mcc: str | None = None


@dataclass(frozen=True)
class DecodedVietQR:
    """What :func:`decode` read. ``valid`` is true exactly when ``errors`` is empty.

    ``crc`` is the CRC as written in the payload (either case); ``bank`` is the short name from
    the bank directory, ``None`` for a BIN the directory does not know (not an error).
    ``is_vietqr`` is false for EMV codes that are not NAPAS transfers.
    """

    valid: bool
    is_vietqr: bool
    initiation: Initiation | None
    bin: str | None
    bank: str | None
    account: str | None
    service: str | None
    amount: int | None
    purpose: str | None
    bill_number: str | None
    reference_label: str | None
    terminal_label: str | None
    merchant_name: str | None
    merchant_city: str | None
    mcc: str | None
    crc: str | None
    errors: list[str] = field(default_factory=list)

    @property
    def is_card(self) -> bool:
        return self.service == SERVICE_CARD

    def as_dict(self) -> dict[str, object]:
        """The documented JSON shape (``recon vietqr decode``)."""
        return {
            "valid": self.valid,
            "initiation": self.initiation,
            "bin": self.bin,
            "bank": self.bank,
            "account": self.account,
            "service": self.service,
            "amount": self.amount,
            "purpose": self.purpose,
            "bill_number": self.bill_number,
            "reference_label": self.reference_label,
            "crc": self.crc,
            "errors": list(self.errors),
        }


# --------------------------------------------------------------------------------------------
# Encoding


def _tlv(tag: str, value: str, what: str) -> str:
    if not value:
        raise VietQRError(what, "must not be empty")
    if len(value) > MAX_TLV_LENGTH:
        raise VietQRError(
            what, f"is {len(value)} characters; a VietQR field holds at most {MAX_TLV_LENGTH}"
        )
    return f"{tag}{len(value):02d}{value}"


def _ascii_text(value: str, what: str, limit: int) -> str:
    text = transliterate(value)
    bad = non_printable_ascii(text)
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise VietQRError(
            what, f"contains {shown}, which a VietQR code cannot carry (printable ASCII only)"
        )
    if len(text) > limit:
        raise VietQRError(
            what,
            f"is {len(text)} characters after transliteration ({text!r}); "
            f"the limit is {limit}: shorten it",
        )
    return text


def encode(request: VietQRRequest) -> str:
    """Build the payload for ``request``; raise :class:`VietQRError` naming the bad field."""
    bin_code = request.bin
    if not isinstance(bin_code, str) or not _BIN.fullmatch(bin_code):
        raise VietQRError("bin", f"must be the bank's 6-digit BIN, got {bin_code!r}")
    if lookup(bin_code) is None:
        raise VietQRError(
            "bin", f"{bin_code} is not in the bank directory (see `recon vietqr banks`)"
        )
    account = request.account
    if not isinstance(account, str) or not account:
        raise VietQRError("account", "is missing")
    if len(account) > MAX_ACCOUNT:
        raise VietQRError(
            "account", f"is {len(account)} characters; the limit is {MAX_ACCOUNT}"
        )
    if not _ACCOUNT.fullmatch(account):
        raise VietQRError(
            "account", f"may hold only ASCII letters and digits, got {account!r}"
        )

    amount_text: str | None = None
    if request.amount is not None:
        amount = request.amount
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise VietQRError("amount", f"must be a whole number of VND, got {amount!r}")
        if amount <= 0:
            raise VietQRError("amount", f"must be more than 0 VND, got {amount}")
        amount_text = str(amount)
        if len(amount_text) > MAX_AMOUNT_CHARS:
            raise VietQRError(
                "amount", f"has {len(amount_text)} digits; the limit is {MAX_AMOUNT_CHARS}"
            )

    mcc = request.mcc
    if mcc is not None and not _MCC.fullmatch(mcc):
        raise VietQRError("mcc", f"must be 4 digits, got {mcc!r}")

    name = (
        _ascii_text(request.merchant_name, "merchant_name", MAX_NAME)
        if request.merchant_name
        else None
    )
    city = (
        _ascii_text(request.merchant_city, "merchant_city", MAX_CITY)
        if request.merchant_city
        else None
    )

    additional = ""
    for tag, (attr, _label) in _ADDITIONAL.items():
        raw = getattr(request, attr)
        if not isinstance(raw, str):
            raise VietQRError(attr, f"must be text, got {type(raw).__name__}")
        if raw:
            additional += _tlv(tag, _ascii_text(raw, attr, MAX_ADDITIONAL_FIELD), attr)
    if len(additional) > MAX_TLV_LENGTH:
        raise VietQRError(
            "additional_data",
            f"the purpose, bill number, reference and terminal labels together take "
            f"{len(additional)} characters in field 62; the limit is {MAX_TLV_LENGTH}: "
            "shorten or drop one of them",
        )

    beneficiary = _tlv("00", bin_code, "bin") + _tlv("01", account, "account")
    service = SERVICE_CARD if request.card else SERVICE_ACCOUNT
    merchant = (
        _tlv("00", NAPAS_GUID, "guid")
        + _tlv("01", beneficiary, "account")
        + _tlv("02", service, "service")
    )

    out = _tlv("00", "01", "payload_format")
    out += _tlv("01", INITIATION_STATIC if request.static else INITIATION_DYNAMIC, "static")
    out += _tlv("38", merchant, "account")
    if mcc is not None:
        out += _tlv("52", mcc, "mcc")
    out += _tlv("53", CURRENCY_VND, "currency")
    if amount_text is not None:
        out += _tlv("54", amount_text, "amount")
    out += _tlv("58", COUNTRY_VN, "country")
    if name:
        out += _tlv("59", name, "merchant_name")
    if city:
        out += _tlv("60", city, "merchant_city")
    if additional:
        out += _tlv("62", additional, "additional_data")
    return out + "6304" + payload_crc(out)


# --------------------------------------------------------------------------------------------
# Decoding


class _TLVError(Exception):
    pass


@dataclass(frozen=True)
class _Item:
    tag: str
    value: str
    start: int  # offset of the ID within the text parsed


def _parse_tlv(text: str, where: str) -> list[_Item]:
    """Split ``text`` into TLV items; raise :class:`_TLVError` saying where it breaks."""
    items: list[_Item] = []
    pos = 0
    while pos < len(text):
        head = text[pos : pos + 4]
        label = f"{where}character {pos + 1}"
        if len(head) < 4:
            raise _TLVError(f"{label}: {len(text) - pos} stray character(s) {head!r} at the end")
        tag, size = head[:2], head[2:]
        if not (tag.isascii() and tag.isdigit()):
            raise _TLVError(f"{label}: expected a 2-digit field ID, found {tag!r}")
        if not (size.isascii() and size.isdigit()):
            raise _TLVError(
                f"{where}{tag}: the length must be 2 digits, found {size!r} (character {pos + 3})"
            )
        length = int(size)
        if length == 0:
            raise _TLVError(f"{where}{tag}: length 00; a field holds 1 to 99 characters")
        value = text[pos + 4 : pos + 4 + length]
        if len(value) < length:
            raise _TLVError(
                f"{where}{tag}: declares {length} characters but only {len(value)} remain"
            )
        items.append(_Item(tag, value, pos))
        pos += 4 + length
    return items


def _index(items: list[_Item], where: str, errors: list[str]) -> dict[str, _Item]:
    found: dict[str, _Item] = {}
    for item in items:
        if item.tag in found:
            errors.append(f"{where}{item.tag}: appears more than once")
        else:
            found[item.tag] = item
    return found


def _name(tag: str) -> str:
    name = _ROOT_NAMES.get(tag)
    return f"{tag} ({name})" if name else tag


@dataclass
class _Fields:
    initiation: Initiation | None = None
    bin: str | None = None
    account: str | None = None
    service: str | None = None
    amount: int | None = None
    purpose: str | None = None
    bill_number: str | None = None
    reference_label: str | None = None
    terminal_label: str | None = None
    merchant_name: str | None = None
    merchant_city: str | None = None
    mcc: str | None = None
    crc: str | None = None


def _result(fields: _Fields, errors: list[str], *, is_vietqr: bool) -> DecodedVietQR:
    bank = lookup(fields.bin) if fields.bin else None
    return DecodedVietQR(
        valid=not errors and is_vietqr,
        is_vietqr=is_vietqr,
        initiation=fields.initiation,
        bin=fields.bin,
        bank=bank.short_name if bank else None,
        account=fields.account,
        service=fields.service,
        amount=fields.amount,
        purpose=fields.purpose,
        bill_number=fields.bill_number,
        reference_label=fields.reference_label,
        terminal_label=fields.terminal_label,
        merchant_name=fields.merchant_name,
        merchant_city=fields.merchant_city,
        mcc=fields.mcc,
        crc=fields.crc,
        errors=errors,
    )


def _root_tag_allowed(tag: str) -> bool:
    n = int(tag)
    # 00-64 are defined by EMVCo (02-51 merchant account templates, 55-57 tips, 61 postal
    # code, 64 language template); 80-99 are unreserved templates. 65-79 are reserved.
    return n <= 64 or n >= 80


def _check_crc(payload: str, crc_item: _Item, fields: _Fields, errors: list[str]) -> None:
    fields.crc = crc_item.value
    if len(crc_item.value) != 4 or not _HEX4.fullmatch(crc_item.value):
        errors.append(f"63 (CRC): must be 4 hex digits, found {crc_item.value!r}")
        return
    expected = crc16_ccitt_false(payload[: crc_item.start + 4])
    if int(crc_item.value, 16) != expected:
        errors.append(
            f"63 (CRC): {crc_item.value} does not match the content (expected "
            f"{format_crc(expected)}); the code is damaged or was altered"
        )


def _guid_of(item: _Item) -> str | None:
    """The GUID (sub-field 00) of a merchant account template, if it parses."""
    try:
        sub = {sub_item.tag: sub_item.value for sub_item in _parse_tlv(item.value, "")}
    except _TLVError:
        return None
    return sub.get("00")


def _describe_guid(guid: str) -> str:
    what = KNOWN_GUIDS.get(guid.upper())
    return f"GUID {guid}" + (f" ({what})" if what else "")


def _not_vietqr_reason(root: dict[str, _Item]) -> str | None:
    """Why a structurally sound EMV code is not a NAPAS transfer, or None if it is one."""
    account = root.get("38")
    if account is not None:
        try:
            _parse_tlv(account.value, "38.")
        except _TLVError:
            return None  # a broken 38 is reported as a VietQR field error
        guid = _guid_of(account)
        if guid is not None and guid.upper() == NAPAS_GUID:
            return None
        held = _describe_guid(guid) if guid is not None else "no GUID"
        return (
            f"not a VietQR transfer code: field 38 holds {held}, "
            f"not the NAPAS GUID {NAPAS_GUID}"
        )
    others = []
    for tag in sorted(root):
        if 2 <= int(tag) <= 51:
            guid = _guid_of(root[tag])
            others.append(f"{tag} with {_describe_guid(guid)}" if guid is not None else tag)
    detail = f"; it carries merchant account field(s) {', '.join(others)}" if others else ""
    return (
        "not a VietQR transfer code: it has no NAPAS account field "
        f"(38 with GUID {NAPAS_GUID}){detail}"
    )


def _read_account(item: _Item, fields: _Fields, errors: list[str]) -> None:
    try:
        sub_items = _parse_tlv(item.value, "38.")
    except _TLVError as exc:
        errors.append(f"38 (NAPAS account information): {exc}")
        return
    sub = _index(sub_items, "38.", errors)
    if "00" not in sub:
        errors.append(f"38.00 (GUID): missing; VietQR needs {NAPAS_GUID}")
    beneficiary = sub.get("01")
    if beneficiary is None:
        errors.append("38.01 (beneficiary): missing; it holds the bank BIN and the account")
    else:
        try:
            ben_items = _parse_tlv(beneficiary.value, "38.01.")
        except _TLVError as exc:
            errors.append(f"38.01 (beneficiary): {exc}")
            ben_items = []
        ben = _index(ben_items, "38.01.", errors)
        bin_item = ben.get("00")
        if bin_item is None:
            if ben_items:
                errors.append("38.01.00 (BIN): missing")
        elif not _BIN.fullmatch(bin_item.value):
            errors.append(f"38.01.00 (BIN): must be 6 digits, found {bin_item.value!r}")
        else:
            fields.bin = bin_item.value
        acc_item = ben.get("01")
        if acc_item is None:
            if ben_items:
                errors.append("38.01.01 (account): missing")
        elif not _ACCOUNT.fullmatch(acc_item.value):
            errors.append(
                "38.01.01 (account): must be 1 to 19 ASCII letters or digits, found "
                f"{acc_item.value!r}"
            )
        else:
            fields.account = acc_item.value
    service = sub.get("02")
    if service is None:
        errors.append(
            f"38.02 (service code): missing; expected {SERVICE_ACCOUNT} or {SERVICE_CARD}"
        )
    elif service.value not in (SERVICE_ACCOUNT, SERVICE_CARD):
        errors.append(
            f"38.02 (service code): {service.value!r} is neither {SERVICE_ACCOUNT} (account) "
            f"nor {SERVICE_CARD} (card)"
        )
    else:
        fields.service = service.value


def _read_amount(value: str, fields: _Fields, errors: list[str]) -> None:
    match = _AMOUNT.fullmatch(value)
    if len(value) > MAX_AMOUNT_CHARS:
        errors.append(f"54 (amount): {len(value)} characters; the limit is {MAX_AMOUNT_CHARS}")
    elif match is None:
        errors.append(
            f"54 (amount): {value!r} is not a whole number of VND (digits only; VND has no "
            "decimals)"
        )
    elif int(match.group(1)) == 0:
        errors.append("54 (amount): must be more than 0")
    else:
        fields.amount = int(match.group(1))


def _read_additional(item: _Item, fields: _Fields, errors: list[str]) -> None:
    try:
        sub_items = _parse_tlv(item.value, "62.")
    except _TLVError as exc:
        errors.append(f"62 (additional data): {exc}")
        return
    sub = _index(sub_items, "62.", errors)
    for tag, (attr, label) in _ADDITIONAL.items():
        found = sub.get(tag)
        if found is None:
            continue
        if len(found.value) > MAX_ADDITIONAL_FIELD:
            errors.append(
                f"62.{tag} ({label}): {len(found.value)} characters; the limit is "
                f"{MAX_ADDITIONAL_FIELD}"
            )
            continue
        setattr(fields, attr, found.value)


def decode(payload: str) -> DecodedVietQR:
    """Read a VietQR payload. Never raises for bad content; see ``errors`` on the result."""
    if not isinstance(payload, str):
        raise TypeError(f"decode() takes the payload as str, not {type(payload).__name__}")
    fields = _Fields()
    errors: list[str] = []
    if not payload:
        return _result(fields, ["payload: empty"], is_vietqr=False)
    try:
        items = _parse_tlv(payload, "")
    except _TLVError as exc:
        return _result(fields, [f"payload structure: {exc}"], is_vietqr=False)

    root = _index(items, "", errors)
    if items[0].tag != "00":
        errors.append(f"00 (payload format indicator): must come first, found {items[0].tag}")
    if "00" in root and root["00"].value != "01":
        errors.append(f"00 (payload format indicator): must be '01', found {root['00'].value!r}")
    crc_item = root.get("63")
    if crc_item is None:
        errors.append("63 (CRC): missing")
    elif items[-1].tag != "63":
        errors.append("63 (CRC): must be the last field")
        fields.crc = crc_item.value
    else:
        _check_crc(payload, crc_item, fields, errors)

    for item in items:
        if not _root_tag_allowed(item.tag):
            errors.append(f"{item.tag}: reserved field ID (65-79 are reserved by EMVCo)")
        elif item.tag != "64":
            bad = non_printable_ascii(item.value)
            if bad:
                shown = ", ".join(repr(ch) for ch in bad)
                errors.append(f"{_name(item.tag)}: contains {shown}; only printable ASCII")

    reason = _not_vietqr_reason(root)
    if reason is not None:
        return _result(fields, [reason, *errors], is_vietqr=False)

    initiation = root.get("01")
    if initiation is None:
        errors.append("01 (point of initiation): missing; expected 11 (static) or 12 (dynamic)")
    elif initiation.value == INITIATION_STATIC:
        fields.initiation = "static"
    elif initiation.value == INITIATION_DYNAMIC:
        fields.initiation = "dynamic"
    else:
        errors.append(
            f"01 (point of initiation): {initiation.value!r} is neither 11 (static) "
            "nor 12 (dynamic)"
        )

    _read_account(root["38"], fields, errors)

    mcc = root.get("52")
    if mcc is not None:
        if _MCC.fullmatch(mcc.value):
            fields.mcc = mcc.value
        else:
            errors.append(f"52 (merchant category code): must be 4 digits, found {mcc.value!r}")

    currency = root.get("53")
    if currency is None:
        errors.append(f"53 (currency): missing; VietQR needs {CURRENCY_VND} (VND)")
    elif currency.value != CURRENCY_VND:
        errors.append(f"53 (currency): must be {CURRENCY_VND} (VND), found {currency.value!r}")

    amount = root.get("54")
    if amount is not None:
        _read_amount(amount.value, fields, errors)

    country = root.get("58")
    if country is None:
        errors.append(f"58 (country): missing; VietQR needs {COUNTRY_VN}")
    elif country.value != COUNTRY_VN:
        errors.append(f"58 (country): must be {COUNTRY_VN}, found {country.value!r}")

    name = root.get("59")
    if name is not None:
        if len(name.value) > MAX_NAME:
            errors.append(
                f"59 (merchant name): {len(name.value)} characters; the limit is {MAX_NAME}"
            )
        else:
            fields.merchant_name = name.value
    city = root.get("60")
    if city is not None:
        if len(city.value) > MAX_CITY:
            errors.append(
                f"60 (merchant city): {len(city.value)} characters; the limit is {MAX_CITY}"
            )
        else:
            fields.merchant_city = city.value

    additional = root.get("62")
    if additional is not None:
        _read_additional(additional, fields, errors)

    return _result(fields, errors, is_vietqr=True)


__all__ = [
    "NAPAS_GUID",
    "SERVICE_ACCOUNT",
    "SERVICE_CARD",
    "DecodedVietQR",
    "VietQRError",
    "VietQRRequest",
    "crc16_ccitt_false",
    "decode",
    "encode",
    "format_crc",
    "payload_crc",
]
