"""Reading bulk directory files (every bad line a numbered refusal, never an exception), cutting
them into blocks, parsing lines."""

import pickle
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.domain.errors import Refusal
from crossroads.domain.identifiers import BELGIUM
from crossroads.domain.periods import Period
from crossroads.domain.subjects import SubjectHasher
from crossroads.services.directory_lines import ChangeParser, read_import, split_import


def test_csv_rows_become_dicts_without_empty_cells():
    rows = list(read_import("subject,capacity,end\r\n85073003328,child,\n", "csv"))
    assert rows == [{"subject": "85073003328", "capacity": "child"}]


def test_a_bare_carriage_return_ends_a_row_instead_of_breaking_the_reader():
    rows = list(read_import("subject,capacity\n8507\r3003328,child\n", "csv"))
    assert rows == [{"subject": "8507"}, {"subject": "3003328", "capacity": "child"}]


def test_a_row_longer_than_the_header_is_a_refusal_and_the_next_row_still_reads():
    rows = list(read_import('subject,capacity\n1,2,3\n"4",child\n', "csv"))
    assert isinstance(rows[0], Refusal) and rows[0].code == "malformed_request"
    assert rows[1] == {"subject": "4", "capacity": "child"}


def test_unparseable_csv_line_is_a_refusal_and_the_reader_goes_on():
    import csv

    previous = csv.field_size_limit(
        8
    )  # a field over the limit is one way the csv reader fails a line
    try:
        rows = list(read_import("subject\n" + "9" * 20 + "\n1234\n", "csv"))
    finally:
        csv.field_size_limit(previous)
    assert isinstance(rows[0], Refusal) and "not valid CSV" in rows[0].message
    assert rows[1] == {"subject": "1234"}


def test_a_byte_order_mark_before_the_header_is_not_a_column():
    """Spreadsheets save "CSV UTF-8" with a byte order mark first."""
    data = "\ufeffsubject,capacity\n85073003328,child\n".encode()
    assert list(read_import(data, "csv")) == [{"subject": "85073003328", "capacity": "child"}]
    blocks = split_import(data, "csv", 1)
    assert blocks is not None and blocks[0].startswith("subject,")


@pytest.mark.parametrize("header", ["subject,colour\n", "capacity\n", ""])
def test_a_bad_header_refuses_the_whole_file(header):
    with pytest.raises(Refusal) as caught:
        list(read_import(header + "x\n", "csv"))
    assert caught.value.code == "malformed_request"


def test_json_lines_report_bad_and_empty_lines():
    rows = list(read_import('{"subject": "1"}\n\nnot json\n', "jsonl"))
    assert rows[0] == {"subject": "1"}
    assert [r.code for r in rows[1:]] == ["malformed_request", "malformed_request"]


def test_a_json_line_naming_a_key_twice_is_refused_naming_it():
    rows = list(read_import('{"subject": "1", "subject": "2"}\n{"subject": "3"}\n', "jsonl"))
    assert (rows[0].code, rows[0].field) == ("malformed_request", "subject")
    assert rows[1] == {"subject": "3"}


def test_an_unknown_format_is_refused():
    with pytest.raises(Refusal) as caught:
        list(read_import("", "xml"))
    assert caught.value.code == "unsupported_media_type"


# Cutting a file into blocks for parsing processes: reading the blocks one after the other must
# give exactly what reading the whole file gives, or the file must not be cut.

_CELLS = st.sampled_from(
    ["85073003328", "child", "2020-01-01", "", "x y", "ä", "1,2", '"q"', "\r", "\n", "\r\n"]
)


@given(
    rows=st.lists(st.lists(_CELLS, min_size=0, max_size=4), max_size=12),
    size=st.integers(1, 5),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
def test_csv_blocks_read_as_the_whole_file(rows, size, crlf, final_newline):
    end = "\r\n" if crlf else "\n"
    text = (
        "subject,capacity,end"
        + end
        + end.join(",".join(cells) for cells in rows)
        + (end if final_newline else "")
    )
    _same_items(text, "csv", size)


@given(
    lines=st.lists(
        st.sampled_from(['{"subject": "1"}', "", "not json", "{}", " ", "\r", "\u2028", "\x0b"]),
        max_size=12,
    ),
    size=st.integers(1, 5),
)
def test_jsonl_blocks_read_as_the_whole_file(lines, size):
    _same_items("\n".join(lines), "jsonl", size)


def _same_items(text: str, fmt: str, size: int) -> None:
    def items(source):
        try:
            return [
                item.to_dict() if isinstance(item, Refusal) else item
                for item in read_import(source, fmt)
            ]
        except Refusal as refusal:  # a bad header refuses the file, whole or cut
            return refusal.to_dict()

    blocks = split_import(text.encode(), fmt, size)
    if blocks is None:
        assert fmt == "csv"
        return
    assert all(len(list(read_import(b, fmt))) <= size for b in blocks if isinstance(items(b), list))
    whole = items(text)
    cut = [items(b) for b in blocks]
    if isinstance(whole, dict):
        assert all(part == whole for part in cut)
    else:
        assert [item for part in cut for item in part] == whole


def test_a_csv_file_with_quotes_is_not_cut():
    assert split_import(b'subject\n"85073003328"\n', "csv", 1) is None
    assert (
        split_import(b"subject\n85073003328\n\n85073003328\n", "csv", 1) is None
    )  # an empty row is skipped
    assert (
        split_import(b"subject\n85073003328\n85073003328\n", "csv", 1)
        == ["subject\n85073003328\n"] * 2
    )


RIGHTS = {"0411905847": {"INSURED"}, "0403170701": {"INSURED"}}


# The parser crosses into worker processes by pickling; it must come back the same, and so must
# what it parses and the refusals it makes.


def test_a_parser_and_its_block_survive_pickling():
    hasher = SubjectHasher(b"s" * 32)
    parser = ChangeParser(
        BELGIUM, hasher, None, ["INSURED"], RIGHTS, date(2030, 1, 1), ["0411905847"]
    )
    again = pickle.loads(pickle.dumps(parser))
    lines = [
        {
            "subject": "85073003328",
            "institution": "0411905847",
            "capacity": "INSURED",
            "start": "2020-01-01",
        },
        {
            "subject": "85073003328",
            "institution": "0403170701",
            "capacity": "INSURED",
            "start": "2020-01-01",
        },
        {
            "op": "remove",
            "subject": "85073003328",
            "institution": "0411905847",
            "capacity": "INSURED",
            "end": "2021-01-01",
        },
    ]
    block = pickle.loads(pickle.dumps(again.parse_block(lines)))
    here = parser.parse_block(lines)
    assert (block.lines, block.changes, block.sha256) == (here.lines, here.changes, here.sha256)
    assert [c.period for c in block.changes] == [
        Period(date(2020, 1, 1)),
        Period(date.min, date(2021, 1, 1)),
    ]
    assert block.changes[0].subject_key == hasher.key("85073003328")
    ((number, refusal),) = block.errors
    assert (number, refusal.code, refusal.field) == (2, "not_found", "institution")


def test_unhashable_dates_are_refused_not_crashed():
    parser = ChangeParser(
        BELGIUM, SubjectHasher(b"s" * 32), None, ["INSURED"], RIGHTS, date(2030, 1, 1)
    )
    with pytest.raises(Refusal) as caught:
        parser.parse(
            {
                "subject": "85073003328",
                "institution": "0411905847",
                "capacity": "INSURED",
                "start": ["2020"],
            }
        )
    assert caught.value.code == "invalid_period"


@pytest.mark.parametrize("capacity", [None, ""])
def test_a_line_without_a_capacity_says_it_is_required(capacity):
    parser = ChangeParser(
        BELGIUM, SubjectHasher(b"s" * 32), None, ["INSURED"], RIGHTS, date(2030, 1, 1)
    )
    line = {"subject": "85073003328", "institution": "0411905847", "capacity": capacity}
    with pytest.raises(Refusal) as caught:
        parser.parse({k: v for k, v in line.items() if v is not None})
    assert (caught.value.message, caught.value.field) == ("capacity is required.", "capacity")


@pytest.mark.parametrize(
    ("phase", "start", "refused"),
    [
        ("definitive", "0001-01-01", "start is 1900-01-01 or later."),
        ("definitive", "9999-12-31", "start is at most a year ahead (2031-01-02 at the latest)."),
        ("definitive", "1950-06-01", None),  # a file opened long ago, confirmed
        ("definitive", "2030-12-01", None),
        # Provisional: at most as long before today (2029-12-02 here) as it may run after it.
        ("provisional", "2020-01-01", "a provisional integration starts on 2029-11-02 or later"),
        ("provisional", "2029-11-02", None),
        ("provisional", "2030-01-02", "a provisional integration starts by 2030-01-01"),
    ],
)
def test_an_integration_starts_within_bounds_and_a_provisional_one_opens_no_old_history(
    phase, start, refused
):
    """Found by an outside review: a provisional integration from 2020 (with `sync`) opened six
    years of a person's history to an unconfirmed holder; 0001-01-01 and 9999-12-31 passed."""
    parser = ChangeParser(
        BELGIUM,
        SubjectHasher(b"s" * 32),
        None,
        ["INSURED"],
        RIGHTS,
        date(2030, 1, 1),
        provisional_from=date(2029, 11, 2),
    )
    line = {
        "subject": "85073003328",
        "institution": "0411905847",
        "capacity": "INSURED",
        "phase": phase,
        "start": start,
    }
    if refused is None:
        assert parser.parse(line).period.start == date.fromisoformat(start)
        return
    with pytest.raises(Refusal) as caught:
        parser.parse(line)
    assert (caught.value.code, caught.value.field) == ("invalid_period", "start")
    assert caught.value.message.startswith(refused), caught.value.message
