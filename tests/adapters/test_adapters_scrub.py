"""Card numbers masked before storing raw calls; credentials redacted from stored headers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.scrub import contains_pan, luhn_valid, mask_pans, mask_pans_text, redact_headers


def check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass Luhn (computed independently)."""
    total = 0
    for i, char in enumerate(reversed(partial)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@st.composite
def pans(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    head = draw(st.sampled_from("123456789"))
    body = draw(st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    partial = head + body
    return partial + check_digit(partial)


# no digits, and nothing json.dumps would escape as \uXXXX (whose hex digits could join a PAN)
no_digits = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "Cs", "Cc"), blacklist_characters="\\\""),
    max_size=20,
)


def masked(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def test_examples() -> None:
    assert mask_pans(b"4111111111111111") == b"411111******1111"
    assert mask_pans(b'{"pan":"4111 1111 1111 1111"}') == b'{"pan":"4111 11** **** 1111"}'
    assert mask_pans(b"card 4111-1111-1111-1111.") == b"card 4111-11**-****-1111."
    # no window of 13-19 of its digits passes Luhn: kept
    assert mask_pans(b"4273464686958969") == b"4273464686958969"
    assert not contains_pan(b"4273464686958969")
    # fails Luhn as a whole, but its last 13 digits pass: that window is masked
    assert luhn_valid("1111111111112") and not luhn_valid("4111111111111112")
    assert mask_pans(b"4111111111111112") == b"411111111***1112"
    assert mask_pans(b"411111111111") == b"411111111111"  # 12 digits: not a PAN
    assert mask_pans(b"rrn 414209001234 stan 004567") == b"rrn 414209001234 stan 004567"
    assert mask_pans(b"\xff\xfe 4111111111111111") == b"\xff\xfe 411111******1111"
    # a PAN inside a longer run of digits (any window counts, group boundaries or not)
    assert mask_pans(b"41111111111111111111") == b"411111******11111111"
    assert mask_pans(b"0015 4111 1111 1111 1111") == b"0015 4111 11** **** 1111"
    # a PAN followed by a year: the 20-digit run holds several Luhn-valid windows
    assert mask_pans(b"4111 1111 1111 1111 2024") == b"4111 11** **** **** 2024"
    # the price, on the safe side: a 14-digit timestamp with a Luhn-valid window
    assert mask_pans(b"20261126073000") == b"202611****3000"
    assert mask_pans(b"4111 1111  1111 1111") == b"4111 1111  1111 1111"  # two separators
    assert mask_pans_text("Thẻ 4111111111111111 của tôi") == "Thẻ 411111******1111 của tôi"


@given(pans())
def test_generated_numbers_pass_luhn(pan: str) -> None:
    assert luhn_valid(pan)
    assert contains_pan(pan)
    assert not luhn_valid(pan[:-1] + str((int(pan[-1]) + 1) % 10))


@given(pan=pans(), before=no_digits, after=no_digits, form=st.sampled_from(["run", "4", "dash"]))
def test_pan_embedded_in_json_string_is_masked(pan: str, before: str, after: str,
                                               form: str) -> None:
    if form == "run":
        written, expected = pan, masked(pan)
    else:
        sep = " " if form == "4" else "-"
        groups = [pan[i:i + 4] for i in range(0, len(pan), 4)]
        written = sep.join(groups)
        shown = masked(pan)
        expected = sep.join(shown[i:i + 4] for i in range(0, len(shown), 4))
    body = json.dumps({"memo": f"{before} {written} {after}", "amount": 150000},
                      ensure_ascii=False).encode()
    out = mask_pans(body)
    assert pan.encode() not in out
    assert written.encode() not in out
    assert expected.encode() in out
    assert len(out) == len(body)
    assert json.loads(out)["memo"] == f"{before} {expected} {after}"
    assert json.loads(out)["amount"] == 150000
    assert mask_pans(out) == out  # idempotent
    assert not contains_pan(out)


@given(pan=pans(), digits=st.text(alphabet="0123456789", min_size=1, max_size=8),
       sep=st.sampled_from([" ", "-"]), where=st.sampled_from(["before", "after"]))
def test_pan_next_to_other_digit_groups_never_shows_its_middle(pan: str, digits: str, sep: str,
                                                               where: str) -> None:
    text = f"{digits}{sep}{pan}" if where == "before" else f"{pan}{sep}{digits}"
    out = mask_pans(text.encode()).decode()
    start = len(digits) + 1 if where == "before" else 0
    shown = out[start:start + len(pan)]
    assert all(c == "*" for c in shown[6:-4])  # the middle is always masked
    assert not contains_pan(out)


@given(pans())
def test_pan_as_json_number_is_masked(pan: str) -> None:
    out = mask_pans(json.dumps({"card": int(pan), "n": 1}).encode())
    assert pan.encode() not in out
    assert masked(pan).encode() in out


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs"))))
def test_text_without_digits_is_untouched(text: str) -> None:
    data = text.encode("utf-8")
    assert mask_pans(data) == data


@given(st.binary())
def test_arbitrary_bytes_keep_their_length_and_lose_their_pans(data: bytes) -> None:
    out = mask_pans(data)
    assert len(out) == len(data)
    assert not contains_pan(out)


def test_redact_headers() -> None:
    headers = {
        "Authorization": "Apikey sepay-test-key-0123456789abcdef",
        "X-Casso-Signature": "t=1727948258788,v1=" + "ab" * 64,
        "X-Recon-Signature": "t=1716257886,v1=" + "cd" * 32,
        "Cookie": "session=abcdefghijklmnopqrstuvwxyz",
        "X-Api-Key": "short",
        "Content-Type": "application/json",
        "X-Forwarded-For": "203.0.113.7",
        "X-Note": "card 4111111111111111",
    }
    out = redact_headers(headers)
    assert out["Authorization"] == "Apikey sepa****"
    assert out["X-Casso-Signature"] == "t=1727948258788,v1=abababab…"
    assert out["X-Recon-Signature"] == "t=1716257886,v1=cdcdcdcd…"
    assert out["Cookie"] == "sess****"
    assert out["X-Api-Key"] == "****"
    assert out["Content-Type"] == "application/json"
    assert out["X-Forwarded-For"] == "203.0.113.7"
    assert out["X-Note"] == "card 411111******1111"
    for secret in ("sepay-test-key-0123456789abcdef", "ab" * 64, "abcdefghijklmnopqrstuvwxyz"):
        assert all(secret not in value for value in out.values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Bearer abcdefghijklmnop", "Bearer abcd****"), ("Basic abc", "Basic ****"),
     ("abcdefghijklmnop", "abcd****"), ("", "****")],
)
def test_redact_authorization_forms(value: str, expected: str) -> None:
    assert redact_headers({"authorization": value}) == {"authorization": expected}
