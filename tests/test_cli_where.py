"""``--where`` is one SQL boolean expression over the table's attributes, nothing else.

Every injection attempt is refused with one line and changes nothing, in every command
that takes ``--where``: run, delete, update, show and jobs --clear.
"""

from __future__ import annotations

import pytest
from cli_helpers import dump, rows, write_project
from click.testing import CliRunner

import djflow
from djflow.cli import cli
from djflow.where import UnknownAttributeError, WhereError, check_where

ATTRIBUTES = ["subject_id", "session_date"]

# (expression, what the one-line error says)
ATTACKS = [
    ("1; DELETE FROM Subject", "not statements"),
    ("subject_id = 'M001'; DROP TABLE Session", "not statements"),
    ("1 -- AND subject_id = 'M001'", "comments"),
    ("1 /* AND subject_id = 'M001' */", "comments"),
    ("1) OR (1", "')' without its '('"),
    ("(1", "'(' without a matching ')'"),
    ("subject_id = 'M001", "unterminated quote"),
    ('"subject_id = 1', "unterminated quote"),
    ("[subject_id = 1", "unterminated ["),
    ("subject_id IN (SELECT subject_id FROM Subject)", "may only use the attributes"),
    ("EXISTS (SELECT 1 FROM sqlite_master)", "reads table 'sqlite_master'"),
    ("EXISTS (SELECT 1 FROM _djflow_jobs)", "may only use the attributes"),
    ("EXISTS (SELECT 1 FROM pragma_table_info('Session'))", "may only use the attributes"),
    ("subject_id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)",
     "recursive"),
    ("load_extension('/tmp/evil.so') IS NULL", "load_extension"),
    ("subject_id = 'M001' UNION SELECT 1", "not a valid SQL expression"),
    ("subject_id = ", "not a valid SQL expression"),
    ("no_such_column = 1", "not an attribute"),
    ("Subject.subject_id = 'M001'", "not an attribute"),
    ("count(*) > 0", "not a valid SQL expression"),
    ("nosuchfunction(subject_id)", "unknown SQL function"),
    ("", "empty"),
    ("subject_id = 'M001'\x00; DROP TABLE Session", "NUL"),
]


@pytest.mark.parametrize(("expression", "message"), ATTACKS)
def test_check_where_refuses(expression, message):
    with pytest.raises(WhereError) as refused:
        check_where(expression, ATTRIBUTES, "Session")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "expression",
    [
        "subject_id = 'M001'",
        "subject_id = 'M;001' AND session_date >= '2024-01-01'",  # ';' and '--' inside literals are text
        "subject_id = 'a -- b' OR subject_id = 'it''s /* not */ a comment'",
        "session_date BETWEEN '2024-01-01' AND '2024-12-31'",
        "(subject_id IN ('M001', 'M002')) AND NOT (session_date IS NULL)",
        "lower(subject_id) LIKE 'm%' OR length(subject_id) > 3",
        '"subject_id" = \'M001\'',
        "[session_date] > '2024-01-01'",
        "  subject_id = 'M001'  ",
    ],
)
def test_check_where_accepts_expressions(expression):
    assert check_where(expression, ATTRIBUTES, "Session") == expression.strip()


def test_unknown_attribute_suggests_and_lists():
    with pytest.raises(UnknownAttributeError) as refused:
        check_where("subjct_id = 'M001'", ATTRIBUTES, "Session")
    assert refused.value.attribute == "subjct_id"
    assert "did you mean subject_id?" in str(refused.value)
    assert "its attributes are subject_id, session_date" in str(refused.value)


# ---------------------------------------------------------------- through the commands


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with sessions, Ratio computed for param 1 and failed jobs for param 2."""
    for name in ("DJFLOW_DB", "DJFLOW_PIPEFILE"):
        monkeypatch.delenv(name, raising=False)
    folder = write_project(tmp_path / "project")
    monkeypatch.chdir(folder)
    with djflow.load() as pipeline:
        pipeline.Subject.insert([{"subject_id": "M001", "species": "mouse"}])
        pipeline.Session.insert([{"subject_id": "M001", "session_date": "2024-01-15"}])
        pipeline.run(keep_going=True)
    return folder


COMMANDS = {
    "delete": ["delete", "Session", "--yes"],
    "update": ["update", "Subject", "--set", "species=rat"],
    "show": ["show", "Session"],
    "run": ["run"],
    "run -n": ["run", "-n"],
    "jobs --clear": ["jobs", "Ratio", "--clear"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("expression", "message"), [a for a in ATTACKS if a[0]])
def test_every_command_refuses_and_changes_nothing(project, command, expression, message):
    before = dump(project)
    result = CliRunner().invoke(cli, [*COMMANDS[command], "--where", expression])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --where"), result.stderr
    assert result.stdout == ""
    assert dump(project) == before


def test_the_project_has_something_to_lose(project):
    assert rows(project, "SELECT count(*) FROM Ratio") == [(1,)]
    assert rows(project, "SELECT count(*) FROM _djflow_jobs WHERE status = 'error'") == [(1,)]


def test_run_where_naming_no_key_attribute(project):
    result = CliRunner().invoke(cli, ["run", "--where", "species = 'mouse'"])
    assert result.exit_code == 1
    assert "no table to run has in its keys (Ratio: subject_id, session_date, param_id)" in result.stderr


def test_where_on_an_attribute_of_another_table_in_show(project):
    result = CliRunner().invoke(cli, ["show", "Session", "--where", "species = 'mouse'"])
    assert result.exit_code == 1
    assert "not an attribute of Session" in result.stderr


def test_jobs_where_needs_a_table(project):
    result = CliRunner().invoke(cli, ["jobs", "--clear", "--where", "param_id = 2"])
    assert result.exit_code == 2 and "needs a TABLE" in result.stderr
