"""PostgreSQL's array parameters go in psycopg's binary format (`%b`), wherever a statement is
written. As text, psycopg quotes each element in Python: a bytea array of 32-byte keys cost 1.8 µs
an element against 0.13, of 400-byte messages 4 µs against 0.17 (a flow of mutations sends
several thousand a batch). A `?` placeholder becomes `%s` (text, for an array) in the adapter's
rewrite, so an array written `ANY(?…)`, `ALL(?…)`, `unnest(?…)`, `CAST(? AS type[])` or
`?::type[]` is the fault looked for, in every adapter (the SQL ones and the statistics' reads)."""

from __future__ import annotations

import re
from pathlib import Path

from crossroads.adapters.sql.among import among

ADAPTERS = Path(__file__).resolve().parents[2] / "src" / "crossroads" / "adapters"
TEXT_ARRAY = re.compile(
    r"\b(ANY|ALL|unnest)\s*\(\s*(\?|%s)|CAST\s*\(\s*(\?|%s)\s+AS\s+[\w ]+\[\]"
    r"|(\?|%s)\s*::\s*[\w ]+(\(\d+\))?\[\]",
    re.IGNORECASE,
)


def test_no_statement_sends_an_array_as_text() -> None:
    found = [
        f"{path.relative_to(ADAPTERS)}:{number}: {line.strip()}"
        for path in sorted(ADAPTERS.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TEXT_ARRAY.search(line)
    ]
    assert found == []


def test_the_search_finds_each_way_of_writing_a_text_array() -> None:
    for written in (
        "x = ANY(?::text[])",
        "x = any (? )",
        "x <> ALL(%s)",
        "FROM unnest(?, ?)",
        "CAST(? AS bigint[])",
        "? ::varchar(20)[]",
    ):
        assert TEXT_ARRAY.search(written), written
    for written in ("x = ANY(%b::text[])", "unnest(%b::int8[], %b::bytea[])", "x = ?"):
        assert not TEXT_ARRAY.search(written), written


def test_among_on_postgres_is_one_binary_array() -> None:
    [(condition, values)] = among("postgres", "seq", [3, 1, 2], "int8")
    assert condition == "seq = ANY(%b::int8[])"
    assert values == [[3, 1, 2]]


def test_among_on_sqlite_is_marks_in_groups() -> None:
    pieces = among("sqlite", "seq", list(range(501)), "int8")
    assert [len(values) for _, values in pieces] == [500, 1]
    assert pieces[1][0] == "seq IN (?)"
