"""The core ``djflow`` commands, registered through the ``register_commands`` hook like any plugin's.

Each command is a module-level click command listed in :data:`CORE_COMMANDS`; the
``register_commands`` hook implementation at the end adds them to the ``djflow`` group.
Each command gets the :class:`djflow.cli.Project` (the pipefile and database the global
options chose) as click's context object and loads the pipeline from it. Data goes to
stdout; progress, notices and questions to stderr. Modules that take time to import
(tabulate, tqdm, the diagram writer) are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from .errors import DuplicateError
from .hookspecs import hookimpl
from .rowfiles import INPUT_FORMATS, OUTPUT_FORMATS, format_rows, jsonable, value_from_text

#: how many failed keys `djflow run` prints before pointing at `djflow jobs`
SHOWN_FAILURES = 5
#: how many characters of an error message `djflow jobs` shows in its table
SHOWN_MESSAGE = 80


def output_options(function):
    """``--format table|csv|json|jsonl`` with ``--json`` and ``--csv`` as shortcuts, into ``output``."""
    options = [
        click.option("--format", "output", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True,
                     help="How to print the rows."),
        click.option("--json", "output", flag_value="json", help="Same as --format json."),
        click.option("--csv", "output", flag_value="csv", help="Same as --format csv."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def where_option(help_text: str):
    """``--where EXPR`` into ``where``, with the command's own ``help_text``."""
    return click.option("--where", "where", metavar="EXPR", help=help_text)


def echo_notice(message: str) -> None:
    """Print a notice (not data) to stderr."""
    click.echo(message, err=True)


# ---------------------------------------------------------------- commands


@click.command()
@click.argument("tables", nargs=-1, metavar="[TABLE]...")
@click.option("-n", "--dry-run", is_flag=True, help="List the pending keys per table; write nothing at all.")
@click.option("-j", "--jobs", "processes", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Worker processes computing at once.")
@where_option("Compute only keys matching this SQL expression (tables whose keys lack its attributes are skipped).")
@click.option("--keep-going", is_flag=True,
              help="Go on after a failed key. Default: start nothing new after the first failure.")
@output_options
@click.pass_obj
def run(project, tables, dry_run, processes, where, keep_going, output):
    """Compute the missing rows of imported and computed tables.

    Populates each TABLE (default: every imported and computed table) and the tables
    it depends on, in dependency order, reserving every key so that several `djflow run`
    commands can share the work. Prints a summary per table; exits with status 1 when
    any key failed (see `djflow jobs`).

    \b
    Examples:
        djflow run
        djflow run Detection -j 4
        djflow run -n --where "subject_id = 'M001'"
    """
    from .populate import run_targets

    pipeline = project.pipeline(readonly=dry_run)
    targets = run_targets(pipeline, tables)
    if not targets:
        echo_notice("Nothing to run: no imported or computed tables" + (f" among {', '.join(tables)}" if tables else ""))
        return
    summary = pipeline.run(
        *tables, processes=processes, dry_run=dry_run, keep_going=keep_going, where=where,
        display_progress=not dry_run and sys.stderr.isatty(),
    )
    names = {t.table_name: t._name for t in targets}
    skipped = [names[n] for n, s in summary.items() if s.get("skipped_by_where")]
    if skipped:
        echo_notice(f"Skipped (their keys lack the attributes --where names): {', '.join(skipped)}")
    shown = {names[n]: s for n, s in summary.items() if not s.get("skipped_by_where")}
    if dry_run:
        click.echo(dry_run_text(shown, waiting_for(pipeline, summary, names), output), nl=False)
        echo_notice("Dry run: nothing was computed or written.")
        return
    click.echo(run_summary_text(shown, output), nl=False)
    failures = [(name, key, message) for name, s in shown.items() for key, message in s.get("errors", [])]
    if failures:
        for name, key, message in failures[:SHOWN_FAILURES]:
            echo_notice(f"Failed: {name} {json.dumps(key, default=jsonable)}: {message}")
        if len(failures) > SHOWN_FAILURES:
            echo_notice(f"... and {len(failures) - SHOWN_FAILURES} more.")
        if not keep_going:
            echo_notice("Nothing new was started after the first failure; --keep-going computes the rest.")
        echo_notice(f"{len(failures)} {plural(len(failures), 'key')} failed. See `djflow jobs --traceback`; "
                    "`djflow jobs --clear` lets failed keys run again.")
        raise click.exceptions.Exit(1)


@click.command()
@output_options
@click.pass_obj
def status(project, output):
    """Show each table's tier, rows, pending keys and jobs.

    Pending keys are those of an imported or computed table's key source that it does
    not have yet; reserved jobs are keys being computed now, errors are failed keys
    (see `djflow jobs`). Reservations left by workers that died are reclaimed first.

    \b
    Examples:
        djflow status
        djflow status --json
    """
    from .jobs import reclaim_dead_reservations
    from .populate import PendingKeys

    pipeline = project.pipeline()
    reclaim_dead_reservations(pipeline.db)
    jobs = {}
    for table_name, job_status, count in pipeline.db.query(
        "SELECT table_name, status, count(*) FROM _djflow_jobs GROUP BY table_name, status"
    ):
        jobs[table_name, job_status] = count
    rows = []
    for table in pipeline.tables:
        auto = table.definition.make is not None
        rows.append({
            "table": table._name,
            "tier": table.tier,
            "rows": len(table),
            "pending": PendingKeys(table, table.key_source, with_jobs=False).count() if auto else None,
            "reserved": jobs.get((table.table_name, "reserved"), 0) if auto else None,
            "errors": jobs.get((table.table_name, "error"), 0) if auto else None,
        })
    click.echo(format_rows(rows, ["table", "tier", "rows", "pending", "reserved", "errors"], output), nl=False)


@click.command()
@click.argument("table")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS),
              help="The file's format. Default: from its suffix, else from its first character.")
@click.option("--skip-duplicates", is_flag=True, help="Skip rows whose primary key is already in the table.")
@click.option("--ignore-extra-fields", is_flag=True, help="Drop columns the table does not have.")
@click.pass_obj
def insert(project, table, file, input_format, skip_duplicates, ignore_extra_fields):
    """Insert rows from a CSV, JSON or JSON lines file.

    FILE '-' reads stdin. All rows go in together or none do. Values are checked and converted by the
    table's types ("3" for an int, "2024-01-31" for a date). An empty CSV cell of an
    attribute with a default gives the default; CSV cells of json and blob attributes
    are parsed as JSON.

    \b
    Examples:
        djflow insert Subject subjects.csv
        djflow insert Session sessions.jsonl --skip-duplicates
        cat rows.json | djflow insert Subject -
    """
    from .rowfiles import read_rows, rows_for_table

    target = project.pipeline()[table]
    name = "stdin" if file.name == "<stdin>" else file.name
    rows, used_format = read_rows(file, name, input_format)
    rows = rows_for_table(rows, target, from_text=used_format in ("csv", "tsv"))
    if not rows:
        echo_notice(f"No rows in {name}; nothing inserted.")
        return
    try:
        inserted = target.insert(rows, skip_duplicates=skip_duplicates, ignore_extra_fields=ignore_extra_fields)
    except DuplicateError as error:  # say it in the command line's words
        message = str(error).replace("skip_duplicates=True", "--skip-duplicates")
        raise DuplicateError(message.replace("update1 to change it", "`djflow update` to change it")) from None
    skipped = f" ({len(rows) - inserted} already there, skipped)" if len(rows) > inserted else ""
    echo_notice(f"Inserted {inserted} {plural(inserted, 'row')} into {target._name}{skipped}.")


@click.command()
@click.argument("table")
@where_option("Delete only the rows matching this SQL expression. Default: every row.")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.pass_obj
def delete(project, table, where, yes, dry_run):
    """Delete rows and every row derived from them.

    Prints the number of rows per affected table first, then asks. When no one can
    answer (stdin is not a terminal) it refuses unless --yes is given.

    \b
    Examples:
        djflow delete Session --where "subject_id = 'M001'"
        djflow delete Session --where "session_date < '2024-01-01'" --dry-run
        djflow delete Subject --yes
    """
    target = project.pipeline(readonly=dry_run)[table]
    query = restricted(target, where)
    if dry_run:
        plan = query.delete_plan()
        if not plan.total:
            click.echo(f"Nothing to delete from {target._name}.")
        else:
            click.echo(f"Would delete:\n{plan.describe()}")
        echo_notice("Dry run: nothing was deleted.")
        return

    if yes:
        # nobody reviews the counts, so delete what matches now and report what went
        plan = query.delete_plan()
        click.echo(f"About to delete:\n{plan.describe()}" if plan.total else f"Nothing to delete from {target._name}.")
        if plan.total:
            deleted = query.delete_cascade()
            click.echo(f"Deleted {sum(deleted.values())} rows.")
        return

    def answer(question: str) -> str:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "refusing to delete without --yes: stdin is not a terminal, so no one can answer; "
                "nothing was deleted"
            )
        return click.prompt(question.rstrip(": "), default="no", show_default=False)

    query.delete(safemode=True, prompt=answer)


@click.command()
@click.argument("table")
@where_option("The SQL expression that selects the one row to change (required).")
@click.option("--set", "assignments", metavar="ATTR=VALUE", multiple=True, required=True,
              help="A secondary attribute and its new value; repeat for several.")
@click.pass_obj
def update(project, table, where, assignments):
    """Change secondary attributes of exactly one row (update1).

    Rows derived from it are not recomputed: for values that feed computations,
    delete the row, insert it again and run instead.

    \b
    Example:
        djflow update Subject --where "subject_id = 'M001'" --set species=mouse --set sex=F
    """
    if not where:
        raise click.UsageError("update needs --where EXPR selecting the one row to change")
    target = project.pipeline()[table]
    changes = parse_assignments(target, assignments)
    keys = restricted(target, where).fetch("KEY", limit=2)
    if len(keys) != 1:
        count = len(restricted(target, where)) if keys else 0
        raise click.ClickException(
            f"{count or 'no'} {plural(count, 'row')} of {target._name} match --where; "
            "update changes exactly one row: narrow --where down to one primary key"
        )
    target.update1({**keys[0], **changes})
    echo_notice(f"Updated {target._name} {json.dumps(keys[0], default=jsonable)}: {', '.join(changes)}.")


@click.command()
@click.argument("table")
@where_option("Show only the rows matching this SQL expression.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Show at most N rows.")
@output_options
@click.pass_obj
def show(project, table, where, limit, output):
    """Print a table's rows, ordered by primary key.

    \b
    Examples:
        djflow show Session --where "subject_id = 'M001'"
        djflow show Detection --limit 10 --csv > detections.csv
    """
    target = project.pipeline()[table]
    query = restricted(target, where)
    columns = target.heading.names
    if output in ("table", "csv"):
        fetched = [n for n in columns if not is_blob(target, n)]
    else:
        fetched = columns
    rows = query.fetch(*fetched, as_dict=True, order_by="KEY", limit=limit)
    if len(fetched) < len(columns):
        for row in rows:
            row.update({n: "=BLOB=" for n in columns if n not in row})
    click.echo(format_rows(rows, columns, output), nl=False)
    if limit is not None and len(rows) == limit:
        total = len(query)
        if total > limit:
            echo_notice(f"Showing {limit} of {total} rows.")


@click.command()
@click.argument("table", required=False)
@click.option("--clear", is_flag=True, help="Delete the failed jobs (of TABLE, matching --where) so they run again.")
@where_option("Only jobs whose key matches this SQL expression over the table's key attributes (needs TABLE).")
@click.option("--traceback", "show_traceback", is_flag=True, help="Show the stored traceback of each failure.")
@output_options
@click.pass_obj
def jobs(project, table, clear, where, show_traceback, output):
    """Show reserved and failed jobs; --clear lets them run again.

    \b
    Examples:
        djflow jobs
        djflow jobs Detection --traceback
        djflow jobs Detection --clear --where "blob_paramset = 2"
    """
    from .jobs import clear_errors, job_rows, reclaim_dead_reservations

    pipeline = project.pipeline()
    db = pipeline.db
    reclaim_dead_reservations(db)
    target = pipeline[table] if table else None
    if where and target is None:
        raise click.UsageError("--where needs a TABLE: it is an expression over that table's key attributes")
    keys = matching_job_keys(target, where) if where else None
    if clear:
        cleared = clear_errors(db, target.table_name if target else None, where_keys=keys)
        echo_notice(f"Cleared {cleared} failed {plural(cleared, 'job')}; `djflow run` will compute "
                    f"{'it' if cleared == 1 else 'them'} again.")
        return
    rows = job_rows(db, target.table_name if target else None)
    if keys is not None:
        wanted = set(keys)
        rows = [row for row in rows if row["key"] in wanted]
    if not rows and output == "table":
        echo_notice("No reserved or failed jobs.")
        return
    click.echo(jobs_text(rows, show_traceback, output), nl=False)


@click.command()
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write to FILE in the format its suffix names: .mmd, .md, .dot, .svg, .png.")
@click.option("--format", "graph_format", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="What to print when no FILE is given.")
@click.pass_obj
def diagram(project, path, graph_format):
    """Draw the dependency graph: Mermaid, DOT, SVG or PNG.

    Tiers are drawn as DataJoint draws them (lookup grey, manual green, imported blue,
    computed red), parts inside a frame with their master, references in the primary
    key solid and others dashed. SVG and PNG need Graphviz's `dot` program.

    \b
    Examples:
        djflow diagram
        djflow diagram -o pipeline.svg
        djflow diagram --format dot | dot -Tpdf > pipeline.pdf
    """
    from .diagram import to_dot, to_mermaid, write_diagram

    graph = project.pipeline(readonly=True, activate=False).graph
    if path:
        written = write_diagram(graph, path)
        echo_notice(f"Wrote {written}.")
    else:
        click.echo(to_dot(graph) if graph_format == "dot" else to_mermaid(graph), nl=False)


@click.command()
@click.argument("path", required=False, type=click.Path())
@click.pass_obj
def init(project, path):
    """Write a starter pipefile.py that `djflow run` runs at once.

    PATH is the file (ending in .py) or the folder to write to (default: --pipefile,
    else ./pipefile.py). An existing file is never overwritten.

    \b
    Example:
        djflow init && djflow run && djflow show Square
    """
    from .starter import STARTER_PIPEFILE

    target = Path(path or project.pipefile or "pipefile.py")
    if target.is_dir() or target.suffix != ".py":
        target = target / "pipefile.py"
    if target.exists():
        raise click.ClickException(f"{target} already exists; djflow init never overwrites a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER_PIPEFILE, encoding="utf-8")
    echo_notice(f"Wrote {target}. Next: `djflow run`, then `djflow show Square`.")


@click.command()
@click.pass_obj
def plugins(project):
    """List the installed plugins and their hooks, as JSON.

    Includes plugins installed as packages (entry point group `djflow`) and the
    `plugins/*.py` files beside the pipefile.

    \b
    Example:
        djflow plugins
    """
    from .plugins import make_plugin_manager, plugin_report

    manager = make_plugin_manager(project.project_dir())
    click.echo(json.dumps(plugin_report(manager), indent=2))


#: the commands this module adds, in the order `djflow --help` has always listed them
CORE_COMMANDS = (run, status, insert, delete, update, show, jobs, diagram, init, plugins)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the core commands to the ``djflow`` group."""
    for command in CORE_COMMANDS:
        cli.add_command(command)


# ---------------------------------------------------------------- helpers


def restricted(table, where: str | None):
    """``table & where`` after checking that ``where`` is one expression over its attributes."""
    if where is None:
        return table
    from .where import check_where

    return table & check_where(where, table.heading.names, table._name)




def matching_job_keys(table, where: str) -> list[str]:
    """The key JSON of ``table``'s jobs whose key matches ``where``."""
    from .schema import quote
    from .where import check_where

    if table.definition.make is None:
        raise click.ClickException(f"{table._name} is a {table.tier} table; only imported and computed tables have jobs")
    names = table.key_source.heading.primary_key
    where = check_where(where, names, f"{table._name}'s keys")
    columns = ", ".join(f"json_extract(key_json, '$.{name}') AS {quote(name)}" for name in names)
    sql = (f"SELECT key_json FROM (SELECT key_json, {columns} FROM _djflow_jobs WHERE table_name = ?) "
           f"WHERE ({where})")
    return [row[0] for row in table._pipeline.db.query(sql, [table.table_name])]


def parse_assignments(table, assignments: tuple[str, ...]) -> dict:
    """``--set ATTR=VALUE`` options as a dict of secondary attributes (JSON parsed for json/blob)."""
    changes = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        name = name.strip()
        if not equals:
            raise click.UsageError(f"--set {assignment!r}: write ATTR=VALUE")
        attribute = table.heading.attributes.get(name)
        if attribute is None:
            raise click.ClickException(
                f"{table._name} has no attribute {name!r}; its secondary attributes are {', '.join(table.heading.secondary)}"
            )
        if attribute.in_key:
            raise click.ClickException(
                f"{name} is part of {table._name}'s primary key; update changes secondary attributes only "
                "(delete the row and insert it again to change its key)"
            )
        try:
            changes[name] = value_from_text(attribute, value)
        except json.JSONDecodeError as error:
            raise click.ClickException(f"--set {name}=...: {attribute.declared} values are given as JSON ({error})") from None
    return changes


def is_blob(table, name: str) -> bool:
    """True when ``table``'s attribute ``name`` is stored as a BLOB (shown as ``=BLOB=``)."""
    attribute_type = table.heading.attributes[name].type
    return attribute_type is not None and attribute_type.sql_type == "BLOB"


def plural(count: int, word: str) -> str:
    """``word`` as it goes with ``count``: "1 row", "2 rows"."""
    return word if count == 1 else word + "s"


def shorten(text: str) -> str:
    """``text`` on one line, cut to SHOWN_MESSAGE characters with "..." when longer."""
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_MESSAGE else text[: SHOWN_MESSAGE - 3] + "..."


def run_summary_text(summary: dict[str, dict], output: str) -> str:
    """What `djflow run` prints: per table the keys computed, failed and skipped, and the seconds."""
    rows = []
    for name, outcome in summary.items():
        rows.append({
            "table": name,
            "computed": outcome["computed"],
            "failed": outcome["failed"],
            "skipped": outcome["skipped"],
            "seconds": round(outcome["seconds"], 2),
            "note": "not run: an earlier table failed" if outcome.get("not_run") else "",
        })
    columns = ["table", "computed", "failed", "skipped", "seconds"]
    if any(row["note"] for row in rows):
        columns.append("note")
    return format_rows(rows, columns, output)


def jobs_text(rows: list[dict], show_traceback: bool, output: str) -> str:
    """What `djflow jobs` prints: a row per job; as a table, messages shortened and tracebacks below it."""
    for row in rows:
        row["table"] = row["table"].replace("__", ".")
        row["started"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["started"])) if row["started"] else None
    columns = ["table", "key", "status", "host", "pid", "started", "error_message"]
    if output != "table":
        if show_traceback:
            columns.append("error_traceback")
        if output in ("json", "jsonl"):
            rows = [{**row, "key": json.loads(row["key"])} for row in rows]
        return format_rows(rows, columns, output)
    shown = [{**row, "error_message": shorten(row["error_message"] or "")} for row in rows]
    text = format_rows(shown, columns, "table")
    if show_traceback:
        text += "".join(f"\n--- {row['table']} {row['key']}\n{row['error_traceback'].rstrip()}\n"
                        for row in rows if row["error_traceback"])
    return text


def waiting_for(pipeline, summary: dict[str, dict], names: dict[str, str]) -> dict[str, list[str]]:
    """Per table of a dry run, the tables upstream with pending keys: its own count grows once they run."""
    from .graph import ancestors

    pending = [name for name, outcome in summary.items() if outcome.get("pending")]
    waiting = {}
    for name, outcome in summary.items():
        if not outcome.get("skipped_by_where"):
            upstream = ancestors(pipeline.graph, name) - {name}
            waiting[names[name]] = [names[p] for p in pending if p in upstream]
    return waiting


def dry_run_text(summary: dict[str, dict], waiting: dict[str, list[str]], output: str) -> str:
    """What `djflow run --dry-run` prints: per table the pending count and the first pending keys."""
    if output in ("json", "jsonl"):
        rows = [{"table": name, "pending": s["pending"], "keys": s["keys"], "waiting_for": waiting[name]}
                for name, s in summary.items()]
        return format_rows(rows, ["table", "pending", "keys", "waiting_for"], output)
    if output == "csv":
        rows = [{"table": name, "key": json.dumps(key, default=jsonable)} for name, s in summary.items() for key in s["keys"]]
        return format_rows(rows, ["table", "key"], output)
    lines = []
    for name, outcome in summary.items():
        after = f" (and more once {', '.join(waiting[name])} {'is' if len(waiting[name]) == 1 else 'are'} computed)"
        lines.append(f"{name}: {outcome['pending']} pending" + (after if waiting[name] else ""))
        lines += [f"  {json.dumps(key, default=jsonable)}" for key in outcome["keys"]]
        if outcome["pending"] > len(outcome["keys"]):
            lines.append(f"  ... and {outcome['pending'] - len(outcome['keys'])} more")
    return "\n".join(lines) + "\n"
