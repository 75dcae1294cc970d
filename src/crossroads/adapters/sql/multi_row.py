"""Many rows into SQLite in a few statements.

The sqlite3 module lets go of the GIL around every step of a statement, and each time the
connection's thread must win it back from the other threads (up to the 5 ms switch interval),
while it holds the database's one write lock. `executemany` takes a step per row; a multi-row
`INSERT … VALUES (…), (…)` takes one per statement. For the audit log's writer thread (as it
then was) that took commits from the slowest part of an append to a small one; publications into
the outbox gain the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

_MOST_VALUES = 30000  # under SQLITE_MAX_VARIABLE_NUMBER (32,766 since SQLite 3.32)


def insert_values(conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run `head` ("INSERT INTO t (a, b) VALUES ") over `rows`, as few statements as the
    variable limit allows."""
    if not rows:
        return
    width = len(rows[0])
    marks = "(" + ", ".join("?" * width) + ")"
    per_statement = max(1, _MOST_VALUES // width)
    for at in range(0, len(rows), per_statement):
        chunk = rows[at : at + per_statement]
        conn.execute(
            head + ", ".join([marks] * len(chunk)), [value for row in chunk for value in row]
        )
