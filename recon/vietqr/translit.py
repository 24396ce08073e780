"""Vietnamese text to plain ASCII, for the fields of a VietQR code.

A VietQR payload carries printable ASCII only (outside the language template ``64``), so the
purpose, bill number, names and cities are transliterated before encoding: every tone mark and
vowel mark is dropped (``ế`` -> ``e``, ``ơ`` -> ``o``, ``ư`` -> ``u``, ``ă``/``â`` -> ``a``) and
``đ``/``Đ`` become ``d``/``D``. Case is kept. Text typed with combining marks (NFD, as some
keyboards and macOS produce) gives the same result as precomposed text (NFC).

A handful of typographic characters that look like ASCII (curly quotes, dashes, the no-break
space) are mapped too. Anything else is left as it is, so that the caller can refuse it with a
message naming the character rather than have it silently disappear.
"""

from __future__ import annotations

import unicodedata

# Letters that do not decompose under NFD into an ASCII base + combining marks.
_LETTERS = {
    "đ": "d",
    "Đ": "D",
    "Ð": "D",  # U+00D0 (Icelandic eth) is often typed for Đ
    "ð": "d",
}

# Punctuation and spaces that word processors substitute for their ASCII forms.
_PUNCTUATION = {
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u202f": " ",  # narrow no-break space
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
}

_TABLE = str.maketrans({**_LETTERS, **_PUNCTUATION})


def transliterate(text: str) -> str:
    """Return ``text`` with Vietnamese letters and common typographic marks made ASCII.

    >>> transliterate("Lệ phí đăng ký hộ kinh doanh")
    'Le phi dang ky ho kinh doanh'
    >>> transliterate("ĐƯỜNG Ơ")
    'DUONG O'

    Characters with no ASCII form (``€``, emoji, CJK) are returned unchanged; see
    :func:`non_printable_ascii` to find them.
    """
    mapped = text.translate(_TABLE)
    decomposed = unicodedata.normalize("NFD", mapped)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Re-compose whatever is left that is not ASCII, so that the caller sees whole characters.
    return unicodedata.normalize("NFC", stripped)


def is_printable_ascii(text: str) -> bool:
    """True when every character is in the printable ASCII range (space to ``~``)."""
    return all(" " <= ch <= "~" for ch in text)


def non_printable_ascii(text: str) -> list[str]:
    """The distinct characters of ``text`` outside printable ASCII, in order of appearance."""
    seen: list[str] = []
    for ch in text:
        if not (" " <= ch <= "~") and ch not in seen:
            seen.append(ch)
    return seen


__all__ = ["is_printable_ascii", "non_printable_ascii", "transliterate"]
