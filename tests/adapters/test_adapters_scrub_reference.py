"""``adapters.scrub`` against a reference implementation of its rule, on short inputs.

The reference below is the rule of the module docstring written the slow, obvious way: read
the bytes as tokens one at a time, cut the tokens into runs, try every window of 13–19 digits of
every run with a from-scratch Luhn check, and star the middle of each that passes. The module
computes the same thing in one linear pass (sliding sums as big-integer shift-adds); on
arbitrary bytes, on text dense in digits, separators and encodings, and around Luhn-valid
card numbers written every way the rule knows, both must give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import get_adapter
from adapters.scrub import (
    PAN_MAX_BYTES,
    _may_hold_pan,
    contains_pan,
    mask_pans,
    mask_pans_text,
    mask_prefix,
    mask_prefix_text,
)

# ---------------------------------------------------------------------------------------------
# The reference

# every token of the rule with what it means: a digit, or " " for a separator
FORMS: list[tuple[bytes, str]] = [
    *((f"%3{d}".encode(), d) for d in "0123456789"),
    *((f"\\u003{d}".encode(), d) for d in "0123456789"),
    *((form, " ") for form in (b"%20", b"%2d", b"%2D", b"\\u0020", b"\\u002d", b"\\u002D",
                               b"+", b" ", b"-")),
    *((d.encode(), d) for d in "0123456789"),
]

Token = tuple[str, int, int]  # meaning ("0"-"9", " " or "x" for anything else), start, end


def tokens(data: bytes) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(data):
        for form, meaning in FORMS:
            if data.startswith(form, i):
                out.append((meaning, i, i + len(form)))
                i += len(form)
                break
        else:
            out.append(("x", i, i + 1))
            i += 1
    return out


def runs(data: bytes) -> list[list[Token]]:
    """Digits joined by nothing or exactly one separator."""
    found: list[list[Token]] = []
    run: list[Token] = []
    separators = 0
    for token in tokens(data):
        if token[0].isdigit():
            if run and separators > 1:
                found.append(run)
                run = []
            run.append(token)
            separators = 0
        elif token[0] == " " and run:
            separators += 1
        else:
            if run:
                found.append(run)
            run, separators = [], 0
    if run:
        found.append(run)
    return found


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def reference_pans(data: bytes) -> Iterator[list[Token]]:
    for run in runs(data):
        for start in range(len(run)):
            for length in range(13, 20):
                window = run[start:start + length]
                if len(window) == length and luhn("".join(t[0] for t in window)):
                    yield window


def reference_mask(data: bytes) -> bytes:
    out = bytearray(data)
    for window in reference_pans(data):
        for _, start, end in window[6:-4]:
            out[start:end] = b"*" * (end - start)
    return bytes(out)


def reference_contains(data: bytes) -> bool:
    return next(reference_pans(data), None) is not None


# ---------------------------------------------------------------------------------------------
# Inputs

# pieces that make digits, separators and encoded digits touch in every way
TOKENS = ["0", "1", "4", "5", "9", "12", "4111", "0000", " ", "-", "+", "%3", "%20", "%2D",
          "%2d", "\\u003", "\\u0020", "\\u002d", "\\u002D", "\\u00", "%", "\\", "u", "*", "a",
          ".", ":", '"', "\n", "đ", "\x01", "x", "  "]
dense = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@st.composite
def luhn_pans(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    partial = draw(st.sampled_from("3456")) + draw(
        st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    for check in "0123456789":
        if luhn(partial + check):
            return partial + check
    raise AssertionError("no check digit")  # pragma: no cover - one always exists


@st.composite
def written_pans(draw: st.DrawFn) -> str:
    """A Luhn-valid PAN as someone might send it: one run or groups, separators plain or
    encoded, each digit plain, percent-encoded or a JSON escape."""
    pan = draw(luhn_pans())
    group = draw(st.sampled_from([len(pan), 4, 3, 5, 1]))
    sep = draw(st.sampled_from([" ", "-", "+", "%20", "%2D", "\\u0020", "\\u002d"]))
    out = []
    for i, digit in enumerate(pan):
        if i and i % group == 0:
            out.append(sep)
        out.append(draw(st.sampled_from([digit, digit, f"%3{digit}", f"\\u003{digit}"])))
    return "".join(out)


def agree(data: bytes) -> None:
    expected = reference_mask(data)
    out = mask_pans(data)
    assert out == expected
    assert contains_pan(data) == reference_contains(data)
    # the promises: same length, only stars added, no PAN left, idempotent
    assert len(out) == len(data)
    assert all(a == b or b == ord("*") for a, b in zip(data, out, strict=True))
    assert not reference_contains(out)
    assert mask_pans(out) == out
    if not _may_hold_pan(data):  # the fast path's promise: nothing to mask here
        assert expected == data


# ---------------------------------------------------------------------------------------------
# Tests


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_agrees_with_the_reference_on_arbitrary_bytes(data: bytes) -> None:
    agree(data)


@settings(max_examples=600)
@given(dense)
def test_agrees_on_text_dense_in_digits_separators_and_encodings(text: str) -> None:
    agree(text.encode())
    assert mask_pans_text(text) == reference_mask(text.encode()).decode()


@settings(max_examples=400)
@given(st.text(alphabet="0123456789 -+x", max_size=120))
def test_agrees_on_long_runs_of_digits_and_separators(text: str) -> None:
    agree(text.encode())


@settings(max_examples=600)
@given(before=dense, pan=written_pans(), after=dense)
def test_agrees_around_luhn_valid_pans(before: str, pan: str, after: str) -> None:
    data = f"{before}{pan}{after}".encode()
    agree(data)
    text = f"{before} {pan} {after}"
    assert mask_pans_text(text) == reference_mask(text.encode()).decode()
    assert contains_pan(text)  # a PAN is always found, whatever is around it
    assert _may_hold_pan(text.encode())


@given(st.text(max_size=100))
def test_agrees_on_any_text(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    agree(raw)
    assert mask_pans_text(text) == reference_mask(raw).decode("utf-8", "surrogatepass")


@settings(max_examples=300)
@given(before=dense, pan=written_pans(), after=dense, data=st.data())
def test_a_masked_prefix_is_the_prefix_of_the_masked_whole(before: str, pan: str, after: str,
                                                          data: st.DataObject) -> None:
    """What a refused call keeps: scanning ``PAN_MAX_BYTES`` past the cut is enough."""
    raw = f"{before}{pan}{after}".encode()
    limit = data.draw(st.integers(0, len(raw)))
    assert mask_prefix(raw, limit) == mask_pans(raw)[:limit]
    text = raw.decode()
    assert mask_prefix_text(text, limit) == mask_pans_text(text)[:limit]
    # a PAN spelled at its longest fits in PAN_MAX_BYTES
    longest = "\\u0020".join(f"\\u003{d}" for d in "4111111111111111111")
    assert len(longest) == PAN_MAX_BYTES


def test_ordinary_webhook_bodies_take_the_fast_path() -> None:
    """What providers send every day holds no run of 13 digits: no scan for it."""
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
