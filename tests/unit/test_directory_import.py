"""Reading bulk directory files: every bad line becomes a numbered refusal, never an exception."""

import pytest

from crossroads.domain.errors import Refusal
from crossroads.services.directory import read_import


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
    previous = csv.field_size_limit(8)  # a field over the limit is one way the csv reader fails a line
    try:
        rows = list(read_import("subject\n" + "9" * 20 + "\n1234\n", "csv"))
    finally:
        csv.field_size_limit(previous)
    assert isinstance(rows[0], Refusal) and "not valid CSV" in rows[0].message
    assert rows[1] == {"subject": "1234"}


@pytest.mark.parametrize("header", ["subject,colour\n", "capacity\n", ""])
def test_a_bad_header_refuses_the_whole_file(header):
    with pytest.raises(Refusal) as caught:
        list(read_import(header + "x\n", "csv"))
    assert caught.value.code == "malformed_request"


def test_json_lines_report_bad_and_empty_lines():
    rows = list(read_import('{"subject": "1"}\n\nnot json\n', "jsonl"))
    assert rows[0] == {"subject": "1"}
    assert [r.code for r in rows[1:]] == ["malformed_request", "malformed_request"]


def test_an_unknown_format_is_refused():
    with pytest.raises(Refusal) as caught:
        list(read_import("", "xml"))
    assert caught.value.code == "unsupported_media_type"
