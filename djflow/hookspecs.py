"""Every hook djflow calls. Plugins implement them with ``@djflow.hookimpl``.

Hooks are always called with keyword arguments, so an implementation may accept only the
arguments it needs. ``register_*`` hooks contribute things by calling ``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("djflow")
hookimpl = pluggy.HookimplMarker("djflow")


@hookspec
def collect_tables(module: Any) -> list | None:
    """Return the table declarations (``TableDef``) that a registered ``module`` contributes.

    Called once for every module registered as a plugin: the pipefile, each ``plugins/*.py``
    file and each installed plugin. The built-in collector returns the module-level objects
    made by ``@djflow.lookup/manual/imported/computed``.
    """


@hookspec
def register_types(register: Callable[[str, Callable], None]) -> None:
    """Contribute attribute types: ``register(name, factory)``.

    ``factory(args: list[str], unsigned: bool, declared: str)`` returns a
    :class:`djflow.types.AttributeType`. ``name`` is the word that starts the type in a
    definition (``varchar`` in ``varchar(16)``).
    """


@hookspec
def register_executors(register: Callable[[str, Callable], None]) -> None:
    """Contribute executors: ``register(name, factory)``; ``factory(processes)`` returns an Executor.

    An executor only runs make calls; the engine reads their inputs and writes their rows.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``djflow`` click group ``cli``."""


@hookspec
def activated(pipeline: Any) -> None:
    """The pipeline's schema was created or checked and lookup contents are in place."""


@hookspec
def populate_started(table: Any, pending: int) -> None:
    """``table.populate`` is about to compute ``pending`` keys."""


@hookspec
def populate_finished(table: Any, result: dict) -> None:
    """``table.populate`` finished; ``result`` is what populate returns."""


@hookspec
def job_started(table: Any, key: dict) -> None:
    """A make is about to run for ``key``."""


@hookspec
def job_succeeded(table: Any, key: dict, seconds: float) -> None:
    """The rows for ``key`` were computed and written in ``seconds``."""


@hookspec
def job_failed(table: Any, key: dict, exception: BaseException, traceback: str) -> None:
    """The make for ``key`` raised ``exception`` (``traceback`` is its formatted text)."""


@hookspec
def rows_deleted(table: Any, counts: dict[str, int]) -> None:
    """A cascading delete starting at ``table`` removed ``counts`` rows per table."""
