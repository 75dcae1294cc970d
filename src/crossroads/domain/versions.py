"""The order of version strings: which version of a service or a mutation type is the highest.

A service or mutation type named without a version resolves to its highest version, in the
exchange, in publishing and in the registry alike, so there is one order, defined here, that
never raises whatever the strings (versions are codes: letters, digits, ".", "_" and "-").

The order, from the first rule that tells two versions apart:

1. A version is read as runs of digits and runs of other characters; ".", "_" and "-" only
   separate runs ("1.10" is 1, 10; "2rc1" is 2, "rc", 1; "v-3" is "v", 3).
2. Runs compare in turn. Two runs of digits compare as whole numbers, however long ("1.9" is
   below "1.10", and "1.02" and "1.2" tie here). A run of digits ranks above any other run:
   numbered releases rank above named ones ("1.a" and "1.beta" are below "1.0", "latest" is below
   "1"). Two other runs compare as text, by code point ("1.a" is below "1.b", "B" below "a").
3. A version whose runs all match the start of another's ranks below it ("1" is below "1.0",
   which is below "1.0.1" and "1.0a"). Crossroads has no notion of a pre-release: give one a
   lower number, or a code of its own.
4. Versions still tied ("1.02" and "1.2", "1.0" and "1-0") are ordered by their text, so that two
   different strings never tie and the highest of a set is the same in every store.

For dotted numbers this is the order of the numbers, segment by segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_RUNS = re.compile(r"[0-9]+|[^0-9._-]+")

VersionKey = tuple[tuple[tuple[int, int, str], ...], str]


def version_key(version: str) -> VersionKey:
    """A sort key giving the order above: `max(versions, key=version_key)` is the highest."""
    runs = []
    for run in _RUNS.findall(version):
        if "0" <= run[0] <= "9":
            # A number compares by its length without leading zeros, then by its digits: the
            # numeric order without converting to int (no limit on the length).
            digits = run.lstrip("0")
            runs.append((1, len(digits), digits))
        else:
            runs.append((0, 0, run))
    return tuple(runs), version


def highest(versions: Iterable[str]) -> str | None:
    """The highest of `versions`, None when there are none."""
    return max(versions, key=version_key, default=None)
