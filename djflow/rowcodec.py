"""Per-table row encoders, generated once so inserting a row costs little more than building a tuple.

``encode_row`` in table.py must check every value of every row against its type. Doing
that with a Python loop calling one method per value is most of an insert's cost, so for
each table we generate a function (as dataclasses and attrs generate ``__init__``) that
checks the common case inline: an ``int`` in range, a ``float`` that is not NaN, a ``str``
short enough. Anything else (a missing value, a default, a value that needs converting
or is wrong) goes to ``slow(position, value)``, the full checking path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .heading import Attribute

SlowPath = Callable[[int, Any], Any]


def compile_row_encoder(attributes: list[Attribute], slow: SlowPath) -> Callable[[Any], tuple]:
    """A function taking a sequence of values in heading order and returning what to store.

    Values that pass their type's inline check are stored as given; every other value is
    passed to ``slow(position, value)``.
    """
    names = [f"v{i}" for i in range(len(attributes))]
    lines = ["def encode(values):", f"    {', '.join(names)}{',' if len(names) == 1 else ''} = values"]
    for position, (name, attribute) in enumerate(zip(names, attributes)):
        check = _inline_check(attribute.type, name)
        if check is None:
            lines.append(f"    {name} = slow({position}, {name})")
        else:
            lines.append(f"    if not ({check}):")
            lines.append(f"        {name} = slow({position}, {name})")
    lines.append(f"    return ({', '.join(names)}{',' if len(names) == 1 else ''})")
    namespace: dict[str, Any] = {"slow": slow}
    exec(compile("\n".join(lines), f"<row encoder of {len(attributes)} attributes>", "exec"), namespace)  # noqa: S102
    return namespace["encode"]


def _inline_check(attribute_type: Any, name: str) -> str | None:
    """The type's inline check, if the class that wrote it also wrote the encode in use.

    A plugin's subclass that overrides ``encode`` but inherits ``inline_check`` must not
    have its own encode bypassed.
    """
    if attribute_type is None:
        return None
    mro = type(attribute_type).__mro__
    check_owner = next(cls for cls in mro if "inline_check" in vars(cls))
    encode_owner = next(cls for cls in mro if "encode" in vars(cls))
    return attribute_type.inline_check(name) if check_owner is encode_owner else None

