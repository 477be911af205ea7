"""The ``djflow`` command: the click group, its global options, and the one place errors are shown.

The commands themselves are plugins. ``djflow/commands.py`` is a built-in plugin that adds
run, status, insert, ... through the ``register_commands(cli)`` hook, exactly as an
installed plugin or a ``plugins/*.py`` file beside the pipefile adds its own. The group is
kept cheap to import (heavy modules are imported inside the commands) so that
``djflow --help`` answers at once.

Every djflow error, and any sqlite3 error that slipped through, becomes one line
``Error: ...`` and exit status 1; ``djflow --traceback COMMAND`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import click

from . import __version__
from .errors import DjflowError
from .plugins import local_plugin_manager, make_plugin_manager

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Project:
    """What a command works on: the pipefile and database chosen by the global options.

    The pipeline is loaded when a command first asks for it and closed when the command ends.
    """

    def __init__(self, pipefile: str | None, db: str | None):
        self.pipefile = pipefile
        self.db = db
        self._pipeline = None

    def pipeline(self, readonly: bool = False, activate: bool = True):
        """Load the pipeline (``readonly``: never write to the database file)."""
        if self._pipeline is None:
            from .pipeline import load

            self._pipeline = load(self.pipefile, self.db, readonly=readonly, activate=activate)
        return self._pipeline

    def project_dir(self) -> Path | None:
        """The folder of the pipefile, or None when there is no pipefile to be found."""
        from .pipefile import find_pipefile

        try:
            return find_pipefile(self.pipefile).parent
        except DjflowError:
            return None

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None


class DjflowGroup(click.Group):
    """The ``djflow`` group: one-line errors, and commands from the project's ``plugins/*.py``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local_commands: dict[Path, dict[str, click.Command]] = {}

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `djflow show T | head` closed the pipe: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except (DjflowError, sqlite3.Error, OSError) as error:
            if ctx.params.get("traceback"):
                raise
            raise click.ClickException(one_line(error)) from None
        except Exception as error:
            if ctx.params.get("traceback"):
                raise
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {one_line(error)} (run `djflow --traceback ...` to see where)"
            ) from None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self.local_commands(ctx).get(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.local_commands(ctx)})

    def local_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """Commands that the ``plugins/*.py`` files beside the pipefile add (loaded once)."""
        project_dir = Project(ctx.params.get("pipefile"), None).project_dir()
        if project_dir is None or not (project_dir / "plugins").is_dir():
            return {}
        if project_dir not in self._local_commands:
            collector = click.Group()
            try:
                local_plugin_manager(project_dir).hook.register_commands(cli=collector)
            except DjflowError as error:
                click.echo(f"Warning: plugins in {project_dir / 'plugins'} not loaded: {one_line(error)}", err=True)
            self._local_commands[project_dir] = dict(collector.commands)
        return self._local_commands[project_dir]


def one_line(error: BaseException) -> str:
    """An exception's message on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


@click.group(cls=DjflowGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="djflow")
@click.option(
    "--pipefile",
    metavar="PATH",
    help="The pipefile to use (a file, or a folder holding pipefile.py). "
    "Default: $DJFLOW_PIPEFILE, else the nearest pipefile.py in this folder or its parents.",
)
@click.option(
    "--db",
    metavar="PATH",
    help="The SQLite database. Default: $DJFLOW_DB, else .djflow/pipeline.db beside the pipefile.",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error instead of one line.")
@click.pass_context
def cli(ctx: click.Context, pipefile: str | None, db: str | None, traceback: bool) -> None:
    """djflow: a relational workflow engine on SQLite, driven by pipefile.py.

    Declare tables in pipefile.py, insert rows into manual tables, and let
    `djflow run` compute everything derived from them.

    \b
    Example:
        djflow init                          # write a starter pipefile.py
        djflow run                           # compute what is missing
        djflow status                        # rows, pending keys, jobs per table
        djflow show Square --where "n > 1"
    """
    project = Project(pipefile, db)
    ctx.obj = project
    ctx.call_on_close(project.close)


def main() -> None:
    """The console script ``djflow``."""
    cli(prog_name="djflow")


pm = make_plugin_manager()
pm.hook.register_commands(cli=cli)
