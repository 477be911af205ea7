"""Drawing the pipeline's dependency graph as Mermaid, Graphviz DOT, SVG or PNG.

The input is the ``networkx.DiGraph`` built by ``djflow.graph``: one node per table
(parts named ``Master__Part``) with a ``tier`` attribute (and ``master`` for parts), one
edge per reference from parent to child with ``kind`` ("primary", "secondary" or
"master") and ``renamed`` (the reference renames attributes with ``.proj(...)``).

The pictures follow DataJoint's conventions, so DataJoint users read them at a glance:

* lookup tables grey, manual green boxes, imported blue ellipses, computed red rounds;
* parts small and plain, drawn in a dashed frame together with their master and tied
  to it by a thin line without an arrow;
* references in the primary key solid, secondary references dashed, and references that
  rename attributes orange and labelled ``renamed``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from djflow.declare import TIERS
from djflow.errors import DjflowError


@dataclass(frozen=True)
class TierStyle:
    """How one tier is drawn: Mermaid shape brackets and classDef, DOT node attributes."""

    mermaid_open: str
    mermaid_close: str
    mermaid_class_def: str
    dot_attributes: str


TIER_STYLES: dict[str, TierStyle] = {
    "lookup": TierStyle(
        mermaid_open="[",
        mermaid_close="]",
        mermaid_class_def="fill:#e6e6e6,stroke:#b3b3b3,color:#4d4d4d",
        dot_attributes=(
            'shape=box, style=filled, color="#00000033", fillcolor="#00000022", '
            'fontcolor="#000000b3", fontsize=10'
        ),
    ),
    "manual": TierStyle(
        mermaid_open="[",
        mermaid_close="]",
        mermaid_class_def="fill:#d4f7d4,stroke:#4caf50,color:#1b5e20",
        dot_attributes=(
            'shape=box, style=filled, color="#00ff0030", fillcolor="#00ff0030", '
            'fontcolor="#006400b3", fontsize=10'
        ),
    ),
    "imported": TierStyle(
        mermaid_open="([",
        mermaid_close="])",
        mermaid_class_def="fill:#c8c8ff,stroke:#5c6bc0,color:#00007f",
        dot_attributes=(
            'shape=ellipse, style=filled, color="#0000ff40", fillcolor="#0000ff40", '
            'fontcolor="#00007fb3", fontsize=10'
        ),
    ),
    "computed": TierStyle(
        mermaid_open="((",
        mermaid_close="))",
        mermaid_class_def="fill:#ffd9d9,stroke:#e57373,color:#7f0000",
        dot_attributes=(
            'shape=ellipse, style=filled, color="#ff000026", fillcolor="#ff000026", '
            'fontcolor="#7f0000b3", fontsize=10'
        ),
    ),
    "part": TierStyle(
        mermaid_open="[",
        mermaid_close="]",
        mermaid_class_def="fill:none,stroke:none,color:#4d4d4d,font-size:11px",
        dot_attributes='shape=plaintext, fontcolor="#000000b3", fontsize=8',
    ),
}
FALLBACK_STYLE = TierStyle("[", "]", "", "shape=box")

RENAMED_COLOR = "#ff8c00"
RENAMED_LABEL = "renamed"
MASTER_PART_STROKE = "stroke:#999999,stroke-width:1px"
GROUP_FRAME_STYLE = "fill:none,stroke:#999999,stroke-dasharray:4 3"

# Words Mermaid's flowchart parser treats as keywords; a node may not be called that.
MERMAID_KEYWORDS = frozenset(
    {
        "end",
        "graph",
        "flowchart",
        "subgraph",
        "style",
        "class",
        "classdef",
        "click",
        "linkstyle",
        "direction",
        "default",
        "call",
        "href",
    }
)

SUFFIXES_MERMAID = (".mmd", ".md")
SUFFIXES_DOT = (".dot", ".gv")
SUFFIXES_RENDERED = (".svg", ".png")
SUPPORTED_SUFFIXES = SUFFIXES_MERMAID + SUFFIXES_DOT + SUFFIXES_RENDERED


# --- reading the graph -------------------------------------------------------------


def ordered_tables(graph: nx.DiGraph) -> list[str]:
    """Table names parents-first (ties alphabetical), so output is stable between runs."""
    try:
        return list(nx.lexicographical_topological_sort(graph))
    except (nx.NetworkXUnfeasible, TypeError):
        return sorted(graph.nodes, key=str)


def ordered_references(graph: nx.DiGraph, tables: list[str]) -> list[tuple[str, str, dict]]:
    """Edges ``(parent, child, attributes)`` sorted by the position of parent, then child."""
    position = {table: index for index, table in enumerate(tables)}
    return sorted(graph.edges(data=True), key=lambda edge: (position[edge[0]], position[edge[1]]))


def master_of(table: str, attributes: dict) -> str | None:
    """The master of a part table (from its ``master`` attribute or its name), else None."""
    if attributes.get("tier") != "part":
        return None
    return attributes.get("master") or table.split("__", 1)[0]


def display_name(table: str, attributes: dict) -> str:
    """What a user calls the table: ``Detection.Blob`` for the part ``Detection__Blob``."""
    master = master_of(table, attributes)
    if master and table.startswith(master + "__"):
        return f"{master}.{table[len(master) + 2 :]}"
    return table.replace("__", ".") if master else table


def groups_of_masters(graph: nx.DiGraph, tables: list[str]) -> dict[str, list[str]]:
    """Each master that has parts, mapped to itself (when in the graph) and its parts."""
    groups: dict[str, list[str]] = {}
    for table in tables:
        master = master_of(table, graph.nodes[table])
        if master is not None:
            groups.setdefault(master, [])
            groups[master].append(table)
    for master, members in groups.items():
        if master in graph:
            members.insert(0, master)
    return groups


def style_of(attributes: dict) -> TierStyle:
    """The drawing style of a table's tier; tables without a known tier get a plain box."""
    return TIER_STYLES.get(attributes.get("tier"), FALLBACK_STYLE)


# --- Mermaid -------------------------------------------------------------------------


def claim_mermaid_id(name: str, taken: set[str]) -> str:
    """A Mermaid-safe identifier for ``name`` not yet in ``taken`` (which it is added to).

    Only letters, digits and ``_`` are kept; names that are Mermaid keywords or do not start
    with a letter get a ``t_`` prefix; a clash with an earlier name gets a numeric suffix.
    """
    candidate = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "t"
    if candidate.lower() in MERMAID_KEYWORDS or not candidate[0].isalpha():
        candidate = "t_" + candidate
    unique, counter = candidate, 2
    while unique in taken:
        unique, counter = f"{candidate}_{counter}", counter + 1
    taken.add(unique)
    return unique


def mermaid_text(text: str) -> str:
    """Text made safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;")


def mermaid_node(node_id: str, label: str, attributes: dict) -> str:
    """One node declaration with its tier's shape and class, e.g. ``Image(["Image"]):::imported``."""
    style = style_of(attributes)
    tier = attributes.get("tier")
    css_class = f":::{tier}" if tier in TIER_STYLES else ""
    return f'{node_id}{style.mermaid_open}"{mermaid_text(label)}"{style.mermaid_close}{css_class}'


def mermaid_link(parent_id: str, child_id: str, attributes: dict) -> str:
    """One link: solid arrow, dashed arrow, or a plain line from master to part."""
    kind = attributes.get("kind", "primary")
    if kind == "master":
        return f"{parent_id} --- {child_id}"
    arrow = "-.->" if kind == "secondary" else "-->"
    label = f"|{RENAMED_LABEL}|" if attributes.get("renamed") else ""
    return f"{parent_id} {arrow}{label} {child_id}"


def to_mermaid(graph: nx.DiGraph) -> str:
    """Render the dependency graph as a Mermaid ``flowchart TD``.

    Tiers get a shape and a ``classDef`` each (lookup, manual, imported, computed, part);
    a master and its parts share a dashed frame; primary references are solid arrows,
    secondary ones dashed, renamed ones orange and labelled ``renamed``.

    Example::

        print(to_mermaid(pipeline_graph))   # paste into a Markdown ```mermaid block
    """
    tables = ordered_tables(graph)
    groups = groups_of_masters(graph, tables)
    taken_ids: set[str] = set()
    ids = {table: claim_mermaid_id(table, taken_ids) for table in tables}
    group_ids = {master: claim_mermaid_id(f"{master}_group", taken_ids) for master in groups}
    grouped = {member for members in groups.values() for member in members}

    lines = ["flowchart TD"]
    lines += [f"    classDef {tier} {TIER_STYLES[tier].mermaid_class_def}" for tier in TIERS]
    for table in tables:
        if table not in grouped:
            attributes = graph.nodes[table]
            lines.append(
                "    " + mermaid_node(ids[table], display_name(table, attributes), attributes)
            )
    for master, members in groups.items():
        group_id = group_ids[master]
        lines.append(f'    subgraph {group_id} [" "]')
        for table in members:
            attributes = graph.nodes[table]
            lines.append(
                "        " + mermaid_node(ids[table], display_name(table, attributes), attributes)
            )
        lines.append("    end")
        lines.append(f"    style {group_id} {GROUP_FRAME_STYLE}")

    for index, (parent, child, attributes) in enumerate(ordered_references(graph, tables)):
        lines.append("    " + mermaid_link(ids[parent], ids[child], attributes))
        if attributes.get("kind") == "master":
            lines.append(f"    linkStyle {index} {MASTER_PART_STROKE}")
        elif attributes.get("renamed"):
            lines.append(f"    linkStyle {index} stroke:{RENAMED_COLOR},color:{RENAMED_COLOR}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT --------------------------------------------------------------------


def dot_quoted(text: str) -> str:
    """A DOT identifier or string: double-quoted, with quotes and backslashes escaped."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_node(table: str, attributes: dict) -> str:
    """One node statement with its tier's shape, colours and font size."""
    label = dot_quoted(display_name(table, attributes))
    return f"{dot_quoted(table)} [label={label}, {style_of(attributes).dot_attributes}];"


def dot_edge(parent: str, child: str, attributes: dict) -> str:
    """One edge statement: solid or dashed arrow, or a thin line from master to part."""
    kind = attributes.get("kind", "primary")
    if kind == "master":
        edge_attributes = 'arrowhead=none, penwidth=0.5, color="#999999"'
    else:
        edge_attributes = "style=dashed" if kind == "secondary" else "style=solid"
        if attributes.get("renamed"):
            edge_attributes += (
                f', color="{RENAMED_COLOR}", fontcolor="{RENAMED_COLOR}", '
                f'label="{RENAMED_LABEL}", fontsize=8'
            )
    return f"{dot_quoted(parent)} -> {dot_quoted(child)} [{edge_attributes}];"


def to_dot(graph: nx.DiGraph) -> str:
    """Render the dependency graph as Graphviz DOT, with the same conventions as Mermaid.

    Lookup grey boxes, manual green boxes, imported blue and computed red ellipses (as in
    DataJoint), parts as small plain text in a dashed cluster with their master; primary
    references solid, secondary dashed, renamed ones orange and labelled ``renamed``.

    Example::

        Path("pipeline.dot").write_text(to_dot(pipeline_graph))   # then: dot -Tsvg
    """
    tables = ordered_tables(graph)
    groups = groups_of_masters(graph, tables)
    grouped = {member for members in groups.values() for member in members}

    lines = [
        "digraph pipeline {",
        "    rankdir=TB;",
        '    node [fontname="Helvetica"];',
        '    edge [color="#666666"];',
    ]
    lines += [
        "    " + dot_node(table, graph.nodes[table]) for table in tables if table not in grouped
    ]
    for master, members in groups.items():
        lines.append(f"    subgraph {dot_quoted('cluster_' + master)} {{")
        lines.append('        style=dashed; color="#999999"; label="";')
        lines += ["        " + dot_node(table, graph.nodes[table]) for table in members]
        lines.append("    }")
    for parent, child, attributes in ordered_references(graph, tables):
        lines.append("    " + dot_edge(parent, child, attributes))
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- writing files -------------------------------------------------------------------


def render_with_graphviz(dot_source: str, path: Path, output_format: str) -> None:
    """Run Graphviz's ``dot -T<format>`` on ``dot_source`` and write the picture to ``path``."""
    dot_executable = shutil.which("dot")
    if dot_executable is None:
        raise DjflowError(
            f"Cannot write {path.name}: Graphviz's 'dot' program is not on PATH; install "
            "Graphviz (e.g. 'apt-get install graphviz' or 'brew install graphviz') or write "
            "a .mmd, .md or .dot file instead."
        )
    result = subprocess.run(
        [dot_executable, f"-T{output_format}", "-o", str(path)],
        input=dot_source.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise DjflowError(f"Graphviz 'dot' failed to write {path.name}: {message}")


def write_diagram(graph: nx.DiGraph, path: str | Path) -> Path:
    """Write the dependency graph to ``path`` in the format its suffix names; return the path.

    ``.mmd`` Mermaid, ``.md`` Mermaid in a fenced ```` ```mermaid ```` block, ``.dot`` or
    ``.gv`` Graphviz DOT, ``.svg`` or ``.png`` a picture drawn by Graphviz's ``dot``
    program (which must be installed). Raises :class:`DjflowError` for other suffixes.

    Example::

        write_diagram(pipeline_graph, "docs/pipeline.md")
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mmd":
        path.write_text(to_mermaid(graph), encoding="utf-8")
    elif suffix == ".md":
        path.write_text(f"```mermaid\n{to_mermaid(graph)}```\n", encoding="utf-8")
    elif suffix in SUFFIXES_DOT:
        path.write_text(to_dot(graph), encoding="utf-8")
    elif suffix in SUFFIXES_RENDERED:
        render_with_graphviz(to_dot(graph), path, suffix.lstrip("."))
    else:
        raise DjflowError(
            f"Cannot write a diagram to {path.name}: unknown suffix {suffix or '(none)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    return path
