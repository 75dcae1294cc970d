"""The order of version strings (domain/versions.py): total, consistent, numeric for dotted
numbers, and never raising whatever the strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.registry import CODE_PATTERN
from crossroads.domain.versions import highest, version_key

# Versions are codes: letters, digits, ".", "_" and "-" (domain.registry.check_code).
codes = st.from_regex(CODE_PATTERN, fullmatch=True)
anything = st.text(max_size=20)  # the order never raises, even outside the codes' alphabet
dotted = st.lists(st.integers(min_value=0, max_value=10**30), min_size=1, max_size=5)


@pytest.mark.parametrize("lower, higher", [
    ("1.9", "1.10"), ("1.10", "2"), ("1", "1.0"), ("1.0", "1.0.1"), ("1.0", "1.0a"),
    ("1.a", "1.0"), ("1.beta", "1.0"), ("latest", "1"), ("1.a", "1.b"), ("v2", "v10"),
    ("1.02", "1.2"), ("1-0", "1.0"), ("9", "10"), ("1.2", "12"),
])
def test_the_documented_examples(lower, higher):
    assert version_key(lower) < version_key(higher)
    assert highest([higher, lower]) == highest([lower, higher]) == higher


def test_the_highest_of_nothing_is_none():
    assert highest([]) is None


@given(anything)
def test_any_string_has_a_key(version):
    version_key(version)


@given(anything, anything)
def test_the_order_is_total_two_different_strings_never_tie(a, b):
    assert (version_key(a) == version_key(b)) == (a == b)
    assert (version_key(a) < version_key(b)) + (version_key(b) < version_key(a)) + (a == b) == 1


@given(codes, codes, codes)
def test_the_order_is_transitive(a, b, c):
    if version_key(a) <= version_key(b) <= version_key(c):
        assert version_key(a) <= version_key(c)


@given(st.lists(anything, min_size=1), st.randoms())
def test_the_highest_does_not_depend_on_the_order_of_the_rows(versions, random):
    shuffled = list(versions)
    random.shuffle(shuffled)
    assert highest(shuffled) == highest(versions)
    assert all(version_key(v) <= version_key(highest(versions)) for v in versions)


@given(dotted, dotted)
def test_dotted_numbers_order_as_their_numbers_segment_by_segment(a, b):
    va, vb = ".".join(map(str, a)), ".".join(map(str, b))
    assert (version_key(va) < version_key(vb)) == (a < b)


@given(dotted, st.integers(min_value=0, max_value=3))
def test_leading_zeros_do_not_change_a_number(a, zeros):
    padded = ".".join("0" * zeros + str(n) for n in a)
    plain = ".".join(map(str, a))
    assert version_key(padded)[0] == version_key(plain)[0]


@given(codes, st.sampled_from(["a", "beta", "rc", "Z"]), st.integers(min_value=0, max_value=99))
def test_a_number_ranks_above_a_name_in_the_same_place(prefix, name, number):
    assert version_key(f"{prefix}.{name}") < version_key(f"{prefix}.{number}")
