"""`complaintkit history`: the store of earlier registers that repeats and escalation look back on."""

from __future__ import annotations

import click
from tabulate import tabulate

from ..history import HistoryError, HistoryStore, default_store_path
from ..messages import register_messages, t
from ..normalize import parse_date
from ..outputs import to_json
from .common import friendly_errors, input_options, lang_option, read_inputs, warn

register_messages({
    "hist_added": ("新增 {added} 笔，更新 {updated} 笔，未变 {unchanged} 笔；{path} 中共有 {n} 笔投诉",
                   "added {added}, updated {updated}, unchanged {unchanged}; {n} complaints in {path}"),
    "hist_count": ("{path} 中共有 {n} 笔投诉", "{n} complaints in {path}"),
    "hist_forgot": ("已删除 {forgot} 笔；{path} 中共有 {n} 笔投诉", "forgot {forgot}; {n} complaints in {path}"),
    "hist_not_a_date": ("{value} 不是日期", "{value} is not a date"),
    "hist_hdr_source": ("来源文件", "source"),
    "hist_hdr_complaints": ("投诉笔数", "complaints"),
    "hist_hdr_first": ("最早受理", "first received"),
    "hist_hdr_last": ("最晚受理", "last received"),
    "hist_hdr_added": ("加入时间", "added"),
})

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
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_add(paths, sheet, manual_map, config, store_path, lang, debug):
    """Add registers to the store (adding the same register twice changes nothing)."""
    inputs = read_inputs(paths, sheet, manual_map, config)
    with HistoryStore(store_path or default_store_path()) as store:
        result = store.add(inputs.registers, roots=paths)
        click.echo(t("hist_added", lang, added=result.added, updated=result.updated, unchanged=result.unchanged, n=store.count(), path=store.path))


@history_group.command("list")
@_store_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_list(store_path, fmt, lang, debug):
    """What the store holds, by register: its path inside the folder it was added from (two
    branches' 投诉台账.xlsx in 城东/ and 城西/ are two lines), or its name when added by itself."""
    path = store_path or default_store_path()
    store = HistoryStore.existing(path, read_only=True)
    if store is None:  # a listing of nothing: the path is wrong, and must not leave a store behind
        raise HistoryError("hist_no_store", path=path)
    with store:
        sources = store.sources()
        if fmt == "json":
            click.echo(to_json({"store": str(store.path), "complaints": store.count(), "sources": [s.__dict__ for s in sources]}))
        else:
            click.echo(tabulate([[s.source, s.complaints, s.first_received, s.last_received, s.added_at] for s in sources],
                                headers=[t(f"hist_hdr_{h}", lang) for h in ("source", "complaints", "first", "last", "added")],
                                disable_numparse=True))
            click.echo(t("hist_count", lang, n=store.count(), path=store.path))


@history_group.command("forget")
@_store_option
@click.option("--before", required=True, metavar="DATE", help="Forget complaints received before this date.")
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def history_forget(store_path, before, lang, debug):
    """Delete complaints received before DATE (retention)."""
    day = parse_date(before).value
    if day is None:
        raise click.BadParameter(t("hist_not_a_date", lang, value=repr(before)), param_hint="--before")
    path = store_path or default_store_path()
    store = HistoryStore.existing(path)
    if store is None:  # nothing to forget; a mistyped path must not leave an empty store behind
        warn(t("hist_no_store", lang, path=path), lang)
        return
    with store:
        n = store.forget(day)
        click.echo(t("hist_forgot", lang, forgot=n, n=store.count(), path=store.path))
