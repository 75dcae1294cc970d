"""Small-cell and complementary suppression over a mart's whole lattice of tables, at once.

A mart with dimensions (d1 … dn) answers any grouping by a subset of them: the lattice of its
2ⁿ tables, every cell of which is a sum of cells of the finest table. All of them are decided
here together, deterministically, from one snapshot of the warehouse, and every answer is read
from that decision: two overlapping queries, or a table and its margins, can only ever combine
figures that were checked together.

- Primary suppression: a cell with fewer than `threshold` distinct persons (but some) is not
  released, at any level.
- Complementary suppression: the released cells must not let anyone solve for a primary cell.
  The unknowns are the suppressed cells of the finest table; each released coarser cell is a
  linear equation over those beneath it. A cell is released only if, with its equation added,
  no primary cell (a finest one, or the sum of the finest ones beneath a coarser primary) lies in
  the span of the released equations: exact linear algebra (modulo a 61-bit prime), not a rule
  of thumb. When it would disclose, another finest cell beneath it (the smallest) is suppressed
  as its complement; when that does not help either, the coarser cell itself is suppressed.

What this does not hide (docs/statistics.md): that a suppressed count lies below the threshold,
which the rule itself says; and differences between two snapshots (the warehouse grows), which
is what the differentially private answers are for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

PRIME = (1 << 61) - 1
Key = tuple[str | None, ...]  # a cell: a value per dimension, None where the table sums it
COMPLEMENT_TRIES = 3


@dataclass(frozen=True)
class CubeCell:
    key: Key
    persons: int  # distinct persons in the cell (not additive: counted at every level)
    values: tuple[int, ...]  # the count of units, then the sum of each measure (additive)


@dataclass(frozen=True)
class Decided:
    key: Key
    values: tuple[int, ...] | None  # None when suppressed
    status: str  # "released", "primary" or "complementary"


class _Span:
    """Rows over GF(PRIME) in echelon form (pivot = the row's smallest column, coefficient 1)."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, int]] = {}

    def reduce(self, vector: dict[int, int]) -> dict[int, int]:
        v = dict(vector)
        while v:
            col = min(v)
            row = self.rows.get(col)
            if row is None:
                return v
            factor = v[col]
            for c, coefficient in row.items():
                updated = (v.get(c, 0) - factor * coefficient) % PRIME
                if updated:
                    v[c] = updated
                else:
                    v.pop(c, None)
        return v

    def add(self, vector: dict[int, int]) -> None:
        v = self.reduce(vector)
        if v:
            col = min(v)
            inverse = pow(v[col], PRIME - 2, PRIME)
            self.rows[col] = {c: (x * inverse) % PRIME for c, x in v.items()}

    def contains(self, vector: dict[int, int]) -> bool:
        return not self.reduce(vector)


def _above(key: Key) -> Iterable[Key]:
    """Every cell of a coarser table that sums this finest cell, including the grand total."""
    n = len(key)
    for size in range(n):
        for kept in combinations(range(n), size):
            yield tuple(key[i] if i in kept else None for i in range(n))


def decide(cells: list[CubeCell], dimensions: int, threshold: int) -> dict[Key, Decided]:
    """Suppression for every cell of the lattice (`cells` holds every level, as GROUP BY CUBE
    gives it). Deterministic: the same cells give the same decision."""
    by_key = {c.key: c for c in cells}
    finest = sorted((c for c in cells if None not in c.key), key=lambda c: _order(c.key))
    coarse = sorted(
        (c for c in cells if None in c.key),
        key=lambda c: (-sum(v is not None for v in c.key), _order(c.key)),
    )
    primary = {c.key for c in cells if 0 < c.persons < threshold}
    unknown: dict[Key, int] = {}  # suppressed finest cell -> its column
    for c in finest:
        if c.key in primary:
            unknown[c.key] = len(unknown)
    under: dict[Key, set[Key]] = {}  # coarse cell -> the suppressed finest cells beneath it
    for key in unknown:
        for up in _above(key):
            under.setdefault(up, set()).add(key)

    def vector(keys: Iterable[Key]) -> dict[int, int]:
        return {unknown[k]: 1 for k in keys}

    def protected() -> list[dict[int, int]]:
        found = [vector([k]) for k in unknown if k in primary]
        found += [vector(under.get(k, ())) for k in primary if None in k and under.get(k)]
        return found

    released: list[Key] = []
    suppressed: dict[Key, str] = {k: "primary" for k in primary}
    span = _Span()
    guarded = protected()

    def safe(candidate: _Span) -> bool:
        return not any(candidate.contains(v) for v in guarded)

    for cell in coarse:
        if cell.key in primary:
            continue
        if not under.get(cell.key):
            released.append(cell.key)
            continue
        trial = _copy(span)
        trial.add(vector(under[cell.key]))
        if safe(trial):
            span = trial
            released.append(cell.key)
            continue
        done = False
        for extra in _complements(cell.key, finest, unknown, primary)[:COMPLEMENT_TRIES]:
            unknown[extra] = len(unknown)
            for up in _above(extra):
                under.setdefault(up, set()).add(extra)
            rebuilt = _Span()
            for key in [*released, cell.key]:
                if under.get(key):
                    rebuilt.add(vector(under[key]))
            guarded = protected()
            if safe(rebuilt):
                span, done = rebuilt, True
                suppressed[extra] = "complementary"
                released.append(cell.key)
                break
            del unknown[extra]  # columns are only ever appended, so the last one goes cleanly
            for up in _above(extra):
                under[up].discard(extra)
            guarded = protected()
        if not done:
            suppressed[cell.key] = "complementary"
    decided = {}
    for key, cell in by_key.items():
        status = suppressed.get(key, "released")
        decided[key] = Decided(key, None if status != "released" else cell.values, status)
    return decided


def _complements(
    key: Key, finest: list[CubeCell], unknown: dict[Key, int], primary: set[Key]
) -> list[Key]:
    """Released finest cells beneath `key`, the smallest first (the least information lost)."""
    beneath = [
        c
        for c in finest
        if c.key not in unknown
        and c.key not in primary
        and all(k is None or k == v for k, v in zip(key, c.key, strict=True))
    ]
    return [c.key for c in sorted(beneath, key=lambda c: (c.persons, _order(c.key)))]


def _copy(span: _Span) -> _Span:
    copied = _Span()
    copied.rows = dict(span.rows)  # rows are never changed in place, only added
    return copied


def _order(key: Key) -> tuple[str, ...]:
    return tuple("" if v is None else v for v in key)
