"""Activation (SPEC §2 load, §6 files): SQLite tables a user can open with any tool, real
FOREIGN KEYs, named migrations, lookup contents inserted once, and schema drift."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import networkx as nx
import pytest
from conftest import SEED_PIPEFILE

from djflow import DefinitionError, DjflowError, SchemaDriftError


def connect(pipeline) -> sqlite3.Connection:
    """A plain sqlite3 connection to the pipeline's database, as another tool would open it."""
    connection = sqlite3.connect(pipeline.db.path)
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def test_database_lives_in_dot_djflow_beside_the_pipefile(seed_pipeline, tmp_path):
    assert Path(seed_pipeline.db.path) == tmp_path / "project" / ".djflow" / "pipeline.db"
    assert seed_pipeline.pipefile == tmp_path / "project" / "pipefile.py"


def test_db_argument_and_environment_override_the_location(make_project, tmp_path, monkeypatch):
    chosen = tmp_path / "elsewhere" / "lab.db"
    pipeline = make_project(SEED_PIPEFILE, db=chosen)
    assert Path(pipeline.db.path) == chosen and chosen.exists()
    from_env = tmp_path / "env.db"
    monkeypatch.setenv("DJFLOW_DB", str(from_env))
    pipeline = make_project(SEED_PIPEFILE, folder="other")
    assert Path(pipeline.db.path) == from_env


def test_one_sqlite_table_per_djflow_table_with_readable_names(seed_pipeline):
    connection = connect(seed_pipeline)
    names = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
    }
    declared = {"BlobParamSet", "Subject", "Session", "Image", "Detection", "Detection__Blob"}
    assert declared <= names
    assert {name for name in names - declared} <= {
        "_djflow_migrations",
        "_djflow_tables",
        "_djflow_jobs",
    }
    columns = [row[1] for row in connection.execute('PRAGMA table_info("Subject")')]
    assert columns == ["subject_id", "species", "sex", "notes"]
    primary_key = [
        row[1]
        for row in sorted(connection.execute('PRAGMA table_info("Detection")'), key=lambda r: r[5])
        if row[5]
    ]
    assert primary_key == ["subject_id", "session_date", "blob_paramset"]
    connection.close()


def test_foreign_keys_are_declared_in_sqlite(seed_pipeline):
    connection = connect(seed_pipeline)

    def references(table):
        return sorted(
            (row[2], row[3], row[4])
            for row in connection.execute(f'PRAGMA foreign_key_list("{table}")')
        )

    assert references("Session") == [("Subject", "subject_id", "subject_id")]
    assert references("Detection") == [
        ("BlobParamSet", "blob_paramset", "blob_paramset"),
        ("Image", "session_date", "session_date"),
        ("Image", "subject_id", "subject_id"),
    ]
    assert references("Detection__Blob")[0][0] == "Detection"
    # another tool cannot break them either
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        connection.execute("INSERT INTO \"Session\" VALUES ('ghost', '2024-01-01')")
    connection.close()


def test_connection_settings(seed_pipeline):
    db = seed_pipeline.db
    assert db.scalar("PRAGMA journal_mode") == "wal"
    assert db.scalar("PRAGMA foreign_keys") == 1
    assert db.scalar("PRAGMA busy_timeout") >= 1000


def test_internal_tables_are_made_by_named_migrations(seed_pipeline):
    db = seed_pipeline.db
    applied = [row[0] for row in db.query("SELECT name FROM _djflow_migrations ORDER BY name")]
    assert applied == sorted(applied) and applied[0].startswith("0001_")
    assert "0001_tables_registry" in applied
    recorded = dict(db.query("SELECT name, tier FROM _djflow_tables"))
    assert recorded == {
        "BlobParamSet": "lookup",
        "Subject": "manual",
        "Session": "manual",
        "Image": "imported",
        "Detection": "computed",
        "Detection__Blob": "part",
    }
    assert (
        db.scalar("SELECT master FROM _djflow_tables WHERE name = 'Detection__Blob'") == "Detection"
    )


def test_reactivation_changes_nothing(make_project, seed_pipeline):
    seed_pipeline.Subject.insert1({"subject_id": "M001", "species": "mouse", "sex": "M"})
    schema_before = seed_pipeline.db.query("SELECT name, sql FROM sqlite_schema ORDER BY name")
    migrations_before = seed_pipeline.db.query("SELECT * FROM _djflow_migrations")
    again = make_project(SEED_PIPEFILE)
    assert again.db.query("SELECT name, sql FROM sqlite_schema ORDER BY name") == schema_before
    assert again.db.query("SELECT * FROM _djflow_migrations") == migrations_before
    assert again.Subject.fetch("subject_id") == ["M001"]


def test_lookup_contents_are_inserted_once_and_missing_rows_added(make_project, seed_pipeline):
    assert len(seed_pipeline.BlobParamSet) == 2
    again = make_project(SEED_PIPEFILE)
    assert len(again.BlobParamSet) == 2
    # a content row deleted by hand comes back; a new content row is added; none duplicates
    (again.BlobParamSet & {"blob_paramset": 2}).delete(safemode=False)
    more = SEED_PIPEFILE.replace(
        "(2, 2.0, 10.0, 0.05)]", "(2, 2.0, 10.0, 0.05), (3, 3.0, 12.0, 0.01)]"
    )
    third = make_project(more)
    assert third.BlobParamSet.fetch("blob_paramset", order_by="blob_paramset") == [1, 2, 3]
    assert len(make_project(more).BlobParamSet) == 3


def test_lookup_contents_as_dicts(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.lookup(contents=[{"species": "mouse"}, {"species": "rat", "latin": "Rattus"}])
        def Species():
            """
            species : varchar(16)
            ---
            latin = '' : varchar(32)
            """
        '''
    )
    assert pipeline.Species.fetch("latin", order_by="species") == ["", "Rattus"]


def test_bad_lookup_contents_are_a_definition_error_and_activation_is_undone(
    make_project, tmp_path
):
    with pytest.raises(DefinitionError, match=r"lookup Species contents.*'martian'"):
        make_project(
            '''
            import djflow

            @djflow.lookup(contents=[("mouse", "M"), ("alien", "martian")])
            def Species():
                """
                species : varchar(16)
                ---
                kind : enum('M', 'F')
                """
            '''
        )
    database = sqlite3.connect(tmp_path / "project" / ".djflow" / "pipeline.db")
    names = [
        row[0] for row in database.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
    ]
    database.close()
    assert "Species" not in names


def test_a_file_that_is_not_a_database(make_project, tmp_path):
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text(
        "just some text, long enough to not look like an empty database file" * 20
    )
    with pytest.raises(DjflowError, match="cannot be opened as a SQLite database"):
        make_project(SEED_PIPEFILE, db=not_a_database)


def test_graph_and_dependency_order(seed_pipeline):
    graph = seed_pipeline.graph
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.edges) == {
        ("Subject", "Session"),
        ("Session", "Image"),
        ("Image", "Detection"),
        ("BlobParamSet", "Detection"),
        ("Detection", "Detection__Blob"),
    }
    order = [table.table_name for table in seed_pipeline.tables]
    for parent, child in graph.edges:
        assert order.index(parent) < order.index(child)
    assert graph.nodes["Detection__Blob"]["master"] == "Detection"
    assert graph.nodes["Image"]["tier"] == "imported"


def test_unknown_table_lists_the_tables(seed_pipeline):
    from djflow import UnknownTableError

    with pytest.raises(UnknownTableError) as error:
        seed_pipeline["Sesion"]
    assert "no table 'Sesion'" in str(error.value)
    assert "did you mean Session" in str(error.value)
    assert "tables: BlobParamSet" in str(error.value)
    assert not hasattr(seed_pipeline, "Nothing")


# ---------------------------------------------------------------- drift


def test_drift_is_reported_precisely_and_stops_activation(make_project):
    make_project(SEED_PIPEFILE).Subject.insert1(
        {"subject_id": "M001", "species": "mouse", "sex": "M"}
    )
    with pytest.raises(SchemaDriftError) as error:
        make_project(SEED_PIPEFILE.replace("species : varchar(32)", "species : varchar(64)"))
    message = str(error.value)
    assert "table Subject in the database no longer matches the pipefile" in message
    assert (
        "attribute species is varchar(64) in the pipefile but varchar(32) in the database"
        in message
    )
    # back to the original definition: it loads, rows intact
    assert len(make_project(SEED_PIPEFILE).Subject) == 1


DRIFTS = [
    # (from, to, words in the message)
    (
        "notes = '' : varchar(255)",
        "",
        ["attribute notes is in the database but not in the pipefile"],
    ),
    (
        "    sex : enum('M', 'F', 'U')",
        "    sex = null : enum('M', 'F', 'U')",
        ["sex is nullable in the pipefile but not nullable"],
    ),
    (
        "subject_id : varchar(16)        # lab identifier\n    ---\n    species : varchar(32)",
        "subject_id : varchar(16)\n    species : varchar(32)\n    ---",
        ["attribute species is in the primary key in the pipefile but not in the database"],
    ),
    (
        "-> Subject\n    session_date : date",
        "subject_id : varchar(16)\n    session_date : date",
        [
            "table Session",
            "the reference to Subject (subject_id) is in the database but not in the pipefile",
        ],
    ),
    (
        "    nblobs : int",
        "    nblobs : float",
        ["table Detection", "nblobs is float in the pipefile but int in the database"],
    ),
]


@pytest.mark.parametrize("before, after, words", DRIFTS)
def test_more_drift(make_project, before, after, words):
    make_project(SEED_PIPEFILE)
    assert before in SEED_PIPEFILE
    with pytest.raises(SchemaDriftError) as error:
        make_project(SEED_PIPEFILE.replace(before, after))
    for word in words:
        assert word in str(error.value)
    assert isinstance(error.value, DefinitionError)


def test_comments_and_defaults_are_not_drift(make_project):
    make_project(SEED_PIPEFILE)
    edited = SEED_PIPEFILE.replace("# lab identifier", "# the lab's identifier").replace(
        "notes = '' : varchar(255)", "notes = 'none' : varchar(255)  # free text"
    )
    pipeline = make_project(edited)
    pipeline.Subject.insert1({"subject_id": "M1", "species": "mouse", "sex": "M"})
    assert pipeline.Subject.fetch1("notes") == "none"


def test_drift_leaves_the_database_untouched(make_project, tmp_path):
    make_project(SEED_PIPEFILE)
    database = tmp_path / "project" / ".djflow" / "pipeline.db"
    before = (
        sqlite3.connect(database)
        .execute("SELECT name, sql FROM sqlite_schema ORDER BY name")
        .fetchall()
    )
    new_table = '\n@djflow.manual\ndef Extra():\n    """\n    extra : int\n    """\n'
    with pytest.raises(SchemaDriftError):
        make_project(SEED_PIPEFILE.replace("    nblobs : int", "    nblobs : float") + new_table)
    after = (
        sqlite3.connect(database)
        .execute("SELECT name, sql FROM sqlite_schema ORDER BY name")
        .fetchall()
    )
    assert after == before


def test_an_index_added_later_is_drift(make_project):
    make_project(SEED_PIPEFILE)
    indexed = SEED_PIPEFILE.replace(
        "notes = '' : varchar(255)", "notes = '' : varchar(255)\n    unique index(species)"
    )
    with pytest.raises(
        SchemaDriftError,
        match=r"Subject.*unique index\(species\) is in the pipefile but not in the database",
    ):
        make_project(indexed)


def test_an_index_removed_later_is_drift_but_another_tools_index_is_not(make_project):
    indexed = SEED_PIPEFILE.replace(
        "notes = '' : varchar(255)", "notes = '' : varchar(255)\n    index(species)"
    )
    pipeline = make_project(indexed)
    pipeline.db.execute('CREATE INDEX "my_own" ON "Subject" (sex)')
    assert make_project(indexed)
    with pytest.raises(
        SchemaDriftError,
        match="the index Subject__index__species is in the database but not in the pipefile",
    ):
        make_project(SEED_PIPEFILE)


def test_a_new_table_is_added_to_an_existing_database(make_project):
    make_project(SEED_PIPEFILE).Subject.insert1(
        {"subject_id": "M1", "species": "mouse", "sex": "M"}
    )
    new_table = '\n@djflow.manual\ndef Weighing():\n    """\n    -> Subject\n    day : date\n    ---\n    grams : float\n    """\n'
    pipeline = make_project(SEED_PIPEFILE + new_table)
    pipeline.Weighing.insert1({"subject_id": "M1", "day": "2024-01-01", "grams": 20.5})
    assert len(pipeline.Weighing) == 1
