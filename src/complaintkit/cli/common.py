"""What every check command shares: input and output options, error handling, rendering.

Commands stay thin: parse options, call the core, render. Typed core errors become one line and
exit code 2 here; nothing else in the CLI catches exceptions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import logging
import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import click
from tabulate import tabulate

from ..errors import ComplaintkitError, InputError, OutputError
from ..fields import MapError, parse_manual_map
from ..history import HistoryStore
from ..loader import LoadOptions, header_search_rows, load_register, load_registers
from ..messages import register_messages, t, user_lang
from ..normalize import parse_date
from ..operations import check_policy
from ..outputs import StagedOutput, atomic_write, atomic_write_text, check_writable, json_text, make_folder, to_csv, write_csv
from ..policy import Policy, load_policy
from ..privacy import scrub
from ..register import Register
from ..sheetplan import SheetPlan
from ..sources import BatchReach, expand_paths
from ..xlsx_applier import annotated_suffix, copy_names, write_annotated

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
#: A command stopped by a signal exits 128 + the signal's number, as the shell reports it: 130
#: after Ctrl-C (SIGINT), 143 after SIGTERM (cron's or systemd's timeout, `kill`).
EXIT_SIGNAL_BASE = 128


# Characters a terminal acts on instead of showing: C0/C1 controls (ESC starts colour, cursor and
# title sequences), DEL, and the bidirectional overrides that make text read differently.
_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, keep_newlines: bool = True) -> str:
    """``text`` safe to print: control characters shown as \\xNN escapes (a cell or a file name
    cannot move the cursor, recolour the terminal or, with keep_newlines=False, add a line)."""
    escaped = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n")


class UserError(click.ClickException):
    """A one-line error with exit code 2 (usage or unusable input)."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"complaintkit: {printable(self.format_message(), keep_newlines=False)}", err=True)


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that a command that
    cron or systemd stops unwinds the same way: temporary files removed, the run lock released, a
    history store's transaction rolled back."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_on_sigterm(signum: int, _frame: Any) -> None:
    """The SIGTERM handler the console script installs (the add-in and tests keep their own)."""
    raise Interrupted(signum)


def stopped(exc: KeyboardInterrupt, lang: str) -> UserError:
    """The one line and the exit code (128 + the signal: 130 SIGINT, 143 SIGTERM) of a command
    stopped by a signal: cron must not read "done, findings" (1) from a run that never finished."""
    signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
    error = UserError(t("cli_interrupted", lang, signal=signal.Signals(signum).name))
    error.exit_code = EXIT_SIGNAL_BASE + signum
    return error


class RootGroup(click.Group):
    """The `complaintkit` group: a signal that arrives outside a command's own error handling
    (while Click parses the command line) ends with the same line and code, not Click's "Aborted!"
    and 1."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:  # the group's own options (--debug, --version) and the command's name
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt as exc:
            raise stopped(exc, message_lang()) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:  # the command's options, then the command
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise stopped(exc, message_lang()) from None


def warn(message: str, lang: str) -> None:
    """A warning line on stderr (``complaintkit: 警告: …``): said even under --quiet, as an error
    is, since it is something to act on (cron mails it)."""
    click.echo(f"complaintkit: {t('sev_warning', lang)}: {printable(scrub(message), keep_newlines=False)}", err=True)


register_messages({
    "cli_not_a_date": ("{value} 不是日期（请写成 YYYY-MM-DD）", "{value} is not a date (use YYYY-MM-DD)"),
    "cli_implausible_day": ("{date} 不像是检查日（请用 2000 到 2100 年之间的日期）", "{date} is not a plausible day to check on (use a date from 2000 to 2100)"),
    "cli_unknown_choice": ("未知的值 {unknown}（可选：{choices}）", "unknown value {unknown} (choose from {choices})"),
    "cli_merge_needs_o": ("--merge 需要 -o 文件.xlsx（要写出的去重后工作簿）", "--merge needs -o FILE.xlsx (the de-duplicated workbook to write)"),
    "cli_model_folds": ("--model 和 --folds 不能同时使用：--folds 会自己训练模型", "--model and --folds exclude each other: --folds trains its own models"),
    "cli_no_memory": ("内存不足，无法处理这些台账（请把批次或文件拆小）", "not enough memory for these registers (split the batch or the file)"),
    "cli_unexpected": ("意外错误：{kind}：{detail}（加 --debug 查看详情）", "unexpected error: {kind}: {detail} (run with --debug for details)"),
    "cli_out_in_input": ("{path}：位于输入文件夹 {folder} 之内，下次运行会把它当成一份台账读入：请写到别的文件夹",
                         "{path}: is inside the input folder {folder}, where the next run would read it as a register; write it to another folder"),
    "cli_o_one_input": ("-o 只能用于一个台账，这里有 {n} 个：请用 --annotate 文件夹", "-o takes one input register, got {n}: use --annotate DIR"),
    "cli_o_suffix": ("{path}：{name} 的标注副本是 {suffix} 工作簿，-o 的文件名请以 {suffix} 结尾",
                     "{path}: the annotated copy of {name} is a {suffix} workbook: give -o a name ending {suffix}"),
    "cli_unreadable": ("无法读取：{path}：{reason}", "unreadable: {path}: {reason}"),
    "cli_interrupted": ("已中断（{signal}）：没有做完，也没有留下写了一半的文件", "interrupted ({signal}) before the end; no half-written file was left"),
    "cli_store_missing": ("{path}：这里没有历史库，本次没有回溯历史（第一次 run --remember 或 history add 会新建它）",
                          "{path}: no history store there, so no history was looked back on (the first run --remember or history add creates it)"),
    "cli_no_such_branch": ("--branch {branch}：台账中没有这个受理机构（台账中的受理机构：{found}）",
                           "--branch {branch}: no such branch in the registers (branches found: {found})"),
    "cli_no_such_branches": ("--branch {branch}：台账中没有这些受理机构（台账中的受理机构：{found}）",
                             "--branch {branch}: no such branches in the registers (branches found: {found})"),
    "cli_branch_maybe_unreadable": ("{message}；它也可能在 {n} 个无法读取的文件中",
                                    "{message}; it may be in the {n} file(s) that could not be read"),
    "cli_and_more": ("等 {n} 个", "and {n} more"),
    "cli_nothing_read": ("没有一个台账能读取（{reasons}）", "no register could be read ({reasons})"),
})


def message_lang(kwargs: dict[str, Any] | None = None) -> str:
    """The language of a command's messages: its --lang, else COMPLAINTKIT_LANG, else Chinese
    (errors of commands without --lang, and of options read before --lang, follow the same rule)."""
    lang = (kwargs or {}).get("lang")
    ctx = click.get_current_context(silent=True)
    while lang is None and ctx is not None:
        lang, ctx = ctx.params.get("lang"), ctx.parent
    return user_lang(lang)


def friendly_errors(func: Callable) -> Callable:
    """Turn core errors into one line in the command's language and exit 2; ``--debug`` shows the
    traceback instead. Messages are scrubbed: an ID number or a phone in a file name or a cell
    never reaches the log."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug") or (click.get_current_context().find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ComplaintkitError as exc:
            if debug:
                traceback.print_exc()
            raise UserError(scrub(exc.text(message_lang(kwargs)))) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Interrupted)
            if debug:
                traceback.print_exc()
            raise stopped(exc, message_lang(kwargs)) from None
        except MemoryError:
            raise UserError(t("cli_no_memory", message_lang(kwargs))) from None
        except BaseException as exc:  # a bug or an input we did not foresee: still no traceback by default
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise  # SystemExit and the like
            if debug:
                traceback.print_exc()
            raise UserError(t("cli_unexpected", message_lang(kwargs), kind=type(exc).__name__, detail=scrub(str(exc))[:300])) from None

    return wrapper


def parse_as_of(_ctx: Any, _param: Any, value: str | None) -> dt.date:
    """--as-of: any date form the registers use; default today."""
    if value is None or value == "":
        return dt.date.today()
    parsed = parse_date(value)
    if parsed.value is None:
        raise click.BadParameter(t("cli_not_a_date", message_lang(), value=repr(scrub(value))))
    if not 2000 <= parsed.value.year <= 2100:  # a typo (0001-01-01, 20260-1-1), not a day to check on
        raise click.BadParameter(t("cli_implausible_day", message_lang(), date=parsed.value.isoformat()))
    return parsed.value


#: --lang, the same on every command (COMPLAINTKIT_LANG=en for a whole cron job).
#: Eager, so options checked before it on the command line already know it.
lang_option = click.option("--lang", type=click.Choice(["zh", "en"], case_sensitive=False), default="zh", envvar="COMPLAINTKIT_LANG",
                           show_default=True, is_eager=True, help="Language of messages.")


def input_options(func: Callable) -> Callable:
    """PATHS..., --sheet, --map, --config."""
    options = [
        click.argument("paths", nargs=-1, required=True, type=str),
        click.option("--sheet", default=None, help="Register sheet name (default: the sheet that looks like a register)."),
        click.option("--map", "manual_map", multiple=True, metavar="'HEADER=field'", help="Map a header the aliases do not know, e.g. --map '来电人=customer_name'. Repeatable."),
        click.option("--config", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_CONFIG", help="Policy file merged over the defaults (see `complaintkit config show`)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func: Callable) -> Callable:
    """--format, --lang, -o, --annotate, --force, --mask, --debug."""
    options = [
        click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None, help="Output format (default: table on a terminal, JSON otherwise)."),
        lang_option,
        click.option("-o", "--output", type=click.Path(), default=None, help="Write an annotated copy of the workbook (one input)."),
        click.option("--annotate", "annotate_dir", type=click.Path(), default=None, help="Write an annotated copy of every input into this folder."),
        click.option("--force", is_flag=True, help="Replace output files that already exist."),
        click.option("--mask/--no-mask", default=False, help="Mask ID numbers and phones in the output."),
        click.option("--debug", is_flag=True, help="Show tracebacks for errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: --as-of's help for a check whose results do not depend on the day (dedupe, classify): it is read
#: and checked as every check's, so one command line (a cron script's --as-of) serves every check.
UNDATED = ("Accepted as by every check, so one command line serves them all; this check's results do not "
           "depend on the day (a wrong date is still an error).")


def as_of_option(func: Callable | None = None, *, help: str = "Check as of this date (default: today).") -> Callable:
    """--as-of, read and checked alike by every command: ``@as_of_option``, or
    ``@as_of_option(help=UNDATED)``."""
    option = click.option("--as-of", "as_of", callback=parse_as_of, default=None, metavar="DATE", help=help)
    return option if func is None else option(func)


def fail_on_option(func: Callable) -> Callable:
    return click.option(
        "--fail-on", type=click.Choice(["error", "warning", "none"]), default="error", show_default=True,
        help="Exit 1 when there are findings at this level or above.",
    )(func)


@dataclass
class Inputs:
    """Registers read for a command, with the options (policy, --sheet, --map) they were read
    under, for what is read beside them (--history), and, for a batch, the files that could not
    be used."""

    opts: LoadOptions
    registers: list[Register]
    failures: list[InputError] = field(default_factory=list)

    @property
    def policy(self) -> Policy:
        return self.opts.policy


def manual_mapping(manual_map: Sequence[str]) -> dict[str, str]:
    """--map 'HEADER=field' entries as a mapping; a wrong one is a usage error in the user's language."""
    try:
        return parse_manual_map(list(manual_map))
    except MapError as exc:
        raise click.BadParameter(exc.text(message_lang()), param_hint="--map") from None


def load_options(config: str | None, sheet: str | None, manual_map: Sequence[str],
                 checks: Sequence[str] | None = ()) -> LoadOptions:
    """How a command reads its registers: the policy, with the settings of ``checks`` read first
    (every check's for None), so that a mistake there stops the command before any file is read;
    --sheet; --map (a wrong one is a usage error)."""
    policy = load_policy(config)
    check_policy(policy, checks)
    return LoadOptions(policy, sheet, manual_mapping(manual_map))


def read_inputs(paths: Sequence[str], sheet: str | None, manual_map: Sequence[str], config: str | None) -> Inputs:
    """Load the policy and every register the paths name; the first file that cannot be used
    stops the command (exit 2). For `history add` and `risk evaluate`, where a file left out would
    change the answer unseen (``look_back`` reads ``--history`` files the same way)."""
    opts = load_options(config, sheet, manual_map)
    return Inputs(opts, load_registers(tuple(paths), opts).registers)


def read_checked(paths: Sequence[str], sheet: str | None, manual_map: Sequence[str], config: str | None, check: str, lang: str) -> Inputs:
    """The registers a check command (validate, dedupe, ...) works on: ``load_options`` for
    ``check``, then ``read_batch``."""
    opts = load_options(config, sheet, manual_map, [check])
    registers, failures = read_batch(paths, opts, lang)
    return Inputs(opts, registers, failures)


def read_batch(paths: Sequence[str], opts: LoadOptions, lang: str, files: Sequence[Path] | None = None, progress: bool = True,
               also_tell: Callable[[InputError], None] | None = None) -> tuple[list[Register], list[InputError]]:
    """The registers of a command's PATHS, for `run` and every check alike. One file that cannot
    be used is the command's error (exit 2). Of several files (a folder, a glob, a list), each
    unusable one is one line on stderr in the user's language, whatever --quiet or --log (the
    batch is not whole: someone must look), handed to ``also_tell`` too (run's log), and the rest
    are read (see ``batch_exit_code`` and ``with_unreadable``).

    ``files``: the paths expanded already; ``progress``: a progress bar on a terminal."""
    files = expand_paths(paths) if files is None else files
    if len(files) == 1:
        return [load_register(files[0], opts)], []
    bar = click.progressbar(length=len(files), label="读取" if lang == "zh" else "reading", file=sys.stderr) \
        if progress and sys.stderr.isatty() else None
    with (bar if bar is not None else contextlib.nullcontext()):
        loaded = load_registers(tuple(paths), opts, keep_going=True, progress=(lambda _p: bar.update(1)) if bar is not None else None,
                                files=files)
    for failure in loaded.failures:
        UserError(unreadable_line(failure, lang)).show()  # complaintkit: 无法读取：台账.xlsx：文件设有密码…
        if also_tell is not None:
            also_tell(failure)
    if not loaded.registers:  # one line naming the first reasons, exit 2
        reasons = ("；" if lang == "zh" else "; ").join(f.text(lang) for f in loaded.failures[:3])
        raise UserError(scrub(t("cli_nothing_read", lang, reasons=reasons)))
    return loaded.registers, loaded.failures


def unreadable_line(failure: InputError, lang: str) -> str:
    """What a batch says of a file it went past, on the screen and in the log:
    ``无法读取：台账.xlsx：文件设有密码…`` (the file's name scrubbed too)."""
    return scrub(t("cli_unreadable", lang, path=failure.path, reason=failure.reason(lang)))


def look_back(registers: Sequence[Register], history_paths: Sequence[str], store_path: str | None, opts: LoadOptions,
              lang: str, made_later: bool = False, log: logging.Logger | None = None) -> list[Register]:
    """The earlier complaints a batch looks back on, for every command that does: the registers
    ``--history`` names (the first file that cannot be used stops the command: a file left out
    would change the answer unseen) and the store ``--store`` names. A complaint is never its own
    history: the store's rows of the batch's complaints are left out here, and a ``--history``
    file that is also in the batch is current only (``register.earlier_records``, in the checks).

    Only what writes to a store makes one (`history add`, `run --remember`: ``made_later``). A
    store that is not there is otherwise one warning line with its path (and a line in run's
    ``log``), and the command goes on without it: a mistyped path is seen the first night, and a
    job that sets COMPLAINTKIT_STORE before its first --remember still runs."""
    history = load_registers(tuple(history_paths), opts).registers if history_paths else []
    store = HistoryStore.existing(store_path, read_only=True) if store_path else None
    if store_path and store is None and not made_later:
        warn(t("cli_store_missing", lang, path=store_path), lang)
        if log is not None:
            log.warning(t("cli_store_missing", "en", path=store_path))
    if store is not None:
        with store:
            history += store.registers(exclude=registers)
    return history


def check_branches(unknown: Sequence[str], found: Sequence[str], lang: str, failures: Sequence[InputError]) -> None:
    """--branch names branches: those that no row matches (``unknown``, every one named) are a
    usage error (exit 2) naming the branches the registers hold, not an empty list that looks
    like "nothing due there".

    When some files of the batch could not be read (``failures``), the branch may well be in one
    of them: that is one warning line, and the command goes on to its exit 3 (part of the batch
    was not checked), not a usage error that would send the user looking for a typo."""
    if unknown:
        shown = list(found[:20]) + ([t("cli_and_more", lang, n=len(found) - 20)] if len(found) > 20 else [])
        sep = "、" if lang == "zh" else ", "
        key = "cli_no_such_branch" if len(unknown) == 1 else "cli_no_such_branches"
        message = t(key, lang, branch=sep.join(unknown), found=sep.join(shown) or "-")
        if failures:
            warn(t("cli_branch_maybe_unreadable", lang, message=message, n=len(failures)), lang)
            return
        raise UserError(scrub(message))


def unreadable_entries(failures: Sequence[InputError], lang: str) -> list[dict[str, str]]:
    """The JSON ``unreadable`` list: each file as given, a stable ``code`` for scripts, and the
    ``reason`` in the user's language (scrubbed: a sheet or a part it names may hold an ID number)."""
    return [{"file": f.path, "code": f.code, "reason": f.reason(lang)} for f in failures]


def with_unreadable(data: dict[str, Any], failures: Sequence[InputError], lang: str) -> dict[str, Any]:
    """A check command's JSON, with ``unreadable`` added when the batch went past some file; a
    complete batch's JSON stays exactly what it was (a new dict: ``data`` may be an operation's
    cached section)."""
    return {**data, "unreadable": unreadable_entries(failures, lang)} if failures else data


def batch_exit_code(code: int, failures: Sequence[InputError]) -> int:
    """A batch that went past unreadable files exits 3 whatever its findings (1 would hide that
    part of the batch was never checked; the findings are in the output either way)."""
    return EXIT_PARTIAL if failures else code


def resolve_format(fmt: str | None) -> str:
    """table on a terminal, JSON for pipes and cron."""
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "json"


def emit(fmt: str, data: dict[str, Any], headers: Sequence[str], rows: Sequence[Sequence[Any]], summary: str = "") -> None:
    """Print the result in the chosen format: JSON object, CSV, or a table plus a summary line."""
    if fmt == "json":  # to_json's text, without it whole in memory
        echo_blocks(json_text(data.items()))
    elif fmt == "csv":
        click.echo(to_csv(headers, rows), nl=False)
    else:
        if rows:
            safe = [[printable(v) if isinstance(v, str) else v for v in row] for row in rows]
            click.echo(tabulate(safe, headers=[printable(str(h)) for h in headers], tablefmt="simple", disable_numparse=True))
        if summary:
            click.echo(printable(summary))


def refuse_inside_inputs(paths: Sequence[str], outputs: Sequence[str | None],
                         written: Mapping[str, Sequence[str]] | None = None) -> None:
    """A workbook or CSV written into an input folder is read back by the next run of that folder
    as one more branch's register: every complaint counted twice, and flagged as its own duplicate.
    A glob reads back what it matches: an output it names, or a file written into an output
    folder it reaches (``分行/*.xlsx`` and ``-o 分行/全行.xlsx``). ``written``: the names of the
    files each output folder gets (run's ``validate.csv``, the copies ``城东支行.checked.xlsx``)."""
    reach = BatchReach(paths)
    for out in filter(None, outputs):
        targets = [Path(out), *(Path(out) / name for name in (written or {}).get(out, ()))]
        inside = next(filter(None, map(reach.folder_reading, targets)), None)
        if inside is not None:
            raise OutputError("cli_out_in_input", path=out, folder=inside)


def copies_of(files: Sequence[str | Path]) -> list[str]:
    """The names --annotate may give the copies of register ``files`` not yet read (a file's
    format, and so its copy's suffix, is known once it is read: both are named)."""
    return copy_names([(f, suffix) for suffix in (".xlsx", ".xlsm") for f in files])


def write_annotations(
    registers: Sequence[Register],
    plans_for: Callable[[Register], list[SheetPlan]],
    output: str | None,
    annotate_dir: str | None,
    force: bool,
    paths: Sequence[str] = (),
    *,
    policy: Policy,
) -> list[Path]:
    """Annotated copies: ``-o FILE`` for a single register, ``--annotate DIR`` for any number.

    Every target is checked before the first is written (no half-done batch), and none may be
    any input of the batch, nor inside a folder of ``paths`` (the command's inputs). The
    results already in a copy are looked for as deep as the ``policy``'s header search, as the
    add-in looks."""
    names = copy_names([(reg.source, annotated_suffix(reg)) for reg in registers])
    refuse_inside_inputs(paths, [output, annotate_dir], {annotate_dir: names} if annotate_dir else None)
    inputs = [reg.source for reg in registers]
    jobs: list[tuple[Register, Path]] = []
    if output:
        if len(registers) != 1:
            raise OutputError("cli_o_one_input", n=len(registers))
        suffix = annotated_suffix(registers[0])
        if Path(output).suffix.lower() != suffix:
            # Excel refuses a macro workbook named .xlsx, and any workbook named .csv or .txt.
            raise OutputError("cli_o_suffix", path=output, name=Path(registers[0].source).name, suffix=suffix)
        jobs.append((registers[0], Path(output)))
    if annotate_dir:
        folder = make_folder(annotate_dir)
        jobs += [(reg, folder / name) for reg, name in zip(registers, names)]
    for _reg, target in jobs:
        check_writable(target, force, inputs)
    written = []
    # An open workbook is a web of reference cycles that only the cycle collector frees, and a
    # batch run pauses the collector: each copy is collected once written, with what the batch
    # built frozen meanwhile so that the collection walks only the copy (300 files: one at a time).
    gc.freeze()
    try:
        for reg, target in jobs:
            written.append(write_annotated(reg, plans_for(reg), target, force, inputs, header_search_rows(policy)))
            gc.collect()
    finally:
        gc.unfreeze()
    return written


def write_text_output(path: str, text: str, force: bool, inputs: Sequence[str] = ()) -> None:
    """Write a UTF-8 text file atomically, refusing to overwrite without --force."""
    atomic_write_text(check_writable(path, force, inputs), text)


def write_csv_output(path: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], force: bool, inputs: Sequence[str] = ()) -> None:
    """Write a CSV file (UTF-8 with BOM, which Excel needs to read it as UTF-8) atomically, row by
    row as ``rows`` gives them, refusing to overwrite without --force."""
    target = check_writable(path, force, inputs)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            write_csv(fh, headers, rows)

    atomic_write(target, write)


def stage_json_output(path: str, parts: Iterable[tuple[str, Any]], force: bool, inputs: Sequence[str] = ()) -> StagedOutput:
    """The JSON object ``parts`` gives (see ``json_chunks``) written as it is made, beside its
    place, to be committed with the run's other outputs; refused without --force where a file is."""
    target = check_writable(path, force, inputs)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(json_text(parts))

    return StagedOutput(target, write)


def echo_blocks(blocks: Iterable[str]) -> None:
    """Print text blocks on stdout. A reader that stops early (``| head``) ends the printing, not
    the command: it still exits with its own code."""
    try:
        for block in blocks:
            click.echo(block, nl=False)
    except BrokenPipeError:
        # stdout pointed at nothing, or the interpreter's last flush fails on the pipe again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def exit_code_for(errors: int, warnings: int, fail_on: str) -> int:
    """0 when nothing is at or above --fail-on, else 1."""
    if fail_on == "error" and errors:
        return EXIT_FINDINGS
    if fail_on == "warning" and (errors or warnings):
        return EXIT_FINDINGS
    return EXIT_OK
