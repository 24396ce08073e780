"""The card-number scan's fast path (``adapters.scrub._may_hold_pan``) never changes an answer.

``mask_pans``, ``mask_pans_text`` and ``contains_pan`` return at once when the data cannot hold a
PAN; the full scan runs otherwise. The oracle below is the scan as it was before the fast path
(kept verbatim): on arbitrary bytes, on text dense in digits, separators and encodings, and on
Luhn-valid card numbers written every way the scrubber knows, both must give the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import get_adapter
from adapters.scrub import _may_hold_pan, contains_pan, mask_pans, mask_pans_text

# ---------------------------------------------------------------------------------------------
# The oracle: adapters/scrub.py's scan before the fast path, verbatim

_RUN = re.compile(rb"(?<![0-9])[0-9]+(?:[ -][0-9]+)*(?![0-9])")
_GROUP = re.compile(rb"[0-9]+")
_ENCODED = re.compile(rb"\\u003([0-9])|%3([0-9])|\\u00(?:20|2[dD])|%(?:20|2[dD])|\+")


def _luhn(digits: bytes) -> bool:
    total = 0
    for position, digit in enumerate(d - 48 for d in reversed(digits)):
        total += (digit * 2 - 9 if digit > 4 else digit * 2) if position % 2 else digit
    return total % 10 == 0


def _oracle_spans(data: bytes) -> Iterator[tuple[int, int]]:
    for run in _RUN.finditer(data):
        offset = run.start()
        groups = [(m.start() + offset, m.end() + offset) for m in _GROUP.finditer(run.group())]
        for i in range(len(groups)):
            digits = b""
            for j in range(i, len(groups)):
                start, end = groups[j]
                digits += data[start:end]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and _luhn(digits):
                    yield groups[i][0], groups[j][1]


def _oracle_decoded(data: bytes) -> tuple[bytes, list[tuple[int, int]] | None]:
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


def oracle_contains(data: bytes) -> bool:
    return next(_oracle_spans(_oracle_decoded(data)[0]), None) is not None


def oracle_mask(data: bytes) -> bytes:
    out = bytearray(data)
    while True:
        plain, origin = _oracle_decoded(bytes(out))
        spans = list(_oracle_spans(plain))
        if not spans:
            return bytes(out)
        for start, end in spans:
            where = [origin[k] if origin is not None else (k, k + 1) for k in range(start, end)
                     if 48 <= plain[k] <= 57]
            where = [(first, last) for first, last in where if out[first] != ord("*")]
            for first, last in where[6: len(where) - 4]:
                out[first:last] = b"*" * (last - first)


# ---------------------------------------------------------------------------------------------
# Inputs

# pieces that make digits, separators and encoded digits touch in every way
TOKENS = ["0", "1", "4", "5", "9", "12", "4111", "0000", " ", "-", "+", "%3", "%20", "%2D",
          "%2d", "\\u003", "\\u0020", "\\u002d", "\\u00", "%", "\\", "u", "*", "a", ".", ":",
          '"', "\n", "đ"]
dense = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@st.composite
def luhn_pans(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    partial = draw(st.sampled_from("3456")) + draw(
        st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    for check in "0123456789":
        if _luhn((partial + check).encode()):
            return partial + check
    raise AssertionError("no check digit")  # pragma: no cover - one always exists


@st.composite
def written_pans(draw: st.DrawFn) -> str:
    """A Luhn-valid PAN as someone might send it: one run or groups, separators plain or
    encoded, each digit plain, percent-encoded or a JSON escape."""
    pan = draw(luhn_pans())
    group = draw(st.sampled_from([len(pan), 4, 3, 5]))
    sep = draw(st.sampled_from([" ", "-", "+", "%20", "%2D", "\\u0020", "\\u002d"]))
    out = []
    for i, digit in enumerate(pan):
        if i and i % group == 0:
            out.append(sep)
        out.append(draw(st.sampled_from([digit, digit, f"%3{digit}", f"\\u003{digit}"])))
    return "".join(out)


def agree(data: bytes) -> None:
    expected = oracle_mask(data)
    assert mask_pans(data) == expected
    assert contains_pan(data) == oracle_contains(data)
    if not _may_hold_pan(data):  # the fast path's promise: nothing to mask here
        assert expected == data
        assert not oracle_contains(data)


# ---------------------------------------------------------------------------------------------
# Tests


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_fast_path_agrees_on_arbitrary_bytes(data: bytes) -> None:
    agree(data)


@settings(max_examples=600)
@given(dense)
def test_fast_path_agrees_on_text_dense_in_digits_and_encodings(text: str) -> None:
    agree(text.encode())
    assert mask_pans_text(text) == oracle_mask(text.encode()).decode()


@settings(max_examples=600)
@given(before=dense, pan=written_pans(), after=dense)
def test_fast_path_agrees_around_luhn_valid_pans(before: str, pan: str, after: str) -> None:
    data = f"{before}{pan}{after}".encode()
    agree(data)
    text = f"{before} {pan} {after}"
    assert mask_pans_text(text) == oracle_mask(text.encode()).decode()
    assert contains_pan(text)  # a PAN apart from other digits is always found
    assert _may_hold_pan(text.encode())


@given(st.text(max_size=100))
def test_fast_path_agrees_on_any_text(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    agree(raw)
    assert mask_pans_text(text) == oracle_mask(raw).decode("utf-8", "surrogatepass")


def test_ordinary_webhook_bodies_take_the_fast_path() -> None:
    """What providers send every day holds no 13-digit run: no byte-by-byte scan for it."""
    now = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    pos = get_adapter("pos", {"RECON_POS_SECRET": "s" * 24}, max_age_seconds=300)
    sale = pos.build_callback(amount=180_000, reference="HS7K2M9Q4XWD",
                              provider_txn_id="414209001234", transaction_at=now)
    sepay = get_adapter("sepay", {"RECON_SEPAY_API_KEY": "k" * 24}, max_age_seconds=300)
    credit = sepay.build_callback(amount=180_000, provider_txn_id="92704",
                                  memo="MBVCB.3278907687.HS7K2M9Q4XWD.NGUYEN VAN A chuyen tien")
    for body in (sale.body, credit.body):
        assert not _may_hold_pan(body)
        assert mask_pans(body) == body
    # and a body with a card number in it does not
    leaked = json.dumps({"memo": "the card 4111 1111 1111 1111"}).encode()
    assert _may_hold_pan(leaked)
    assert mask_pans(leaked) == b'{"memo": "the card 4111 11** **** 1111"}'
