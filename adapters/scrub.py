"""Scrubbing before anything is stored or logged: card numbers (PANs) and credentials.

A PAN here is 13–19 digits passing the Luhn check, written as one run or in groups separated by
single spaces or dashes (``4111 1111 1111 1111``, ``4111-1111-1111-1111``), not touching other
digits. :func:`mask_pans` keeps the first 6 and last 4 digits (what PCI DSS allows to be shown)
and replaces the others with ``*``, leaving separators in place.

A digit may also be spelled as a JSON escape (``\u0034``) or percent-encoded (``%34``, as in a
query string or form body), and a separator as ``\u0020``, ``%20`` or ``+``: such a number is
the same card number to whoever reads the stored call, so it is found and masked too (each
encoded digit becomes as many ``*`` as it had bytes, so lengths never change).

False positives are possible (any 13–19 digit number passes Luhn one time in ten, e.g. a long
account number in a transfer memo); masking one is harmless, missing a PAN is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19
KEEP_FIRST = 6
KEEP_LAST = 4

# digit groups joined by single spaces or dashes, not touching other digits
_RUN = re.compile(rb"(?<![0-9])[0-9]+(?:[ -][0-9]+)*(?![0-9])")
_GROUP = re.compile(rb"[0-9]+")
# a digit or a separator spelled as a JSON escape or percent-encoded; "+" is a URL space
_ENCODED = re.compile(rb"\\u003([0-9])|%3([0-9])|\\u00(?:20|2[dD])|%(?:20|2[dD])|\+")
# a stretch of digits and separators from a digit to a digit, 13 bytes or more: every PAN lies
# in one (a simple character class: the regex engine runs through it fast)
_CANDIDATE = re.compile(rb"[0-9][0-9 -]{%d,}[0-9]" % (PAN_MIN_DIGITS - 2))
_DIGITS = b"0123456789"


def luhn_valid(digits: str | bytes) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    text = digits.decode("ascii") if isinstance(digits, bytes) else digits
    if not text or not text.isascii() or not text.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(text)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _pan_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets, separators included, of every run of whole digit groups that
    is a PAN. Spans may overlap ("0015 4111 1111 1111 1111" may hold two): each is masked by
    its own first-6/last-4 rule, so no PAN ever shows more than that."""
    for run in _RUN.finditer(data):
        offset = run.start()
        if run.end() - offset < PAN_MIN_DIGITS:  # too short to hold 13 digits
            continue
        groups = [(m.start() + offset, m.end() + offset) for m in _GROUP.finditer(run.group())]
        for i in range(len(groups)):
            digits = b""
            for j in range(i, len(groups)):
                start, end = groups[j]
                digits += data[start:end]
                if len(digits) > PAN_MAX_DIGITS:
                    break
                if len(digits) >= PAN_MIN_DIGITS and luhn_valid(digits):
                    yield groups[i][0], groups[j][1]


def _decoded(data: bytes) -> tuple[bytes, list[tuple[int, int]] | None]:
    """``data`` with encoded digits and separators decoded to one byte each, and where each
    byte of that came from in ``data`` (``None``: nothing was encoded, offsets are the same)."""
    if _ENCODED.search(data) is None:
        return data, None
    out = bytearray()
    origin: list[tuple[int, int]] = []
    pos = 0
    for match in _ENCODED.finditer(data):
        out += data[pos:match.start()]
        origin.extend((k, k + 1) for k in range(pos, match.start()))
        digit = match.group(1) or match.group(2)
        out += digit if digit else b" "
        origin.append((match.start(), match.end()))
        pos = match.end()
    out += data[pos:]
    origin.extend((k, k + 1) for k in range(pos, len(data)))
    return bytes(out), origin


def _decode_one(match: re.Match[bytes]) -> bytes:
    return match.group(1) or match.group(2) or b" "


def _plain(data: bytes) -> bytes:
    """What :func:`_decoded` gives, without the map of where each byte came from."""
    return _ENCODED.sub(_decode_one, data)


def _may_hold_pan(data: bytes) -> bool:
    """False when ``data`` certainly holds no PAN: the common case, decided by scans that run
    in C. Every digit of the decoded text comes from at least one ASCII digit of ``data``
    (``%34``, ``\\u0034``), so fewer than 13 digits in ``data`` cannot make a PAN; and a PAN is
    13 or more digits with single separators between groups, so the decoded text holds a
    stretch of digits and separators from a digit to a digit (:data:`_CANDIDATE`, each match
    as long as it goes) with 13 or more digits in it."""
    if len(data) - len(data.translate(None, _DIGITS)) < PAN_MIN_DIGITS:
        return False
    for stretch in _CANDIDATE.finditer(_plain(data)):  # few: "2026-11-26 21" is one
        if len(stretch.group().translate(None, b" -")) >= PAN_MIN_DIGITS:  # its digits
            return True
    return False


def contains_pan(data: bytes | str) -> bool:
    """True when ``data`` holds something that looks like a full card number."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not _may_hold_pan(raw):
        return False
    return next(_pan_spans(_plain(raw)), None) is not None


def mask_pans(data: bytes) -> bytes:
    """``data`` with every PAN masked to first 6 + last 4 digits (``411111******1111``).

    Repeats until nothing PAN-like is left (the digits kept visible could, in contrived input,
    join neighbouring digits into a new candidate); each pass masks at least three digits.
    Text that cannot hold a PAN (:func:`_may_hold_pan`: most webhook bodies, headers and
    memos) is returned as it is after two scans in C, without the byte-by-byte work below.
    """
    if not _may_hold_pan(data):
        return bytes(data)
    out = bytearray(data)
    while True:
        spans = list(_pan_spans(_plain(bytes(out))))
        if not spans:
            return bytes(out)
        plain, origin = _decoded(bytes(out))  # where each digit came from: only when masking
        for start, end in spans:
            where = [origin[k] if origin is not None else (k, k + 1) for k in range(start, end)
                     if 48 <= plain[k] <= 57]
            # digits an overlapping span of this pass masked already no longer count
            where = [(first, last) for first, last in where if out[first] != ord("*")]
            for first, last in where[KEEP_FIRST : len(where) - KEEP_LAST]:
                out[first:last] = b"*" * (last - first)


def mask_pans_text(text: str) -> str:
    """:func:`mask_pans` for text (PAN digits are ASCII, so UTF-8 offsets are safe)."""
    raw = text.encode("utf-8", "surrogatepass")
    if not _may_hold_pan(raw):
        return text
    return mask_pans(raw).decode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------

_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
_CREDENTIAL_WORDS = ("token", "secret", "password", "apikey", "api-key", "api_key", "auth")
_SIGNATURE_PARAM = re.compile(r"(v\d+|sig|signature|mac|hash)=([^,;\s]+)", re.IGNORECASE)


def _partial(secret: str) -> str:
    """Show at most 4 characters, and only of a long value."""
    if len(secret) >= 12:
        return f"{secret[:4]}****"
    return "****"


def _redact_credential(value: str) -> str:
    scheme, sep, credential = value.strip().partition(" ")
    if sep and credential and scheme.isalpha():  # "Apikey xxx", "Bearer xxx", "Basic xxx"
        return f"{scheme} {_partial(credential.strip())}"
    return _partial(value.strip())


def _redact_signature(value: str) -> str:
    if _SIGNATURE_PARAM.search(value):  # "t=...,v1=<hex>": keep t, shorten the signature
        return _SIGNATURE_PARAM.sub(lambda m: f"{m.group(1)}={m.group(2)[:8]}…", value)
    return f"{value[:8]}…" if len(value) > 8 else value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` fit to store: credentials shown as at most their first 4
    characters, signatures shortened (they are not secrets, but need not be kept whole)."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if "signature" in lowered or lowered.endswith("-mac") or lowered.endswith("-hash"):
            redacted[name] = _redact_signature(value)
        elif lowered in _CREDENTIAL_HEADERS or any(w in lowered for w in _CREDENTIAL_WORDS):
            redacted[name] = _redact_credential(value)
        else:
            redacted[name] = mask_pans_text(value)
    return redacted
