"""`complaintkit validate`: what is wrong in the register, row by row."""

from __future__ import annotations

import click

from ..fields import field_label
from ..messages import t
from ..operations import OpContext, run_operation
from .common import (
    as_of_option, emit, exit_code_for, fail_on_option, friendly_errors, input_options,
    output_options, read_inputs, resolve_format, write_annotations,
)


@click.command("validate")
@input_options
@as_of_option
@fail_on_option
@output_options
@friendly_errors
def validate_cmd(paths, sheet, manual_map, config, as_of, fail_on, fmt, lang, output, annotate_dir, force, mask, debug):
    """Check registers row by row: required fields, dates, ID numbers, phones, allowed values,
    duplicate IDs, status against closing date.

    PATHS are files (.xlsx .xlsm .xls .csv), folders or globs; a folder is checked as one batch.
    Exit code: 0 clean, 1 findings at --fail-on level, 2 unusable input.
    """
    inputs = read_inputs(paths, sheet, manual_map, config)
    result = run_operation("validate", inputs.registers, OpContext(inputs.policy, as_of, lang, mask))
    report = result.detail
    fmt = resolve_format(fmt)
    many = len(inputs.registers) > 1
    headers = ([t("hdr_file", lang)] if many else []) + [t(h, lang) for h in ("hdr_sheet", "hdr_row", "hdr_column", "hdr_severity", "hdr_code", "hdr_field", "hdr_value", "hdr_message")]
    rows = [
        ([f.source] if many else []) + [f.sheet, f.row, f.column, t(f"sev_{f.severity}", lang), f.code, field_label(f.field, lang), f.display_value(mask), f.message(lang)]
        for f in report.findings
    ]
    summary = t("summary_validate", lang, rows=report.rows, errors=report.errors, warnings=report.warnings)
    write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force)
    emit(fmt, result.data, headers, rows, summary)
    click.get_current_context().exit(exit_code_for(report.errors, report.warnings, fail_on))
