"""Tests of djflow.diagram: what a user sees in the Mermaid, DOT and rendered diagrams."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import networkx as nx
import pytest

from djflow.diagram import to_dot, to_mermaid, write_diagram
from djflow.errors import DjflowError

DEMO_TIERS = {
    "BlobParamSet": "lookup",
    "Subject": "manual",
    "Session": "manual",
    "Image": "imported",
    "Detection": "computed",
    "Detection__Blob": "part",
}
DEMO_LABELS = ["BlobParamSet", "Subject", "Session", "Image", "Detection", "Detection.Blob"]


@pytest.fixture
def demo_graph() -> nx.DiGraph:
    """The demo pipeline's graph, built by hand the way djflow.graph builds it."""
    graph = nx.DiGraph()
    for table, tier in DEMO_TIERS.items():
        graph.add_node(table, tier=tier)
    graph.nodes["Detection__Blob"]["master"] = "Detection"
    graph.add_edge("Subject", "Session", kind="primary", renamed=False)
    graph.add_edge("Session", "Image", kind="primary", renamed=False)
    # Image: ---  -> BlobParamSet   (suggested parameters, below the line)
    graph.add_edge("BlobParamSet", "Image", kind="secondary", renamed=False)
    graph.add_edge("Image", "Detection", kind="primary", renamed=False)
    # Detection: -> BlobParamSet.proj(blob_paramset='paramset_id')
    graph.add_edge("BlobParamSet", "Detection", kind="primary", renamed=True)
    graph.add_edge("Detection", "Detection__Blob", kind="master", renamed=False)
    return graph


def mermaid_node_classes(mermaid: str) -> dict[str, str]:
    """Node id -> class, read from declarations like ``Image(["Image"]):::imported``."""
    declarations = re.findall(r'^\s*(\w+)[\[(]+"[^"]*"[\])]+:::(\w+)\s*$', mermaid, re.MULTILINE)
    return dict(declarations)


def dot_statement(dot: str, start: str) -> str:
    """The one DOT line that starts (after indentation) with ``start``."""
    matches = [line.strip() for line in dot.splitlines() if line.strip().startswith(start)]
    assert len(matches) == 1, f"expected one line starting {start!r}, got {matches}"
    return matches[0]


def block_after(text: str, opening: str, closing: str) -> str:
    """The text between the line starting with ``opening`` and the next ``closing`` line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(opening))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == closing)
    return "\n".join(lines[start + 1 : end])


# --- Mermaid ------------------------------------------------------------------------


def test_mermaid_is_a_top_down_flowchart_showing_every_table(demo_graph):
    mermaid = to_mermaid(demo_graph)
    assert mermaid.splitlines()[0] == "flowchart TD"
    for label in DEMO_LABELS:
        assert f'"{label}"' in mermaid


def test_mermaid_gives_each_tier_its_class_and_shape(demo_graph):
    mermaid = to_mermaid(demo_graph)
    assert mermaid_node_classes(mermaid) == DEMO_TIERS
    for tier in ("lookup", "manual", "imported", "computed", "part"):
        assert re.search(rf"^\s*classDef {tier} \S", mermaid, re.MULTILINE)
    assert 'Image(["Image"])' in mermaid  # imported: rounded ends
    assert 'Detection(("Detection"))' in mermaid  # computed: circle
    assert "classDef manual fill:#d4f7d4" in mermaid  # manual: green


def test_mermaid_draws_primary_solid_and_secondary_dashed(demo_graph):
    lines = [line.strip() for line in to_mermaid(demo_graph).splitlines()]
    assert "Subject --> Session" in lines
    assert "Session --> Image" in lines
    assert "BlobParamSet -.-> Image" in lines


def test_mermaid_marks_renamed_references(demo_graph):
    lines = [line.strip() for line in to_mermaid(demo_graph).splitlines()]
    assert "BlobParamSet -->|renamed| Detection" in lines
    links = [line for line in lines if re.match(r"^\w+ (-->|-\.->|---)", line)]
    renamed_index = links.index("BlobParamSet -->|renamed| Detection")
    assert f"linkStyle {renamed_index} stroke:#ff8c00,color:#ff8c00" in lines


def test_mermaid_shows_a_part_with_its_master(demo_graph):
    mermaid = to_mermaid(demo_graph)
    group = block_after(mermaid, "subgraph", "end")
    assert 'Detection(("Detection")):::computed' in group
    assert 'Detection__Blob["Detection.Blob"]:::part' in group
    assert "Detection --- Detection__Blob" in mermaid


def test_mermaid_ids_are_safe_and_unique():
    graph = nx.DiGraph()
    for name in ["end", "my-table", "my.table", "2nd", "Ok"]:
        graph.add_node(name, tier="manual")
    graph.add_edge("end", "my-table", kind="primary", renamed=False)
    mermaid = to_mermaid(graph)
    ids = list(mermaid_node_classes(mermaid))
    assert len(ids) == len(set(ids)) == 5
    assert all(re.fullmatch(r"[A-Za-z]\w*", node_id) for node_id in ids)
    assert "end" not in ids
    assert '"my-table"' in mermaid and '"2nd"' in mermaid


# --- DOT ----------------------------------------------------------------------------


def test_dot_shows_every_table_with_its_tier_shape(demo_graph):
    dot = to_dot(demo_graph)
    assert dot.startswith("digraph pipeline {")
    for label in DEMO_LABELS:
        assert f'label="{label}"' in dot
    assert "shape=box" in dot_statement(dot, '"Subject" [')
    assert "shape=ellipse" in dot_statement(dot, '"Image" [')
    assert "#0000ff" in dot_statement(dot, '"Image" [')  # imported: blue
    assert "#ff0000" in dot_statement(dot, '"Detection" [')  # computed: red
    assert "shape=plaintext" in dot_statement(dot, '"Detection__Blob" [')


def test_dot_draws_primary_solid_secondary_dashed_and_renamed_labelled(demo_graph):
    dot = to_dot(demo_graph)
    assert "style=solid" in dot_statement(dot, '"Subject" -> "Session"')
    assert "style=dashed" in dot_statement(dot, '"BlobParamSet" -> "Image"')
    renamed = dot_statement(dot, '"BlobParamSet" -> "Detection"')
    assert 'label="renamed"' in renamed and "style=solid" in renamed
    assert "arrowhead=none" in dot_statement(dot, '"Detection" -> "Detection__Blob"')


def test_dot_puts_a_part_in_a_cluster_with_its_master(demo_graph):
    cluster = block_after(to_dot(demo_graph), 'subgraph "cluster_Detection"', "}")
    assert '"Detection" [' in cluster
    assert '"Detection__Blob" [' in cluster


# --- write_diagram ------------------------------------------------------------------


def test_write_mmd_and_dot_files(demo_graph, tmp_path):
    assert write_diagram(demo_graph, tmp_path / "pipeline.mmd") == tmp_path / "pipeline.mmd"
    assert (tmp_path / "pipeline.mmd").read_text() == to_mermaid(demo_graph)
    for suffix in (".dot", ".gv"):
        written = write_diagram(demo_graph, str(tmp_path / f"pipeline{suffix}"))
        assert isinstance(written, Path)
        assert written.read_text() == to_dot(demo_graph)


def test_write_md_fences_the_mermaid(demo_graph, tmp_path):
    text = write_diagram(demo_graph, tmp_path / "pipeline.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "```mermaid"
    assert lines[1] == "flowchart TD"
    assert lines[-1] == "```"
    assert "\n".join(lines[1:-1]) + "\n" == to_mermaid(demo_graph)


def test_unknown_suffix_names_it_and_the_supported_ones(demo_graph, tmp_path):
    with pytest.raises(DjflowError) as error:
        write_diagram(demo_graph, tmp_path / "pipeline.pdf")
    message = str(error.value)
    assert "'.pdf'" in message
    for suffix in (".mmd", ".md", ".dot", ".gv", ".svg", ".png"):
        assert suffix in message
    assert not (tmp_path / "pipeline.pdf").exists()


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_picture_without_graphviz_says_what_to_install(demo_graph, tmp_path, monkeypatch, suffix):
    empty_bin = tmp_path / "empty_bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(DjflowError) as error:
        write_diagram(demo_graph, tmp_path / f"pipeline{suffix}")
    message = str(error.value)
    assert "'dot'" in message and "Graphviz" in message
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert ".mmd" in message and ".dot" in message
    assert not (tmp_path / f"pipeline{suffix}").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_svg_is_drawn_by_graphviz(demo_graph, tmp_path):
    svg = write_diagram(demo_graph, tmp_path / "pipeline.svg").read_text()
    assert svg.lstrip().startswith(("<svg", "<?xml"))
    for label in DEMO_LABELS:
        assert f">{label}</text>" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_png_is_drawn_by_graphviz(demo_graph, tmp_path):
    png = write_diagram(demo_graph, tmp_path / "pipeline.png").read_bytes()
    assert png.startswith(b"\x89PNG")
