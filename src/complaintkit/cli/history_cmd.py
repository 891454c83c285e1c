"""`complaintkit history`: the store of earlier registers that repeats and escalation look back on."""

from __future__ import annotations

import click
from tabulate import tabulate

from ..history import HistoryStore, default_store_path
from ..normalize import parse_date
from ..outputs import to_json
from .common import friendly_errors, input_options, read_inputs

_store_option = click.option(
    "--store", "store_path", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_STORE",
    help="The SQLite store (default: $COMPLAINTKIT_STORE or ~/.complaintkit/history.sqlite).",
)


@click.group("history")
def history_group() -> None:
    """Keep earlier registers so repeats and escalations are seen across months."""


@history_group.command("add")
@input_options
@_store_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_add(paths, sheet, manual_map, config, store_path, debug):
    """Add registers to the store (adding the same register twice changes nothing)."""
    inputs = read_inputs(paths, sheet, manual_map, config)
    with HistoryStore(store_path or default_store_path()) as store:
        result = store.add(inputs.registers)
        click.echo(f"added {result.added}, updated {result.updated}, unchanged {result.unchanged}; {store.count()} complaints in {store.path}")


@history_group.command("list")
@_store_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_list(store_path, fmt, debug):
    """What the store holds, by source file."""
    with HistoryStore(store_path or default_store_path(), create=False) as store:
        sources = store.sources()
        if fmt == "json":
            click.echo(to_json({"store": str(store.path), "complaints": store.count(), "sources": [s.__dict__ for s in sources]}))
        else:
            click.echo(tabulate([[s.source, s.complaints, s.first_received, s.last_received, s.added_at] for s in sources],
                                headers=["source", "complaints", "first received", "last received", "added"], disable_numparse=True))
            click.echo(f"{store.count()} complaints in {store.path}")


@history_group.command("forget")
@_store_option
@click.option("--before", required=True, metavar="DATE", help="Forget complaints received before this date.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_forget(store_path, before, debug):
    """Delete complaints received before DATE (retention)."""
    day = parse_date(before).value
    if day is None:
        raise click.BadParameter(f"{before!r} is not a date", param_hint="--before")
    with HistoryStore(store_path or default_store_path()) as store:
        n = store.forget(day)
        click.echo(f"forgot {n}; {store.count()} complaints in {store.path}")
