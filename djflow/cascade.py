"""Planning and running cascading deletes from the foreign keys recorded in SQLite.

The plan marks, table by table in dependency order, the rowids of every row to delete
in a temporary table: first the restricted rows, then every row of a child table whose
foreign key points at a marked row. When the cascade reaches a part table through some
other parent, the part's master rows are marked too (a part never loses rows without its
master) and the marking runs again until nothing new is marked. The delete then removes
the marked rows children-first. Planning reads only the database, so it is complete even
for tables the pipefile no longer declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .db import Database
from .graph import dependency_order
from .schema import INTERNAL_PREFIX, column_list, foreign_keys_in_database, quote, stored_tables


@dataclass
class DeletePlan:
    """Rows to delete per table, in the order they must be deleted (children first)."""

    root: str
    counts: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """One line per affected table with its row count, the root first (parts as Master.Part)."""
        lines = [f"{count:>10}  {name.replace('__', '.')}" for name, count in self.counts.items()]
        return "\n".join(lines)


def database_graph(db: Database) -> nx.DiGraph:
    """The foreign-key graph of every table in the database (djflow's own tables left out)."""
    graph = nx.DiGraph()
    names = [
        row[0]
        for row in db.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if not row[0].startswith(INTERNAL_PREFIX)
    ]
    graph.add_nodes_from(names)
    for name in names:
        for parent, pairs in foreign_keys_in_database(db, name):
            # several foreign keys between the same two tables are kept as a list on one edge
            graph.add_edge(parent, name)
            graph.edges[parent, name].setdefault("keys", []).append(pairs)
    return graph


def mark_name(table: str) -> str:
    return "temp." + quote(f"_djflow_delete_{table}")


def plan_delete(db: Database, table: str, where_sql: str, params: list) -> DeletePlan:
    """Mark the rows a delete of ``table WHERE where_sql`` removes; return the counts.

    Must run inside a transaction or snapshot; the marks live in temporary tables until
    :func:`clear_marks`.
    """
    graph = database_graph(db)
    masters = {name: record.master for name, record in stored_tables(db).items() if record.master}
    affected = {table} | nx.descendants(graph, table)
    # a master reached through its part must be in the set too (marking may add it later),
    # and so must everything below it, which may reach further parts: repeat until stable
    grown = True
    while grown:
        grown = False
        for part, master in masters.items():
            if part in affected and master not in affected and master in graph:
                affected |= {master} | nx.descendants(graph, master)
                grown = True
    order = [n for n in dependency_order(graph) if n in affected]
    for name in order:
        db.execute(f"DROP TABLE IF EXISTS {mark_name(name)}")
        db.execute(f"CREATE TEMP TABLE {quote('_djflow_delete_' + name)} (rid INTEGER PRIMARY KEY)")
    db.execute(f"INSERT INTO {mark_name(table)} SELECT rowid FROM {quote(table)} WHERE {where_sql}", params)
    while True:
        # one pass in dependency order marks every descendant of what is marked; only a
        # master marked through its part can make another pass necessary
        for name in order:
            for parent in graph.predecessors(name):
                if parent in order:
                    for pairs in graph.edges[parent, name]["keys"]:
                        _mark_matching(db, name, [c for c, _ in pairs], parent, [p for _, p in pairs])
        masters_added = 0
        for part in order:
            master = masters.get(part)
            if master in order and graph.has_edge(master, part):
                for pairs in graph.edges[master, part]["keys"]:
                    masters_added += _mark_matching(db, master, [p for _, p in pairs], part, [c for c, _ in pairs])
        if not masters_added:
            break
    counts = {name: db.scalar(f"SELECT count(*) FROM {mark_name(name)}") for name in order}
    ordered_counts = {name: counts[name] for name in [table, *order] if counts.get(name)}
    return DeletePlan(table, ordered_counts, list(reversed(order)))


def _mark_matching(db: Database, target: str, target_columns: list[str], source: str, source_columns: list[str]) -> int:
    """Mark the rows of ``target`` whose ``target_columns`` equal ``source_columns`` of a marked
    ``source`` row; return how many were newly marked."""
    left = quote(target_columns[0]) if len(target_columns) == 1 else f"({column_list(target_columns)})"
    return db.execute(
        f"INSERT OR IGNORE INTO {mark_name(target)} SELECT rowid FROM {quote(target)} "
        f"WHERE {left} IN (SELECT {column_list(source_columns)} FROM {quote(source)} "
        f"WHERE rowid IN (SELECT rid FROM {mark_name(source)}))"
    ).rowcount


def run_delete(db: Database, plan: DeletePlan) -> dict[str, int]:
    """Delete the marked rows children-first; return how many rows each table lost."""
    deleted = {}
    for name in plan.order:
        count = db.execute(f"DELETE FROM {quote(name)} WHERE rowid IN (SELECT rid FROM {mark_name(name)})").rowcount
        if count:
            deleted[name] = count
    return deleted


def clear_marks(db: Database, plan: DeletePlan) -> None:
    """Drop the temporary tables of a plan."""
    for name in plan.order:
        db.execute(f"DROP TABLE IF EXISTS {mark_name(name)}")
