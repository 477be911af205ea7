"""Parse table definitions written in DataJoint's definition language.

This module only reads text; it knows nothing of other tables. Resolving ``-> Parent``
lines into attributes happens in :mod:`djflow.heading`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import DefinitionError

NAME = r"[a-z][a-z0-9_]*"
NAME_RE = re.compile(rf"^{NAME}$")
DIVIDER_RE = re.compile(r"^-{3,}$")
REFERENCE_RE = re.compile(
    r"^->\s*(?:\[\s*(?P<options>[a-z, ]*)\]\s*)?"
    r"(?P<parent>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Z][A-Za-z0-9_]*)?)"
    r"(?:\.proj\((?P<renames>[^)]*)\))?\s*$"
)
INDEX_RE = re.compile(r"^(?P<unique>unique\s+)?index\s*\((?P<attrs>[^)]*)\)\s*$", re.IGNORECASE)
# SQLite's names for a row's id; a column named so would hide it (cascading deletes rely on it)
RESERVED_NAMES = {"rowid", "oid"}
RENAME_RE = re.compile(rf"^\s*(?P<new>{NAME})\s*=\s*(?P<quote>['\"])(?P<old>{NAME})(?P=quote)\s*$")


class CurrentTimestamp:
    """The default ``CURRENT_TIMESTAMP``: the time of the insert."""

    def __repr__(self) -> str:
        return "CURRENT_TIMESTAMP"


CURRENT_TIMESTAMP = CurrentTimestamp()
NO_DEFAULT = object()


@dataclass
class AttributeLine:
    """``name [= default] : type  # comment``."""

    name: str
    type_text: str
    in_key: bool
    line_no: int
    default: Any = NO_DEFAULT
    nullable: bool = False
    comment: str = ""


@dataclass
class ReferenceLine:
    """``-> [nullable] Parent[.proj(new='old', ...)]``."""

    parent: str
    in_key: bool
    line_no: int
    nullable: bool = False
    renames: dict[str, str] = field(default_factory=dict)  # new name -> parent's name


@dataclass
class IndexLine:
    """``[unique] index(attr, ...)``."""

    attributes: list[str]
    unique: bool
    line_no: int


@dataclass
class ParsedDefinition:
    """The lines of one definition in order (attributes and references interleaved)."""

    items: list[AttributeLine | ReferenceLine]
    indexes: list[IndexLine]

    @property
    def references(self) -> list[ReferenceLine]:
        return [item for item in self.items if isinstance(item, ReferenceLine)]


def parse_definition(text: str | None, table: str) -> ParsedDefinition:
    """Parse ``text`` (the docstring of table ``table``) into its lines.

    Raises :class:`DefinitionError` naming the table, the line and what is wrong.
    """
    if not text or not text.strip():
        raise DefinitionError(
            f"table {table} has no definition: write its attributes in the function's docstring"
        )
    items: list[AttributeLine | ReferenceLine] = []
    indexes: list[IndexLine] = []
    in_key = True
    seen_divider = False
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # references, indexes and the divider may carry a comment too; attributes keep theirs
        body, _ = _split_comment(line)

        def fail(problem: str, line_no: int = line_no, raw: str = raw) -> DefinitionError:
            return DefinitionError(f"table {table}, definition line {line_no} ({raw.strip()!r}): {problem}")

        if DIVIDER_RE.match(body):
            if seen_divider:
                raise fail("a second '---' divider; a definition has at most one")
            seen_divider = True
            in_key = False
        elif body.startswith("->"):
            items.append(_parse_reference(body, in_key, line_no, fail))
        elif INDEX_RE.match(body):
            match = INDEX_RE.match(body)
            attrs = [a.strip() for a in match["attrs"].split(",") if a.strip()]
            if not attrs:
                raise fail("an index needs at least one attribute")
            indexes.append(IndexLine(attrs, bool(match["unique"]), line_no))
        else:
            items.append(_parse_attribute(line, in_key, line_no, fail))
    if not any(item.in_key for item in items):
        raise DefinitionError(
            f"table {table} has no primary key: put at least one attribute or '-> Parent' above the '---' line"
        )
    return ParsedDefinition(items, indexes)


def _parse_reference(line: str, in_key: bool, line_no: int, fail) -> ReferenceLine:
    match = REFERENCE_RE.match(line)
    if not match:
        raise fail("a reference is written '-> Parent', '-> [nullable] Parent' or '-> Parent.proj(new=\"old\")'")
    options = {o.strip() for o in (match["options"] or "").split(",") if o.strip()}
    unknown = options - {"nullable"}
    if unknown:
        raise fail(f"unknown reference option {sorted(unknown)[0]!r}; the only option is 'nullable'")
    nullable = "nullable" in options
    if nullable and in_key:
        raise fail("a primary-key reference cannot be nullable; move it below the '---' line")
    renames: dict[str, str] = {}
    if match["renames"] is not None:
        for part in filter(str.strip, match["renames"].split(",")):
            rename = RENAME_RE.match(part)
            if not rename:
                raise fail(f"cannot read the rename {part.strip()!r}; write new_name='parent_attribute'")
            if rename["new"] in RESERVED_NAMES:
                raise fail(f"{rename['new']!r} is reserved: SQLite uses it for each row's own id; choose another name")
            renames[rename["new"]] = rename["old"]
    return ReferenceLine(match["parent"], in_key, line_no, nullable, renames)


def _parse_attribute(line: str, in_key: bool, line_no: int, fail) -> AttributeLine:
    body, comment = _split_comment(line)
    name_part, sep, type_part = _split_outside_quotes(body, ":")
    if not sep:
        raise fail("an attribute is written 'name : type' or 'name = default : type'")
    name_part, eq, default_text = _split_outside_quotes(name_part, "=")
    name = name_part.strip()
    if not NAME_RE.match(name):
        raise fail(
            f"{name!r} is not a valid attribute name; use lowercase letters, digits and '_', starting with a letter"
        )
    if name in RESERVED_NAMES:
        raise fail(f"{name!r} is reserved: SQLite uses it for each row's own id; choose another name")
    type_text = type_part.strip()
    if not type_text:
        raise fail(f"attribute {name} has no type")
    attribute = AttributeLine(name, type_text, in_key, line_no, comment=comment)
    if eq:
        attribute.default = _parse_default(default_text.strip(), fail)
        if attribute.default is None:
            attribute.nullable = True
        if in_key:
            raise fail(f"primary-key attribute {name} cannot have a default or be null")
    return attribute


def _parse_default(text: str, fail) -> Any:
    if not text:
        raise fail("'=' is followed by no default value")
    lowered = text.lower()
    if lowered == "null":
        return None
    if lowered in ("current_timestamp", "current_timestamp()"):
        return CURRENT_TIMESTAMP
    if lowered in ("true", "false"):
        return lowered == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise fail(f"cannot read the default {text!r}; quote text defaults, e.g. = 'none'") from None


def _split_comment(line: str) -> tuple[str, str]:
    body, sep, comment = _split_outside_quotes(line, "#")
    return body.strip(), comment.strip() if sep else ""


def _split_outside_quotes(text: str, delimiter: str) -> tuple[str, str, str]:
    """Split at the first ``delimiter`` that is not inside quotes or parentheses."""
    quote = None
    depth = 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == delimiter and depth == 0:
            return text[:i], delimiter, text[i + 1 :]
    return text, "", ""
