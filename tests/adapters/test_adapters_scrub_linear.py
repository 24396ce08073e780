"""Issue 16 item 2: masking cannot be made to burn CPU (an unauthenticated sender chooses the
input). Each test sends an attack of the issue and bounds the *work* done, never the time:

- **Luhn windows checked** (``adapters.scrub.Work``), at most 7 per byte: one per window
  length 13–19 at each position, each an O(1) lookup (the old scan tried ~19 windows per
  character, each Luhn-checked from scratch);
- **Python lines executed** while masking, counted by a trace function that stops the call
  past a budget: the scan's Python code runs a fixed number of lines per call, whatever the
  size (its per-character work is whole-string operations in C), so a budget that does not
  grow with the input proves there is no per-character Python loop (the old scan ran millions).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from adapters.scrub import Work, mask_pans, mask_pans_text, redact_headers
from recon.payments.refused import HEADER_VALUE_CHARS, HEADERS_CHARS, MORE_HEADERS, kept_headers

KIB = 1024
#: Python lines one call of mask_pans may run, whatever the size of its input
LINES_PER_CALL = 400


class OverBudget(Exception):
    pass


@contextmanager
def line_budget(limit: int) -> Iterator[list[int]]:
    """Count the Python lines (and calls) executed inside; raise past ``limit``."""
    count = [0]

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        count[0] += 1
        if count[0] > limit:
            raise OverBudget(f"more than {limit} Python lines")
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield count
    finally:
        sys.settrace(previous)


def fill(pattern: bytes, size: int = 64 * KIB) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


ATTACKS = {
    "0- repeated (the issue's body)": fill(b"0-"),
    "0 repeated": fill(b"0 "),
    "0+ repeated (URL spaces)": fill(b"0+"),
    "percent-encoded 0 and space": fill(b"%30%20"),
    "JSON-escaped 0": fill(b"\\u0030"),
    "all 7s (no window passes Luhn)": fill(b"7"),
    "all 0s (every window passes Luhn)": fill(b"0"),
    "4111 1111 1111 1111 repeated": fill(b"4111 1111 1111 1111 "),
    "19 one-digit groups": fill(b"-".join([b"0"] * 19) + b" "),
    "13-digit runs between letters": fill(b"0000000000000x"),
}


@pytest.mark.parametrize("body", list(ATTACKS.values()), ids=list(ATTACKS))
def test_a_64_kib_attack_body_is_masked_with_bounded_work(body: bytes) -> None:
    work = Work()
    with line_budget(LINES_PER_CALL):
        out = mask_pans(body, work=work)
    assert work.scans == 1  # it did go through the full scan
    assert work.windows <= 7 * (len(body) + 50)  # 7 lengths per position (+ padding)
    assert work.bytes <= 100 * len(body)  # a fixed number of passes
    assert len(out) == len(body)


def test_the_issue_body_keeps_only_the_first_6_and_last_4_digits() -> None:
    """All zeros pass Luhn: the 64 KiB "0-" body is one run of 32,768 digits, every window a
    PAN; what is left is the run's first 6 and last 4 digits (and every separator)."""
    body = fill(b"0-")
    out = mask_pans(body)
    digits = [i for i in range(0, len(body), 2)]
    kept = [i for i in digits if out[i] == ord("0")]
    assert kept == digits[:6] + digits[-4:]
    assert all(out[i] == ord("*") for i in digits[6:-4])
    assert out[1::2] == body[1::2]  # separators untouched


def test_the_work_is_linear_in_the_size() -> None:
    small, large = Work(), Work()
    mask_pans(fill(b"0-", 8 * KIB), work=small)
    mask_pans(fill(b"0-", 64 * KIB), work=large)
    assert large.windows <= 8 * small.windows + 7 * 80
    assert large.bytes <= 8 * small.bytes + 10_000


def test_ninety_headers_of_8_kib_cost_lines_per_header_not_per_byte() -> None:
    """The issue's 90 headers of 8 KiB (18 s of CPU before): the accepted path masks them all,
    linearly (each header a fixed number of Python lines, 7 windows per byte)."""
    headers = {f"X-Junk-{i}": fill(b"0-", 8 * KIB).decode() for i in range(90)}
    work = Work()
    with line_budget(90 * (LINES_PER_CALL + 20)):
        out = redact_headers(headers, work=work)
    total = sum(len(v) for v in headers.values())
    assert work.scans == 90
    assert work.windows <= 7 * (total + 90 * 50)
    assert all(value.count("0") == 10 for value in out.values())  # first 6 + last 4


def test_a_refused_call_scans_a_bounded_part_of_its_headers() -> None:
    """A refused call keeps about HEADERS_CHARS of its headers, and only that (plus a margin
    per header to mask a card number the cut splits) is ever scanned, however many were sent."""
    big = {f"X-Junk-{i}": fill(b"0-", 8 * KIB).decode() for i in range(90)}
    work = Work()
    with line_budget(20 * (LINES_PER_CALL + 40)):
        kept = kept_headers(big, work=work)
    assert sum(len(n) + len(v) for n, v in kept.items()) <= HEADERS_CHARS + 200
    assert work.bytes <= 100 * (HEADERS_CHARS + 20 * 300)
    assert work.scans <= HEADERS_CHARS // HEADER_VALUE_CHARS + 1
    assert kept[MORE_HEADERS].startswith(f"{90 - len(kept) + 1} more headers")
    # what is kept is masked (first 6 + last 4 of each kept value's one run)
    first = kept["X-Junk-0"]
    assert first.startswith("0-0-0-0-0-0-*-*") and first.endswith("…[8192 chars]")
    # the same work for ten times the headers
    more = Work()
    kept_headers({f"X-Junk-{i}": fill(b"0-", 8 * KIB).decode() for i in range(900)}, work=more)
    assert more.bytes == work.bytes


def test_ordinary_text_costs_no_scan() -> None:
    work = Work()
    with line_budget(40):
        assert mask_pans_text("MBVCB.3278907687.HS7K2M9Q4XWD chuyen tien", work=work) \
            == "MBVCB.3278907687.HS7K2M9Q4XWD chuyen tien"
    assert work.scans == 0
