"""Loading rules a user meets early: plugin precedence, hook mistakes, auto tables without
parents, drift across several tables, read-only loads, inline tables in worker processes."""

from __future__ import annotations

import pytest

import djflow
from djflow.errors import DefinitionError, DjflowError, SchemaDriftError

TWO_TABLES = '''
import djflow

@djflow.manual
def Mouse():
    """
    mouse_id : int
    ---
    strain : varchar(32)
    """

@djflow.manual
def Cage():
    """
    cage_id : int
    ---
    room : varchar(8)
    """
'''


def test_a_plugin_type_replaces_the_builtin_of_the_same_name(make_project):
    plugin = '''
import djflow
from djflow.types import TextType

class ShoutingText(TextType):
    def encode(self, value, storage=None):
        return super().encode(value, storage).upper()

@djflow.hookimpl
def register_types(register):
    register("varchar", lambda args, unsigned, declared: ShoutingText(declared, int(args[0])))
'''
    pipeline = make_project(TWO_TABLES, plugins={"shout.py": plugin})
    pipeline.Mouse.insert1({"mouse_id": 1, "strain": "c57bl/6"})
    assert pipeline.Mouse.fetch1("strain") == "C57BL/6"


def test_a_hook_with_a_wrong_argument_is_a_one_line_definition_error(make_project):
    plugin = '''
import djflow

@djflow.hookimpl
def job_failed(table, key, exception, tb):
    pass
'''
    with pytest.raises(DefinitionError, match=r"hook that does not fit.*docs/plugins.md") as caught:
        make_project(TWO_TABLES, plugins={"broken.py": plugin})
    assert "\n" not in str(caught.value)
    assert "plugins/broken.py" in str(caught.value)  # names the file, not a module object


def test_a_computed_table_without_a_primary_parent_fails_at_load(make_project):
    source = TWO_TABLES + '''
@djflow.computed
def Census(key, Mouse):
    """
    census_id : int
    ---
    -> Mouse
    """
    return {}
'''
    with pytest.raises(DefinitionError, match=r"Census is computed but has no '-> Parent' above its '---' line"):
        make_project(source)


def test_drift_in_several_tables_is_reported_at_once(make_project, load_project, tmp_path):
    make_project(TWO_TABLES).close()
    changed = TWO_TABLES.replace("strain : varchar(32)", "strain : varchar(64)").replace(
        "room : varchar(8)", "room : varchar(8)\n    floor : int"
    )
    (tmp_path / "project" / "pipefile.py").write_text(changed)
    with pytest.raises(SchemaDriftError) as caught:
        load_project(tmp_path / "project" / "pipefile.py")
    message = str(caught.value)
    assert "table Mouse" in message and "varchar(64) in the pipefile but varchar(32)" in message
    assert "table Cage" in message and "attribute floor is in the pipefile but not in the database" in message


def test_a_read_only_load_without_a_database_writes_nothing_and_refuses_writes(make_project, load_project, tmp_path):
    make_project(TWO_TABLES).close()
    missing = tmp_path / "elsewhere" / "none.db"
    pipeline = load_project(tmp_path / "project" / "pipefile.py", db=missing, readonly=True)
    assert len(pipeline.Mouse) == 0
    with pytest.raises(DjflowError, match="read-only"):
        pipeline.Mouse.insert1({"mouse_id": 1, "strain": "x"})
    assert not missing.exists() and not missing.parent.exists()


def test_inline_tables_rebound_to_pipeline_tables_still_run_in_worker_processes(tmp_path, monkeypatch):
    module_source = '''
import djflow

@djflow.manual
def Number():
    """
    n : int
    """

@djflow.computed
def Square(key):
    """
    -> Number
    ---
    square : int
    """
    return {"square": key["n"] ** 2}
'''
    (tmp_path / "inline_tables.py").write_text(module_source)
    monkeypatch.syspath_prepend(str(tmp_path))
    import inline_tables

    pipeline = djflow.from_tables(inline_tables.Number, inline_tables.Square, db=tmp_path / "inline.db")
    try:
        # a notebook habit: the names now point at the live tables, not the declarations
        inline_tables.Number, inline_tables.Square = pipeline.Number, pipeline.Square
        pipeline.Number.insert([(1,), (2,), (3,)])
        result = pipeline.Square.populate(processes=2, suppress_errors=True)
        assert result["error_list"] == []
        assert sorted(pipeline.Square.fetch("square")) == [1, 4, 9]
    finally:
        pipeline.close()
