"""`complaintkit run`: every check over a batch of registers, for the back-office and for cron."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import IO, Any, Sequence

import click
from tabulate import tabulate

from ..errors import OutputError
from ..history import HistoryStore
from ..collector import collector_paused
from ..messages import register_messages, t
from ..operations import OpContext, available, run_pipeline
from ..outputs import Later, check_writable, json_text, make_folder, require_xlsx
from ..privacy import scrub
from ..report import build_report, cell_text, write_report
from ..runlock import output_lock
from ..sources import expand_paths
from .common import (
    UserError, as_of_option, batch_exit_code, copies_of, exit_code_for, fail_on_option, friendly_errors, lang_option, load_options,
    input_options, look_back, read_batch, refuse_inside_inputs, resolve_format, unreadable_entries, unreadable_line,
    echo_blocks, stage_json_output, write_annotations, write_csv_output,
)

log = logging.getLogger("complaintkit")

register_messages({
    "run_files": ("读取 {ok} 个文件（{rows} 笔投诉），{bad} 个文件无法读取", "read {ok} files ({rows} complaints); {bad} could not be read"),
    "run_wrote": ("已写出：{path}", "wrote: {path}"),
    "run_history": ("历史记录：{n} 笔（{store}）", "history: {n} complaints ({store})"),
    "run_store_created": ("新建历史库：{store}", "history store created: {store}"),
    "run_same_output": ("{path}：{first} 和 {second} 指向同一个文件", "{path}: {first} and {second} name the same file"),
    "run_remember_store": ("--remember 需要 --store 路径（或 COMPLAINTKIT_STORE）", "--remember needs --store PATH (or COMPLAINTKIT_STORE)"),
    "run_unknown_checks": ("未知的检查：{unknown}（可用：{available}）", "unknown check(s): {unknown} (available: {available})"),
})


class _ScrubFilter(logging.Filter):
    """Logs never carry ID numbers or phones."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = ()
        return True


def _setup_logging(log_file: str | None) -> None:
    """The log is the file --log names (English and time-stamped, for whoever keeps the server);
    without it nothing is logged. What a person must act on (a file left out of the batch, a
    missing store, an error) is said on stderr in the run's language either way."""
    log.handlers.clear()
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log_file:
        log.addHandler(logging.NullHandler())
        return
    make_folder(Path(log_file).parent)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_ScrubFilter())
    log.addHandler(handler)


def _json_spooled(parts: list[tuple[str, Any]]) -> IO[str]:
    """The JSON text in an unnamed temporary file, read from its start."""
    fh = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
    try:
        fh.writelines(json_text(parts))
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return fh


def _check_outputs(paths: Sequence[str], files: list[Path], report_path: str | None, json_path: str | None, csv_dir: str | None,
                   annotate_dir: str | None, names: list[str], log_file: str | None, force: bool, store: str | None) -> None:
    """Every output is checked before any work, so a batch never stops halfway with today's report
    written beside yesterday's JSON (each is checked again when it is written); ``store``: the
    history store --remember adds to (made, or added to: no --force)."""
    written = {csv_dir: [f"{name}.csv" for name in names]} if csv_dir else {}
    if annotate_dir:
        written[annotate_dir] = copies_of(files)
    refuse_inside_inputs(paths, (report_path, csv_dir, annotate_dir), written)
    if report_path:
        require_xlsx(report_path, "report")
    # Each output one file of its own: the second would overwrite the first (a JSON read back
    # for stdout would be a CSV).
    named: dict[Path, str] = {}
    for option, out in [("--report", report_path), ("--json", json_path), ("--log", log_file), ("--store", store),
                        *(("--csv", str(Path(csv_dir) / f"{name}.csv")) for name in (names if csv_dir else ())),
                        *(("--annotate", str(Path(annotate_dir) / copy)) for copy in (copies_of(files) if annotate_dir else ()))]:
        if out:
            first = named.setdefault(Path(out).resolve(), option)
            if first != option:
                raise OutputError("run_same_output", path=out, first=first, second=option)
    outs = [p for p in (report_path, json_path) if p]
    for out in outs:  # a missing folder is made when the file is written, as for every command
        check_writable(out, force, files)
    if csv_dir:
        for name in names:
            check_writable(Path(csv_dir) / f"{name}.csv", force, files)
    for appended in filter(None, (log_file, store)):  # appended to, so no --force; but never an input
        check_writable(appended, True, files)


@click.command("run")
@input_options
@as_of_option
@fail_on_option
@click.option("--checks", default=None, metavar="LIST", help="Comma-separated checks to run (default: all): validate,dedupe,classify,followups,risk.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None, help="Write the report workbook (.xlsx).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the JSON result to this file (stdout gets it with --format json).")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False), default=None, help="Write one CSV per check into this folder.")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False), default=None, help="Write an annotated copy of every input into this folder.")
@click.option("--history", "history_paths", multiple=True, help="Earlier registers (files or folders) that repeats and escalation look back on. Repeatable.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_STORE", help="History store (SQLite) to look back on; see `complaintkit history`.")
@click.option("--remember", is_flag=True, help="After the run, add these registers to the history store.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None, help="Console output (default: table on a terminal, JSON otherwise).")
@lang_option
@click.option("--mask/--no-mask", default=True, show_default=True, help="Mask ID numbers and phones in the report, JSON and CSV.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no console summary: only what needs acting on (errors, "
              "each file that could not be read, a missing --store) on stderr.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), default=None, help="Write a log (no personal data) to this file.")
@click.option("--force", is_flag=True, help="Replace outputs that exist.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
# A run builds millions of long-lived objects and no reference cycles to speak of: the cycle
# collector would only walk them again and again (a fifth of the time at 200,000 rows).
@collector_paused()
def run_cmd(paths, sheet, manual_map, config, as_of, fail_on, checks, report_path, json_path, csv_dir, annotate_dir,
            history_paths, store_path, remember, fmt, lang, mask, quiet, log_file, force, debug):
    """Run every check over files, folders and globs as one batch: validate, dedupe, classify,
    followups, risk. A file that cannot be read does not stop the batch.

    Exit code: 0 clean, 1 findings at --fail-on level, 2 nothing usable, 3 some files unreadable,
    130 / 143 stopped by Ctrl-C (SIGINT) / SIGTERM before the end.
    """
    names = [c.strip() for c in checks.split(",")] if checks else None
    unknown = [n for n in names or [] if n not in available()]
    if unknown:
        raise click.BadParameter(t("run_unknown_checks", lang, unknown=", ".join(unknown), available=", ".join(available())), param_hint="--checks")
    if remember and not store_path:
        raise UserError(t("run_remember_store", lang))
    # A mistake in any check's section, or in --map, stops the batch before it looks at a file.
    opts = load_options(config, sheet, manual_map, names)
    policy = opts.policy
    files = expand_paths(paths)
    _check_outputs(paths, files, report_path, json_path, csv_dir, annotate_dir, names or available(), log_file, force,
                   store_path if remember else None)
    existing = HistoryStore.existing(store_path) if remember else None
    new_store = remember and existing is None
    if existing is not None:  # a store that cannot take the batch (or be migrated) says so before the work
        with existing:
            existing.ready_to_write()
    # Every output is locked from before the first file is read until the run ends (--remember
    # included): a second run over the same outputs is refused at once, not after it has checked
    # the whole batch, and two runs sharing any one output (the JSON of one, the report and the
    # JSON of the other) never write it together. Released when the command's context closes.
    click_ctx = click.get_current_context()
    for target in dict.fromkeys(str(Path(p).resolve()) for p in (report_path, json_path, csv_dir, annotate_dir) if p):
        click_ctx.with_resource(output_lock(target))
    _setup_logging(log_file)
    # Each file it goes past is one line on stderr, as every check says it (even under --quiet),
    # and a warning in the log (English, like every log line); the table, the JSON and the report
    # list them in the run's language.
    registers, failures = read_batch(paths, opts, lang, files, not quiet, lambda failure: log.warning(unreadable_line(failure, "en")))
    rows = sum(len(r) for r in registers)
    log.info(t("run_files", "en", ok=len(registers), rows=rows, bad=len(failures)))

    # A store is made only to be written to (--remember); one only looked back on must be there.
    history = look_back(registers, history_paths, store_path, opts, lang, made_later=remember, log=log)
    if history:
        log.info(t("run_history", "en", n=sum(len(h) for h in history), store=store_path or "--history"))

    ctx = OpContext(policy, as_of, lang, mask, history=history)
    results = run_pipeline(registers, ctx, names)
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    code = batch_exit_code(exit_code_for(errors, warnings, fail_on), failures)

    # --quiet silences the console unless JSON was asked for explicitly (a script reading stdout).
    fmt = fmt or (None if quiet else resolve_format(None))

    # The JSON's parts, each check's section made when its turn comes and let go once written:
    # at 200,000 rows the sections held at once, and the text, took 6.8 GB.
    parts = [
        ("as_of", as_of.isoformat()),
        ("files", [{"file": r.source, "sheet": r.sheet, "rows": len(r)} for r in registers]),
        ("unreadable", unreadable_entries(failures, lang)),
        ("summary", {r.name: r.summary for r in results}),
        # The counts a script or a monitor reads (summary is the sentence people read).
        ("totals", {r.name: {"errors": r.errors, "warnings": r.warnings} for r in results}),
        *((r.name, Later(r.data_once)) for r in results),
        ("exit_code", code),
    ]
    inputs = [r.source for r in registers]
    written: list[str] = []
    # The JSON is made first, beside its place, and put there once the report is: a run that
    # fails making either, or placing the report (open in Excel), leaves neither of today's
    # beside yesterday's other.
    staged = stage_json_output(json_path, parts, force, inputs) if json_path else None
    try:
        if report_path:
            wb = build_report(registers, results, as_of, lang, failures, mask)
            written.append(str(write_report(report_path, wb, force, inputs)))
            del wb
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if staged is not None:
        staged.commit()
        written.append(json_path)
    if csv_dir:
        folder = make_folder(csv_dir)
        for result in results:
            # Two passes over the check's rows, one at a time: their columns, then the rows
            # (held as a list with the text besides, 200,000 rows took 2.1 GB).
            keys = list(dict.fromkeys(k for item in result.items() for k in item))
            rows_out = ([cell_text(item.get(k), lang) for k in keys] for item in result.items())
            write_csv_output(str(folder / f"{result.name}.csv"), keys, rows_out, force, inputs)
        written.append(str(folder))
    if annotate_dir:
        by_reg = lambda reg: [p for res in results for p in res.plans_for(reg)]  # noqa: E731
        written.extend(str(p) for p in write_annotations(registers, by_reg, None, annotate_dir, force, policy=policy))
    for path in written:
        log.info(t("run_wrote", "en", path=path))
    if remember:
        with HistoryStore(store_path) as store:
            store.add(registers, roots=paths)
        if new_store:
            log.info(t("run_store_created", "en", store=store_path))

    if fmt == "json":
        # Printed once whole: from the --json file (the same text), else from a file of its own
        # made first (unnamed: gone when closed, even if the process is killed), so that a run
        # failing partway prints no JSON cut short.
        with (open(staged.out, encoding="utf-8") if staged is not None else _json_spooled(parts)) as fh:
            echo_blocks(iter(lambda: fh.read(1 << 20), ""))
    elif fmt == "table":
        click.echo(t("run_files", lang, ok=len(registers), rows=rows, bad=len(failures)))
        for failure in failures:
            click.echo("  " + unreadable_line(failure, lang))
        click.echo(tabulate([[t(f"op_{r.name}", lang), r.summary] for r in results], tablefmt="simple", disable_numparse=True))
        for path in written:
            click.echo(t("run_wrote", lang, path=path))
        if new_store:
            click.echo(t("run_store_created", lang, store=store_path))
    click.get_current_context().exit(code)

