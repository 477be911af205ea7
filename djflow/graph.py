"""The dependency graph of a pipeline (networkx), built from declarations or from the database."""

from __future__ import annotations

import networkx as nx

from .errors import DefinitionError


def dependency_graph(nodes: dict[str, dict], edges: list[tuple[str, str, dict]]) -> nx.DiGraph:
    """A DiGraph parent -> child; raises DefinitionError on a cycle.

    ``nodes`` maps a table name to its attributes (``tier``, ``master``); each edge carries
    ``kind`` ("primary", "secondary" or "master") and ``renamed``.
    """
    graph = nx.DiGraph()
    for name, attributes in nodes.items():
        graph.add_node(name, **attributes)
    for parent, child, attributes in edges:
        graph.add_edge(parent, child, **attributes)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
    raise DefinitionError(f"the tables depend on each other in a cycle ({path}); a table cannot be its own ancestor")


def dependency_order(graph: nx.DiGraph) -> list[str]:
    """Tables in an order where every parent comes before its children (parts right after masters).

    Ties are broken by name, so the order is the same every time.
    """
    return list(nx.lexicographical_topological_sort(graph))


def ancestors(graph: nx.DiGraph, name: str) -> set[str]:
    """Every table ``name`` depends on, directly or through others."""
    return nx.ancestors(graph, name)

