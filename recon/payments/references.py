"""Payment references: mint them, check them, and find them in bank transfer memos.

A reference goes in the VietQR purpose (``62.08``) and comes back, often mangled, in the memo of
the bank credit. Its shape is made for that trip:

- at most 12 characters, so that feeds that cut the description at 19-25 characters keep it;
- uppercase, read case-insensitively (many feeds change case);
- drawn from 31 symbols with no look-alikes (no ``0 O 1 I L``)::

      23456789ABCDEFGHJKMNPQRSTUVWXYZ

- a fixed prefix (default ``HS``, for *hồ sơ*) so that it can be found in free text;
- a random body from :mod:`secrets` holding at least one digit (so that ordinary words, which
  have none, are never taken for a reference);
- one check character last.

The check: number the characters 1..n (prefix, body and check) and give each the value of its
symbol (0..30); the check is chosen so that ``sum(i * value_i) % 31 == 0``. 31 is prime and every
weight ``i`` is in 1..12, so:

- a single wrong character at position ``j`` changes the sum by ``j * d`` with ``d`` in 1..30,
  never a multiple of 31: every single substitution is caught;
- swapping the (different) characters ``a`` and ``b`` at positions ``j`` and ``k`` changes the
  sum by ``(k - j) * (a - b)``, again never a multiple of 31: every swap of neighbours (in fact
  every swap of any two characters) is caught.

A character outside the alphabet (``O`` for ``0``, ``I`` for ``1``) is simply invalid.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
DEFAULT_PREFIX = "HS"
REFERENCE_LENGTH = 12
MIN_BODY = 6
DIGITS = frozenset("23456789")

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# A function returning a uniformly random int in [0, n): secrets.randbelow, or for tests
# random.Random(seed).randrange.
RandBelow = Callable[[int], int]


class ReferenceFormatError(ValueError):
    """A prefix or length that cannot make references."""


def normalize(text: str) -> str:
    """Uppercase, without the spaces, dots, dashes and underscores banks and people insert."""
    return re.sub(r"[\s.\-_]", "", text).upper()


def check_prefix(prefix: str, length: int = REFERENCE_LENGTH) -> str:
    """Return ``prefix`` uppercased, or raise :class:`ReferenceFormatError` saying what is wrong."""
    if not isinstance(prefix, str):
        raise ReferenceFormatError("prefix: must be text")
    upper = prefix.upper()
    if not upper:
        raise ReferenceFormatError(
            "prefix: must not be empty; it is how references are found in bank memos"
        )
    bad = sorted({ch for ch in upper if ch not in _VALUE})
    if bad:
        raise ReferenceFormatError(
            f"prefix: {prefix!r} uses {', '.join(repr(c) for c in bad)}, which are not in the "
            f"reference alphabet {ALPHABET} (no 0, O, 1, I or L)"
        )
    if not isinstance(length, int) or not (1 <= length <= REFERENCE_LENGTH):
        raise ReferenceFormatError(f"length: must be 1 to {REFERENCE_LENGTH}, got {length!r}")
    if length - len(upper) - 1 < MIN_BODY:
        raise ReferenceFormatError(
            f"prefix: {prefix!r} leaves {length - len(upper) - 1} random characters in a "
            f"{length}-character reference; at least {MIN_BODY} are needed: use a shorter prefix"
        )
    return upper


def _weighted_sum(text: str) -> int:
    return sum(i * _VALUE[ch] for i, ch in enumerate(text, start=1))


def check_char(text: str) -> str:
    """The check character to append to ``text`` (prefix + body, uppercase, in the alphabet)."""
    position = len(text) + 1
    if position >= BASE:
        raise ReferenceFormatError(f"reference: too long for a mod-{BASE} check")
    # Solve sum + position * c == 0 (mod 31) for c.
    inverse = pow(position, -1, BASE)
    return ALPHABET[(-_weighted_sum(text) * inverse) % BASE]


def mint(
    prefix: str = DEFAULT_PREFIX,
    *,
    length: int = REFERENCE_LENGTH,
    rng: RandBelow | None = None,
) -> str:
    """A new random reference: ``prefix`` + random body + check, ``length`` characters.

    ``rng(n)`` must return a uniform int in ``[0, n)``; it defaults to :func:`secrets.randbelow`.
    Uniqueness is probabilistic (31^9, about 2.6e13 bodies with the defaults); the database's
    unique constraint is the guarantee, so callers retry on a conflict.
    """
    upper = check_prefix(prefix, length)
    draw = rng or secrets.randbelow
    body_length = length - len(upper) - 1
    while True:
        body = "".join(ALPHABET[draw(BASE)] for _ in range(body_length))
        if any(ch in DIGITS for ch in body):
            break
    stem = upper + body
    return stem + check_char(stem)


def is_valid(ref: str, prefix: str = DEFAULT_PREFIX, *, length: int = REFERENCE_LENGTH) -> bool:
    """True when ``ref`` (any case, exactly as given: no separators) is a well-formed reference
    with this prefix: right length, alphabet only, a digit in the body, check character right."""
    if not isinstance(ref, str):
        return False
    upper_prefix = check_prefix(prefix, length)
    ref = ref.translate(_ASCII_UPPER)
    if len(ref) != length or not ref.startswith(upper_prefix):
        return False
    if any(ch not in _VALUE for ch in ref):
        return False
    if not any(ch in DIGITS for ch in ref[len(upper_prefix) : -1]):
        return False
    return _weighted_sum(ref) % BASE == 0


# --------------------------------------------------------------------------------------------
# Finding references in bank memos

_SEPARATORS = frozenset(" \t.-_")
MAX_GAPS = 3  # separator runs allowed inside one reference ("HS7K 3M9Q X2RP" has 2)
MAX_GAP_WIDTH = 3  # characters in one run (" - " is 3)


@dataclass(frozen=True)
class ReferenceMatch:
    """One reference found in a memo. ``start``/``end`` index the memo as given."""

    reference: str
    start: int
    end: int
    at_start_boundary: bool
    at_end_boundary: bool
    gaps: int

    @property
    def text_boundaries(self) -> int:
        return int(self.at_start_boundary) + int(self.at_end_boundary)

    def rank(self) -> tuple[int, int, int]:
        """Sort key: best first (both ends at token boundaries, then fewest gaps)."""
        return (-self.text_boundaries, self.gaps, self.start)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def find_reference_matches(
    memo: str, prefix: str = DEFAULT_PREFIX, *, length: int = REFERENCE_LENGTH
) -> list[ReferenceMatch]:
    """Every valid reference in ``memo``, best first, each reference once.

    Case is ignored. Up to :data:`MAX_GAPS` runs of spaces, dots, dashes or underscores (each
    at most :data:`MAX_GAP_WIDTH` long) may sit inside a reference, as banks and people insert
    them. A candidate is kept only if :func:`is_valid` accepts it. Those standing alone as a
    token (nothing alphanumeric glued before or after) rank first, then those with fewer
    separators inside, then the earlier.
    """
    upper_prefix = check_prefix(prefix, length)
    if not isinstance(memo, str) or not memo:
        return []
    text = memo.translate(_ASCII_UPPER)  # ASCII only, so indices stay those of the memo
    n = len(text)
    found: dict[str, ReferenceMatch] = {}
    for start in range(n):
        if text[start] != upper_prefix[0]:
            continue
        chars: list[str] = []
        gaps = 0
        pos = start
        ok = True
        while len(chars) < length:
            if pos >= n:
                ok = False
                break
            ch = text[pos]
            if ch in _SEPARATORS:
                if not chars:
                    ok = False
                    break
                run = pos
                while pos < n and text[pos] in _SEPARATORS:
                    pos += 1
                gaps += 1
                if gaps > MAX_GAPS or pos - run > MAX_GAP_WIDTH or pos >= n:
                    ok = False
                    break
                continue
            if ch not in _VALUE:
                ok = False
                break
            chars.append(ch)
            pos += 1
        if not ok:
            continue
        candidate = "".join(chars)
        if not is_valid(candidate, upper_prefix, length=length):
            continue
        match = ReferenceMatch(
            reference=candidate,
            start=start,
            end=pos,
            at_start_boundary=start == 0 or not _is_word_char(text[start - 1]),
            at_end_boundary=pos == n or not _is_word_char(text[pos]),
            gaps=gaps,
        )
        best = found.get(candidate)
        if best is None or match.rank() < best.rank():
            found[candidate] = match
    return sorted(found.values(), key=ReferenceMatch.rank)


def without_overlaps(matches: list[ReferenceMatch]) -> list[ReferenceMatch]:
    """``matches`` (best first) less each that shares a character of the memo with a better
    one, best first. Two references a payer wrote never overlap; a reference's tail glued to
    the next word across a separator can make a valid look-alike (``HS69UJTHSEM3.NGUYEN``
    holds ``HSEM3NGUYENV``: about one memo in 6,000 of that shape), which must not make a
    transfer look as if it paid two dossiers."""
    kept: list[ReferenceMatch] = []
    for match in matches:
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return kept


def find_references(
    memo: str, prefix: str = DEFAULT_PREFIX, *, length: int = REFERENCE_LENGTH
) -> list[str]:
    """The references in ``memo`` (see :func:`find_reference_matches`), best first."""
    return [m.reference for m in find_reference_matches(memo, prefix, length=length)]


__all__ = [
    "ALPHABET",
    "DEFAULT_PREFIX",
    "REFERENCE_LENGTH",
    "ReferenceFormatError",
    "ReferenceMatch",
    "check_char",
    "check_prefix",
    "find_reference_matches",
    "find_references",
    "is_valid",
    "mint",
    "normalize",
    "without_overlaps",
]
