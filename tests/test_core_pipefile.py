"""Finding and loading the pipefile, and plugins (SPEC §2 load, §5): the nearest pipefile.py
walking up, DJFLOW_PIPEFILE and an explicit path overriding it, a "not found" that lists where
it looked, plugins/*.py files and installed (entry point) plugins contributing tables and types."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SEED_PIPEFILE, write_project

import djflow
from djflow import DataError, DefinitionError
from djflow.plugins import plugin_report

ONE_TABLE = '''
import djflow

@djflow.manual
def {name}():
    """
    id : int
    """
'''


def project(folder: Path, table: str, plugins=None) -> Path:
    return write_project(folder, ONE_TABLE.format(name=table), plugins)


def test_found_from_a_nested_folder(tmp_path, monkeypatch, load_project):
    project(tmp_path / "lab", "Outer")
    deep = tmp_path / "lab" / "analysis" / "notebooks" / "2024"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    pipeline = load_project()
    assert pipeline.pipefile == tmp_path / "lab" / "pipefile.py"
    assert [t.table_name for t in pipeline.tables] == ["Outer"]
    # the database sits beside the pipefile, not in the current folder
    assert Path(pipeline.db.path) == tmp_path / "lab" / ".djflow" / "pipeline.db"


def test_the_nearest_pipefile_wins(tmp_path, monkeypatch, load_project):
    project(tmp_path / "lab", "Outer")
    project(tmp_path / "lab" / "sub", "Inner")
    (tmp_path / "lab" / "sub" / "deeper").mkdir()
    monkeypatch.chdir(tmp_path / "lab" / "sub" / "deeper")
    assert "Inner" in load_project()


def test_environment_variable_and_explicit_path_override(tmp_path, monkeypatch, load_project):
    project(tmp_path / "here", "Here")
    project(tmp_path / "env", "FromEnv")
    project(tmp_path / "explicit", "Explicit")
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.setenv("DJFLOW_PIPEFILE", str(tmp_path / "env" / "pipefile.py"))
    assert "FromEnv" in load_project()
    assert "Explicit" in load_project(tmp_path / "explicit" / "pipefile.py")
    # a folder stands for the pipefile.py inside it
    assert "Explicit" in load_project(str(tmp_path / "explicit"))


def test_a_pipefile_with_another_name_given_explicitly(tmp_path, load_project):
    path = tmp_path / "workflow.py"
    path.write_text(textwrap.dedent(ONE_TABLE.format(name="Named")))
    assert "Named" in load_project(path)


def test_explicit_path_that_does_not_exist(tmp_path, load_project):
    with pytest.raises(DefinitionError) as error:
        load_project(tmp_path / "nowhere" / "pipefile.py")
    assert f"no pipefile at {tmp_path / 'nowhere' / 'pipefile.py'}" in str(error.value)


def test_not_found_lists_where_it_looked(tmp_path, monkeypatch, load_project):
    start = tmp_path / "empty" / "a"
    start.mkdir(parents=True)
    if any((folder / "pipefile.py").exists() for folder in start.parents):
        pytest.skip("a pipefile.py exists above the temporary folder")
    monkeypatch.chdir(start)
    monkeypatch.delenv("DJFLOW_PIPEFILE", raising=False)
    with pytest.raises(DefinitionError) as error:
        load_project()
    message = str(error.value)
    assert "no pipefile.py found; tried" in message
    assert str(start / "pipefile.py") in message
    assert str(tmp_path / "empty" / "pipefile.py") in message
    assert "djflow init" in message and "--pipefile" in message


def test_a_pipefile_that_raises_on_import(tmp_path, load_project):
    path = write_project(
        tmp_path / "p", "import djflow\nraise RuntimeError('no instrument connected')\n"
    )
    with pytest.raises(DefinitionError) as error:
        load_project(path)
    message = str(error.value)
    assert str(path) in message
    assert "RuntimeError" in message and "no instrument connected" in message
    assert isinstance(error.value.__cause__, RuntimeError)


def test_a_pipefile_with_a_syntax_error(tmp_path, load_project):
    path = write_project(tmp_path / "p", "import djflow\ndef broken(:\n")
    with pytest.raises(DefinitionError, match="SyntaxError"):
        load_project(path)


def test_a_pipefile_without_tables(tmp_path, load_project):
    path = write_project(tmp_path / "p", "import djflow\nx = 1\n")
    with pytest.raises(DefinitionError, match="declares no tables"):
        load_project(path)


def test_a_pipefile_can_be_loaded_again_after_an_edit(make_project):
    first = make_project(ONE_TABLE.format(name="First"))
    assert [t.table_name for t in first.tables] == ["First"]
    second = make_project(
        ONE_TABLE.format(name="First")
        + ONE_TABLE.format(name="Second").replace("import djflow", "")
    )
    assert [t.table_name for t in second.tables] == ["First", "Second"]


# ---------------------------------------------------------------- plugins/ folder


SUBJECT_PLUGIN = '''
import djflow

@djflow.manual
def Subject():
    """
    subject_id : varchar(16)
    ---
    species : varchar(32)
    """
'''

USES_SUBJECT = '''
import djflow

@djflow.manual
def Session():
    """
    -> Subject
    session : int
    """
'''


def test_a_plugins_file_contributes_a_table(make_project):
    pipeline = make_project(
        USES_SUBJECT, plugins={"subjects": SUBJECT_PLUGIN, "_private": "raise SystemExit"}
    )
    assert [t.table_name for t in pipeline.tables] == ["Subject", "Session"]
    pipeline.Subject.insert1(("M1", "mouse"))
    pipeline.Session.insert1(("M1", 1))
    names = [entry["name"] for entry in plugin_report(pipeline.plugin_manager)]
    assert "local:subjects.py" in names


def test_a_plugins_file_that_raises(make_project, tmp_path):
    with pytest.raises(DefinitionError) as error:
        make_project(
            USES_SUBJECT, plugins={"broken": "raise ImportError('missing scanner driver')"}
        )
    assert str(tmp_path / "project" / "plugins" / "broken.py") in str(error.value)
    assert "missing scanner driver" in str(error.value)


def test_the_same_table_name_twice(make_project):
    with pytest.raises(DefinitionError, match="two tables are named Subject"):
        make_project(
            USES_SUBJECT + SUBJECT_PLUGIN.replace("import djflow", ""),
            plugins={"subjects": SUBJECT_PLUGIN},
        )


def test_hooks_of_a_local_plugin_fire(make_project, tmp_path):
    audit = """
    import djflow
    from pathlib import Path

    LOG = Path(__file__).parent.parent / "audit.log"

    @djflow.hookimpl
    def activated(pipeline):
        with LOG.open("a") as log:
            log.write(f"activated {len(pipeline.tables)}\\n")

    @djflow.hookimpl
    def rows_deleted(table, counts):
        with LOG.open("a") as log:
            log.write(f"deleted {table.table_name} {sorted(counts.items())}\\n")
    """
    pipeline = make_project(SEED_PIPEFILE, plugins={"audit": audit})
    pipeline.Subject.insert1({"subject_id": "M1", "species": "mouse", "sex": "M"})
    pipeline.Session.insert1({"subject_id": "M1", "session_date": "2024-01-01"})
    pipeline.Subject.delete(safemode=False)
    assert (tmp_path / "project" / "audit.log").read_text().splitlines() == [
        "activated 6",
        "deleted Subject [('Session', 1), ('Subject', 1)]",
    ]


# ---------------------------------------------------------------- installed plugins


ELEMENT = '''
"""An installed "element": a ready-made table and an attribute type."""
import djflow
from djflow.types import AttributeType


class Wavelength(AttributeType):
    sql_type = "REAL"

    def encode(self, value, storage=None):
        value = float(value)
        if not 100 <= value <= 2000:
            raise ValueError(f"{value} nm is not a wavelength a microscope uses")
        return value


@djflow.hookimpl
def register_types(register):
    register("wavelength", lambda args, unsigned, declared: Wavelength(declared))


@djflow.manual
def Laser():
    """
    laser : varchar(16)
    ---
    line : wavelength
    """
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package installed in a site folder with an entry point in the group ``djflow``."""
    site = tmp_path / "site"
    site.mkdir()
    module = "djflow_test_element"
    (site / f"{module}.py").write_text(ELEMENT)
    info = site / "djflow_test_element-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: djflow-test-element\nVersion: 1.2\n"
    )
    (info / "entry_points.txt").write_text(f"[djflow]\nelement = {module}\n")
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))
    yield module
    sys.modules.pop(module, None)


def test_an_installed_plugin_contributes_a_table_and_a_type(installed_plugin, make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Imaging():
            """
            imaging : int
            ---
            -> Laser
            emission : wavelength
            """
        '''
    )
    assert "Laser" in pipeline
    pipeline.Laser.insert1(("blue", 488))
    pipeline.Imaging.insert1((1, "blue", 520))
    assert (pipeline.Imaging * pipeline.Laser).fetch1("line") == 488.0
    with pytest.raises(DataError, match=r"Imaging\.emission.*5000.0 nm is not a wavelength"):
        pipeline.Imaging.insert1((2, "blue", 5000))
    report = {entry["name"]: entry for entry in plugin_report(pipeline.plugin_manager)}
    assert report["element"]["version"] == "1.2"
    assert "register_types" in report["element"]["hooks"]


def test_without_the_plugin_its_type_is_unknown(make_project):
    with pytest.raises(DefinitionError, match=r"Thing.*unknown type 'wavelength'"):
        make_project(
            ONE_TABLE.format(name="Thing").replace(
                "id : int", "id : int\n    ---\n    w : wavelength"
            )
        )


def test_from_tables_without_a_pipefile(tmp_path):
    @djflow.manual
    def Animal():
        """
        name : varchar(8)
        """

    with djflow.from_tables(Animal, db=tmp_path / "x.db", project_dir=tmp_path) as pipeline:
        pipeline.Animal.insert1(("rex",))
        assert pipeline.Animal.fetch("name") == ["rex"]


def test_a_plugin_contributes_tables_through_the_collect_tables_hook(make_project):
    element = '''
    import djflow


    def build(prefix):
        @djflow.manual
        def Lab():
            """
            lab : varchar(8)
            """

        Lab.name = Lab.short_name = f"{prefix}Lab"
        return [Lab]


    TABLES = build("Core")


    @djflow.hookimpl
    def collect_tables(module):
        return TABLES
    '''
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Member():
            """
            -> CoreLab
            member : varchar(8)
            """
        ''',
        plugins={"element": element},
    )
    assert [t.table_name for t in pipeline.tables] == ["CoreLab", "Member"]
    pipeline.CoreLab.insert1(("L1",))
    pipeline.Member.insert1(("L1", "ann"))
    assert len(pipeline.Member * pipeline.CoreLab) == 1
