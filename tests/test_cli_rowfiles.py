"""Reading rows for ``djflow insert`` and printing rows for show/status/jobs (djflow.rowfiles)."""

from __future__ import annotations

import datetime
import decimal
import io
import json

import pytest

from djflow.errors import DataError
from djflow.rowfiles import format_rows, read_rows, value_from_text


def read(text: str, name: str = "stdin", format: str | None = None):
    return read_rows(io.StringIO(text), name, format)


@pytest.mark.parametrize(
    ("text", "name", "expected_format"),
    [
        ("a,b\n1,x\n", "rows.csv", "csv"),
        ("a\tb\n1\tx\n", "rows.tsv", "tsv"),
        ("a,b\n1,x\n", "stdin", "csv"),
        ('[{"a": "1", "b": "x"}]', "stdin", "json"),
        ('{"a": "1", "b": "x"}\n', "stdin", "json"),  # one object
        ('{\n  "a": "1",\n  "b": "x"\n}\n', "stdin", "json"),  # one object, pretty-printed
        ('{"a": "1", "b": "x"}\n\n', "rows.jsonl", "jsonl"),
        ("\ufeffa,b\n1,x\n", "excel.csv", "csv"),  # a byte order mark is not part of the header
    ],
)
def test_formats(text, name, expected_format):
    rows, used = read(text, name)
    assert used == expected_format
    assert rows == [{"a": "1", "b": "x"}]


def test_json_lines_are_sniffed():
    rows, used = read('{"a": 1}\n{"a": 2}\n')
    assert used == "jsonl" and rows == [{"a": 1}, {"a": 2}]


def test_format_option_wins_over_the_suffix():
    rows, used = read("a;b", "rows.json", format="csv")
    assert used == "csv" and rows == []


def test_empty_input():
    assert read("") == ([], "csv")


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("a,b\n1,2,3\n", "rows.csv", "rows.csv line 2 has 3 values but the header names 2 columns"),
        ("a,a\n1,2\n", "rows.csv", "one distinct name per column"),
        ('{"a": 1}\n{"a": \n', "rows.jsonl", "rows.jsonl line 2 is not a JSON object"),
        ("[1, 2]", "rows.json", "array of objects"),
        ("[{", "rows.json", "not valid JSON"),
    ],
)
def test_bad_input_is_one_clear_error(text, name, message):
    with pytest.raises(DataError) as refused:
        read(text, name)
    assert message in str(refused.value)


def test_format_rows():
    rows = [{"d": datetime.date(2024, 1, 2), "x": decimal.Decimal("1.50"), "j": {"k": [1]}, "n": None}]
    columns = ["d", "x", "j", "n"]
    assert json.loads(format_rows(rows, columns, "json")) == [{"d": "2024-01-02", "x": "1.50", "j": {"k": [1]}, "n": None}]
    assert format_rows(rows, columns, "csv") == 'd,x,j,n\n2024-01-02,1.50,"{""k"": [1]}",\n'
    assert format_rows(rows, columns, "jsonl").count("\n") == 1
    table = format_rows(rows, columns, "table").splitlines()
    assert table[0].split() == columns and table[2].split() == ["2024-01-02", "1.50", '{"k":', "[1]}"]


def test_value_from_text_parses_json_for_json_and_blob_attributes(tmp_path):
    """The one rule for text values (CSV cells of `insert`, `update --set`): JSON for json and blob."""
    import djflow

    @djflow.manual
    def Holder():
        """
        id : int
        ---
        meta : json
        data : longblob
        note : varchar(32)
        """

    with djflow.from_tables(Holder, db=tmp_path / "x.db", project_dir=tmp_path) as pipeline:
        attributes = pipeline.Holder.heading.attributes
        assert value_from_text(attributes["meta"], '{"tag": [1, 2]}') == {"tag": [1, 2]}
        assert value_from_text(attributes["data"], "[1.5, null]") == [1.5, None]
        assert value_from_text(attributes["id"], "3") == "3"  # the int type converts it on insert
        assert value_from_text(attributes["note"], '{"not": "parsed"}') == '{"not": "parsed"}'
        with pytest.raises(json.JSONDecodeError):
            value_from_text(attributes["meta"], "{bad")


def test_tables_for_people_round_floats_while_csv_and_json_keep_them_whole():
    rows = [{"x": 14.912181939710573, "n": 3}]
    assert "14.9122" in format_rows(rows, ["x", "n"], "table")
    assert "14.912181939710573" not in format_rows(rows, ["x", "n"], "table")
    assert "14.912181939710573" in format_rows(rows, ["x", "n"], "csv")
    assert "14.912181939710573" in format_rows(rows, ["x", "n"], "json")
