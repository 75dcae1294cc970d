"""The read-only URI of a SQLite file opens that file, whatever characters its path holds."""

from __future__ import annotations

import os
import sqlite3

import pytest

from crossroads.adapters.sql.connect import read_only_uri

NAMES = ["hub #1?mode=rwc%20", "pct%41", "é ü 東", "semi;colon&x=1", "a:b"]


@pytest.mark.parametrize("name", NAMES)
def test_the_uri_opens_the_file_named_and_only_to_read(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "store.sqlite3"
    with sqlite3.connect(path) as made:
        made.execute("CREATE TABLE t (v TEXT)")
        made.execute("INSERT INTO t VALUES (?)", (name,))
    read = sqlite3.connect(read_only_uri(str(path)), uri=True)
    try:
        assert read.execute("SELECT v FROM t").fetchall() == [(name,)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            read.execute("INSERT INTO t VALUES ('x')")
    finally:
        read.close()


def test_a_path_that_begins_with_two_slashes_or_is_not_utf8(tmp_path):
    folder = os.fsencode(tmp_path) + b"/not-utf8-\xff"
    os.mkdir(folder)
    path = os.fsdecode(folder + b"/store.sqlite3")
    with sqlite3.connect(path) as made:
        made.execute("CREATE TABLE t (v INTEGER)")
    doubled = "/" + path  # POSIX: the same file; in a URI, an authority
    for each in (path, doubled):
        read = sqlite3.connect(read_only_uri(each), uri=True)
        try:
            assert read.execute("SELECT count(*) FROM t").fetchone() == (0,)
        finally:
            read.close()
