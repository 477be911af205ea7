"""The definition language (SPEC §1): attributes, defaults, references, indexes, and errors
that name the table, the line and what is wrong."""

from __future__ import annotations

import datetime
import sqlite3

import pytest

import djflow
from djflow import DefinitionError, DuplicateError, IntegrityError

ALL_TYPES = '''
import djflow

@djflow.manual
def Everything():
    """
    id : int
    ---
    a_tinyint : tinyint
    a_tinyint_u : tinyint unsigned
    a_smallint : smallint
    a_smallint_u : smallint unsigned
    a_int_u : int unsigned
    a_bigint : bigint
    a_bigint_u : bigint unsigned
    a_float : float
    a_double : double
    a_decimal : decimal(8,3)
    a_bool : bool
    a_varchar : varchar(8)
    a_char : char(2)
    an_enum : enum('red', 'green')
    a_date : date
    a_datetime : datetime
    a_timestamp : timestamp
    a_json : json
    a_uuid : uuid
    a_blob : blob
    a_longblob : longblob
    an_attach : attach
    a_filepath : filepath
    """
'''


def test_every_listed_type_is_accepted_with_its_storage_class(make_project):
    pipeline = make_project(ALL_TYPES)
    heading = pipeline.Everything.heading
    assert heading.primary_key == ["id"]
    columns = {row[1]: row[2] for row in pipeline.db.query('PRAGMA table_info("Everything")')}
    assert columns["a_bigint_u"] == "INTEGER"
    assert columns["a_double"] == "REAL"
    assert columns["a_bool"] == "INTEGER"
    assert columns["a_longblob"] == "BLOB"
    assert columns["a_date"] == "TEXT"
    assert len(columns) == 24
    assert heading.attributes["a_tinyint_u"].declared == "tinyint unsigned"


def test_comments_defaults_and_null(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Note():
            """
            # a comment line is ignored
            note_id : int                          # the key
            ---
            text = 'a: b # c' : varchar(32)         # quotes protect ':' and '#'
            count = 3 : int
            ratio = 0.5 : float
            flag = true : bool
            remark = null : varchar(10)
            created = CURRENT_TIMESTAMP : timestamp
            """
        '''
    )
    heading = pipeline.Note.heading
    assert heading.attributes["note_id"].comment == "the key"
    assert heading.attributes["text"].comment == "quotes protect ':' and '#'"
    before = datetime.datetime.now().replace(microsecond=0)
    pipeline.Note.insert1({"note_id": 1})
    row = pipeline.Note.fetch1()
    assert row["text"] == "a: b # c"
    assert row["count"] == 3
    assert row["ratio"] == 0.5
    assert row["flag"] is True
    assert row["remark"] is None
    assert before <= row["created"] <= datetime.datetime.now()


def test_reference_above_the_line_joins_the_key_and_below_is_secondary(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Subject():
            """
            subject_id : varchar(8)
            """

        @djflow.manual
        def Rig():
            """
            rig : varchar(8)
            """

        @djflow.manual
        def Session():
            """
            -> Subject             # whose session
            session : int
            ---
            -> Rig                 # where it was recorded
            """
        '''
    )
    heading = pipeline.Session.heading
    assert heading.primary_key == ["subject_id", "session"]
    assert heading.secondary == ["rig"]
    assert not heading.attributes["rig"].nullable
    pipeline.Subject.insert1(("M1",))
    with pytest.raises(IntegrityError, match=r"Rig \{'rig': 'nope'\}"):
        pipeline.Session.insert1(("M1", 1, "nope"))
    pipeline.Rig.insert1(("R1",))
    pipeline.Session.insert1(("M1", 1, "R1"))
    with pytest.raises(djflow.DataError, match="rig"):
        pipeline.Session.insert1({"subject_id": "M1", "session": 2})


def test_nullable_reference_below_the_line(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Person():
            """
            person : varchar(8)
            """

        @djflow.manual
        def Sample():
            """
            sample : int
            ---
            -> [nullable] Person
            """
        '''
    )
    assert pipeline.Sample.heading.attributes["person"].nullable
    pipeline.Sample.insert1({"sample": 1})  # no person: NULL
    pipeline.Person.insert1(("ann",))
    pipeline.Sample.insert1({"sample": 2, "person": "ann"})
    with pytest.raises(IntegrityError, match="Person"):
        pipeline.Sample.insert1({"sample": 3, "person": "bob"})
    assert pipeline.Sample.fetch("person", order_by="sample") == [None, "ann"]
    assert (pipeline.Sample & "person IS NULL").fetch1("sample") == 1


def test_nullable_reference_in_the_key_is_an_error(make_project):
    with pytest.raises(DefinitionError) as error:
        make_project(
            '''
            import djflow

            @djflow.manual
            def Person():
                """
                person : varchar(8)
                """

            @djflow.manual
            def Sample():
                """
                -> [nullable] Person
                """
            '''
        )
    assert "Sample" in str(error.value)
    assert "line 2" in str(error.value)
    assert "nullable" in str(error.value)


SYNAPSE = '''
import djflow

@djflow.manual
def Neuron():
    """
    neuron_id : int
    ---
    kind : enum('exc', 'inh')
    """

@djflow.manual
def Synapse():
    """
    -> Neuron.proj(pre='neuron_id')
    -> Neuron.proj(post='neuron_id')
    ---
    weight : float
    """
'''


def test_two_renamed_references_to_the_same_parent(make_project):
    pipeline = make_project(SYNAPSE)
    assert pipeline.Synapse.heading.primary_key == ["pre", "post"]
    fks = sorted(row[3:5] for row in pipeline.db.query('PRAGMA foreign_key_list("Synapse")'))
    assert fks == [("post", "neuron_id"), ("pre", "neuron_id")]
    pipeline.Neuron.insert([(1, "exc"), (2, "inh"), (3, "exc")])
    pipeline.Synapse.insert([(1, 2, 0.5), (2, 3, 0.25), (3, 1, 1.0)])
    with pytest.raises(IntegrityError, match=r"\{'neuron_id': 9\}"):
        pipeline.Synapse.insert1((1, 9, 0.1))
    # the renamed attributes join back to the parent through proj
    pre_kinds = (pipeline.Synapse * pipeline.Neuron.proj("kind", pre="neuron_id")).fetch(
        "pre", "kind", order_by="pre"
    )
    assert pre_kinds == ([1, 2, 3], ["exc", "inh", "exc"])
    # deleting a neuron removes the synapses where it is pre and where it is post
    (pipeline.Neuron & {"neuron_id": 2}).delete(safemode=False)
    assert pipeline.Synapse.fetch("pre", "post") == ([3], [1])


def test_rename_of_an_attribute_the_parent_lacks(make_project):
    with pytest.raises(
        DefinitionError, match=r"Synapse.*line 2.*Neuron has no primary-key attribute 'id'"
    ):
        make_project(SYNAPSE.replace("pre='neuron_id'", "pre='id'"))


def test_index_and_unique_index(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Animal():
            """
            animal_id : int
            ---
            tag : varchar(16)
            cage : int
            unique index(tag)
            index(cage)   # for per-cage listings
            """
        '''
    )
    indexes = {row[1]: row[2] for row in pipeline.db.query('PRAGMA index_list("Animal")')}
    assert indexes["Animal__unique__tag"] == 1
    assert indexes["Animal__index__cage"] == 0
    pipeline.Animal.insert1((1, "A", 7))
    pipeline.Animal.insert1((2, "B", 7))
    with pytest.raises(DuplicateError, match="Animal"):
        pipeline.Animal.insert1((3, "A", 8))
    assert len(pipeline.Animal) == 2


def test_part_table_references_master(seed_pipeline):
    blob = seed_pipeline.Detection.Blob
    assert blob.table_name == "Detection__Blob"
    assert blob.master.table_name == "Detection"
    assert blob.heading.primary_key == ["subject_id", "session_date", "blob_paramset", "blob_id"]
    assert seed_pipeline["Detection.Blob"] is blob
    assert seed_pipeline["Detection__Blob"] is blob


def test_reference_to_a_part_table(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Trial():
            """
            trial : int
            """

        @Trial.part
        def Event():
            """
            -> master
            event : int
            """

        @djflow.manual
        def Label():
            """
            -> Trial.Event
            ---
            label : varchar(8)
            """
        '''
    )
    assert pipeline.Label.heading.primary_key == ["trial", "event"]
    assert ("Trial__Event", "Label") in pipeline.graph.edges


# ---------------------------------------------------------------- errors


def table(body: str, name: str = "Broken", extra: str = "") -> str:
    """A pipefile with one manual table ``name`` whose definition is ``body``."""
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f'import djflow\n{extra}\n@djflow.manual\ndef {name}():\n    """\n{indented}\n    """\n'


@pytest.mark.parametrize(
    "body, line, problem",
    [
        ("id : int\n---\nx : floaty", 4, "unknown type 'floaty'"),
        ("id : int\n---\nX : int", 4, "'X' is not a valid attribute name"),
        ("id : int\n---\nx int", 4, "an attribute is written 'name : type'"),
        ("id : int\n---\nrowid : varchar(8)", 4, "'rowid' is reserved"),
        ("id : int\n---\nx :", 4, "no type"),
        ("id : int\n---\nx : int\n---", 5, "a second '---' divider"),
        ("id = 1 : int\n---\nx : int", 2, "primary-key attribute id cannot have a default"),
        ("id : int\n---\nx : int\nx : float", 5, "attribute x is declared twice"),
        ("id : int\n---\nname : varchar", 4, "varchar needs a length"),
        ("id : int\n---\nx : decimal(2,5)", 4, "scale larger than its precision"),
        ("id : int\n---\nx : float unsigned", 4, "'unsigned' applies only to integer types"),
        ("id : int\n---\nc : enum(red, green)", 4, "enum members are quoted"),
        ("id : int\n---\nx = : int", 4, "no default value"),
        ("id : int\n---\nx = 1.5 : int", 4, "default"),
        (
            "id : int\n---\nc = 'blue' : enum('red', 'green')",
            4,
            "'blue' is not one of 'red', 'green'",
        ),
        ("id : int\n---\nd = 'soon' : date", 4, "not a date"),
        ("id : int\n---\nx : int\nindex(y)", 5, "unknown attribute 'y'"),
        ("id : int\n---\nx : int\nindex()", 5, "at least one attribute"),
        ("-> [weird] Other\n---\nx : int", 2, "unknown reference option 'weird'"),
        ("-> Other.proj(pre=id)\n---\nx : int", 2, "cannot read the rename"),
        ("-> master\n---\nx : int", 2, "'-> master' is only allowed in a part table"),
    ],
)
def test_definition_errors_name_table_line_and_problem(make_project, body, line, problem):
    other = '\n@djflow.manual\ndef Other():\n    """\n    id : int\n    """\n'
    with pytest.raises(DefinitionError) as error:
        make_project(table(body, extra=other))
    message = str(error.value)
    assert "Broken" in message
    assert f"line {line}" in message
    assert problem in message


def test_no_primary_key_and_no_definition(make_project):
    with pytest.raises(DefinitionError, match="table Broken has no primary key"):
        make_project(table("---\nx : int"))
    with pytest.raises(DefinitionError, match="table Empty has no definition"):
        make_project("import djflow\n\n@djflow.manual\ndef Empty():\n    pass\n")


def test_unknown_parent_is_named_with_a_suggestion(make_project):
    source = table("-> Sesion\nid : int", name="Scan", extra=table("id : int", name="Session"))
    with pytest.raises(DefinitionError) as error:
        make_project(source)
    message = str(error.value)
    assert "Scan" in message and "no table named 'Sesion'" in message
    assert "did you mean Session" in message


def test_part_without_master_reference(make_project):
    with pytest.raises(DefinitionError, match="part table Trial__Event must reference its master"):
        make_project(
            '''
            import djflow

            @djflow.manual
            def Trial():
                """
                trial : int
                """

            @Trial.part
            def Event():
                """
                event : int
                """
            '''
        )


def test_cycle_is_an_error_at_load_time(make_project):
    source = '''
    import djflow

    @djflow.manual
    def A():
        """
        a : int
        ---
        -> B
        """

    @djflow.manual
    def B():
        """
        b : int
        ---
        -> A
        """
    '''
    with pytest.raises(DefinitionError, match=r"cycle \((A -> B -> A|B -> A -> B)\)"):
        make_project(source)


def test_a_failed_load_leaves_no_database_tables(make_project, tmp_path):
    with pytest.raises(DefinitionError):
        make_project(table("id : int\n---\nx : nonsense"))
    database = tmp_path / "project" / ".djflow" / "pipeline.db"
    if database.exists():
        names = [r[0] for r in sqlite3.connect(database).execute("SELECT name FROM sqlite_schema")]
        assert "Broken" not in names


def test_error_classes_are_exported_and_share_a_base():
    for name in (
        "DefinitionError",
        "DuplicateError",
        "IntegrityError",
        "DataError",
        "QueryError",
        "PopulateError",
    ):
        error_class = getattr(djflow, name)
        assert issubclass(error_class, djflow.DjflowError)
        assert name in djflow.__all__
    assert issubclass(djflow.SchemaDriftError, DefinitionError)
