"""`complaintkit risk`: escalation-risk flags with their reasons, highest first;
`complaintkit risk evaluate`: how well the score ranks the complaints a register marks escalated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import click
from tabulate import tabulate

from ..collector import collector_paused
from ..messages import register_messages, t
from ..operations import OpContext, run_operation
from ..outputs import to_json
from ..risk import LEVELS, Evaluation, RiskReport, RowRisk, TopError, evaluate_registers, parse_top
from .common import (
    as_of_option, batch_exit_code, emit, exit_code_for, fail_on_option, friendly_errors, input_options, lang_option,
    look_back, message_lang, output_options, printable, read_checked, read_inputs, resolve_format,
    with_unreadable, write_annotations,
)

register_messages({
    "riskcli_head": (
        "{rows} 行，其中标记升级 {escalated} 行（{rate}；是否升级为空按“否”计 {unmarked} 行）；ROC AUC {auc}",
        "{rows} rows, {escalated} marked escalated ({rate}; {unmarked} blank counted as not escalated); ROC AUC {auc}",
    ),
    "riskcli_left_out": (
        "评估时不计“已升级”本身（渠道 {channels}、是否升级=是），以免用答案预测答案",
        "left out while evaluating: the already-escalated facts (channels {channels}, 是否升级=是), so the answer does not predict itself",
    ),
    "riskcli_na": ("无法计算（需要既有升级也有未升级的行）", "n/a (needs both escalated and other rows)"),
    "riskcli_hdr_top": ("前 k", "top k"),
    "riskcli_hdr_k": ("行数", "rows"),
    "riskcli_hdr_escalated": ("其中升级", "escalated"),
    "riskcli_hdr_precision": ("精确率", "precision"),
    "riskcli_hdr_recall": ("召回率", "recall"),
    "riskcli_hdr_level": ("等级", "level"),
    "riskcli_hdr_factor": ("因素", "factor"),
    "riskcli_hdr_channel": ("渠道", "channel"),
    "riskcli_hdr_reason": ("投诉原因", "reason"),
    "riskcli_hdr_rows": ("行数", "rows"),
    "riskcli_hdr_rate": ("升级比例", "escalation rate"),
    "riskcli_hdr_lift": ("提升度", "lift"),
})

_LEVEL_CHOICES = ("high", "medium", "low", "none", "all")


def _parse_levels(_ctx: Any, _param: Any, value: str | None) -> list[str]:
    """--level high,medium (default: every flagged level; ``all`` adds none)."""
    wanted = [v.strip() for v in (value or "high,medium,low").split(",") if v.strip()]
    unknown = [v for v in wanted if v not in _LEVEL_CHOICES]
    if unknown:
        raise click.BadParameter(t("cli_unknown_choice", message_lang(), unknown=", ".join(unknown), choices=", ".join(_LEVEL_CHOICES)))
    return list(LEVELS) if "all" in wanted else [level for level in LEVELS if level in wanted]


def _parse_tops(_ctx: Any, _param: Any, values: tuple[str, ...]) -> list[str]:
    try:
        return [parse_top(v) for value in values for v in value.split(",") if v.strip()] or ["10", "5%"]
    except TopError as exc:
        raise click.BadParameter(exc.text(message_lang())) from None


def _history_options(func: Any) -> Any:
    options = [
        click.option("--history", "history_paths", multiple=True, metavar="PATH",
                     help="Earlier registers (files, folders, globs) the customer factors look back on, so a January "
                          "register still sees December's complaints. Repeatable."),
        click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_STORE",
                     help="History store (SQLite) to look back on as well; see `complaintkit history`."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class RiskCommand(click.Command):
    """`risk PATHS` is the check; `risk evaluate PATHS` hands over to the evaluate command.

    A command rather than a group, so that `risk`'s own options (--as-of, -o ...) are the
    check's, as for every other check."""

    def __init__(self, *args: Any, evaluate: click.Command, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.evaluate = evaluate

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        if args and args[0] == "evaluate":
            return self.evaluate.make_context(f"{info_name} evaluate", args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


def _table(rows: Sequence[RowRisk], lang: str, many: bool) -> tuple[list[str], list[list[Any]]]:
    codes = ["risk_hdr_row", "risk_hdr_id", "risk_hdr_level", "risk_hdr_score", "risk_hdr_reasons"]
    headers = ([t("risk_hdr_file", lang)] if many else []) + [t(c, lang) for c in codes]
    out = []
    for r in rows:
        out.append(([Path(r.source).name] if many else []) + [r.row, r.id, r.level_text(lang), f"{r.score:g}", r.reasons_text(lang)])
    return headers, out


@click.command("evaluate")
@input_options
@as_of_option
@_history_options
@click.option("--top", "tops", multiple=True, callback=_parse_tops, metavar="K",
              help="Precision at the top K rows: a number (10) or a share (5%). Repeatable or comma-separated (default: 10 and 5%).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None, help="Output format (default: table on a terminal, JSON otherwise).")
@lang_option
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@friendly_errors
def risk_evaluate_cmd(paths, sheet, manual_map, config, as_of, history_paths, store_path, tops, fmt, lang, debug):
    """Measure the score on a register whose escalated complaints are marked (是否升级=是): the ROC
    AUC (the chance an escalated complaint scores above another one; 0.5 is chance), the precision
    at the top K, and the escalation rate per level and per factor, so a bank can tune the weights
    in [risk] on its own history.

    The already-escalated facts (channel 监管转办/媒体 and the row's own 是否升级) are left out of the
    score while evaluating: they are the answer, not a sign of it. A blank 是否升级 counts as 否.

    \b
    complaintkit risk evaluate 2025年台账/ --as-of 2025-12-31 --top 20 --top 5%
    complaintkit risk evaluate 2025年台账/ --config 调整后.toml --format json

    Exit code: 0 done; 2 unusable input (or no 是否升级 column).
    """
    inputs = read_inputs(paths, sheet, manual_map, config)
    history = look_back(inputs.registers, history_paths, store_path, inputs.opts, lang)
    result = evaluate_registers(inputs.registers, OpContext(inputs.policy, as_of, lang, history=history), tops)
    if resolve_format(fmt) == "json":
        click.echo(to_json(result.to_dict()))
    else:
        click.echo(printable(_evaluation_text(result, lang)))


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _evaluation_text(ev: Evaluation, lang: str) -> str:
    """The evaluation as a terminal shows it: the headline, then precision at k, and the
    escalation rate per level, factor, channel and reason."""
    data = ev.to_dict()
    auc = f"{ev.auc:.3f}" if ev.auc is not None else t("riskcli_na", lang)
    lines = [t("riskcli_head", lang, rows=ev.rows, escalated=ev.positives, rate=_pct(data["base_rate"] or 0), unmarked=ev.unmarked, auc=auc),
             t("riskcli_left_out", lang, channels="/".join(ev.already_channels))]
    hdr = lambda *codes: [t(f"riskcli_hdr_{c}", lang) for c in codes]  # noqa: E731
    lines += ["", tabulate([[k.label, k.k, f"{round(k.escalated, 2):g}", _pct(k.precision), _pct(k.recall)] for k in ev.top],
                           headers=hdr("top", "k", "escalated", "precision", "recall"), disable_numparse=True)]
    tables = [("level", ev.levels, lambda name: t(f"risk_levelx_{name}", lang)),
              ("factor", ev.factors, lambda name: f"{t(f'risk_factor_{name}', lang)} [{name}]"),
              ("channel", ev.channels, str), ("reason", ev.reasons, str)]
    for key, shares, name_of in tables:
        if shares:
            rows = [[name_of(g.name), g.rows, g.escalated, _pct(g.rate), "" if g.lift is None else f"{g.lift:.2f}"] for g in shares]
            lines += ["", tabulate(rows, headers=hdr(key, "rows", "escalated", "rate", "lift"), disable_numparse=True)]
    return "\n".join(lines)


@click.command("risk", cls=RiskCommand, evaluate=risk_evaluate_cmd)
@input_options
@as_of_option
@_history_options
@click.option("--level", "levels", callback=_parse_levels, default=None, metavar="LIST",
              help="Only rows at these levels, e.g. high,medium (high medium low none all; default: high,medium,low). "
                   "Applies to the listing and the exit code; the summary counts every row.")
@fail_on_option
@output_options
@friendly_errors
@collector_paused()  # as `run` is: the collector would walk the register again and again for nothing
def risk_cmd(paths, sheet, manual_map, config, as_of, history_paths, store_path, levels, fail_on, fmt, lang, output,
             annotate_dir, force, mask, debug):
    """Escalation risk (升级风险): which complaints may go to the regulator, the media or the
    courts, graded high/medium/low (红/橙/黄), highest first, each with its reasons and evidence:
    repeat complaints about the same issue, earlier escalation, frequency, overdue, transfers,
    回访不满意, escalation words and hard demands. A complaint received through 监管转办 or 媒体 (or
    marked 是否升级=是) is already escalated: high, and the reason says so. Weights and thresholds
    are in the policy's [risk] section.

    \b
    This morning's list:  complaintkit risk 台账/ --as-of 2026-11-20 --level high,medium
    With last year:       complaintkit risk 2026-01.xlsx --history 2025年台账/
    Marked-up copy:       complaintkit risk 台账.xlsx -o 台账.风险.xlsx
    Tune the weights:     complaintkit risk evaluate 已标注台账.xlsx   (see `risk evaluate --help`)

    Exit code: 0 nothing at --fail-on level; 1 findings at that level (error: a high-risk row;
    warning: also a medium-risk row); 2 unusable input (a single file, or no file readable); 3 some
    files of a folder or glob unreadable (each named on stderr and in the JSON "unreadable"; the
    others are checked), whatever the findings. --level applies to the exit code too.
    """
    inputs = read_checked(paths, sheet, manual_map, config, "risk", lang)
    history = look_back(inputs.registers, history_paths, store_path, inputs.opts, lang)
    result = run_operation("risk", inputs.registers, OpContext(inputs.policy, as_of, lang, mask, history=history))
    report: RiskReport = result.detail
    shown = report.filtered(levels)
    fmt = resolve_format(fmt)
    headers, rows = _table(shown, lang, len(inputs.registers) > 1)
    write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force, paths, policy=inputs.opts.policy)
    emit(fmt, with_unreadable(report.to_dict(lang, mask, levels), inputs.failures, lang), headers, rows, report.summary_text(lang))
    errors = sum(1 for r in shown if r.level == "high")
    warnings = sum(1 for r in shown if r.level == "medium")
    click.get_current_context().exit(batch_exit_code(exit_code_for(errors, warnings, fail_on), inputs.failures))
