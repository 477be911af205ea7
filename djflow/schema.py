"""SQLite DDL for declared tables, djflow's own tables, activation and drift detection."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from .db import Database
from .errors import SchemaDriftError
from .heading import Heading

INTERNAL_PREFIX = "_djflow_"


def quote(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def column_list(names: list[str]) -> str:
    return ", ".join(quote(n) for n in names)


# ---------------------------------------------------------------- djflow's own tables


def _create_tables_registry(db: Database) -> None:
    db.execute(
        """CREATE TABLE _djflow_tables (
            name TEXT PRIMARY KEY,
            tier TEXT NOT NULL,
            master TEXT,
            definition TEXT NOT NULL,
            heading TEXT NOT NULL,
            created TEXT NOT NULL DEFAULT (datetime('now'))
        )"""
    )


def _create_jobs(db: Database) -> None:
    db.execute(
        """CREATE TABLE _djflow_jobs (
            table_name TEXT NOT NULL,
            key_json TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('reserved', 'error', 'ignore')),
            host TEXT,
            pid INTEGER,
            pid_started TEXT,
            heartbeat REAL,
            started REAL,
            error_message TEXT,
            error_traceback TEXT,
            PRIMARY KEY (table_name, key_json)
        )"""
    )
    db.execute("CREATE INDEX _djflow_jobs_by_worker ON _djflow_jobs (host, pid)")


MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("0001_tables_registry", _create_tables_registry),
    ("0002_jobs", _create_jobs),
]


def pending_migrations(db: Database) -> list[str]:
    """Names of djflow's own migrations not yet applied to this database."""
    if not table_exists(db, "_djflow_migrations"):
        return [name for name, _ in MIGRATIONS]
    applied = {row[0] for row in db.query("SELECT name FROM _djflow_migrations")}
    return [name for name, _ in MIGRATIONS if name not in applied]


def apply_migrations(db: Database) -> None:
    """Create or upgrade djflow's own ``_djflow_*`` tables by named, ordered migrations."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _djflow_migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    todo = set(pending_migrations(db))
    for name, migrate in MIGRATIONS:
        if name in todo:
            migrate(db)
            db.execute("INSERT INTO _djflow_migrations (name) VALUES (?)", (name,))


# ---------------------------------------------------------------- declared tables


def table_names(db: Database) -> set[str]:
    """Every table in the database."""
    return {row[0] for row in db.query("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def table_exists(db: Database, name: str) -> bool:
    """True when the database has a table ``name``."""
    return db.scalar("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)) is not None


def create_table_sql(name: str, heading: Heading) -> list[str]:
    """CREATE TABLE (and CREATE INDEX) statements for a declared table."""
    columns = []
    for attribute in heading.attributes.values():
        not_null = "" if attribute.nullable else " NOT NULL"
        columns.append(f"{quote(attribute.name)} {attribute.type.sql_type}{not_null}")
    constraints = [f"PRIMARY KEY ({column_list(heading.primary_key)})"]
    for fk in heading.foreign_keys:
        constraints.append(
            f"FOREIGN KEY ({column_list(list(fk.attributes))}) "
            f"REFERENCES {quote(fk.parent)} ({column_list(list(fk.attributes.values()))})"
        )
    statements = [f"CREATE TABLE {quote(name)} (\n  " + ",\n  ".join(columns + constraints) + "\n)"]
    for index_name, columns_, unique in index_specs(name, heading):
        statements.append(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote(index_name)} ON {quote(name)} ({column_list(columns_)})"
        )
    return statements


def index_specs(name: str, heading: Heading) -> list[tuple[str, list[str], bool]]:
    """``(index name, columns, unique)`` of every index djflow creates for a table."""
    primary_key = heading.primary_key
    index_columns = [(list(fk.attributes), False) for fk in heading.foreign_keys]
    index_columns += heading.indexes
    specs, seen = [], set()
    for columns_, unique in index_columns:
        # a foreign key that is a prefix of the primary key is served by the primary key's index
        if not unique and columns_ == primary_key[: len(columns_)]:
            continue
        if (tuple(columns_), unique) in seen:
            continue
        seen.add((tuple(columns_), unique))
        specs.append((f"{name}__{'unique' if unique else 'index'}__{'_'.join(columns_)}", list(columns_), unique))
    return specs


def heading_record(heading: Heading) -> str:
    """The JSON recorded in ``_djflow_tables`` to compare against the pipefile later."""
    return json.dumps(
        {
            "attributes": [
                {"name": a.name, "type": a.declared, "in_key": a.in_key, "nullable": a.nullable}
                for a in heading.attributes.values()
            ],
            "foreign_keys": [{"parent": fk.parent, "attributes": fk.attributes} for fk in heading.foreign_keys],
        }
    )


@dataclass
class TableRecord:
    name: str
    tier: str
    master: str | None


def stored_tables(db: Database) -> dict[str, TableRecord]:
    """The declared tables djflow recorded in this database (also those no longer in the pipefile)."""
    if not table_exists(db, "_djflow_tables"):
        return {}
    return {row[0]: TableRecord(*row) for row in db.query("SELECT name, tier, master FROM _djflow_tables")}


def record_table(db: Database, name: str, tier: str, master: str | None, definition: str, heading: Heading) -> None:
    db.execute(
        "INSERT OR REPLACE INTO _djflow_tables (name, tier, master, definition, heading) VALUES (?, ?, ?, ?, ?)",
        (name, tier, master, definition, heading_record(heading)),
    )


def drift(db: Database, name: str, heading: Heading) -> list[str]:
    """How table ``name`` in the database differs from ``heading`` (empty when it matches)."""
    differences = []
    columns = {row[1]: row for row in db.query(f"PRAGMA table_info({quote(name)})")}
    stored = db.scalar("SELECT heading FROM _djflow_tables WHERE name = ?", (name,))
    stored_types = {}
    if stored:
        stored_types = {a["name"]: a["type"] for a in json.loads(stored)["attributes"]}
    for attribute in heading.attributes.values():
        column = columns.get(attribute.name)
        if column is None:
            differences.append(f"attribute {attribute.name} is in the pipefile but not in the database")
            continue
        _, _, sql_type, notnull, _, pk = column
        if bool(pk) != attribute.in_key:
            where = "in" if attribute.in_key else "not in"
            differences.append(f"attribute {attribute.name} is {where} the primary key in the pipefile but not in the database")
        declared = stored_types.get(attribute.name)
        if declared is not None and declared.replace(" ", "").lower() != attribute.declared.replace(" ", "").lower():
            differences.append(f"attribute {attribute.name} is {attribute.declared} in the pipefile but {declared} in the database")
        elif sql_type.upper() != attribute.type.sql_type:
            differences.append(f"attribute {attribute.name} is stored as {sql_type} but {attribute.declared} needs {attribute.type.sql_type}")
        if bool(notnull) == attribute.nullable:
            differences.append(
                f"attribute {attribute.name} is {'nullable' if attribute.nullable else 'not nullable'} in the pipefile "
                f"but {'not nullable' if notnull else 'nullable'} in the database"
            )
    for column in columns:
        if column not in heading.attributes:
            differences.append(f"attribute {column} is in the database but not in the pipefile")
    declared_fks = {(fk.parent, tuple(sorted(fk.attributes.items()))) for fk in heading.foreign_keys}
    stored_fks = set(foreign_keys_in_database(db, name))
    for parent, pairs in sorted(declared_fks - stored_fks):
        differences.append(f"the reference to {parent} ({', '.join(c for c, _ in pairs)}) is in the pipefile but not in the database")
    for parent, pairs in sorted(stored_fks - declared_fks):
        differences.append(f"the reference to {parent} ({', '.join(c for c, _ in pairs)}) is in the database but not in the pipefile")
    # indexes djflow made (by their names); an index someone added with another tool is theirs
    declared_indexes = {spec[0]: spec for spec in index_specs(name, heading)}
    existing_indexes = {row[1] for row in db.query(f"PRAGMA index_list({quote(name)})") if row[3] == "c"}
    for index_name, columns_, unique in declared_indexes.values():
        if index_name not in existing_indexes:
            kind = "unique index" if unique else "index"
            differences.append(f"{kind}({', '.join(columns_)}) is in the pipefile but not in the database")
    for index_name in sorted(existing_indexes - set(declared_indexes)):
        if index_name.startswith((f"{name}__index__", f"{name}__unique__")):
            differences.append(f"the index {index_name} is in the database but not in the pipefile")
    return differences


def foreign_keys_in_database(db: Database, name: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """``(parent, ((child_column, parent_column), ...))`` for each foreign key SQLite has for ``name``."""
    grouped: dict[int, tuple[str, list]] = {}
    for row in db.query(f"PRAGMA foreign_key_list({quote(name)})"):
        fk_id, _, parent, child_column, parent_column = row[:5]
        grouped.setdefault(fk_id, (parent, []))[1].append((child_column, parent_column))
    return [(parent, tuple(sorted(pairs))) for parent, pairs in grouped.values()]


def raise_drift(drifted: dict[str, list[str]]) -> None:
    """Raise one SchemaDriftError describing every table that differs."""
    described = "; ".join(
        f"table {name} in the database no longer matches the pipefile: {'; '.join(differences)}"
        for name, differences in drifted.items()
    )
    raise SchemaDriftError(
        f"{described}. Change the definition back, or delete the table's rows and drop it "
        "(see docs/concepts.md, Schema drift)"
    )
