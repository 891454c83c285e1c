"""`complaintkit dedupe`: duplicate entries (merge them) and repeat complaints (link them)."""

from __future__ import annotations

from pathlib import Path

import click

from ..collector import collector_paused
from ..dedupe import member_note, role_text
from ..merge import write_merged
from ..messages import t
from ..operations import OpContext, run_operation
from ..outputs import check_writable, require_xlsx
from ..sources import expand_paths
from .common import (
    UserError, batch_exit_code, copies_of, emit, exit_code_for, fail_on_option, friendly_errors, input_options, look_back, output_options,
    read_checked, refuse_inside_inputs, resolve_format, UNDATED, as_of_option, with_unreadable, write_annotations,
)


@click.command("dedupe")
@input_options
@as_of_option(help=UNDATED)
@click.option("--window-days", type=click.IntRange(min=1), default=None, metavar="N",
              help="Repeat window: a complaint repeats one about the same issue at most N days earlier (default: policy, 180).")
@click.option("--history", "history_paths", multiple=True, metavar="PATH",
              help="Earlier registers (files, folders, globs) to find repeats and duplicates across periods. Repeatable. "
                   "Their rows are referenced, never annotated or merged.")
@click.option("--merge", is_flag=True, help="With -o FILE.xlsx: write one de-duplicated workbook of all inputs (removed rows listed in CK-已合并).")
@fail_on_option
@output_options
@friendly_errors
@collector_paused()  # as `run` is: the collector would walk the register again and again for nothing
def dedupe_cmd(paths, sheet, manual_map, config, as_of, window_days, history_paths, merge, fail_on, fmt, lang, output, annotate_dir,
               force, mask, debug):
    """Find duplicate entries (one complaint typed in twice) and repeat complaints (the same
    customer back about the same issue), per customer: ID number, else phone, else name + branch.

    PATHS are files (.xlsx .xlsm .xls .csv), folders or globs; a folder is deduplicated as one batch,
    going past the files that cannot be read (each named on stderr and in the JSON "unreadable").
    -o FILE writes an annotated copy (one input); with --merge, -o FILE.xlsx is the de-duplicated
    workbook of all inputs instead.

    Exit code: 0 done; 1 when --fail-on warning and there are duplicate groups (duplicates are
    warnings; repeat chains are links, not findings); 2 unusable input (a single file, or no file
    readable) or usage; 3 some files unreadable (whatever the findings).

    --as-of is accepted as by every check (one cron line for all), and has no effect: duplicates
    and repeats are found between the complaints' own received dates, never against today.
    """
    if merge and not output:
        raise UserError(t("cli_merge_needs_o", lang))
    if merge:  # a wrong output is said before the batch is read and deduplicated, as run does
        require_xlsx(output, "merged")
        check_writable(output, force)
        refuse_inside_inputs(paths, [output, annotate_dir], {annotate_dir: copies_of(expand_paths(paths))} if annotate_dir else None)
    inputs = read_checked(paths, sheet, manual_map, config, "dedupe", lang)
    policy = inputs.policy
    if window_days is not None:
        policy = policy.with_overrides({"dedupe": {"repeat": {"window_days": window_days}}})
    history = look_back(inputs.registers, history_paths, None, inputs.opts, lang)
    ctx = OpContext(policy, as_of, lang, mask, history=history)
    result = run_operation("dedupe", inputs.registers, ctx)
    found = result.detail
    fmt = resolve_format(fmt)
    many = found.many_files
    headers = [t(f"dedupe_hdr_{h}", lang) for h in ("group", "kind")] + ([t("dedupe_hdr_file", lang)] if many else []) + [
        t(f"dedupe_hdr_{h}", lang) for h in ("sheet", "row", "id", "date", "role", "score", "reason")]
    rows = []
    for group in found.groups:
        for pos, m in enumerate(group.members):
            rec = m.record
            file_cell = [Path(rec.source).name + (t("dedupe_history", lang) if m.history else "")] if many else []
            # The table shows a group's reason once; CSV repeats it so every line stands alone.
            reason = group.reason(lang) if pos == 0 or fmt == "csv" else member_note(group, pos, None, lang)
            rows.append([group.number, t(f"dedupe_kind_{group.kind}", lang)] + file_cell + [
                rec.sheet, rec.row, rec.id, m.date.isoformat(), role_text(group, pos, lang), round(group.score, 3), reason])
    if merge:
        written = write_merged(found, inputs.registers, output, force, lang, [reg.source for reg in history], mask)
        click.echo(written.message(lang), err=True)
        write_annotations(inputs.registers, result.plans_for, None, annotate_dir, force, paths, policy=inputs.opts.policy)
    else:
        write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force, paths, policy=inputs.opts.policy)
    emit(fmt, with_unreadable(result.data, inputs.failures, lang), headers, rows, result.summary)
    click.get_current_context().exit(batch_exit_code(exit_code_for(result.errors, result.warnings, fail_on), inputs.failures))
