"""Payment references: minting, the check character, and finding them in bank memos."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.payments.references import (
    ALPHABET,
    DEFAULT_PREFIX,
    REFERENCE_LENGTH,
    ReferenceFormatError,
    check_char,
    find_reference_matches,
    find_references,
    is_valid,
    mint,
    normalize,
)

CORPUS = Path(__file__).parent / "data" / "bank_memos.txt"


def seeded(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [mint(rng=rng.randrange) for _ in range(400)]


# --------------------------------------------------------------------------------------------
# alphabet and minting


def test_alphabet() -> None:
    assert ALPHABET == "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert all(31 % d for d in range(2, 31))  # prime
    assert not set("0O1IL") & set(ALPHABET)


def test_minted_shape() -> None:
    for ref in seeded(1):
        assert len(ref) == REFERENCE_LENGTH <= 12
        assert ref.startswith(DEFAULT_PREFIX)
        assert set(ref) <= set(ALPHABET)
        assert ref == ref.upper()
        assert any(ch.isdigit() for ch in ref[2:-1])
        assert is_valid(ref)
        assert is_valid(ref.lower())


def test_prefix_is_configurable_and_normalised() -> None:
    ref = mint("tt")
    assert ref.startswith("TT") and is_valid(ref, "TT") and is_valid(ref, "tt")
    assert not is_valid(ref, "HS")
    assert len(mint("A")) == 12
    assert len(mint("HS", length=10)) == 10
    assert is_valid(mint("HS", length=10), "HS", length=10)


@pytest.mark.parametrize("prefix", ["HO", "H1", "L", "I2", "H-S", "", "HSABCD"])
def test_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ReferenceFormatError, match="prefix"):
        mint(prefix)
    with pytest.raises(ReferenceFormatError):
        is_valid("HS2345678923", prefix)


def test_bad_length_is_refused() -> None:
    with pytest.raises(ReferenceFormatError, match="length"):
        mint(length=13)
    with pytest.raises(ReferenceFormatError, match="prefix"):
        mint(length=8)


def test_rng_is_injectable_and_deterministic() -> None:
    assert seeded(7) == seeded(7)
    assert seeded(7) != seeded(8)
    draws: list[int] = []

    def counting(n: int) -> int:
        draws.append(n)
        return 0  # always "2"

    assert mint(rng=counting) == "HS222222222" + check_char("HS222222222")
    assert set(draws) == {31}


def test_a_body_without_a_digit_is_drawn_again() -> None:
    letters_then_digits = iter([ALPHABET.index("A")] * 9 + [ALPHABET.index("B")] * 8 + [0])
    ref = mint(rng=lambda n: next(letters_then_digits))
    assert ref[:-1] == "HSBBBBBBBB2"
    stem = "HSABCDEFGHJ"
    assert not is_valid(stem + check_char(stem))  # no digit: never a reference


def test_unique_over_100k_mints() -> None:
    # Real secrets-backed minting. 31^9 = 2.6e13 bodies (x 0.93 with a digit): the chance of
    # any collision among 100,000 is about n^2 / 2N = 2e-4. The database constraint is the
    # guarantee; this catches a broken RNG (seeded, constant, low entropy).
    refs = [mint() for _ in range(100_000)]
    assert len(set(refs)) == len(refs)
    assert all(is_valid(ref) for ref in refs[:1000])


# --------------------------------------------------------------------------------------------
# the check character


def test_check_catches_every_single_substitution() -> None:
    lookalikes = "0O1IL"
    for ref in seeded(2):
        for pos, original in enumerate(ref):
            for ch in ALPHABET + lookalikes:
                if ch == original:
                    continue
                changed = ref[:pos] + ch + ref[pos + 1:]
                assert not is_valid(changed), (ref, pos, ch)


def test_check_catches_every_adjacent_swap() -> None:
    for ref in seeded(3):
        for pos in range(len(ref) - 1):
            if ref[pos] == ref[pos + 1]:
                continue
            swapped = ref[:pos] + ref[pos + 1] + ref[pos] + ref[pos + 2:]
            assert not is_valid(swapped), (ref, pos)


def test_check_catches_every_swap_of_any_two() -> None:
    for ref in seeded(4)[:100]:
        for i in range(len(ref)):
            for j in range(i + 1, len(ref)):
                if ref[i] != ref[j]:
                    chars = list(ref)
                    chars[i], chars[j] = chars[j], chars[i]
                    assert not is_valid("".join(chars)), (ref, i, j)


def test_check_is_exhaustive_over_one_position_of_every_stem_value() -> None:
    # For a stem, exactly one of the 31 symbols completes a valid reference.
    for ref in seeded(5)[:200]:
        stem = ref[:-1]
        assert [c for c in ALPHABET if is_valid(stem + c)] == [ref[-1]]


def test_is_valid_refuses_the_wrong_shape() -> None:
    ref = seeded(6)[0]
    assert not is_valid(ref[:-1])
    assert not is_valid(ref + "2")
    assert not is_valid(" " + ref[1:])
    assert not is_valid("TT" + ref[2:])
    assert not is_valid(ref[:4] + "-" + ref[5:])
    assert not is_valid(None)  # type: ignore[arg-type]
    assert is_valid(normalize(f" {ref[:4].lower()}-{ref[4:8]} {ref[8:]}."))


# --------------------------------------------------------------------------------------------
# the memo corpus


def load_corpus() -> list[tuple[int, list[str], str]]:
    cases = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        expected, sep, memo = line.partition(" | ")
        assert sep, f"line {number}: no ' | ' separator"
        refs = [] if expected.strip() == "-" else expected.strip().split(",")
        cases.append((number, refs, memo))
    return cases


CASES = load_corpus()


def test_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 60
    with_ref = [c for c in CASES if c[1]]
    without = [c for c in CASES if not c[1]]
    assert len(with_ref) >= 30 and len(without) >= 20
    # Every expected reference really is one (the corpus itself is checked).
    for number, refs, _ in with_ref:
        assert all(is_valid(ref) for ref in refs), number


@pytest.mark.parametrize(("number", "expected", "memo"), CASES, ids=[f"line{c[0]}" for c in CASES])
def test_corpus_memo(number: int, expected: list[str], memo: str) -> None:
    assert find_references(memo) == expected


def test_corpus_no_false_match_and_no_miss() -> None:
    missed, false = [], []
    for number, expected, memo in CASES:
        found = find_references(memo)
        missed += [(number, r) for r in expected if r not in found]
        false += [(number, r) for r in found if r not in expected]
    assert (missed, false) == ([], [])


# --------------------------------------------------------------------------------------------
# the finder's rules


def test_token_bounded_candidates_rank_first() -> None:
    a, b = seeded(9)[:2]
    matches = find_reference_matches(f"X{a} {b}")
    assert [m.reference for m in matches] == [b, a]
    assert matches[0].at_start_boundary and matches[0].at_end_boundary
    assert not matches[1].at_start_boundary


def test_fewer_gaps_rank_first_and_duplicates_collapse() -> None:
    a, b = seeded(10)[:2]
    memo = f"{a[:4]} {a[4:8]} {a[8:]} {b} {b.lower()}"
    assert find_references(memo) == [b, a]
    match = find_reference_matches(memo)[1]
    assert match.gaps == 2
    assert memo[match.start:match.end].replace(" ", "") == a


def test_spans_index_the_original_memo() -> None:
    a = seeded(11)[0]
    memo = f"Nộp phí ß {a.lower()} xong"
    [match] = find_reference_matches(memo)
    assert memo[match.start:match.end].upper() == a


def test_too_many_or_too_wide_gaps_are_not_bridged() -> None:
    a = seeded(12)[0]
    assert find_references(" ".join(a)) == []  # 11 gaps
    assert find_references(f"{a[:6]}    {a[6:]}") == []  # a 4-character gap
    assert find_references(f"{a[:3]}.{a[3:6]}-{a[6:9]} {a[9:]}") == [a]  # 3 gaps


def test_other_prefix() -> None:
    ref = mint("TT", rng=random.Random(3).randrange)
    assert find_references(f"IBFT {ref} NGUYEN VAN A", "TT") == [ref]
    assert find_references(f"IBFT {ref} NGUYEN VAN A") == []


separators = st.sampled_from([" ", ".", "-", "_", " - ", ".."])
noise_words = st.sampled_from([
    "IBFT", "MBVCB.3278907687.", "CT tu 0071001234567", "NGUYEN VAN A", "chuyen tien",
    "FT24135918273645", "GD 512345-052124", "Ma GD ACSP/ Hb512345", "TRACE 012345", "HS",
    "HS 2345", "Nộp lệ phí", "0352350917", "hs", "HSX5QDWJQYAE", "ND", "CT DEN:412345678901",
])


@st.composite
def memos(draw: st.DrawFn) -> tuple[str, list[str]]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    refs = [mint(rng=rng.randrange) for _ in range(draw(st.integers(0, 2)))]
    parts: list[str] = draw(st.lists(noise_words, max_size=6))
    for ref in refs:
        cuts = sorted(draw(st.lists(st.integers(1, len(ref) - 1), max_size=3, unique=True)))
        pieces = [ref[i:j] for i, j in zip([0, *cuts], [*cuts, len(ref)], strict=True)]
        written = pieces[0]
        for piece in pieces[1:]:
            written += draw(separators) + piece
        if draw(st.booleans()):
            written = written.lower()
        parts.insert(draw(st.integers(0, len(parts))), written)
    return " ".join(parts), refs


@settings(max_examples=300, deadline=None)
@given(memos())
def test_finder_finds_every_inserted_reference_and_nothing_invalid(
    case: tuple[str, list[str]],
) -> None:
    memo, refs = case
    found = find_references(memo)
    assert set(refs) <= set(found)
    assert all(is_valid(ref) for ref in found)
    assert len(found) == len(set(found))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET + ALPHABET.lower() + " .-_0OIL1", max_size=60))
def test_finder_never_returns_a_failing_candidate(memo: str) -> None:
    for ref in find_references(memo):
        assert is_valid(ref)
        assert ref.startswith("HS")
