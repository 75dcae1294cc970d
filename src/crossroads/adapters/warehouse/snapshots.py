"""The marts' snapshots: what every hub process reads, while one process at a time writes.

DuckDB lets one process open a file for writing, and no other process open it then, not even
to read; any number of processes may open a file that nobody writes. So the warehouse is two
kinds of file: the working file (the extracts and positions), which only the extracting
process opens, under a lock of its own; and, after each extraction, a new snapshot file of the
marts (`<working file>.marts/marts-<n>.duckdb`) that is never written again. A small pointer
file (`current`, replaced atomically) names the newest; every process reads the snapshot it
names, read-only, and opens the next one when the pointer moves. Older snapshots are deleted two
generations later: a process still reading one holds it open, and POSIX keeps an unlinked file
for whoever has it open.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from ...domain.statistics.marts import MARTS
from . import lattices
from .marts_sql import EXTRACTS, materialise

_NAME = re.compile(r"^marts-(\d+)\.duckdb$")
KEEP = 3  # snapshots kept: the newest and two before it, for readers that have not moved yet


class Snapshots:
    def __init__(self, working_file: Path) -> None:
        self.folder = working_file.with_name(working_file.name + ".marts")
        self._pointer = self.folder / "current"

    def current(self) -> tuple[int, Path] | None:
        """The newest snapshot's generation and file, None before the first."""
        try:
            name = self._pointer.read_text().strip()
        except FileNotFoundError:
            return None
        found = _NAME.match(name)
        if found is None:
            return None
        return int(found.group(1)), self.folder / name

    def next_file(self, generation: int) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"marts-{generation}.duckdb"
        for leftover in (target, target.with_name(target.name + ".wal")):
            leftover.unlink(missing_ok=True)  # a run that crashed while writing it
        return target

    def publish(self, written: Path) -> None:
        """Point every reader at `written` (complete and closed), then drop old snapshots."""
        staged = self._pointer.with_name("current.next")
        staged.write_text(written.name)
        os.replace(staged, self._pointer)
        kept = sorted(
            (int(m.group(1)), path)
            for path in self.folder.iterdir()
            if (m := _NAME.match(path.name)) is not None
        )
        for _, path in kept[:-KEEP]:
            path.unlink(missing_ok=True)


def quoted(path: Path) -> str:
    """A file name as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def write_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshots: Snapshots,
    generation: int,
    rebuilt: set[str],
    threshold: int,
) -> float:
    """Write snapshot `generation` from the working file open on `con`: the marts in `rebuilt`
    built from the extracts, the others copied from the previous snapshot, and each mart's
    suppression lattice decided at `threshold` (copied too where its mart and the threshold
    are unchanged); then publish it. The seconds spent deciding lattices."""
    previous = snapshots.current()
    target = snapshots.next_file(generation)
    con.execute(f"ATTACH {quoted(target)} AS snap")
    try:
        if previous is not None:
            con.execute(f"ATTACH {quoted(previous[1])} AS prev (READ_ONLY)")
        kept = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev'"
            ).fetchall()
        }
        built = {name for name in MARTS if name in rebuilt or f"mart_{name}" not in kept}
        for name in MARTS:
            if name in built:
                con.execute(materialise(name, f"snap.mart_{name}"))
            else:
                con.execute(f"CREATE TABLE snap.mart_{name} AS FROM prev.mart_{name}")
        con.execute("CREATE TABLE snap.positions AS FROM positions")
        decided = (
            set()
            if "lattices" not in kept
            else {
                row[0]
                for row in con.execute(
                    "SELECT mart FROM prev.lattices WHERE threshold = ?", (threshold,)
                ).fetchall()
            }
        )
        copied = (set(MARTS) - built) & decided
        seconds = lattices.decide_all(con, "snap.", set(MARTS) - copied, threshold)
        for name in copied:
            con.execute(f"CREATE TABLE snap.lattice_{name} AS FROM prev.lattice_{name}")
            con.execute("INSERT INTO snap.lattices VALUES (?, ?)", (name, threshold))
    finally:
        con.execute("DETACH DATABASE IF EXISTS prev")
        con.execute("DETACH snap")
    snapshots.publish(target)
    return seconds


def open_snapshot(path: Path | None) -> duckdb.DuckDBPyConnection:
    """A snapshot opened read-only; with no snapshot yet, empty marts in memory."""
    if path is not None:
        return duckdb.connect(str(path), read_only=True)
    empty = duckdb.connect(":memory:")
    for table, columns in EXTRACTS.items():
        empty.execute(f"CREATE TABLE {table} ({columns})")
    for name in MARTS:
        empty.execute(materialise(name))
    empty.execute("CREATE TABLE positions (stream VARCHAR PRIMARY KEY, position BIGINT)")
    return empty
