"""Small-cell and complementary suppression: a margin attack and a differencing attack fail.

The attacker sees every released cell of every table of the lattice (every query an analyst can
ask) and solves the linear system exactly, over the rationals, with an elimination written here
independently of the code under test."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

from crossroads.domain.statistics.suppression import CubeCell, decide

THRESHOLD = 5


def cube(finest: dict[tuple[str, ...], int]) -> list[CubeCell]:
    """GROUP BY CUBE over cells of distinct persons (one unit per person)."""
    n = len(next(iter(finest)))
    totals: dict[tuple, int] = {}
    for key, count in finest.items():
        for mask in product((True, False), repeat=n):
            up = tuple(v if keep else None for v, keep in zip(key, mask, strict=True))
            totals[up] = totals.get(up, 0) + count
    return [CubeCell(k, v, (v,)) for k, v in totals.items()]


def recoverable(finest: dict[tuple, int], decided) -> dict[tuple, Fraction]:
    """Every suppressed finest cell the released figures determine exactly, with its value."""
    unknown = [k for k in finest if decided[k].values is None]
    column = {k: i for i, k in enumerate(unknown)}
    rows = []
    for key, cell in decided.items():
        if None not in key or cell.values is None:
            continue
        beneath = [
            k for k in finest if all(a is None or a == b for a, b in zip(key, k, strict=True))
        ]
        known = sum(decided[k].values[0] for k in beneath if decided[k].values is not None)
        vector = [Fraction(0)] * (len(unknown) + 1)
        for k in beneath:
            if k in column:
                vector[column[k]] = Fraction(1)
        vector[-1] = Fraction(cell.values[0] - known)
        rows.append(vector)
    pivots: list[tuple[int, list[Fraction]]] = []
    for vector in rows:  # Gauss-Jordan over the rationals
        for col, pivot in pivots:
            if vector[col]:
                vector = [a - vector[col] * b for a, b in zip(vector, pivot, strict=True)]
        lead = next((i for i, v in enumerate(vector[:-1]) if v), None)
        if lead is None:
            continue
        vector = [v / vector[lead] for v in vector]
        pivots = [(c, [a - p[lead] * b for a, b in zip(p, vector, strict=True)]) for c, p in pivots]
        pivots.append((lead, vector))
    found = {}
    for col, pivot in pivots:
        if sum(1 for v in pivot[:-1] if v) == 1:
            found[unknown[col]] = pivot[-1]
    return found


def test_a_margin_attack_on_a_suppressed_table_fails():
    # Region × sector: (south, fishing) holds 2 persons; every margin is a query an analyst can ask.
    finest = {
        ("north", "farming"): 40,
        ("north", "fishing"): 30,
        ("south", "farming"): 25,
        ("south", "fishing"): 2,
        ("east", "farming"): 50,
        ("east", "fishing"): 60,
    }
    decided = decide(cube(finest), 2, THRESHOLD)
    assert decided[("south", "fishing")].values is None
    # The row margin minus the released cells of the row: the naive attack.
    south = decided[("south", None)]
    if south.values is not None:
        released = [decided[k].values[0] for k in finest if k[0] == "south" and decided[k].values]
        assert south.values[0] - sum(released) != 2 or len(released) < 1
    assert recoverable(finest, decided) == {}
    # Something is still published: the protection is not "suppress everything".
    assert sum(1 for d in decided.values() if d.values is not None) >= 6


def test_two_overlapping_queries_differing_by_one_person_do_not_isolate_them():
    # The analyst asks the total of region "south" and the table of "south" by sector, where
    # one sector holds exactly one person: the difference must not be that person's cell.
    finest = {
        ("south", "farming"): 20,
        ("south", "fishing"): 1,
        ("south", "mining"): 30,
        ("north", "farming"): 22,
        ("north", "fishing"): 9,
        ("north", "mining"): 31,
    }
    decided = decide(cube(finest), 2, THRESHOLD)
    assert decided[("south", "fishing")].values is None
    assert ("south", "fishing") not in recoverable(finest, decided)
    total = decided[("south", None)]
    by_sector = [decided[("south", s)] for s in ("farming", "fishing", "mining")]
    if total.values is not None:
        hidden = [c for c in by_sector if c.values is None]
        assert len(hidden) >= 2, "the complement hides a second cell of the row"


def test_three_dimensions_with_many_small_cells_disclose_nothing():
    import random

    rng = random.Random(20)
    finest = {
        (a, b, c): rng.choice([1, 2, 3, 8, 12, 40])
        for a in ("q1", "q2", "q3")
        for b in ("x", "y", "z", "w")
        for c in ("blue", "white")
    }
    decided = decide(cube(finest), 3, THRESHOLD)
    assert recoverable(finest, decided) == {}
    for key, cell in decided.items():  # no small cell at any level is released
        persons = sum(
            v for k, v in finest.items() if all(a in (None, b) for a, b in zip(key, k, strict=True))
        )
        if persons < THRESHOLD:
            assert cell.values is None


def test_the_decision_is_deterministic():
    finest = {("a", "x"): 3, ("a", "y"): 9, ("b", "x"): 7, ("b", "y"): 11}
    assert decide(cube(finest), 2, THRESHOLD) == decide(cube(finest), 2, THRESHOLD)
