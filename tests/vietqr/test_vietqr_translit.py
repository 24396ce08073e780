"""Vietnamese to ASCII for VietQR text fields."""

from __future__ import annotations

import unicodedata
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.vietqr.translit import is_printable_ascii, non_printable_ascii, transliterate

# Every Vietnamese vowel with every tone, by base letter.
VOWELS = {
    "a": "aàảãáạăằẳẵắặâầẩẫấậ",
    "e": "eèẻẽéẹêềểễếệ",
    "i": "iìỉĩíị",
    "o": "oòỏõóọôồổỗốộơờởỡớợ",
    "u": "uùủũúụưừửữứự",
    "y": "yỳỷỹýỵ",
}


@pytest.mark.parametrize("base", sorted(VOWELS))
def test_every_vowel_and_tone_lower_and_upper(base: str) -> None:
    letters = VOWELS[base]
    assert transliterate(letters) == base * len(letters)
    assert transliterate(letters.upper()) == base.upper() * len(letters)


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_precomposed_and_combining_input_agree(form: Literal["NFC", "NFD"]) -> None:
    text = unicodedata.normalize(form, "Lệ phí đăng ký hộ kinh doanh ĐƯỜNG Ơ")
    assert transliterate(text) == "Le phi dang ky ho kinh doanh DUONG O"


@pytest.mark.parametrize(
    ("text", "ascii_text"),
    [
        ("đ", "d"), ("Đ", "D"), ("Ð", "D"), ("ơ", "o"), ("Ơ", "O"), ("ư", "u"), ("Ư", "U"),
        ("ă", "a"), ("Â", "A"), ("ê", "e"), ("Ô", "O"),
        ("Nguyễn Thị Minh Khai", "Nguyen Thi Minh Khai"),
        ("“Phí” – lệ phí", '"Phi" - le phi'),
        ("100\u00a0000", "100 000"),
        ("already ASCII 123 !#$", "already ASCII 123 !#$"),
    ],
)
def test_examples(text: str, ascii_text: str) -> None:
    assert transliterate(text) == ascii_text


def test_characters_without_ascii_form_are_kept_for_the_caller_to_refuse() -> None:
    out = transliterate("phí 10€ 😀")
    assert out == "phi 10€ 😀"
    assert non_printable_ascii(out) == ["€", "😀"]
    assert not is_printable_ascii(out)
    assert is_printable_ascii("phi 10 EUR")
    assert non_printable_ascii("tab\there\n") == ["\t", "\n"]


ALL_VIETNAMESE = "".join(VOWELS.values()) + "đ"


@given(st.text(alphabet=ALL_VIETNAMESE + ALL_VIETNAMESE.upper() + " abcxyz0123456789"))
def test_vietnamese_text_always_becomes_printable_ascii_of_the_same_length(text: str) -> None:
    out = transliterate(text)
    assert is_printable_ascii(out)
    assert len(out) == len(text)
    assert transliterate(out) == out
