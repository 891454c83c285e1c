"""Labelled complaints, for training and evaluating classifiers (`classify train`, `classify evaluate`).

Two kinds of file hold them:
- a **register** (xlsx/xlsm/xls/csv read like any other, titles, aliases and all) with a column of
  labels, such as 投诉类别: the text is the complaint's description, demand and remarks, as the
  classifier reads them;
- a **plain table** of text and label columns, with or without a header row, such as the public
  heimao data (``text,label`` and no header).

Columns are named by header (as written, or a canonical field name such as ``category``) or by
0-based position. Rows without text or without a label are skipped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .classification import Classifier
from .errors import InputError
from .fields import FIELDS, HeaderMatcher, header_key
from .loader import LoadOptions, build_register
from .messages import Text, register_messages
from .normalize import clean_text, is_blank
from .policy import Policy
from .sources import expand_paths, open_book
from .textmodel import Metrics, TrainSettings, cross_validate, score

register_messages({
    "in_no_column": ("没有{what}列“{spec}”（现有表头：{headers}；也可以写从 0 开始的列号）",
                     "no {what} column {spec!r} (headers: {headers}; or give a 0-based position)"),
    "in_what_text": ("文本", "text"),
    "in_what_label": ("标签", "label"),
    "in_no_rows": ("没有任何数据行", "has no rows"),
    "in_position_needed": ("用了 --no-header 时，{what}列要写从 0 开始的列号，不能写“{spec}”",
                           "with --no-header the {what} column must be a 0-based position, not {spec!r}"),
    "in_no_label_column": ("台账里没有标签列“{spec}”（现有表头：{headers}）", "no label column {spec!r} in the register (headers: {headers})"),
    "in_not_register_nor_table": ("{reason}；如果这是只有文本和标签两列的普通表格，请用 --text-column 和 --label-column "
                                  "指定这两列（第一行就是数据时再加 --no-header）",
                                  "{reason}; for a plain table of texts and labels name the columns with "
                                  "--text-column and --label-column (and --no-header when the first row is data)"),
    "in_no_labelled_rows": ("没有找到带标签的行（有 {skipped} 行缺少文本或标签）", "no labelled rows found ({skipped} rows without text or label)"),
    "in_no_code_names": ("没有找到“代码: 名称”格式的行（例如 0: 催收行为类）", "no 'code: name' lines found"),
})
_WHAT = {"text": Text("in_what_text"), "label": Text("in_what_label")}

_CODE_NAME = re.compile(r"^\s*([^:：,=\t]+?)\s*[:：,=\t]\s*(.+?)\s*$")


@dataclass
class Example:
    """One labelled complaint: its text fields (as the classifier reads them) and its label."""

    fields: dict[str, str]
    label: str
    where: str  # file and row, for messages

    @property
    def text(self) -> str:
        """The fields joined, in the order the policy reads them (what a model learns from)."""
        return " ".join(v for v in self.fields.values() if v)


@dataclass
class LabelledData:
    """Examples read from one or more files, and how many rows were skipped."""

    examples: list[Example] = field(default_factory=list)
    skipped: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.examples]


@dataclass(frozen=True)
class Columns:
    """How to find text and label: header names or 0-based positions (None: the default)."""

    label: str | None = None
    text: str | None = None
    no_header: bool = False
    sheet: str | None = None
    manual_map: Mapping[str, str] | None = None

    @property
    def plain(self) -> bool:
        """A plain table is asked for by --no-header or by naming the text column."""
        return self.no_header or self.text is not None


def _position(spec: str) -> int | None:
    text = spec.strip()
    return int(text) if text.isdigit() else None


def _find_column(headers: Sequence[Any], spec: str, what: str, path: str) -> int:
    pos = _position(spec)
    if pos is not None:
        return pos
    want = header_key(spec)
    for i, h in enumerate(headers):
        if header_key(h) == want:
            return i
    shown = ", ".join(str(h) for h in headers if not is_blank(h))
    raise InputError(path, "in_no_column", what=_WHAT[what], spec=spec, headers=shown)


def _read_plain(path: Path, cols: Columns, policy: Policy, data: LabelledData, fields: Sequence[str]) -> None:
    book = open_book(path, float(policy.get("register.max_file_mb", 500)))
    name = cols.sheet or book.sheet_names[0]
    if name not in book.sheet_names:
        raise InputError(str(path), "in_no_sheet", sheet=name, sheets=", ".join(book.sheet_names))
    rows = [r for r in book.sheet(name).rows if any(not is_blank(c) for c in r)]
    if not rows:
        raise InputError(str(path), "in_no_rows")
    if cols.no_header:
        headers: list[Any] = []
        first = 0
        text_spec, label_spec = cols.text or "0", cols.label or "1"
        for spec, what in ((text_spec, "text"), (label_spec, "label")):
            if _position(spec) is None:
                raise InputError(str(path), "in_position_needed", what=_WHAT[what], spec=spec)
    else:
        headers, first = rows[0], 1
        text_spec, label_spec = cols.text or "text", cols.label or "label"
    ti = _find_column(headers, text_spec, "text", str(path))
    li = _find_column(headers, label_spec, "label", str(path))
    target = fields[0] if fields else "description"
    for r, cells in enumerate(rows[first:], start=first + 1):
        text = clean_text(cells[ti]) if ti < len(cells) else None
        label = clean_text(cells[li]) if li < len(cells) else None
        if not text or not label:
            data.skipped += 1
            continue
        data.examples.append(Example({target: text}, label, f"{path}:{r}"))


def _register_label(spec: str, policy: Policy, manual_map: Mapping[str, str] | None) -> tuple[str | None, str]:
    """A label column spec as a canonical field (or None) and a folded header to look for."""
    if spec in FIELDS:
        return spec, ""
    matched = HeaderMatcher.from_policy(policy, dict(manual_map or {})).match(spec)
    return matched, header_key(spec)


def _read_register(path: Path, cols: Columns, policy: Policy, data: LabelledData, fields: Sequence[str]) -> None:
    opts = LoadOptions(policy, cols.sheet, dict(cols.manual_map or {}))
    reg = build_register(open_book(path, float(policy.get("register.max_file_mb", 500))), opts)
    spec = cols.label or "category"
    canonical, folded = _register_label(spec, policy, cols.manual_map)
    extra_name = next((c.header for c in reg.columns if not c.field and header_key(c.header) == (folded or header_key(spec))), None)
    if extra_name is None and (canonical is None or canonical not in reg.field_columns):
        shown = ", ".join(c.header for c in reg.columns)
        raise InputError(str(path), "in_no_label_column", spec=spec, headers=shown)
    for rec in reg.records:
        raw = rec.extra.get(extra_name) if extra_name is not None else rec.values.get(canonical or "")
        label = clean_text(raw)
        texts = {name: str(rec.values[name]) for name in fields if rec.values.get(name)}
        if not label or not texts:
            data.skipped += 1
            continue
        data.examples.append(Example(texts, label, f"{path}:{rec.row}"))


def read_labelled(paths: Sequence[str], policy: Policy, cols: Columns = Columns()) -> LabelledData:
    """Examples from files, folders or globs. A file is read as a register unless --no-header or
    a text column asks for a plain table; a file that is not a register (no recognisable header
    row) is read as a plain table with ``text`` and ``label`` headers (or the columns named)."""
    fields = list(policy.get("classify.fields", ["description", "demand", "remarks"]))
    data = LabelledData()
    for path in expand_paths(list(paths)):
        data.files.append(str(path))
        if cols.plain:
            _read_plain(path, cols, policy, data, fields)
            continue
        try:
            _read_register(path, cols, policy, data, fields)
        except InputError as exc:
            if exc.code != "in_no_header":
                raise
            try:
                _read_plain(path, cols, policy, data, fields)
            except InputError:
                raise InputError(str(path), "in_not_register_nor_table", reason=Text(exc.code, exc.params)) from None
    if not data.examples:
        raise InputError(", ".join(paths), "in_no_labelled_rows", skipped=data.skipped)
    return data


def read_label_names(path: str | Path) -> dict[str, str]:
    """Code -> name lines such as ``0: 催收行为类`` (also ``0,name``, ``0=name``, tab-separated);
    other lines (titles, notes) are ignored."""
    p = Path(path)
    try:
        text = p.read_text("utf-8-sig")
    except OSError as exc:
        raise InputError(str(p), "in_cannot_read", detail=exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        text = p.read_bytes().decode("gb18030", errors="replace")
    names = {}
    for line in text.splitlines():
        m = _CODE_NAME.match(line)
        if m and len(m.group(1)) <= 20:
            names[m.group(1)] = m.group(2)
    if not names:
        raise InputError(str(p), "in_no_code_names")
    return names


@dataclass
class Evaluation:
    """How a classifier (rules, a model, or models trained by cross-validation) does on labelled data.

    ``metrics`` compares each example's best guess with its label, ignoring the review threshold
    (the usual way to report a classifier); ``as_output`` compares what the classifier writes,
    with rows under the threshold as the review label; ``decided`` is how many rows were above
    the threshold and ``decided_accuracy`` how often those were right."""

    method: str  # rules | model | cross-validation
    metrics: Metrics
    as_output: Metrics | None
    examples: int
    skipped: int
    threshold: float | None = None
    decided: int | None = None
    decided_accuracy: float | None = None
    label_map: dict[str, str] | None = None
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "files": self.files, "examples": self.examples, "skipped": self.skipped}
        out.update(self.metrics.to_dict())
        if self.as_output is not None:
            out["review"] = {
                "threshold": self.threshold,
                "decided": self.decided,
                "review": self.examples - (self.decided or 0),
                "decided_accuracy": None if self.decided_accuracy is None else round(self.decided_accuracy, 4),
                "accuracy_as_output": round(self.as_output.accuracy, 4),
                "macro_f1_as_output": round(self.as_output.macro_f1, 4),
            }
        if self.label_map is not None:
            out["label_map"] = self.label_map
        return out


def evaluate(data: LabelledData, classifier: Classifier | None = None, *, label_map: Mapping[str, str] | None = None,
             label_names: Mapping[str, str] | None = None, folds: int = 0,
             settings: TrainSettings = TrainSettings()) -> Evaluation:
    """Score a classifier on labelled data: the rules or a model (``classifier``), or, with
    ``folds``, models trained on the data itself by cross-validation. ``label_map`` turns the
    classifier's labels into the data's (e.g. the twelve JR/T reasons into six classes);
    ``label_names`` turns label codes into names (0 -> 催收行为类), the data's and the
    classifier's alike (a model trained on the codes predicts codes)."""
    names = dict(label_names or {})
    gold = [names.get(e.label, e.label) for e in data.examples]
    mapping = dict(label_map or {})

    def mapped(label: str) -> str:
        label = mapping.get(label, label)
        return names.get(label, label)

    if folds:
        guesses = cross_validate(data.texts, gold, folds, settings)
        metrics = score(gold, guesses)
        return Evaluation("cross-validation", metrics, None, len(gold), data.skipped, files=data.files)
    if classifier is None:
        raise ValueError("evaluate needs a classifier or folds")
    results = [classifier.classify_fields(e.fields) for e in data.examples]
    review = classifier.settings.review_label
    guesses = [mapped(r.guess or review) for r in results]
    outputs = [mapped(r.reason) for r in results]
    order = [mapped(label) for label in classifier.reason_labels] if not mapping else []
    decided = [(g, p) for g, p, r in zip(gold, guesses, results) if not r.review]
    threshold = classifier.settings.model_threshold if classifier.model is not None else classifier.settings.threshold
    return Evaluation(
        classifier.method,
        score(gold, guesses, order),
        score(gold, outputs, order),
        len(gold),
        data.skipped,
        threshold,
        len(decided),
        (sum(g == p for g, p in decided) / len(decided)) if decided else None,
        mapping or None,
        data.files,
    )
