"""`complaintkit validate`: what is wrong in the register, row by row."""

from __future__ import annotations

import click

from ..collector import collector_paused
from ..fields import field_label
from ..messages import t
from ..operations import OpContext, run_operation
from .common import (
    as_of_option, batch_exit_code, emit, exit_code_for, fail_on_option, friendly_errors, input_options,
    output_options, read_checked, resolve_format, with_unreadable, write_annotations,
)


@click.command("validate")
@input_options
@as_of_option
@fail_on_option
@output_options
@friendly_errors
@collector_paused()  # as `run` is: the collector would walk the register again and again for nothing
def validate_cmd(paths, sheet, manual_map, config, as_of, fail_on, fmt, lang, output, annotate_dir, force, mask, debug):
    """Check registers row by row: required fields, dates, ID numbers, phones, allowed values,
    duplicate IDs, status against closing date.

    PATHS are files (.xlsx .xlsm .xls .csv), folders or globs; a folder is checked as one batch,
    going past the files that cannot be read (each named on stderr and in the JSON "unreadable").
    Exit code: 0 clean, 1 findings at --fail-on level, 2 unusable input (a single file, or no file
    readable), 3 some files unreadable (whatever the findings).
    """
    inputs = read_checked(paths, sheet, manual_map, config, "validate", lang)
    result = run_operation("validate", inputs.registers, OpContext(inputs.policy, as_of, lang, mask))
    report = result.detail
    fmt = resolve_format(fmt)
    many = len(inputs.registers) > 1
    headers = ([t("hdr_file", lang)] if many else []) + [t(h, lang) for h in ("hdr_sheet", "hdr_row", "hdr_column", "hdr_severity", "hdr_code", "hdr_field", "hdr_value", "hdr_message")]
    rows = [
        ([f.source] if many else []) + [f.sheet, f.row, f.column, t(f"sev_{f.severity}", lang), f.code, field_label(f.field, lang), f.display_value(mask), f.message(lang, mask)]
        for f in report.findings
    ]
    summary = t("summary_validate", lang, rows=report.rows, errors=report.errors, warnings=report.warnings)
    write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force, paths, policy=inputs.opts.policy)
    emit(fmt, with_unreadable(result.data, inputs.failures, lang), headers, rows, summary)
    click.get_current_context().exit(batch_exit_code(exit_code_for(report.errors, report.warnings, fail_on), inputs.failures))
