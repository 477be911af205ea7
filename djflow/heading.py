"""Headings: the attributes, primary key, foreign keys and indexes of a table.

``resolve_heading`` turns a parsed definition into a heading, copying the primary key of
each ``-> Parent`` (renamed where ``.proj`` says so).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

from .definition import (
    CURRENT_TIMESTAMP,
    NO_DEFAULT,
    AttributeLine,
    ParsedDefinition,
    ReferenceLine,
)
from .errors import DefinitionError
from .types import AttributeType, TypeRegistry, parse_type_or_fail


@dataclass
class Attribute:
    """One column: name, type, whether it is in the primary key, default and nullability."""

    name: str
    type: AttributeType | None  # None: a computed expression of a projection
    in_key: bool = False
    nullable: bool = False
    default: Any = NO_DEFAULT
    comment: str = ""

    @property
    def declared(self) -> str:
        return self.type.declared if self.type is not None else "expression"

    @property
    def required(self) -> bool:
        """An insert must give a value: no default and not nullable."""
        return self.default is NO_DEFAULT and not self.nullable


@dataclass
class ForeignKey:
    """A reference to ``parent``: this table's attributes -> the parent's attributes."""

    parent: str
    attributes: dict[str, str]
    in_key: bool
    nullable: bool = False


@dataclass
class Heading:
    """The ordered attributes of a table or query, with its primary key."""

    attributes: dict[str, Attribute]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[tuple[list[str], bool]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.attributes)

    @property
    def primary_key(self) -> list[str]:
        return [a.name for a in self.attributes.values() if a.in_key]

    @property
    def secondary(self) -> list[str]:
        return [a.name for a in self.attributes.values() if not a.in_key]

    def __contains__(self, name: str) -> bool:
        return name in self.attributes


def reference_target(reference: ReferenceLine, table: str, master: str | None) -> str:
    """The table name a ``-> X`` line points to (``master`` and ``Master.Part`` resolved)."""
    if reference.parent == "master":
        if master is None:
            raise DefinitionError(
                f"table {table}, definition line {reference.line_no}: '-> master' is only allowed in a part table"
            )
        return master
    return reference.parent.replace(".", "__")


def resolve_heading(
    table: str,
    parsed: ParsedDefinition,
    parent_headings: dict[str, Heading],
    registry: TypeRegistry,
    master: str | None = None,
) -> Heading:
    """Build the heading of ``table`` from its parsed definition and its parents' headings."""
    attributes: dict[str, Attribute] = {}
    foreign_keys: list[ForeignKey] = []
    for item in parsed.items:
        if isinstance(item, AttributeLine):
            if item.name in attributes:
                raise DefinitionError(
                    f"table {table}, definition line {item.line_no}: attribute {item.name} is declared twice"
                )
            attribute_type = parse_type_or_fail(registry, item.type_text, table, item.name, item.line_no)
            _check_default(table, item, attribute_type)
            attributes[item.name] = Attribute(
                item.name, attribute_type, item.in_key, item.nullable, item.default, item.comment
            )
            continue
        parent = reference_target(item, table, master)
        parent_heading = parent_headings[parent]
        unknown = set(item.renames.values()) - set(parent_heading.primary_key)
        if unknown:
            raise DefinitionError(
                f"table {table}, definition line {item.line_no}: {parent} has no primary-key attribute "
                f"{sorted(unknown)[0]!r}; its primary key is {', '.join(parent_heading.primary_key)}"
            )
        new_name_of = {old: new for new, old in item.renames.items()}
        mapping: dict[str, str] = {}
        for parent_attribute in parent_heading.primary_key:
            name = new_name_of.get(parent_attribute, parent_attribute)
            mapping[name] = parent_attribute
            if name in attributes:
                continue  # shared with an earlier reference, as in DataJoint
            inherited = parent_heading.attributes[parent_attribute]
            attributes[name] = Attribute(
                name, inherited.type, item.in_key, item.nullable, NO_DEFAULT if not item.nullable else None,
                inherited.comment,
            )
        foreign_keys.append(ForeignKey(parent, mapping, item.in_key, item.nullable))
    indexes = []
    for index in parsed.indexes:
        missing = [a for a in index.attributes if a not in attributes]
        if missing:
            raise DefinitionError(
                f"table {table}, definition line {index.line_no}: the index names unknown attribute {missing[0]!r}"
            )
        indexes.append((index.attributes, index.unique))
    return Heading(attributes, foreign_keys, indexes)


def _check_default(table: str, item: AttributeLine, attribute_type: AttributeType) -> None:
    """A default that does not fit its type is a definition error, not a failure of every insert."""
    if item.default is NO_DEFAULT or item.default is None or not attribute_type.comparable:
        return
    # CURRENT_TIMESTAMP becomes the time of the insert, which has a time of day
    value = datetime.datetime(2000, 1, 1, 12, 0) if item.default is CURRENT_TIMESTAMP else item.default
    try:
        attribute_type.encode(value, None)
        if isinstance(value, float) and math.isnan(value):  # an insert would refuse it as a missing value
            raise ValueError("NaN means no value; write '= null' for that")
    except ValueError as error:
        raise DefinitionError(
            f"table {table}, definition line {item.line_no}, attribute {item.name}: "
            f"the default {item.default!r} does not fit {attribute_type.declared}: {error}"
        ) from None
