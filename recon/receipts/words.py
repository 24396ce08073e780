"""The amount in words, read the formal way of Vietnamese accounting documents (pure).

Conventions (docs/receipts.md, RECEIPTS.md §3.2):

* 105 is "một trăm linh năm" ("linh", the state-sector form, not the colloquial "lẻ");
* a group of three digits after the leading one is read in full, its zero hundreds included:
  1 005 is "một nghìn không trăm linh năm"; an empty group is skipped, never "không nghìn":
  1 000 005 is "một triệu không trăm linh năm";
* after "mươi" a 1 is "mốt" (21 "hai mươi mốt", but 11 "mười một") and a 5 is "lăm"
  (15 "mười lăm", 25 "hai mươi lăm"); a 4 stays "bốn" (24 "hai mươi bốn", as in the signed
  invoices read for RECEIPTS.md: "… hai trăm tám mươi bốn nghìn đồng");
* 10⁹ is "tỷ"; above it the reading repeats: 10¹² "một nghìn tỷ", 10¹⁸ "một tỷ tỷ";
* a negative amount (an adjustment that lowers a sum) is read with "âm" in front.
"""

from __future__ import annotations

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_GROUPS = ("", "nghìn", "triệu")  # below a tỷ; a tỷ and above recurse
_BILLION = 10**9


def _tens_units(tens: int, units: int) -> list[str]:
    if tens == 0:
        return [_DIGITS[units]] if units else []
    words = ["mười"] if tens == 1 else [_DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def _triple(value: int, *, full: bool) -> list[str]:
    """0 < value < 1000; ``full`` reads zero hundreds ("không trăm") and "linh"."""
    hundreds, rest = divmod(value, 100)
    tens, units = divmod(rest, 10)
    if not full and hundreds == 0:
        return _tens_units(tens, units)
    words = [_DIGITS[hundreds], "trăm"]
    if tens == 0 and units:
        return [*words, "linh", _DIGITS[units]]
    return words + _tens_units(tens, units)


def _below_billion(value: int, *, leading: bool) -> list[str]:
    """0 < value < 10⁹; ``leading``: these are the number's first digits."""
    groups = [(value // 10**6) % 1000, (value // 1000) % 1000, value % 1000]
    words: list[str] = []
    for index, group in enumerate(groups):
        if group == 0:
            continue
        words += _triple(group, full=not (leading and not words))
        name = _GROUPS[len(groups) - 1 - index]
        if name:
            words.append(name)
    return words


def _positive(value: int) -> list[str]:
    if value < _BILLION:
        return _below_billion(value, leading=True)
    billions, rest = divmod(value, _BILLION)
    words = [*_positive(billions), "tỷ"]
    if rest:
        words += _below_billion(rest, leading=False)
    return words


def number_in_words(value: int) -> str:
    """``value`` read in Vietnamese, lower case: 1005 -> "một nghìn không trăm linh năm"."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer is read in words, not {type(value).__name__}")
    if value == 0:
        return _DIGITS[0]
    words = _positive(abs(value))
    if value < 0:
        words.insert(0, "âm")
    return " ".join(words)


def amount_in_words(amount: int) -> str:
    """An amount of VND as a receipt writes it: capitalised, ending with "đồng".

    1005 -> "Một nghìn không trăm linh năm đồng"; 0 -> "Không đồng".
    """
    text = f"{number_in_words(amount)} đồng"
    return text[0].upper() + text[1:]
