"""The tier decorators of a pipefile and the ``TableDef`` each one makes.

A ``TableDef`` is only a declaration: a name, a tier, the definition text, and for
auto-populated tables the make function. It becomes a live :class:`djflow.table.Table`
when a pipeline is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from .errors import DefinitionError
from .hookspecs import hookimpl

# every top-level declaration made in this process, by (module, name): the latest one wins
DECLARED: dict[tuple[str, str], TableDef] = {}

TIERS = ("lookup", "manual", "imported", "computed", "part")
AUTO_TIERS = ("imported", "computed")


class TableDef:
    """One declared table: what the decorators return in place of the function."""

    def __init__(
        self,
        function: Callable,
        tier: str,
        contents: Iterable | None = None,
        master: TableDef | None = None,
    ):
        self.function = function
        self.tier = tier
        self.short_name = function.__name__
        self.name = f"{master.name}__{function.__name__}" if master else function.__name__
        self.definition = function.__doc__ or ""
        self.contents = list(contents) if contents is not None else None
        self.master = master
        self.parts: dict[str, TableDef] = {}
        self.module = function.__module__
        if master is None:
            DECLARED[(self.module, self.name)] = self

    @property
    def make(self) -> Callable | None:
        """The make function (imported and computed tables only)."""
        return self.function if self.tier in AUTO_TIERS else None

    @property
    def is_auto(self) -> bool:
        """True for tables whose rows come only from populate (parts of them included)."""
        owner = self.master or self
        return owner.tier in AUTO_TIERS

    def part(self, function: Callable) -> TableDef:
        """Declare a part table of this master: ``@Master.part``."""
        if self.master is not None:
            raise DefinitionError(f"{self.name} is a part table; a part cannot have parts of its own")
        part = TableDef(function, "part", master=self)
        self.parts[part.short_name] = part
        setattr(self, part.short_name, part)
        return part

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # calling the declaration runs the make, which is handy when testing a pipefile
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<TableDef {self.name} ({self.tier})>"

    def __reduce__(self):
        # pickled by reference, so a make can be sent to a worker process
        return (find_table_def, (self.module, self.name))


def find_table_def(module: str, name: str) -> TableDef:
    """The declaration ``name`` (``Master__Part`` for parts) of an already loaded module.

    Looked up in the registry of declarations, so it is found even when a script rebinds
    the name (``Detection = pipeline.Detection``).
    """
    master, _, part = name.partition("__")
    table_def = DECLARED.get((module, master)) or getattr(sys.modules[module], master)
    return table_def.parts[part] if part else table_def


@hookimpl
def collect_tables(module: Any) -> list[TableDef]:
    """The built-in collector: the module-level declarations of ``module`` (parts come with masters)."""
    return [value for value in vars(module).values() if isinstance(value, TableDef) and value.master is None]


def lookup(function: Callable | None = None, *, contents: Iterable | None = None):
    """Declare a lookup table; ``contents`` rows are inserted when the pipeline activates."""

    def declare(function: Callable) -> TableDef:
        return TableDef(function, "lookup", contents=contents or [])

    return declare(function) if function is not None else declare


def manual(function: Callable) -> TableDef:
    """Declare a manual table: rows come from outside the pipeline (insert, delete, update1)."""
    return TableDef(function, "manual")


def imported(function: Callable) -> TableDef:
    """Declare an imported table: the function is its make, which reads data from outside."""
    return TableDef(function, "imported")


def computed(function: Callable) -> TableDef:
    """Declare a computed table: the function is its make, which computes from upstream rows."""
    return TableDef(function, "computed")
