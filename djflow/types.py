"""Attribute types: how each declared type is stored in SQLite, checked and read back.

The built-in types are registered through the ``register_types`` hook like a plugin's.
``encode`` turns a Python value into what is stored and raises ``ValueError`` with a
short reason when the value does not fit; ``decode`` turns a stored value back.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import operator
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .codec import decode_blob, encode_blob
from .errors import DefinitionError
from .hookspecs import hookimpl

TYPE_RE = re.compile(
    r"^(?P<name>[a-z]+)\s*(?:\((?P<args>.*)\))?\s*(?P<unsigned>unsigned)?\s*(?:@(?P<store>[a-z][a-z0-9_]*))?$",
    re.IGNORECASE,
)


@dataclass
class Storage:
    """Where ``attach`` and ``filepath`` values live: the project folder and its store."""

    project_dir: Path
    store_dir: Path


class AttributeType:
    """One declared type. Subclasses set ``sql_type`` and override encode/decode."""

    sql_type = "TEXT"
    #: True when stored values sort and compare like the Python values (restrictions work)
    comparable = True

    def __init__(self, declared: str):
        self.declared = declared

    def encode(self, value: Any, storage: Storage | None = None) -> Any:
        """Return the value to store; raise ValueError saying why ``value`` does not fit."""
        return value

    def decode(self, stored: Any, storage: Storage | None = None) -> Any:
        """Return the Python value of a stored value (never called with NULL)."""
        return stored

    def inline_check(self, name: str) -> str | None:
        """A Python expression over variable ``name``, true when that value can be stored as it is.

        Used to generate fast row encoders (see rowcodec.py); None means: always call encode.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.declared}>"


INTEGER_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}


class IntegerType(AttributeType):
    sql_type = "INTEGER"

    def __init__(self, declared: str, bits: int, unsigned: bool):
        super().__init__(declared)
        if unsigned:
            self.low, self.high = 0, 2**bits - 1
        else:
            self.low, self.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if self.high > 2**63 - 1:
            self.high = 2**63 - 1  # SQLite integers are signed 64-bit

    def inline_check(self, name):
        return f"type({name}) is int and {self.low} <= {name} <= {self.high}"

    def encode(self, value, storage=None):
        if type(value) is not int:
            value = _as_integer(value)
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside the range of {self.declared} ({self.low} to {self.high})")
        return value


def _as_integer(value: Any) -> int:
    """Accept ints (numpy's too), whole floats and digit strings; refuse anything else."""
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a whole number") from None
    if not as_float.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(as_float)


class FloatType(AttributeType):
    sql_type = "REAL"

    def inline_check(self, name):
        return f"type({name}) is float and {name} == {name}"  # NaN != NaN: missing, checked the slow way

    def encode(self, value, storage=None):
        if type(value) is float:
            return value
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is a bool, not a number")
        try:
            return float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        except OverflowError:  # an int beyond what a float holds
            raise ValueError(f"{value} is too large for {self.declared}") from None


class DecimalType(AttributeType):
    """Read back as ``decimal.Decimal`` with the declared scale.

    Up to 15 digits (what a double holds exactly) the column is NUMERIC, so SQL
    comparisons and ORDER BY treat values as numbers; wider decimals are kept as exact
    text (SQLite has no decimal type), which compares as text.
    """

    EXACT_DIGITS = 15

    def __init__(self, declared: str, precision: int, scale: int):
        super().__init__(declared)
        self.precision, self.scale = precision, scale
        self.quantum = decimal.Decimal(1).scaleb(-scale)
        self.sql_type = "NUMERIC" if precision <= self.EXACT_DIGITS else "TEXT"

    def encode(self, value, storage=None):
        try:
            number = decimal.Decimal(value.strip() if isinstance(value, str) else str(value))
        except decimal.InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        try:  # in a context of the declared precision: a wider number fails here, whatever its size
            number = number.quantize(self.quantum, rounding=decimal.ROUND_HALF_EVEN,
                                     context=decimal.Context(prec=max(1, self.precision)))
        except decimal.InvalidOperation:
            raise ValueError(f"{value} has more than {self.precision} digits ({self.declared})") from None
        digits = len(number.as_tuple().digits)
        if digits > self.precision:
            raise ValueError(f"{value} has more than {self.precision} digits ({self.declared})")
        return str(number)

    def decode(self, stored, storage=None):
        return decimal.Decimal(str(stored)).quantize(self.quantum)


TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}


def _signaling_nan(value: Any) -> bool:
    """Decimal('sNaN') raises when compared with anything, even in ``value in (0, 1)``."""
    return isinstance(value, decimal.Decimal) and value.is_snan()


class BoolType(AttributeType):
    sql_type = "INTEGER"

    def encode(self, value, storage=None):
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return 1
            if word in FALSE_WORDS:
                return 0
        elif not isinstance(value, float) and not _signaling_nan(value) and value in (0, 1):
            return int(value)
        raise ValueError(f"{value!r} is not a bool (use true/false or 1/0)")

    def decode(self, stored, storage=None):
        return bool(stored)


class TextType(AttributeType):
    def __init__(self, declared: str, max_length: int | None):
        super().__init__(declared)
        self.max_length = max_length

    def inline_check(self, name):
        if self.max_length is None:
            return f"type({name}) is str"
        return f"type({name}) is str and len({name}) <= {self.max_length}"

    def encode(self, value, storage=None):
        if not isinstance(value, str):
            raise ValueError(f"{value!r} ({type(value).__name__}) is not text")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"text of {len(value)} characters is longer than {self.declared} allows")
        return str(value)  # numpy.str_ and other str subclasses are stored as plain text


class EnumType(AttributeType):
    def __init__(self, declared: str, members: list[str]):
        super().__init__(declared)
        self.members = members

    def encode(self, value, storage=None):
        if value not in self.members:
            choices = ", ".join(repr(m) for m in self.members)
            raise ValueError(f"{value!r} is not one of {choices}")
        return value


class DateType(AttributeType):
    """Stored as ISO text ``YYYY-MM-DD`` so it sorts and compares as a date."""

    def encode(self, value, storage=None):
        if isinstance(value, datetime.datetime):
            if value.time() != datetime.time(0):
                raise ValueError(f"{value!r} has a time of day; a date attribute holds dates only")
            value = value.date()
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)")

    def decode(self, stored, storage=None):
        return datetime.date.fromisoformat(stored)


class DateTimeType(AttributeType):
    """Stored as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text, as SQLite's own date functions write it."""

    def encode(self, value, storage=None):
        if isinstance(value, str):
            try:
                value = datetime.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date and time (write YYYY-MM-DD HH:MM:SS)") from None
        elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            value = datetime.datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime.datetime):
            raise ValueError(f"{value!r} is not a date and time")
        return value.isoformat(sep=" ")

    def decode(self, stored, storage=None):
        return datetime.datetime.fromisoformat(stored)


class JsonType(AttributeType):
    def encode(self, value, storage=None):
        try:
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"cannot be stored as JSON: {error}") from None

    def decode(self, stored, storage=None):
        return json.loads(stored)


class UuidType(AttributeType):
    def encode(self, value, storage=None):
        if isinstance(value, uuid.UUID):
            return str(value)
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise ValueError(f"{value!r} is not a UUID") from None

    def decode(self, stored, storage=None):
        return uuid.UUID(stored)


class BlobType(AttributeType):
    sql_type = "BLOB"
    comparable = False

    def encode(self, value, storage=None):
        return encode_blob(value)

    def decode(self, stored, storage=None):
        return decode_blob(stored)


class AttachType(AttributeType):
    """A file copied into the store; fetch gives the path of the stored copy."""

    comparable = False

    def encode(self, value, storage=None):
        source = _as_path(value)
        if not source.is_file():
            raise ValueError(f"{str(value)!r} is not a file to attach")
        digest = _file_digest(source)
        target = storage.store_dir / "attach" / digest / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return json.dumps({"name": source.name, "sha256": digest})

    def decode(self, stored, storage=None):
        info = json.loads(stored)
        return storage.store_dir / "attach" / info["sha256"] / info["name"]


class FilepathType(AttributeType):
    """A file inside the project folder, recorded by its relative path and checksum."""

    comparable = False

    def encode(self, value, storage=None):
        path = _as_path(value)
        if not path.is_absolute():
            path = storage.project_dir / path
        if not path.is_file():
            raise ValueError(f"{str(value)!r} is not an existing file")
        try:
            relative = path.resolve().relative_to(storage.project_dir.resolve())
        except ValueError:
            raise ValueError(f"{str(value)!r} is outside the project folder {storage.project_dir}") from None
        return json.dumps({"path": relative.as_posix(), "sha256": _file_digest(path)})

    def decode(self, stored, storage=None):
        return storage.project_dir / json.loads(stored)["path"]


def _as_path(value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a file path")
    return Path(value)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


TypeFactory = Callable[[list[str], bool, str], AttributeType]


def _no_args(cls: type[AttributeType]) -> TypeFactory:
    def factory(args: list[str], unsigned: bool, declared: str) -> AttributeType:
        if args:
            raise ValueError(f"{declared} takes no arguments")
        return cls(declared)

    return factory


def _integer(args, unsigned, declared):
    name = TYPE_RE.match(declared)["name"].lower()
    return IntegerType(declared, INTEGER_BITS[name], unsigned)


def _signed_only(factory: TypeFactory) -> TypeFactory:
    """A factory that refuses ``unsigned``, which only integer types take."""

    def build(args, unsigned, declared):
        if unsigned:
            raise ValueError(f"'unsigned' applies only to integer types, not {TYPE_RE.match(declared)['name']}")
        return factory(args, unsigned, declared)

    return build


def _text(args, unsigned, declared):
    if len(args) != 1 or not args[0].isdigit():
        raise ValueError(f"{declared} needs a length, e.g. varchar(32)")
    return TextType(declared, int(args[0]))


def _decimal(args, unsigned, declared):
    if not 1 <= len(args) <= 2 or not all(a.isdigit() for a in args):
        raise ValueError(f"{declared} needs a precision and scale, e.g. decimal(8,3)")
    precision, scale = int(args[0]), int(args[1]) if len(args) == 2 else 0
    if scale > precision:
        raise ValueError(f"{declared} has a scale larger than its precision")
    return DecimalType(declared, precision, scale)


def _enum(args, unsigned, declared):
    members = []
    for arg in args:
        if len(arg) < 2 or arg[0] != arg[-1] or arg[0] not in "'\"":
            raise ValueError(f"enum members are quoted, e.g. enum('M', 'F'); got {arg}")
        members.append(arg[1:-1])
    if not members:
        raise ValueError("an enum needs at least one member")
    return EnumType(declared, members)


def _floating(args, unsigned, declared):
    return FloatType(declared)


BUILTIN_TYPES: dict[str, TypeFactory] = dict.fromkeys(INTEGER_BITS, _integer) | {
    name: _signed_only(factory) for name, factory in {
    "float": _floating,
    "double": _floating,
    "real": _floating,
    "decimal": _decimal,
    "numeric": _decimal,
    "bool": _no_args(BoolType),
    "boolean": _no_args(BoolType),
    "varchar": _text,
    "char": _text,
    "text": lambda args, unsigned, declared: TextType(declared, None),
    "enum": _enum,
    "date": _no_args(DateType),
    "datetime": _no_args(DateTimeType),
    "timestamp": _no_args(DateTimeType),
    "json": _no_args(JsonType),
    "uuid": _no_args(UuidType),
    "blob": _no_args(BlobType),
    "tinyblob": _no_args(BlobType),
    "mediumblob": _no_args(BlobType),
    "longblob": _no_args(BlobType),
    "attach": _no_args(AttachType),
    "filepath": _no_args(FilepathType),
}.items()}


@hookimpl
def register_types(register):
    """The built-in types."""
    for name, factory in BUILTIN_TYPES.items():
        register(name, factory)


class TypeRegistry:
    """Maps the first word of a declared type to the factory that builds it."""

    def __init__(self) -> None:
        self.factories: dict[str, TypeFactory] = {}

    def register(self, name: str, factory: TypeFactory) -> None:
        """Add a type. Plugins are called before the built-ins, so the first registration wins."""
        self.factories.setdefault(name.lower(), factory)

    def parse(self, declared: str) -> AttributeType:
        """Build the type for ``declared`` (e.g. ``"varchar(16)"``); ValueError if unknown."""
        match = TYPE_RE.match(declared.strip())
        if not match:
            raise ValueError(f"cannot read the type {declared!r}")
        name = match["name"].lower()
        factory = self.factories.get(name)
        if factory is None:
            known = ", ".join(sorted(self.factories))
            raise ValueError(f"unknown type {name!r}; known types: {known}")
        args = _split_type_args(match["args"]) if match["args"] is not None else []
        return factory(args, bool(match["unsigned"]), declared.strip())


def _split_type_args(text: str) -> list[str]:
    args, current, quote = [], "", None
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            args.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        args.append(current.strip())
    return args


def parse_type_or_fail(registry: TypeRegistry, declared: str, table: str, attribute: str, line_no: int) -> AttributeType:
    """Parse a declared type, turning a failure into a DefinitionError naming where it is."""
    try:
        return registry.parse(declared)
    except Exception as error:  # noqa: BLE001 - a plugin's factory may raise anything for a bad type
        reason = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise DefinitionError(f"table {table}, definition line {line_no}, attribute {attribute}: {reason}") from None
