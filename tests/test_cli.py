"""The ``djflow`` command line through click's CliRunner: status, show, update, diagram,
init, plugins, the global options and how errors are shown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import click
import pytest
from cli_helpers import database, dump, rows, write_project
from click.testing import CliRunner

import djflow
from djflow.cli import cli


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (the current directory) with subjects, sessions and Ratio for param 1."""
    for name in ("DJFLOW_DB", "DJFLOW_PIPEFILE"):
        monkeypatch.delenv(name, raising=False)
    folder = write_project(tmp_path / "project")
    monkeypatch.chdir(folder)
    with djflow.load() as pipeline:
        pipeline.Subject.insert([
            {"subject_id": "M001", "species": "mouse", "age": 3},
            {"subject_id": "M002", "species": "rat", "meta": {"tag": 1}},
        ])
        pipeline.Session.insert([
            {"subject_id": "M001", "session_date": "2024-01-15"},
            {"subject_id": "M002", "session_date": "2024-02-01"},
        ])
        pipeline.run(where="param_id = 1")
    return folder


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, prog_name="djflow", catch_exceptions=False)


def assert_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# ---------------------------------------------------------------- the group


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"djflow, version {djflow.__version__}"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_command(flag):
    result = invoke(flag)
    assert result.exit_code == 0
    for command in ["run", "status", "insert", "delete", "update", "show", "jobs", "diagram", "init", "plugins"]:
        assert f"  {command} " in result.output


def test_every_command_has_a_summary_and_an_example():
    for name, command in cli.commands.items():
        result = invoke(name, "-h")
        assert result.exit_code == 0, name
        summary = command.help.strip().splitlines()[0]
        assert summary.endswith("."), name
        assert "Example" in result.output and "djflow " in result.output.split("Example", 1)[1], name


def test_help_imports_nothing_heavy():
    code = (
        "import sys, djflow.cli;"
        "print([m for m in ('tabulate', 'tqdm', 'sqlite_utils', 'pandas', 'numpy', 'djflow.diagram') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_no_pipefile_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DJFLOW_PIPEFILE", raising=False)
    assert_error(invoke("status"), "no pipefile.py found", "djflow init")


def test_mistyped_table_suggests(project):
    assert_error(invoke("show", "Sesion"), "no table 'Sesion'", "did you mean Session?")


def test_traceback_flag_shows_the_exception(project):
    result = CliRunner().invoke(cli, ["--traceback", "show", "Nope"])
    assert isinstance(result.exception, djflow.UnknownTableError)


def test_a_definition_error_is_one_line(project):
    (project / "pipefile.py").write_text("import djflow\n\n@djflow.manual\ndef T():\n    '''\n    x : nosuchtype\n    '''\n")
    assert_error(invoke("status"), "T")


def test_pipefile_and_db_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path / "elsewhere")
    db = tmp_path / "data" / "my.db"
    result = invoke("--pipefile", str(tmp_path / "elsewhere"), "--db", str(db), "show", "Param", "--json")
    assert result.exit_code == 0, result.output
    assert [row["param_id"] for row in json.loads(result.stdout)] == [1, 2]
    assert db.exists() and not (tmp_path / "elsewhere" / ".djflow").exists()


# ---------------------------------------------------------------- status


def test_status(project):
    result = invoke("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"table": "Param", "tier": "lookup", "rows": 2, "pending": None, "reserved": None, "errors": None},
        {"table": "Subject", "tier": "manual", "rows": 2, "pending": None, "reserved": None, "errors": None},
        {"table": "Session", "tier": "manual", "rows": 2, "pending": None, "reserved": None, "errors": None},
        {"table": "Ratio", "tier": "computed", "rows": 2, "pending": 2, "reserved": 0, "errors": 0},
        {"table": "Ratio.Point", "tier": "part", "rows": 2, "pending": None, "reserved": None, "errors": None},
    ]
    table = invoke("status").stdout.splitlines()
    assert table[0].split() == ["table", "tier", "rows", "pending", "reserved", "errors"]
    assert table[5].split() == ["Ratio", "computed", "2", "2", "0", "0"]


def test_status_reads_each_key_source_once(project, monkeypatch):
    """Only the pending keys are counted: no count of the whole key source that status would not show."""
    from djflow.cli import Project

    statements = []
    load = Project.pipeline

    def traced(self, *args, **kwargs):
        pipeline = load(self, *args, **kwargs)
        pipeline.db.conn.set_trace_callback(statements.append)
        return pipeline

    monkeypatch.setattr(Project, "pipeline", traced)
    assert invoke("status").exit_code == 0
    key_source = [sql for sql in statements if '"Session"' in sql and '"Param"' in sql]  # Ratio's: Session x Param
    assert len(key_source) == 1 and "NOT EXISTS" in key_source[0], key_source


# ---------------------------------------------------------------- show


def test_show_formats(project):
    table = invoke("show", "Subject").stdout.splitlines()
    assert table[0].split() == ["subject_id", "species", "age", "notes", "meta"]
    assert table[2].split() == ["M001", "mouse", "3"]
    assert invoke("show", "Subject", "--csv").stdout.splitlines() == [
        "subject_id,species,age,notes,meta", "M001,mouse,3,,", 'M002,rat,,,"{""tag"": 1}"',
    ]
    assert json.loads(invoke("show", "Subject", "--format", "json").stdout)[1]["meta"] == {"tag": 1}
    lines = invoke("show", "Session", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["session_date"] for line in lines] == ["2024-01-15", "2024-02-01"]


def test_show_where_and_limit(project):
    result = invoke("show", "Session", "--where", "session_date > '2024-01-31'", "--json")
    assert [row["subject_id"] for row in json.loads(result.stdout)] == ["M002"]
    limited = invoke("show", "Subject", "--limit", "1", "--json")
    assert [row["subject_id"] for row in json.loads(limited.stdout)] == ["M001"]
    assert "Showing 1 of 2 rows" in limited.stderr


def test_show_blob(project):
    assert "=BLOB=" in invoke("show", "Ratio.Point").stdout
    shown = json.loads(invoke("show", "Ratio.Point", "--json").stdout)
    assert shown[0]["data"] == [0.5, 1.0]


# ---------------------------------------------------------------- update


def test_update_one_row(project):
    result = invoke("update", "Subject", "--where", "subject_id = 'M002'", "--set", "age=5",
                    "--set", 'meta={"tag": 2}', "--set", "notes=moved")
    assert result.exit_code == 0, result.output
    assert rows(project, "SELECT age, meta, notes FROM Subject WHERE subject_id = 'M002'") == [
        (5, '{"tag": 2}', "moved"),
    ]


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["--where", "1", "--set", "age=1"], ["2 rows of Subject match", "exactly one row"]),
        (["--where", "subject_id = 'X'", "--set", "age=1"], ["no rows of Subject match"]),
        (["--where", "subject_id = 'M001'", "--set", "subject_id=M9"], ["primary key"]),
        (["--where", "subject_id = 'M001'", "--set", "agee=1"], ["no attribute 'agee'"]),
        (["--where", "subject_id = 'M001'", "--set", "age=old"], ["Subject.age", "not a whole number"]),
        (["--where", "subject_id = 'M001'", "--set", "meta={bad"], ["JSON"]),
    ],
)
def test_update_refusals_change_nothing(project, arguments, fragments):
    before = dump(project)
    assert_error(invoke("update", "Subject", *arguments), *fragments)
    assert dump(project) == before


def test_update_needs_where(project):
    result = invoke("update", "Subject", "--set", "age=1")
    assert result.exit_code == 2 and "--where" in result.stderr


# ---------------------------------------------------------------- diagram


def test_diagram_prints_mermaid_and_writes_files(project):
    result = invoke("diagram")
    assert result.stdout.startswith("flowchart")
    assert 'Ratio(("Ratio")):::computed' in result.stdout
    assert invoke("diagram", "--format", "dot").stdout.startswith("digraph")
    assert invoke("diagram", "-o", "pipeline.md").exit_code == 0
    assert (project / "pipeline.md").read_text().startswith("```mermaid")
    assert_error(invoke("diagram", "-o", "pipeline.txt"), "unknown suffix")


def test_diagram_writes_no_database(tmp_path, monkeypatch):
    monkeypatch.chdir(write_project(tmp_path / "fresh"))
    assert invoke("diagram").exit_code == 0
    assert not database(tmp_path / "fresh").exists()


# ---------------------------------------------------------------- init


def test_init_writes_a_pipefile_that_runs_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DJFLOW_DB", raising=False)
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert "# " in (tmp_path / "pipefile.py").read_text()  # commented
    ran = invoke("run")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines()[2].split()[:3] == ["Square", "3", "0"]
    assert json.loads(invoke("show", "Square", "--json").stdout) == [
        {"n": 1, "square": 1}, {"n": 2, "square": 4}, {"n": 3, "square": 9},
    ]
    assert_error(invoke("init"), "already exists")


def test_init_into_a_new_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "new").exit_code == 0
    assert (tmp_path / "new" / "pipefile.py").exists()


# ---------------------------------------------------------------- plugins


LOCAL_PLUGIN = '''
import click
import djflow


@djflow.hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        """Say hello."""
        click.echo(f"Hello, {name}!")
'''


def test_plugins_lists_local_plugins_and_their_commands_work(tmp_path, monkeypatch):
    folder = write_project(tmp_path / "withplugin")
    (folder / "plugins").mkdir()
    (folder / "plugins" / "greet.py").write_text(textwrap.dedent(LOCAL_PLUGIN))
    monkeypatch.chdir(folder)
    assert json.loads(invoke("plugins").stdout) == [{"name": "local:greet.py", "hooks": ["register_commands"]}]
    assert "hello" in invoke("--help").stdout
    assert invoke("hello", "world").stdout == "Hello, world!\n"


def test_local_plugin_manager_holds_only_the_project_plugins(tmp_path):
    from djflow.plugins import local_plugin_manager

    folder = write_project(tmp_path / "withplugin")
    (folder / "plugins").mkdir()
    (folder / "plugins" / "greet.py").write_text(textwrap.dedent(LOCAL_PLUGIN))
    manager = local_plugin_manager(folder)
    assert [name for name, _ in manager.list_name_plugin()] == ["local:greet.py"]
    collector = click.Group()
    manager.hook.register_commands(cli=collector)
    assert list(collector.commands) == ["hello"]


def test_a_local_plugin_that_does_not_fit_is_a_warning_in_help(tmp_path, monkeypatch):
    folder = write_project(tmp_path / "badplugin")
    (folder / "plugins").mkdir()
    (folder / "plugins" / "bad.py").write_text(LOCAL_PLUGIN.replace("def register_commands(cli)", "def register_commands(cli, shell)"))
    monkeypatch.chdir(folder)
    result = invoke("--help")
    assert result.exit_code == 0 and "  status " in result.stdout and "hello" not in result.stdout
    assert result.stderr.startswith(f"Warning: plugins in {folder / 'plugins'} not loaded: plugin ")
    assert "check the hook's name and argument names" in result.stderr


def test_plugins_empty(project):
    assert json.loads(invoke("plugins").stdout) == []


def test_core_commands_come_through_the_hook():
    from djflow.plugins import BUILTIN_PLUGINS

    assert "djflow.commands" in BUILTIN_PLUGINS
    assert {c.callback.__module__ for c in cli.commands.values()} >= {"djflow.commands"}


def test_core_commands_are_module_level_and_the_hook_adds_them():
    import inspect

    from djflow import commands

    group = click.Group()
    commands.register_commands(cli=group)
    assert list(group.commands) == ["run", "status", "insert", "delete", "update", "show", "jobs", "diagram", "init",
                                    "plugins"]
    for name, command in group.commands.items():
        assert getattr(commands, name) is command is cli.commands[name]
    helpers = [f for f in vars(commands).values() if inspect.isfunction(f) and f.__module__ == "djflow.commands"]
    assert [f.__name__ for f in helpers if not f.__doc__] == []
