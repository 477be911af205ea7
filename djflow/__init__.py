"""djflow: a relational workflow engine on SQLite, driven from a pipefile.py.

Declare tables with the tier decorators, load the pipeline, insert and populate::

    import djflow
    pipeline = djflow.load()
    pipeline.Subject.insert1({"subject_id": "M001", "species": "mouse", "sex": "M"})
    pipeline.run()
"""

from .declare import computed, imported, lookup, manual
from .errors import (
    DatabaseWriteError,
    DataError,
    DefinitionError,
    DjflowError,
    DuplicateError,
    IntegrityError,
    PopulateError,
    QueryError,
    SchemaDriftError,
    UnknownTableError,
)
from .hookspecs import hookimpl
from .pipeline import Pipeline, from_tables, load

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DatabaseWriteError",
    "DefinitionError",
    "DjflowError",
    "DuplicateError",
    "IntegrityError",
    "Pipeline",
    "PopulateError",
    "QueryError",
    "SchemaDriftError",
    "UnknownTableError",
    "__version__",
    "computed",
    "from_tables",
    "hookimpl",
    "imported",
    "load",
    "lookup",
    "manual",
]
