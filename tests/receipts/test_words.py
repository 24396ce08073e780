"""The amount in words: the formal reading of docs/receipts.md, case by case."""

from __future__ import annotations

import pytest

from recon.receipts.words import amount_in_words, number_in_words

TABLE = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi bốn"),
    (25, "hai mươi lăm"),
    (55, "năm mươi lăm"),
    (91, "chín mươi mốt"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (1_000, "một nghìn"),
    (1_005, "một nghìn không trăm linh năm"),
    (1_015, "một nghìn không trăm mười lăm"),
    (1_050, "một nghìn không trăm năm mươi"),
    (2_001, "hai nghìn không trăm linh một"),
    (15_000, "mười lăm nghìn"),
    (180_000, "một trăm tám mươi nghìn"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_050_000, "một triệu không trăm năm mươi nghìn"),
    (2_000_500, "hai triệu năm trăm"),
    (13_690_000, "mười ba triệu sáu trăm chín mươi nghìn"),
    (274_207_000, "hai trăm bảy mươi bốn triệu hai trăm linh bảy nghìn"),
    (1_000_000_000, "một tỷ"),
    (1_000_000_001, "một tỷ không trăm linh một"),
    (1_000_001_000, "một tỷ không trăm linh một nghìn"),
    (1_001_000_000, "một tỷ không trăm linh một triệu"),
    (21_000_000_000, "hai mươi mốt tỷ"),
    (1_000_000_000_000, "một nghìn tỷ"),
    (10**15, "một triệu tỷ"),
    (10**18, "một tỷ tỷ"),
    (10**18 + 5, "một tỷ tỷ không trăm linh năm"),
    (-5, "âm năm"),
    (-15, "âm mười lăm"),
]


@pytest.mark.parametrize(("value", "words"), TABLE)
def test_number_in_words(value: int, words: str) -> None:
    assert number_in_words(value) == words


@pytest.mark.parametrize(("amount", "text"), [
    (0, "Không đồng"),
    (105, "Một trăm linh năm đồng"),
    (1_005, "Một nghìn không trăm linh năm đồng"),
    (1_000_005, "Một triệu không trăm linh năm đồng"),
    (1_000_000_000, "Một tỷ đồng"),
    (15, "Mười lăm đồng"),
    (21, "Hai mươi mốt đồng"),
    (-5, "Âm năm đồng"),
])
def test_amount_in_words(amount: int, text: str) -> None:
    assert amount_in_words(amount) == text


@pytest.mark.parametrize("bad", [1.5, "105", True, None])
def test_refuses_what_is_not_an_integer(bad: object) -> None:
    with pytest.raises(TypeError):
        number_in_words(bad)  # type: ignore[arg-type]


def test_never_lle_and_never_khong_nghin() -> None:
    for value in range(0, 2_100_000, 997):
        words = number_in_words(value)
        assert "lẻ" not in words and "không nghìn" not in words and "không triệu" not in words
        assert "mười năm" not in words and "mươi một" not in words
