"""Rows to and from text: CSV, TSV, JSON (an array of objects) and JSON lines.

Reading (``djflow insert``): the format comes from ``--format``, else the file's suffix,
else the first character (``[`` JSON, ``{`` JSON lines or a single JSON object,
anything else CSV). CSV cells are
text; the table's types convert them on insert (``"3"`` for an int, ``"2024-01-31"`` for
a date). An empty CSV cell of an attribute that has a default (``= null`` included)
leaves the attribute out, so the default applies; for other attributes it stays the empty
string. CSV cells of ``json`` and ``blob`` attributes are parsed as JSON.

Writing (``show``, ``status``, ``jobs``, ``run``): a readable table, CSV, JSON or JSON lines.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import DataError

if TYPE_CHECKING:
    from .heading import Attribute
    from .table import Table

INPUT_FORMATS = ("csv", "tsv", "json", "jsonl")
OUTPUT_FORMATS = ("table", "csv", "json", "jsonl")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


# ---------------------------------------------------------------- reading


def read_rows(stream: TextIO, name: str, format: str | None = None) -> tuple[list[dict], str]:
    """The rows of ``stream`` (called ``name`` in messages) as dicts, and the format read."""
    try:
        text = stream.read()
    except UnicodeDecodeError as error:
        raise DataError(
            f"{name} is not UTF-8 text (it holds the byte 0x{error.object[error.start]:02x}, which UTF-8 "
            "does not allow there); save it as UTF-8 and try again"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    format = format or SUFFIX_FORMATS.get(Path(name).suffix.lower()) or sniff_format(text)
    if format in ("csv", "tsv"):
        return _csv_rows(text, name, "\t" if format == "tsv" else ","), format
    if format == "json":
        return _json_rows(text, name), format
    if format == "jsonl":
        return _json_line_rows(text, name), format
    raise DataError(f"unknown input format {format!r}; use one of {', '.join(INPUT_FORMATS)}")


def sniff_format(text: str) -> str:
    """``[`` JSON; ``{`` one JSON object (JSON) or one per line (JSON lines); else CSV."""
    start = text.lstrip()[:1]
    if start == "[":
        return "json"
    if start == "{":
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return "jsonl"
        return "json"
    return "csv"


def _csv_rows(text: str, name: str, delimiter: str) -> list[dict]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        return []
    header = [column.strip() for column in header]
    if "" in header or len(set(header)) != len(header):
        raise DataError(f"{name}: the header line needs one distinct name per column, got {header}")
    rows = []
    for values in reader:
        if not values:
            continue  # blank line
        line = reader.line_num
        if len(values) > len(header):
            raise DataError(f"{name} line {line} has {len(values)} values but the header names {len(header)} columns")
        rows.append({column: value for column, value in zip(header, values)})
    return rows


def _json_rows(text: str, name: str) -> list[dict]:
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{name} is not valid JSON: {error}") from None
    if isinstance(decoded, dict):
        decoded = [decoded]
    if not isinstance(decoded, list) or not all(isinstance(row, dict) for row in decoded):
        raise DataError(f"{name}: JSON input must be an array of objects, one object per row")
    return decoded


def _json_line_rows(text: str, name: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{name} line {number} is not a JSON object: {error}") from None
        if not isinstance(row, dict):
            raise DataError(f"{name} line {number} is not a JSON object; JSON lines hold one object per line")
        rows.append(row)
    return rows


def rows_for_table(rows: list[dict], table: Table, from_text: bool) -> list[dict]:
    """Prepare rows read from a file for ``table.insert``.

    ``from_text`` (CSV/TSV): empty cells of attributes with a default are left out, and
    cells of ``json``/``blob`` attributes are parsed as JSON. Other values go to the
    table's types as they are, which convert and check them.
    """
    if not from_text:
        return rows
    attributes = table.heading.attributes
    prepared = []
    for number, row in enumerate(rows, start=1):
        values = {}
        for column, value in row.items():
            attribute = attributes.get(column)
            if attribute is None:
                values[column] = value  # the table refuses it and names its attributes
                continue
            if value == "" and not attribute.required:
                continue
            try:
                values[column] = value_from_text(attribute, value)
            except json.JSONDecodeError as error:
                raise DataError(f"{table._name}.{column} in row {number} is not JSON: {error}") from None
        prepared.append(values)
    return prepared


def value_from_text(attribute: Attribute, text: str) -> Any:
    """A value given as text (a CSV cell, ``--set ATTR=VALUE``) as ``attribute``'s type takes it.

    Text for ``json`` and ``blob`` attributes is JSON and is parsed (a bad one raises
    :class:`json.JSONDecodeError`); other text goes to the table's types as it is, which
    convert and check it on insert.
    """
    from .types import BlobType, JsonType

    if isinstance(attribute.type, (JsonType, BlobType)):
        return json.loads(text)
    return text


# ---------------------------------------------------------------- writing


def jsonable(value: Any) -> Any:
    """A value JSON can hold: dates as ISO text, decimals and UUIDs as text, arrays as lists."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, Path)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def text_of(value: Any) -> str:
    """One value as a table or CSV cell."""
    if value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (dict, list)) or hasattr(value, "tolist"):
        return json.dumps(value, default=jsonable)
    converted = jsonable(value)
    return converted if isinstance(converted, str) else json.dumps(converted)


def readable(value: Any) -> str:
    """One value as a cell of a table for people: floats to 6 significant digits (CSV and JSON keep them whole)."""
    if type(value) is float:
        return f"{value:.6g}"
    return text_of(value)


def format_rows(rows: Iterable[dict], columns: list[str], output: str) -> str:
    """``rows`` as text in ``output`` format (one of OUTPUT_FORMATS), ending with a newline."""
    rows = list(rows)
    if output == "json":
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, default=jsonable) + "\n"
    if output == "jsonl":
        return "".join(json.dumps({c: row.get(c) for c in columns}, default=jsonable) + "\n" for row in rows)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([text_of(row.get(c)) for c in columns] for row in rows)
        return buffer.getvalue()
    if output == "table":
        from tabulate import tabulate

        cells = [[readable(row.get(c)) for c in columns] for row in rows]
        return tabulate(cells, headers=columns, tablefmt="simple", disable_numparse=True) + "\n"
    raise DataError(f"unknown output format {output!r}; use one of {', '.join(OUTPUT_FORMATS)}")
