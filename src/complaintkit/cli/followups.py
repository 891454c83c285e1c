"""`complaintkit followups`: decision deadlines and follow-up calls, most urgent first."""

from __future__ import annotations

from typing import Any

import click

from ..collector import collector_paused
from ..deadlines import FOLLOWUP_STATUSES, STATUSES, FollowupReport
from ..messages import t
from ..operations import OpContext, run_operation
from .common import (
    as_of_option, batch_exit_code, emit, exit_code_for, fail_on_option, friendly_errors, input_options, message_lang,
    output_options, read_checked, check_branches, resolve_format, warn, with_unreadable, write_annotations,
)

_FILTERS = tuple(dict.fromkeys(STATUSES + FOLLOWUP_STATUSES))


def _parse_statuses(_ctx: Any, _param: Any, values: tuple[str, ...]) -> list[str]:
    """--status overdue,due_soon (repeatable, comma-separated)."""
    wanted = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in _FILTERS]
    if unknown:
        raise click.BadParameter(t("cli_unknown_choice", message_lang(), unknown=", ".join(unknown), choices=", ".join(_FILTERS)))
    return wanted


def _table(report: FollowupReport, lang: str, many: bool, explain: bool) -> tuple[list[str], list[list[Any]]]:
    codes = ["hdr_row", "hdr_id", "hdr_branch", "hdr_handler", "hdr_received", "hdr_due", "hdr_status", "hdr_fu_due", "hdr_fu_status"]
    headers = ([t("hdr_file", lang)] if many else []) + [t(c, lang) for c in codes]
    rows = []
    for r in report.rows:
        row = ([r.source] if many else []) + [
            r.row, r.id, r.branch, r.handler, _iso(r.received), _iso(r.decision_due), r.status_text(lang),
            _iso(r.followup_due), r.followup_text(lang),
        ]
        sep = "; " if lang == "en" else "；"
        rows.append(row + ([sep.join(r.explanation(lang))] if explain else []))
    return headers + ([t("hdr_explain", lang)] if explain else []), rows


def _iso(day: Any) -> str:
    return day.isoformat() if day else ""


@click.command("followups")
@input_options
@as_of_option
@click.option("--status", "statuses", multiple=True, callback=_parse_statuses, metavar="LIST",
              help="Only rows whose decision or follow-up status is one of these, e.g. overdue,due_soon "
                   f"(choose from {', '.join(_FILTERS)}; due_soon also takes follow-ups due within the warning window).")
@click.option("--branch", "branches", multiple=True, metavar="NAME",
              help="Only rows of this branch (受理机构; a part of the name is enough; rows without a branch match on "
                   "the file name). Repeatable.")
@click.option("--explain", is_flag=True, help="Show how every date was computed (holidays skipped, 调休 days counted, roll-forward).")
@fail_on_option
@output_options
@friendly_errors
@collector_paused()  # as `run` is: the collector would walk the register again and again for nothing
def followups_cmd(paths, sheet, manual_map, config, as_of, statuses, branches, explain, fail_on, fmt, lang, output,
                  annotate_dir, force, mask, debug):
    """Decision deadlines (办理时限) and follow-up calls (回访) on China's working-day calendar:
    which complaints are overdue or about to be, which follow-ups are late. Most urgent first.

    \b
    The morning list:   complaintkit followups 台账.xlsx --status overdue,due_soon
    One branch, why:    complaintkit followups 台账/ --branch 城东 --explain
    Marked-up copy:     complaintkit followups 台账.xlsx -o 台账.时限.xlsx

    Exit code: 0 nothing at --fail-on level; 1 findings at that level (error: an overdue decision or
    follow-up; warning: also due soon, a follow-up due within the warning window, a row without a
    usable received date, or a year the holiday calendar does not cover); 2 unusable input (a single
    file, or no file readable); 3 some files of a folder or glob unreadable (each named on stderr and
    in the JSON "unreadable"; the others are listed), whatever the findings; 2 also for a --branch
    that no row matches (the branches found are named), unless some file was unreadable: the
    branch may be in it, so a warning and 3. Filters apply to the exit code too. Dates in years
    the calendar does not cover are warned about on stderr and in the JSON "warnings".
    """
    inputs = read_checked(paths, sheet, manual_map, config, "followups", lang)
    result = run_operation("followups", inputs.registers, OpContext(inputs.policy, as_of, lang, mask))
    everything: FollowupReport = result.detail
    check_branches(everything.unknown_branches(branches), everything.branches, lang, inputs.failures)
    report = everything.filtered(statuses, branches)
    fmt = resolve_format(fmt)
    headers, rows = _table(report, lang, len(inputs.registers) > 1, explain and fmt == "csv")
    write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force, paths, policy=inputs.opts.policy)
    emit(fmt, with_unreadable(report.to_dict(lang, mask, explain), inputs.failures, lang), headers, rows, report.summary_text(lang))
    if explain and fmt == "table":
        for r in report.rows:
            click.echo(f"\n{r.source}:{r.row} {r.id}" if len(inputs.registers) > 1 else f"\n{t('row_ref', lang, row=r.row)} {r.id}")
            for line in r.explanation(lang):
                click.echo(f"  - {line}")
    for warning in report.calendar_warnings:
        warn(warning.message(lang), lang)
    click.get_current_context().exit(batch_exit_code(exit_code_for(report.errors, report.warnings, fail_on), inputs.failures))
