"""Checking a ``--where`` expression before it touches the database.

``--where`` is a restriction, not a statement: exactly one SQL boolean expression over
the attributes of one table. :func:`check_where` refuses anything else with one clear
line, and it does so with SQLite's own parser rather than with patterns:

1. a scan that knows SQL's quoting refuses a ``;`` outside a literal (a second statement),
   a comment (``--`` or ``/* */`` could hide the rest), an unterminated literal and
   parentheses that do not balance (``1) OR (1`` would escape the surrounding ``( )``);
2. SQLite compiles ``SELECT 1 FROM (SELECT NULL AS "a", ...) WHERE (EXPR)``
   under ``EXPLAIN`` (compiled, never run) on a private in-memory connection whose
   authorizer allows selecting and calling functions but refuses reading any table and
   recursive queries. An unknown attribute, a syntax error, or a subquery that reads a
   table (another one, or the database's schema) fails there.

The scratch subquery has exactly the table's attribute names, so the expression is
checked against the heading without opening the live database, and nothing, not even an
authorizer, is ever set on the connection that the command then uses.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Sequence

from .errors import QueryError
from .schema import quote

#: what the scratch compile may do: select and call functions. Reading tables is refused.
ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION}
#: functions that reach outside the database; refused even where SQLite would allow them
REFUSED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
#: the scratch subquery's name: attributes are written bare, never qualified by a table
SCRATCH_ALIAS = "_djflow_where"


class WhereError(QueryError):
    """A ``--where`` expression that is not one boolean expression over the table's attributes."""


class UnknownAttributeError(WhereError):
    """A ``--where`` expression names an attribute the table does not have."""

    def __init__(self, message: str, attribute: str):
        super().__init__(message)
        self.attribute = attribute


def check_where(expression: str, attributes: Sequence[str], table: str) -> str:
    """Return ``expression`` stripped, or raise :class:`WhereError` saying what is wrong.

    ``attributes`` are the names the expression may use; ``table`` names them in messages.
    Attributes are written bare (``session_date``), never qualified by a table name.
    """
    expression = expression.strip()
    if not expression:
        raise WhereError("--where is empty; give a condition such as \"subject_id = 'M001'\"")
    _scan(expression)
    _compile(expression, list(attributes), table)
    return expression


def _scan(expression: str) -> None:
    """Refuse what could end or escape the expression, reading it the way SQLite's tokenizer does."""
    if "\x00" in expression:
        raise WhereError("--where contains a NUL character")
    depth = 0
    index = 0
    length = len(expression)
    while index < length:
        char = expression[index]
        if char in "'\"`":  # string literal or quoted identifier; a doubled quote escapes itself
            end = index + 1
            while True:
                end = expression.find(char, end)
                if end == -1:
                    raise WhereError(f"--where has an unterminated quote {char} starting at character {index + 1}")
                if end + 1 < length and expression[end + 1] == char:
                    end += 2
                    continue
                break
            index = end + 1
            continue
        if char == "[":  # [identifier], as SQLite also accepts
            end = expression.find("]", index + 1)
            if end == -1:
                raise WhereError(f"--where has an unterminated [ starting at character {index + 1}")
            index = end + 1
            continue
        if expression.startswith("--", index) or expression.startswith("/*", index):
            raise WhereError("--where may not contain SQL comments (-- or /*); write the condition alone")
        if char == ";":
            raise WhereError("--where must be one expression, not statements: remove the ';'")
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise WhereError(f"--where has a ')' without its '(' at character {index + 1}")
        index += 1
    if depth:
        raise WhereError(f"--where has {depth} '(' without a matching ')'")


def _compile(expression: str, attributes: list[str], table: str) -> None:
    denied: list[str] = []

    def authorize(action: int, arg1, arg2, database, trigger) -> int:
        if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in REFUSED_FUNCTIONS:
            denied.append(f"it calls {arg2}()")
            return sqlite3.SQLITE_DENY
        if action in ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            denied.append(f"it reads table {arg1!r}")
        elif action == sqlite3.SQLITE_RECURSIVE:
            denied.append("it contains a recursive query")
        else:
            denied.append("it does more than compare values")
        return sqlite3.SQLITE_DENY

    columns = ", ".join(f"NULL AS {quote(name)}" for name in attributes) or "NULL"
    sql = f"EXPLAIN SELECT 1 FROM (SELECT {columns}) AS {SCRATCH_ALIAS} WHERE ({expression})"
    conn = sqlite3.connect(":memory:")
    try:
        conn.set_authorizer(authorize)
        conn.execute(sql).fetchall()
    except sqlite3.Error as error:
        raise _explain(str(error), denied, attributes, table) from None
    finally:
        conn.close()


def _explain(message: str, denied: list[str], attributes: list[str], table: str) -> WhereError:
    shown = ", ".join(attributes)
    if denied:
        return WhereError(f"--where may only use the attributes of {table} ({shown}): {denied[0]}")
    if message.startswith("no such column: "):
        name = message.removeprefix("no such column: ")
        bare = name.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(bare, attributes, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return UnknownAttributeError(f"--where names {name!r}, which is not an attribute of {table}{hint}; "
                                     f"its attributes are {shown}", bare)
    if message.startswith("no such table: "):
        return WhereError(f"--where may only use the attributes of {table} ({shown}): {message}")
    if message.startswith("no such function: "):
        return WhereError(f"--where calls an unknown SQL function: {message.removeprefix('no such function: ')}")
    return WhereError(f"--where is not a valid SQL expression over {table}: {message}")
