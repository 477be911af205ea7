"""The Pipeline: the pipefile's tables bound to one SQLite database."""

from __future__ import annotations

import difflib
import inspect
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from . import schema
from .db import Database, warn_if_network_filesystem
from .declare import TableDef
from .definition import ParsedDefinition, parse_definition
from .errors import DataError, DefinitionError, DjflowError, UnknownTableError
from .graph import ancestors, dependency_graph, dependency_order
from .heading import Heading, reference_target, resolve_heading
from .pipefile import find_pipefile, load_module
from .plugins import make_plugin_manager, register_plugin
from .table import Table
from .types import Storage, TypeRegistry

STATE_DIR = ".djflow"
DEFAULT_DB = "pipeline.db"


@dataclass
class ActivationPlan:
    """What activating a pipeline has to write (nothing, most of the time)."""

    migrations: bool
    new_tables: list[Table]
    lookup_rows: dict[str, list]

    @property
    def needed(self) -> bool:
        return self.migrations or bool(self.new_tables) or bool(self.lookup_rows)


class Pipeline:
    """Tables in dependency order, their graph, the database and the plugin hooks."""

    def __init__(self, table_defs: list[TableDef], db_path: str | Path, project_dir: Path, plugin_manager=None,
                 pipefile: Path | None = None, readonly: bool = False):
        self.pipefile = pipefile
        self.project_dir = project_dir
        self.plugin_manager = plugin_manager or make_plugin_manager()
        self.hook = self.plugin_manager.hook
        self.db_path = Path(db_path) if str(db_path) != ":memory:" else None
        self.storage = Storage(project_dir, (self.db_path.parent if self.db_path else project_dir / STATE_DIR) / "store")
        self.types = TypeRegistry()
        self.hook.register_types(register=self.types.register)
        self.executors: dict[str, Callable] = {}
        self.hook.register_executors(register=self.executors.setdefault)  # first (a plugin's) wins
        self._tables: dict[str, Table] = {}
        self.graph = self._build(table_defs)
        self.activated_in_memory = False
        self.db = self._open(db_path, readonly)

    # ------------------------------------------------------------ building

    def _build(self, table_defs: list[TableDef]) -> nx.DiGraph:
        every: dict[str, TableDef] = {}
        for table_def in table_defs:
            for declared in [table_def, *table_def.parts.values()]:
                if declared.name in every and every[declared.name] is not declared:
                    raise DefinitionError(f"two tables are named {declared.name}; table names must be unique")
                every[declared.name] = declared
        parsed: dict[str, ParsedDefinition] = {}
        nodes, edges = {}, []
        for name, table_def in every.items():
            parsed[name] = parse_definition(table_def.definition, name)
            nodes[name] = {"tier": table_def.tier, **({"master": table_def.master.name} if table_def.master else {})}
            master = table_def.master.name if table_def.master else None
            if master and not any(r.parent == "master" for r in parsed[name].references):
                raise DefinitionError(f"part table {name} must reference its master: add '-> master' to its definition")
            for reference in parsed[name].references:
                parent = reference_target(reference, name, master)
                if parent not in every:
                    raise DefinitionError(
                        f"table {name}, definition line {reference.line_no}: no table named {reference.parent!r}"
                        f"{_suggest(reference.parent, every)}"
                    )
                kind = "master" if reference.parent == "master" else ("primary" if reference.in_key else "secondary")
                edges.append((parent, name, {"kind": kind, "renamed": bool(reference.renames)}))
            if table_def.make is not None and not any(r.in_key for r in parsed[name].references):
                raise DefinitionError(
                    f"{name} is {table_def.tier} but has no '-> Parent' above its '---' line; an auto-populated "
                    "table computes one row per key of its primary parents, so it needs at least one"
                )
        graph = dependency_graph(nodes, edges)
        headings: dict[str, Heading] = {}
        for name in dependency_order(graph):
            table_def = every[name]
            master = table_def.master.name if table_def.master else None
            headings[name] = resolve_heading(name, parsed[name], headings, self.types, master)
        for name in dependency_order(graph):
            self._tables[name] = Table(self, every[name], headings[name])
        for table in self._tables.values():
            for part_name, part in table.definition.parts.items():
                table.parts[part_name] = self._tables[part.name]
        self.injections = {name: self._injections(graph, table) for name, table in self._tables.items()
                           if table.definition.make is not None}
        return graph

    def _injections(self, graph: nx.DiGraph, table: Table) -> dict[str, str]:
        """Map each make parameter to the upstream table it names (``key`` maps to itself)."""
        # a master's make may also read what its own parts reference (it builds those parts)
        own = {table.table_name} | {part.name for part in table.definition.parts.values()}
        upstream = set().union(*(ancestors(graph, name) for name in own)) - own
        by_name = {}
        for name in sorted(upstream):
            by_name[name] = name
            # parts of an upstream master are readable too: they only go when their master goes
            for short, part in self._tables[name].definition.parts.items():
                by_name[part.name] = part.name
                by_name.setdefault(short, part.name)
        injections = {}
        for parameter in inspect.signature(table.definition.make).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise DefinitionError(
                    f"make of {table.table_name} takes *{parameter.name}; name each input as a parameter instead"
                )
            if parameter.default is not parameter.empty:
                continue  # configuration with a default, as in pytest
            if parameter.name == "key":
                injections["key"] = "key"
            elif parameter.name in by_name:
                injections[parameter.name] = by_name[parameter.name]
            else:
                choices = ", ".join(["key", *sorted(by_name)])
                raise DefinitionError(
                    f"make of {table.table_name} asks for {parameter.name!r}, which is not an upstream table"
                    f"{_suggest(parameter.name, by_name)}; it can ask for: {choices}"
                )
        return injections

    def _open(self, db_path: str | Path, readonly: bool) -> Database:
        if str(db_path) == ":memory:":
            return Database(":memory:")
        path = Path(db_path)
        if readonly:
            if path.exists():
                return Database(path, readonly=True)
            self.activated_in_memory = True
            return Database(":memory:")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DjflowError(f"cannot create the folder {path.parent} for the database: {error.strerror}") from None
        warn_if_network_filesystem(path)
        return Database(path)

    # ------------------------------------------------------------ activation

    def activate(self) -> None:
        """Create missing tables, check existing ones for drift, insert lookup contents."""
        db = self.db
        try:
            present = schema.table_names(db)
            drifted = {
                table.table_name: differences
                for table in self._tables.values()
                if table.table_name in present
                and (differences := schema.drift(db, table.table_name, table.heading))
            }
            if drifted:
                schema.raise_drift(drifted)
            plan = self._activation_plan(present)
            if plan.needed:
                if db.readonly:
                    self._activate_in_memory(plan)
                else:
                    with db.transaction():
                        self._activate_now(plan)
            if self.activated_in_memory:
                self.db.readonly = True  # a dry run's copy: nothing written to it could be kept
        except sqlite3.Error as error:
            raise DjflowError(f"cannot activate the pipeline in {db.path}: {error}") from None
        self.hook.activated(pipeline=self)

    def _activation_plan(self, present: set[str]) -> ActivationPlan:
        """What activation must write: djflow's migrations, missing tables, missing lookup rows."""
        new_tables = [t for t in self._tables.values() if t.table_name not in present]
        lookup_rows = {}
        for table in self._tables.values():
            if table.tier == "lookup":
                missing = self._missing_lookup_rows(table, exists=table.table_name in present)
                if missing:
                    lookup_rows[table.table_name] = missing
        return ActivationPlan(bool(schema.pending_migrations(self.db)), new_tables, lookup_rows)

    def _activate_now(self, plan: ActivationPlan) -> None:
        db = self.db
        schema.apply_migrations(db)
        for table in plan.new_tables:
            for statement in schema.create_table_sql(table.table_name, table.heading):
                db.execute(statement)
            master = table.definition.master
            schema.record_table(db, table.table_name, table.tier, master.name if master else None,
                                table.definition.definition, table.heading)
        for name, rows in plan.lookup_rows.items():
            self._tables[name]._insert_rows(rows)

    def _missing_lookup_rows(self, table: Table, exists: bool) -> list:
        """The lookup's declared contents whose keys the table does not have yet."""
        contents = table.definition.contents or []
        try:
            encoded = [table.encode_row(row) for row in contents]
        except DataError as error:
            raise DefinitionError(f"lookup {table.table_name} contents: {error}") from None
        if not contents or not exists:
            return list(contents)
        key_index = [table.heading.names.index(n) for n in table.heading.primary_key]
        stored = set(self.db.query(f"SELECT {schema.column_list(table.heading.primary_key)} FROM {schema.quote(table.table_name)}"))
        missing = []
        for row, values in zip(contents, encoded):
            key = tuple(values[i] for i in key_index)
            # a key not found as-is may still be there under SQLite's type affinity (e.g. decimals)
            if key not in stored and not table._exists(key):
                missing.append(row)
        return missing

    def _activate_in_memory(self, plan: ActivationPlan) -> None:
        """Read-only use (dry runs) of a database that is not activated yet: work on a copy in memory."""
        memory = Database(":memory:")
        self.db.conn.backup(memory.conn)
        self.db.close()
        self.db = memory
        self.activated_in_memory = True
        with memory.transaction():
            self._activate_now(plan)

    # ------------------------------------------------------------ access

    @property
    def tables(self) -> list[Table]:
        """Every table (parts included) in dependency order."""
        return list(self._tables.values())

    def __getitem__(self, name: str) -> Table:
        table = self._tables.get(name.replace(".", "__"))
        if table is None:
            raise UnknownTableError(f"no table {name!r}{_suggest(name, self._tables)}; tables: {', '.join(self._tables)}")
        return table

    def __getattr__(self, name: str) -> Table:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __contains__(self, name: str) -> bool:
        return name.replace(".", "__") in self._tables

    def transaction(self):
        """A transaction: everything inside is written together or not at all. Nested use is a savepoint."""
        return self.db.transaction()

    def run(self, *tables: str, **options: Any) -> dict:
        """Populate every auto-populated table (or the ones named and what they need) in dependency order."""
        from .populate import run

        return run(self, *tables, **options)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Pipeline {self.pipefile or ''} db={self.db.path} tables={', '.join(self._tables)}>"


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def default_db_path(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / DEFAULT_DB


def load(pipefile: str | os.PathLike | None = None, db: str | os.PathLike | None = None, *,
         readonly: bool = False, activate: bool = True) -> Pipeline:
    """Find and load the pipefile, open its database and activate the schema.

    ``db`` (or ``$DJFLOW_DB``) overrides the default ``.djflow/pipeline.db`` beside the
    pipefile. With ``readonly=True`` nothing is ever written (used by dry runs).
    """
    path = find_pipefile(pipefile)
    project_dir = path.parent
    manager = make_plugin_manager(project_dir)
    module = load_module(path)
    register_plugin(manager, module, f"pipefile:{path}")
    table_defs: list[TableDef] = []
    seen: set[int] = set()
    for plugin in manager.get_plugins():
        for found in manager.hook.collect_tables(module=plugin):
            for table_def in found or []:
                if id(table_def) not in seen:
                    seen.add(id(table_def))
                    table_defs.append(table_def)
    if not table_defs:
        raise DefinitionError(f"{path} declares no tables; decorate functions with @djflow.manual, @djflow.computed, ...")
    db_path = db or os.environ.get("DJFLOW_DB") or default_db_path(project_dir)
    pipeline = Pipeline(table_defs, db_path, project_dir, manager, path, readonly=readonly)
    if activate:
        try:
            pipeline.activate()
        except BaseException:
            pipeline.close()
            raise
    return pipeline


def from_tables(*table_defs: TableDef, db: str | os.PathLike = ":memory:", project_dir: str | os.PathLike | None = None) -> Pipeline:
    """A pipeline of the given declarations without a pipefile (handy in notebooks and tests)."""
    folder = Path(project_dir) if project_dir else Path.cwd()
    pipeline = Pipeline(list(table_defs), db, folder)
    pipeline.activate()
    return pipeline
