"""`complaintkit classify`: reason, business line and hotspots of every complaint, with evidence;
`classify train` learns a model from labelled history; `classify evaluate` measures rules or a model.

`classify` is a group whose default is the check itself, so the three forms users expect all work:
``classify PATHS``, ``classify train LABELLED -o MODEL`` and ``classify evaluate LABELLED``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from ..classification import Classifier, evidence_text, read_label_map
from ..collector import collector_paused
from ..labelled import Columns, Evaluation, evaluate, read_label_names, read_labelled
from ..messages import register_messages, t
from ..operations import OpContext, run_operation
from ..outputs import check_writable, to_json
from ..policy import load_policy
from ..textmodel import TextModel, TrainSettings, train
from .common import (
    UserError, batch_exit_code, emit, exit_code_for, fail_on_option, friendly_errors, input_options, lang_option, manual_mapping,
    message_lang, output_options, read_checked, resolve_format, UNDATED, as_of_option, with_unreadable, write_annotations,
)

register_messages({
    "clscli_disagreements": ("与台账登记不一致：", "disagreements with the register:"),
    "clscli_trained": (
        "已训练模型：{examples} 条样本（跳过 {skipped} 条），{classes} 个类别，{ngrams} 个字符 n-gram → {path}",
        "model trained: {examples} examples ({skipped} skipped), {classes} classes, {ngrams} character n-grams -> {path}",
    ),
    "clscli_class_counts": ("各类别样本数：{counts}", "examples per class: {counts}"),
    "clscli_next": ("评估：complaintkit classify evaluate 标注数据 --model {path}", "evaluate: complaintkit classify evaluate LABELLED --model {path}"),
    "clscli_eval_head": (
        "{method}：{examples} 条样本（跳过 {skipped} 条）  准确率 {accuracy:.4f}  宏平均F1 {macro_f1:.4f}",
        "{method}: {examples} examples ({skipped} skipped)  accuracy {accuracy:.4f}  macro-F1 {macro_f1:.4f}",
    ),
    "clscli_eval_review": (
        "置信度阈值 {threshold}：{decided} 条直接分类（其中 {decided_accuracy} 正确），{review} 条待人工复核；按输出计准确率 {accuracy:.4f}，宏平均F1 {macro_f1:.4f}",
        "confidence threshold {threshold}: {decided} decided ({decided_accuracy} of them right), {review} need review; as output: accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}",
    ),
    "clscli_method_rules": ("规则", "rules"),
    "clscli_method_model": ("模型", "model"),
    "clscli_method_cross-validation": ("交叉验证", "cross-validation"),
    "clscli_hdr_class": ("类别", "class"),
    "clscli_hdr_precision": ("精确率", "precision"),
    "clscli_hdr_recall": ("召回率", "recall"),
    "clscli_hdr_f1": ("F1", "F1"),
    "clscli_hdr_support": ("样本数", "support"),
    "clscli_confusion": ("混淆矩阵（行：标注，列：预测）", "confusion matrix (rows: labelled, columns: predicted)"),
})


class ClassifyGroup(click.Group):
    """A group whose default command is the check: anything that is not a subcommand's name goes
    to the hidden ``classify`` command (so `classify PATHS` and `classify classify PATHS` are one), and the group's help is the check's help plus the commands."""

    default = "classify"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        check = self.commands[self.default]
        sub = click.Context(check, info_name=ctx.info_name, parent=ctx.parent)
        check.format_usage(sub, formatter)
        check.format_help_text(sub, formatter)
        check.format_options(sub, formatter)
        self.format_commands(ctx, formatter)
        self.format_epilog(ctx, formatter)


class _CheckContext(click.Context):
    """The check's context names it by the group's path: `classify PATHS` is how it is typed, so
    its usage line and errors say `complaintkit classify`, not `complaintkit classify classify`."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


@click.group("classify", cls=ClassifyGroup)
def classify_group() -> None:
    """Classify complaints (see `complaintkit classify --help`)."""


def _model_option(func: Any) -> Any:
    return click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None, metavar="MODEL.json",
                        help="Use a model trained with `classify train` for the reason instead of the policy's rules "
                             "(business line and hotspots still come from the rules).")(func)


@classify_group.command("classify", hidden=True)
@input_options
@as_of_option(help=UNDATED)
@_model_option
@fail_on_option
@output_options
@friendly_errors
@collector_paused()  # as `run` is: the collector would walk the register again and again for nothing
def classify_check(paths, sheet, manual_map, config, as_of, model_path, fail_on, fmt, lang, output, annotate_dir, force, mask, debug):
    """Classify every complaint: its reason (JR/T 0169-2018 投诉原因, or the policy's own taxonomy),
    business line and hotspot tags (征信 息费 分期 催收), each with a confidence and the words that
    decided it. Below the confidence threshold the reason is 待人工复核 (needs review). The
    register's own 投诉类别 and 业务类型 are never changed: disagreements are listed.

    \b
    Classify:           complaintkit classify 台账.xlsx
    Marked-up copy:     complaintkit classify 台账.xlsx -o 台账.分类.xlsx
    With a model:       complaintkit classify 台账/ --model 模型.json
    Learn a model:      complaintkit classify train 历史台账.xlsx --label-column 投诉类别 -o 模型.json
    Measure:            complaintkit classify evaluate 已标注.xlsx --label-column 投诉类别 [--model 模型.json]

    PATHS are files (.xlsx .xlsm .xls .csv), folders or globs; of a folder, the files that cannot
    be read are named on stderr and in the JSON "unreadable", and the others classified. Exit code:
    0 done; 1 with --fail-on warning when rows need review or disagree with the register; 2 unusable
    input (a single file, or no file readable); 3 some files unreadable (whatever the findings).
    --as-of is accepted as by every check (one cron line for all), and has no effect: a
    complaint's reason is read from its own words, whatever the day.
    """
    inputs = read_checked(paths, sheet, manual_map, config, "classify", lang)
    policy = inputs.policy
    if model_path:
        TextModel.load(model_path)  # a bad model file is one clear error before any work
        policy = policy.with_overrides({"classify": {"model": {"path": str(model_path)}}})
    result = run_operation("classify", inputs.registers, OpContext(policy, as_of, lang, mask))
    report = result.detail
    classifier: Classifier = report.classifier
    fmt = resolve_format(fmt)
    many = len(inputs.registers) > 1
    headers = ([t("hdr_file", lang)] if many else []) + [t("hdr_sheet", lang), t("hdr_row", lang), t("hdr_id", lang)] + [
        t(f"cls_hdr_{h}", lang) for h in ("reason", "business", "tags", "confidence", "evidence")]
    sep = "、" if lang == "zh" else ", "
    rows = [
        ([Path(r.source).name] if many else []) + [
            r.sheet, r.row, r.id, classifier.display(r.result.reason, lang), r.result.business, sep.join(r.result.tags),
            f"{r.result.confidence:.2f}", evidence_text(r.result, classifier, lang)]
        for r in report.rows
    ]
    write_annotations(inputs.registers, result.plans_for, output, annotate_dir, force, paths, policy=inputs.opts.policy)
    emit(fmt, with_unreadable(result.data, inputs.failures, lang), headers, rows, "" if fmt != "table" else result.summary)
    if fmt == "table" and report.disagreements:
        click.echo(t("clscli_disagreements", lang))
        for d in report.disagreements:
            where = f"{Path(d.source).name} " if many else ""
            click.echo(f"  {where}{t('row_ref', lang, row=d.row)} {d.id}: {d.message(lang, classifier)}")
    click.get_current_context().exit(batch_exit_code(exit_code_for(result.errors, result.warnings, fail_on), inputs.failures))


# Typed as `classify PATHS`: usage and errors name it so (see _CheckContext).
classify_check.context_class = _CheckContext


def _labelled_options(func: Any) -> Any:
    options = [
        click.argument("labelled", nargs=-1, required=True, type=str),
        click.option("--label-column", default=None, metavar="COLUMN",
                     help="The label column: a header (投诉类别, or a field name such as category) or a 0-based position. "
                          "Default: 投诉类别 in a register, 'label' (or position 1 with --no-header) in a plain table."),
        click.option("--text-column", default=None, metavar="COLUMN",
                     help="Read a plain table, with the text in this column (header or 0-based position). Without it a "
                          "register's description, demand and remarks are the text."),
        click.option("--no-header", is_flag=True, help="The plain table has no header row (columns by position; default text 0, label 1)."),
        click.option("--sheet", default=None, help="Sheet to read (default: the register sheet, or the first sheet of a plain table)."),
        click.option("--map", "manual_map", multiple=True, metavar="'HEADER=field'", help="Map a register header the aliases do not know."),
        click.option("--config", type=click.Path(dir_okay=False), default=None, envvar="COMPLAINTKIT_CONFIG",
                     help="Policy file merged over the defaults."),
        lang_option,
        click.option("--debug", is_flag=True, help="Show tracebacks for errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _read(labelled, label_column, text_column, no_header, sheet, manual_map, config):
    policy = load_policy(config)
    mapping = manual_mapping(manual_map)
    data = read_labelled(labelled, policy, Columns(label_column, text_column, no_header, sheet, mapping))
    return policy, data


def _label_names_option(func: Any) -> Any:
    return click.option("--label-names", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                        help="Names for label codes, one 'code: name' per line (e.g. heimao's label_mapping.txt).")(func)


def _settings(policy, overrides: dict[str, Any]) -> TrainSettings:
    spec = dict(policy.get("classify.model", {}) or {})
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return TrainSettings.from_mapping(spec)


def _train_options(func: Any) -> Any:
    options = [
        click.option("--ngram-max", type=click.IntRange(1, 8), default=None, help="Longest character n-gram (default: policy, 3)."),
        click.option("--min-df", type=click.IntRange(1), default=None, help="Learn only n-grams found in at least this many texts (default 2)."),
        click.option("--epochs", type=click.IntRange(1, 200), default=None, help="Passes over the data (default 8)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@classify_group.command("train")
@_labelled_options
@_train_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="MODEL.json", help="Model file to write (JSON).")
@click.option("--force", is_flag=True, help="Replace the model file if it exists.")
@_label_names_option
@friendly_errors
def classify_train(labelled, label_column, text_column, no_header, sheet, manual_map, config, lang, debug, ngram_max, min_df,
                   epochs, output, force, label_names):
    """Learn a model from labelled complaints: character n-grams (1 to 3 characters) with a
    logistic regression, saved as JSON (a model file holds numbers only and cannot run code).

    \b
    From the bank's history:   complaintkit classify train 2024台账/ --label-column 投诉类别 -o 模型.json
    From a plain CSV:          complaintkit classify train train.csv --no-header --text-column 0 --label-column 1 -o 模型.json

    LABELLED is a register with a label column, or a plain table of texts and labels. Use the
    model with `complaintkit classify --model 模型.json PATHS`; measure it first with
    `complaintkit classify evaluate` on complaints it has not seen (or with --folds).
    """
    policy, data = _read(labelled, label_column, text_column, no_header, sheet, manual_map, config)
    settings = _settings(policy, {"ngram_max": ngram_max, "min_df": min_df, "epochs": epochs})
    target = check_writable(output, force, data.files)
    names = read_label_names(label_names) if label_names else {}
    labels = [names.get(label, label) for label in data.labels]
    model = train(data.texts, labels, settings, source=", ".join(Path(f).name for f in data.files))
    model.save(target)
    counts = "、".join(f"{c} {n}" for c, n in model.training["class_counts"].items()) if lang == "zh" else \
        ", ".join(f"{c} {n}" for c, n in model.training["class_counts"].items())
    click.echo(t("clscli_trained", lang, examples=len(data.examples), skipped=data.skipped, classes=len(model.classes),
                 ngrams=len(model.vocabulary), path=target))
    click.echo(t("clscli_class_counts", lang, counts=counts))
    click.echo(t("clscli_next", lang, path=target), err=True)


def _evaluation_tables(ev: Evaluation, lang: str) -> str:
    m = ev.metrics
    head = t("clscli_eval_head", lang, method=t(f"clscli_method_{ev.method}", lang), examples=ev.examples, skipped=ev.skipped,
             accuracy=m.accuracy, macro_f1=m.macro_f1)
    lines = [head]
    if ev.as_output is not None:
        share = "-" if ev.decided_accuracy is None else f"{ev.decided_accuracy:.1%}"
        lines.append(t("clscli_eval_review", lang, threshold=ev.threshold, decided=ev.decided, decided_accuracy=share,
                       review=ev.examples - (ev.decided or 0), accuracy=ev.as_output.accuracy, macro_f1=ev.as_output.macro_f1))
    per = [[c, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", s.support] for c, s in m.per_class.items()
           if s.support or any(row[m.labels.index(c)] for row in m.confusion)]
    heads = [t(f"clscli_hdr_{h}", lang) for h in ("class", "precision", "recall", "f1", "support")]
    lines += ["", tabulate(per, headers=heads, tablefmt="simple", disable_numparse=True), "", t("clscli_confusion", lang)]
    used = [i for i, c in enumerate(m.labels) if sum(m.confusion[i]) or any(row[i] for row in m.confusion)]
    short = [m.labels[i] for i in used]
    matrix = [[m.labels[i]] + [m.confusion[i][j] for j in used] for i in used]
    lines.append(tabulate(matrix, headers=[""] + short, tablefmt="simple"))
    return "\n".join(lines)


@classify_group.command("evaluate")
@_labelled_options
@_model_option
@click.option("--folds", type=click.IntRange(2, 20), default=None,
              help="Cross-validate instead: train on all folds but one, score on the one left out, in turn.")
@_train_options
@click.option("--label-map", default=None, metavar="NAME|FILE",
              help="Map the classifier's labels onto the data's: a map named in classify.label_maps (e.g. heimao) or a "
                   "TOML/JSON file of 'label = other label' pairs.")
@_label_names_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None, help="Output format (default: table on a terminal, JSON otherwise).")
@friendly_errors
def classify_evaluate(labelled, label_column, text_column, no_header, sheet, manual_map, config, lang, debug, model_path,
                      folds, ngram_max, min_df, epochs, label_map, label_names, fmt):
    """Measure the rules (default), a model (--model) or cross-validated models (--folds) on
    labelled complaints: accuracy, macro-F1, per-class precision and recall, confusion matrix.

    \b
    The rules on a labelled register:  complaintkit classify evaluate 已标注.xlsx --label-column 投诉类别
    A model on held-out data:          complaintkit classify evaluate 2025台账.xlsx --model 模型.json
    Rules on the heimao data:          complaintkit classify evaluate dev.csv --no-header --label-names label_mapping.txt --label-map heimao

    Accuracy and macro-F1 compare each row's best guess with its label; the review line says how
    many rows reached the confidence threshold and how the output (with 待人工复核) scores.
    """
    if model_path and folds:
        raise UserError(t("cli_model_folds", message_lang()))
    policy, data = _read(labelled, label_column, text_column, no_header, sheet, manual_map, config)
    names = read_label_names(label_names) if label_names else None
    mapping = read_label_map(policy, label_map) if label_map else None
    if folds:
        ev = evaluate(data, label_names=names, folds=folds, settings=_settings(policy, {"ngram_max": ngram_max, "min_df": min_df, "epochs": epochs}))
    else:
        classifier = Classifier(policy, TextModel.load(model_path) if model_path else None)
        ev = evaluate(data, classifier, label_map=mapping, label_names=names)
    if resolve_format(fmt) == "json":
        click.echo(to_json(ev.to_dict()))
    else:
        click.echo(_evaluation_tables(ev, lang))
