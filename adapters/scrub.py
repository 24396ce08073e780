"""Scrubbing before anything is stored or logged: card numbers (PANs) and credentials.

The rule (one pass, linear in the input)
-----------------------------------------

1. **Reading.** The input is read left to right as tokens: a *digit* is an ASCII digit, a
   JSON escape ``\\u0030``–``\\u0039`` or a percent-encoding ``%30``–``%39``; a *separator* is
   a space, ``-``, ``+`` (a URL space), ``\\u0020``, ``\\u002d``/``\\u002D``, ``%20`` or
   ``%2d``/``%2D``; any other byte is a *breaker*. Encoded forms never overlap, so this
   reading is unique.
2. **Runs.** A run is a maximal sequence of digits in which consecutive digits are adjacent or
   separated by exactly one separator (two separators, or any breaker, end a run).
3. **Card numbers.** Every window of 13 to 19 consecutive digits of a run (any start, any
   length in that range, group boundaries ignored) whose digits pass the Luhn check is a PAN.
   Overlapping windows are all PANs.
4. **Masking.** For each PAN, every digit but its first 6 and last 4 becomes ``*`` (a digit
   written as ``%34`` or ``\\u0034`` becomes as many ``*`` as it had bytes, so the length never
   changes); separators and everything else are kept. The masked digits are the union over all
   PANs: one pass, no repetition.

This masks a superset of what a person would call a card number (13–19 digits, plain, in groups,
or encoded, passing Luhn), and the output holds no PAN: every window of the output is a window
of the input, and each Luhn-valid one lost at least three middle digits. The price is false
positives, on the safe side: a 13–19 digit number passes Luhn one time in ten, and a run of 20
or more digits (two account numbers in a memo, ``0912 345 678 0123456789``) almost always holds
a Luhn-valid window, so part of it is masked in what is stored. Adapters read the call before
it is masked; only the stored copy loses those digits.

How it runs (all whole-string operations in C, no Python loop over characters)
-------------------------------------------------------------------------------

``bytes.translate`` and a fixed set of ``bytes.replace`` give a same-length *layout* of the
input (digits, separators as spaces, encoding bytes as fillers, everything else one breaker
byte); a few more replaces delete fillers and the single separators inside runs, leaving runs
as unbroken digit strings. The Luhn sum of the window ending at each position is a sliding sum
of the digits' Luhn contributions (doubled at one parity of the window's end, plain at the
other), computed for all positions at once by big-integer shift-and-adds, one byte per position
(a window's sum is at most 19 × 9 = 171: no byte carries into the next). Each window is then
one byte looked up in a table: ``7 × n`` window checks, O(1) each. Windows holding a breaker
are discarded the same way. The masked positions, the union of the valid windows' middles
(shifts and ORs), are mapped back to the input's offsets with ``itertools.compress``. Every step
is linear in the input, a fixed number of passes (:class:`Work` counts them for the tests and
``bench/scrub.py``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import compress, repeat

PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19
KEEP_FIRST = 6
KEEP_LAST = 4
#: the most bytes a PAN can span (19 digits and 18 separators, each at most 6 bytes encoded):
#: masking ``data[:limit + PAN_MAX_BYTES]`` finds every PAN that reaches into ``data[:limit]``
PAN_MAX_BYTES = (2 * PAN_MAX_DIGITS - 1) * 6

_DIGITS = b"0123456789"
_FILL = 0x01  # the layout's byte for the leading bytes of an encoded digit or separator
_BREAK = ord("x")  # the layout's byte for anything else
_PAD = bytes([_BREAK]) * PAN_MAX_DIGITS


def _table(mapping: dict[int, int], default: int | None = None) -> bytes:
    return bytes(mapping.get(b, b if default is None else default) for b in range(256))


# step 1: every byte that can belong to an encoded form is kept; digits kept; space and "-" are
# separators (a space); everything else is a breaker
_KEEP = b"%\\u+dD"
_CLASSES = _table({**{b: b for b in _DIGITS}, **{b: b for b in _KEEP},
                   ord(" "): ord(" "), ord("-"): ord(" ")}, _BREAK)
# encoded forms -> a stand-in of the same length: fillers, then the digit or a space
_ENCODED: tuple[tuple[bytes, bytes], ...] = (
    *((b"%3" + bytes([d]), b"\x01\x01" + bytes([d])) for d in _DIGITS),
    *((b"\\u003" + bytes([d]), b"\x01" * 5 + bytes([d])) for d in _DIGITS),
    *((form, b"\x01" * (len(form) - 1) + b" ")
      for form in (b"%20", b"%2d", b"%2D", b"\\u0020", b"\\u002d", b"\\u002D", b"+")),
)
# after the stand-ins: what is left of "%", "\\", "u", "+", "d", "D" is a breaker
_LAYOUT = _table({b: _BREAK for b in _KEEP})
# a run holding 13 digits or more (a simple pattern: the engine scans it in C, linearly)
_CANDIDATE = re.compile(rb"[0-9](?: ?[0-9]){%d}" % (PAN_MIN_DIGITS - 1))

_IS_DIGIT = _table({b: 1 for b in _DIGITS}, 0)
_IS_BREAK = _table({b: 0 for b in _DIGITS}, 1)
_IS_FILL = _table({_FILL: 1}, 0)
_VALUE = _table({b: b - 48 for b in _DIGITS}, 0)
_DOUBLED = _table({b: (2 * (b - 48)) - (9 if b >= ord("5") else 0) for b in _DIGITS}, 0)
_MULTIPLE_OF_10 = _table({v: 1 for v in range(0, 256, 10)}, 0)


@dataclass
class Work:
    """What scans did (for the tests and ``bench/scrub.py``): ``windows`` Luhn windows checked
    (each O(1): one byte of a sliding sum), ``bytes`` an estimate of the bytes passed over by
    whole-string operations (a fixed number of passes per input byte), ``scans`` inputs that
    went past the fast path."""

    windows: int = 0
    bytes: int = 0
    scans: int = 0


def _repeat_bytes(byte: int, length: int) -> int:
    """An integer whose ``length`` little-endian bytes are all ``byte``."""
    return int.from_bytes(bytes([byte]) * length, "little")


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


def _layout(data: bytes) -> bytes:
    """Step 1: ``data`` read as digits, separators (a space), fillers and breakers, byte for
    byte (an encoded digit becomes fillers then the digit, in place)."""
    out = data.translate(_CLASSES)
    if b"%" in data or b"\\" in data or b"+" in data:
        for form, stand_in in _ENCODED:
            if form in out:
                out = out.replace(form, stand_in)
    return out.translate(_LAYOUT)


def _digit_count(data: bytes) -> int:
    return len(data) - len(data.translate(None, _DIGITS))


def _may_hold_pan(data: bytes) -> bool:
    """False when ``data`` certainly holds no PAN (the common case, decided by scans in C):
    fewer than 13 ASCII digits (every digit, encoded or not, holds one), or no run of 13."""
    if _digit_count(data) < PAN_MIN_DIGITS:
        return False
    return _CANDIDATE.search(_layout(data).replace(b"\x01", b"")) is not None


def _runs(compact: bytes) -> bytes:
    """``compact`` (digits, spaces, breakers) with the single spaces inside runs deleted and
    every other space made a breaker: runs become unbroken digit strings (replaces in C)."""
    out = (b"x" + compact + b"x").replace(b"  ", b"xx")  # what is left: single spaces
    return out.replace(b"x ", b"xx").replace(b" x", b"xx").replace(b" ", b"")


def _sliding_sums(x: int) -> Iterator[int]:
    """For L = 13 … 19: the integer whose byte ``e`` is ``x``'s bytes ``e-L … e-1`` summed
    (no byte may overflow: the callers' bytes are small enough)."""
    s1 = x << 8
    s2 = s1 + (s1 << 8)
    s4 = s2 + (s2 << 16)
    s8 = s4 + (s4 << 32)
    total = s8 + (s4 << 64) + (s1 << 96)  # L = 13
    yield total
    for length in range(PAN_MIN_DIGITS, PAN_MAX_DIGITS):
        total += s1 << (8 * length)
        yield total


def _masked_run_positions(runs: bytes, work: Work | None) -> tuple[bytes, bool]:
    """For ``runs`` (digits and breakers, runs unbroken): one byte per position, 1 where a
    digit is in the middle of a PAN; and whether there is any PAN."""
    padded = _PAD + runs + _PAD
    n = len(padded)
    width = n + 1  # window ends 0 … n
    values = padded.translate(_VALUE)
    doubled = padded.translate(_DOUBLED)
    even = bytearray(values)  # Luhn contributions when the window ends at an even position
    even[0::2] = doubled[0::2]
    odd = bytearray(values)
    odd[1::2] = doubled[1::2]
    # window ends from PAN_MAX_DIGITS on (an earlier one would start before the padding)
    lanes = _repeat_bytes(1, width - PAN_MAX_DIGITS) << (8 * PAN_MAX_DIGITS)
    every = _repeat_bytes(0xFF, width)
    below_128 = _repeat_bytes(0x7F, width)
    even_ends = int.from_bytes((b"\xff\x00" * (width // 2 + 1))[:width], "little")
    odd_ends = every ^ even_ends
    breaks = int.from_bytes(padded.translate(_IS_BREAK), "little")
    valid: list[int] = []
    for at_even, at_odd, broken in zip(
            _sliding_sums(int.from_bytes(even, "little")),
            _sliding_sums(int.from_bytes(odd, "little")),
            _sliding_sums(breaks), strict=True):
        sums = (at_even & even_ends) | (at_odd & odd_ends)
        luhn = int.from_bytes(sums.to_bytes(width, "little").translate(_MULTIPLE_OF_10),
                              "little")
        # a byte of ``broken`` is at most 19: adding 127 sets its top bit iff it is not 0
        whole = lanes ^ ((((broken & every) + below_128) >> 7) & lanes)
        valid.append(luhn & whole)
    if work is not None:
        work.windows += len(valid) * width
        work.bytes += n * 60  # translates, slices, ~8 shift-adds and conversions per length
    if not any(valid):
        return b"", False
    # digit e-j of a valid window ending at e is masked for KEEP_LAST < j <= L - KEEP_FIRST
    masked = 0
    suffix = 0
    by_shift: dict[int, int] = {}
    for length in range(PAN_MAX_DIGITS, PAN_MIN_DIGITS - 1, -1):
        suffix |= valid[length - PAN_MIN_DIGITS]
        by_shift[length - KEEP_FIRST] = suffix
    for shift in range(KEEP_LAST + 1, PAN_MAX_DIGITS - KEEP_FIRST + 1):
        masked |= by_shift[max(shift, PAN_MIN_DIGITS - KEEP_FIRST)] >> (8 * shift)
    marks = masked.to_bytes(n, "little")
    return marks[PAN_MAX_DIGITS:n - PAN_MAX_DIGITS], True


def _scan(data: bytes, work: Work | None) -> tuple[bytes, bool]:
    """``data`` with every PAN masked (:ref:`the rule <module>`), and whether it held any."""
    if _digit_count(data) < PAN_MIN_DIGITS:  # every digit, encoded or not, holds one
        return data, False
    layout = _layout(data)
    compact = layout.replace(b"\x01", b"") if b"\x01" in layout else layout
    if work is not None:
        work.bytes += 12 * len(data)
    if _CANDIDATE.search(compact) is None:  # no run of 13 digits: most bodies and headers
        return data, False
    if work is not None:
        work.scans += 1
    runs = _runs(compact)
    marks, found = _masked_run_positions(runs, work)
    if not found:
        return data, False
    # the run digits' marks, in order, are the layout digits' marks: map them to offsets
    digit_marks = bytes(compress(marks, runs.translate(_IS_DIGIT)))
    stars = bytearray(len(data))
    offsets = compress(compress(range(len(layout)), layout.translate(_IS_DIGIT)), digit_marks)
    deque(map(stars.__setitem__, offsets, repeat(1)), maxlen=0)
    star = int.from_bytes(stars, "little")
    if b"\x01" in layout:  # an encoded digit is masked whole: its fillers too (at most 5)
        fillers = int.from_bytes(layout.translate(_IS_FILL), "little")
        for _ in range(5):
            star |= (star >> 8) & fillers
    if work is not None:
        work.bytes += 16 * len(data)
    masked = (int.from_bytes(data, "little") & ~(star * 0xFF)) | (star * ord("*"))
    return masked.to_bytes(len(data), "little"), True


# a whole number of 13-19 digits, plain or in groups of single spaces or hyphens, with no digit
# (or grouped digit) right before or after it: what a person or a terminal writes as a card number
_WHOLE_NUMBER = re.compile(r"(?<![0-9])(?<![0-9][ -])[0-9](?:[ -]?[0-9])"
                           rf"{{{PAN_MIN_DIGITS - 1},{PAN_MAX_DIGITS - 1}}}(?![ -]?[0-9])")


def holds_card_number(text: str) -> bool:
    """True when ``text`` holds a whole number of 13-19 digits (plain or grouped by single spaces
    or hyphens) that passes Luhn: a card number as written, the test for *refusing* a call.

    Narrower than :func:`contains_pan` on purpose. Masking what is stored may err on the safe side
    (a Luhn-valid window inside a longer id loses some digits in the stored copy only); refusing
    may not, because a refused payment is refused again on every retry: a 20-digit transaction
    id or a 14-digit timestamp that happens to hold a Luhn-valid window is not a card number.
    Linear: each match is bounded to 37 characters and the pattern never backtracks past one."""
    return any(luhn_valid(re.sub(r"[ -]", "", found.group()))
               for found in _WHOLE_NUMBER.finditer(text))


def contains_pan(data: bytes | str) -> bool:
    """True when ``data`` holds a PAN (the rule above)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    return _scan(raw, None)[1]


def mask_pans(data: bytes, *, work: Work | None = None) -> bytes:
    """``data`` with every PAN masked to its first 6 and last 4 digits (``411111******1111``),
    in one pass (the rule above). Idempotent; the length never changes."""
    return _scan(bytes(data), work)[0]


def mask_pans_text(text: str, *, work: Work | None = None) -> str:
    """:func:`mask_pans` for text (PAN digits are ASCII, so UTF-8 offsets are safe)."""
    raw = text.encode("utf-8", "surrogatepass")
    masked, found = _scan(raw, work)
    return masked.decode("utf-8", "surrogatepass") if found else text


def mask_prefix(data: bytes, limit: int, *, work: Work | None = None) -> bytes:
    """``mask_pans(data)[:limit]``, scanning only ``limit + PAN_MAX_BYTES`` bytes: what to keep
    of a call nobody vouched for (a PAN reaching into the kept part lies wholly in the part
    scanned, so the two are equal)."""
    return mask_pans(data[:limit + PAN_MAX_BYTES], work=work)[:limit]


def mask_prefix_text(text: str, limit: int, *, work: Work | None = None) -> str:
    """:func:`mask_prefix` for text, ``limit`` in characters."""
    return mask_pans_text(text[:limit + PAN_MAX_BYTES], work=work)[:limit]


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


def redact_header(name: str, value: str, *, work: Work | None = None) -> str:
    """One header's value fit to store: a credential shown as at most its first 4 characters,
    a signature shortened (not a secret, but need not be kept whole), PANs masked."""
    lowered = name.lower()
    if "signature" in lowered or lowered.endswith("-mac") or lowered.endswith("-hash"):
        return _redact_signature(value)
    if lowered in _CREDENTIAL_HEADERS or any(w in lowered for w in _CREDENTIAL_WORDS):
        return _redact_credential(value)
    return mask_pans_text(value, work=work)


def redact_headers(headers: Mapping[str, str], *, work: Work | None = None) -> dict[str, str]:
    """A copy of ``headers`` fit to store (:func:`redact_header` on each): linear in their
    total size. A call nobody vouched for keeps a bounded part (``payments.refused``)."""
    return {name: redact_header(name, value, work=work) for name, value in headers.items()}
