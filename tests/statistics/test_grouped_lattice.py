"""The analyst's suppressed table reads only its grouping's cells of the lattice, grouped and
sorted once a snapshot (services/statistics_queries.py): the same cells, in the same order, as a
scan of the whole lattice sorted at each question, for any lattice, grouping and filter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.statistics.suppression import Decided
from crossroads.services.statistics_queries import _grouped, _order

DIMENSIONS = ("quarter", "capacity", "region")
VALUES = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
KEYS = st.tuples(VALUES, VALUES, VALUES)
LATTICES = st.lists(KEYS, max_size=40).map(
    lambda keys: {k: Decided(k, (1, 2), "released") for k in keys}
)


def _scanned(lattice, kept, filters):
    """The question answered as it was before: every cell, sorted, filtered."""
    index = {name: i for i, name in enumerate(DIMENSIONS)}
    return [
        (key, cell)
        for key, cell in sorted(lattice.items(), key=lambda item: _order(item[0]))
        if all((key[i] is None) == (name not in kept) for name, i in index.items())
        and all(key[index[name]] == value for name, value in filters.items())
    ]


@given(
    LATTICES,
    st.sets(st.sampled_from(DIMENSIONS)),
    st.dictionaries(st.sampled_from(DIMENSIONS), st.sampled_from(["a", "b"]), max_size=2),
)
def test_a_groupings_cells_are_those_of_a_full_scan_in_the_same_order(lattice, group_by, filters):
    kept = set(group_by) | set(filters)
    index = {name: i for i, name in enumerate(DIMENSIONS)}
    read = [
        (key, cell)
        for key, cell in _grouped(lattice).get(tuple(name in kept for name in DIMENSIONS), ())
        if all(key[index[name]] == value for name, value in filters.items())
    ]
    assert read == _scanned(lattice, kept, filters)
