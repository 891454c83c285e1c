"""Row-by-row validation of a register: every finding has a code, a severity, a row, a column
and a reason. Pure: records and policy in, a report out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from rapidfuzz import fuzz, process

from .fields import field_label
from .messages import ENUMERATION, Joined, Text, register_messages, render, t
from .normalize import EARLIEST_DATE, clean_text, phone_is_valid
from .operations import OpContext, OpResult, operation
from .policy import Policy
from .privacy import PERSONAL_FIELDS, mask_cell
from .register import Record, Register
from .resident_id import check_id
from .sheetplan import AMBER, RED, CellMark, PlanColumn, PlanTable, SheetPlan

register_messages({
    # duplicate_column's sibling (its text is in messages.CATALOG): the header is a variant of the
    # field's name, so the message says "looks like" rather than "appears twice".
    "near_duplicate_column": ("{column}列{named}像是第二个“{header}”列：只读取了 {used} 列，{column} 列的内容未被检查",
                              "column {column}{named} looks like a second '{header}' column: only column {used} is read, column {column} is not checked"),
    "prefilled_rows": ("第 {rows} 行（共 {n} 行）只有预先填好的列，没有投诉编号、受理日期、客户或投诉内容：未作为投诉检查",
                       "rows {rows} ({n} rows) hold only columns filled in ahead, no complaint ID, received date, customer "
                       "or description: not checked as complaints"),
})

SEVERITIES = ("error", "warning")
_UNCHECKED = object()
# Findings whose value is a column's header, not a cell: "手机号码(备用)" is no phone to mask.
_HEADER_VALUES = frozenset({"duplicate_column", "near_duplicate_column"})
# Findings whose message quotes part of an ID number (masked with the value).
_ID_DETAILS = frozenset({"id_precision_lost", "id_birth_date"})


@dataclass(slots=True)
class Finding:
    """One problem in one cell (or one row, or one register when ``row`` is the header row)."""

    code: str
    severity: str
    source: str
    sheet: str
    row: int
    column: str
    field: str
    value: Any
    id: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "zh", mask: bool = False) -> str:
        """The reason, in ``lang`` (with ``mask``, what it quotes of an ID number masked too)."""
        params = dict(self.params)
        params.setdefault("label", field_label(self.field, lang))
        params.setdefault("value", self.display_value(mask))
        if mask and self.code in _ID_DETAILS:
            # The digits Excel kept, or the birth date inside the number: the person's.
            params["detail"] = self.display_value(mask) if self.code == "id_precision_lost" else "****"
        return render(self.code, lang, params)  # a hint or a column's name is a Text of its own

    def display_value(self, mask: bool = False) -> str:
        """The original cell value as text (ID numbers and phones masked when ``mask``)."""
        text = "" if self.value is None else str(clean_text(self.value) or "")
        if mask and self.field in PERSONAL_FIELDS and self.code not in _HEADER_VALUES:
            return str(mask_cell(text, self.field))
        return text

    def to_dict(self, lang: str = "zh", mask: bool = False) -> dict[str, Any]:
        """The JSON-contract form of this finding."""
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.source,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "id": self.id,
            "value": self.display_value(mask),
            "message": self.message(lang, mask),
        }


@dataclass
class ValidationReport:
    """All findings of a batch, in file/row/column order."""

    findings: list[Finding]
    rows: int

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def items(self, lang: str = "zh", mask: bool = False) -> Iterator[dict[str, Any]]:
        """The JSON contract's findings, one at a time."""
        return (f.to_dict(lang, mask) for f in self.findings)

    def to_dict(self, lang: str = "zh", mask: bool = False) -> dict[str, Any]:
        """The JSON contract: ok, summary, findings."""
        return {
            "ok": self.ok,
            "summary": {"rows": self.rows, "errors": self.errors, "warnings": self.warnings},
            "findings": list(self.items(lang, mask)),
        }


class _Collector:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.findings: list[Finding] = []
        self._rules: dict[str, tuple[bool, str]] = {}

    def add(self, code: str, rec: Record, name: str, value: Any = None, **params: Any) -> None:
        rule = self._rules.get(code)
        if rule is None:
            rule = self._rules[code] = self.policy.rule(code)
        enabled, severity = rule
        if not enabled:
            return
        if value is None:
            value = rec.cell(name)
        self.findings.append(
            Finding(code, severity, rec.source, rec.sheet, rec.row, rec.column_of(name), name, value, rec.id, params)
        )


def _suggest(value: str, allowed: Sequence[str]) -> Text:
    best = process.extractOne(value, allowed, scorer=fuzz.WRatio, score_cutoff=60)
    if best:
        return Text("did_you_mean", {"suggestion": best[0]})
    return Text("allowed_list", {"allowed": "、".join(allowed)})


def validate_records(records: Iterable[Record], policy: Policy, as_of: dt.date) -> list[Finding]:
    """Findings for each record: required fields, unreadable/future/out-of-order dates, ID numbers,
    phones, allowed values, status against closing date, transfer counts, duplicate IDs."""
    out = _Collector(policy)
    required = list(policy.get("fields.required", []))
    allowed: dict[str, list[str]] = policy.get("values.allowed", {}) or {}
    closed_statuses = set(policy.get("status.closed", ["已办结"]))
    open_statuses = set(policy.get("status.open", ["待处理", "处理中"]))
    first_seen: dict[str, Record] = {}
    id_problems: dict[str, Any] = {}
    hints: dict[tuple[str, str], Text] = {}
    for rec in records:
        v = rec.values
        present = rec.columns  # the register's field -> column letter, shared by its records
        for name in required:
            if name in present and v.get(name) is None and name not in rec.problems:
                out.add("required_missing", rec, name, "")
        for name, parsed in rec.problems.items():
            code = parsed.problem or "date_unreadable"
            # A lost-precision ID is shown as Excel shows it: its digits are not the real ones.
            shown = parsed.detail if code == "id_precision_lost" else None
            out.add(code, rec, name, shown, detail=parsed.detail or "")

        received, closed, followup = v.get("received_date"), v.get("closed_date"), v.get("followup_date")
        for name, day in (("received_date", received), ("closed_date", closed), ("followup_date", followup)):
            if day is not None and day > as_of:
                out.add("date_future", rec, name, date=day.isoformat(), as_of=as_of.isoformat())
            elif day is not None and day < EARLIEST_DATE:
                out.add("date_too_early", rec, name, date=day.isoformat(), earliest=EARLIEST_DATE.isoformat())
        if received and closed and closed < received:
            out.add("closed_before_received", rec, "closed_date", closed=closed.isoformat(), received=received.isoformat())
        if closed and followup and followup < closed:
            out.add("followup_before_closed", rec, "followup_date", followup=followup.isoformat(), closed=closed.isoformat())

        id_number = v.get("id_number")
        if id_number:
            problem = id_problems.get(id_number, _UNCHECKED)
            if problem is _UNCHECKED:  # repeat customers: each ID number is checked once
                problem = id_problems[id_number] = check_id(id_number, as_of)
            if problem:
                out.add(problem[0], rec, "id_number", detail=problem[1])
        phone = v.get("phone")
        if phone and not phone_is_valid(phone):
            out.add("phone_invalid", rec, "phone")

        for name, values in allowed.items():
            value = v.get(name)
            if value is not None and value not in values:
                hint = hints.get((name, value))
                if hint is None:  # a value typed wrong is typed wrong again: each is matched once
                    hint = hints[name, value] = _suggest(str(value), values)
                out.add("value_not_allowed", rec, name, hint=hint)

        status = v.get("status")
        # Both rules need the date column to exist: a register without it gets one column finding, not one per row.
        if status in closed_statuses and closed is None and "closed_date" in present and "closed_date" not in rec.problems:
            out.add("closed_without_date", rec, "closed_date", "", status=status)
        if status in open_statuses and closed is not None:
            out.add("open_with_closed_date", rec, "status", closed=closed.isoformat(), status=status)
        if v.get("followup_result") and followup is None and "followup_date" in present and "followup_date" not in rec.problems:
            out.add("followup_without_date", rec, "followup_date", "", result=v.get("followup_result"))

        cid = rec.id
        if cid:
            if cid in first_seen:
                first = first_seen[cid]
                where = f"{first.sheet}!{first.column_of('complaint_id')}{first.row}"
                if first.source != rec.source:
                    where = f"{first.source} {where}"
                out.add("duplicate_complaint_id", rec, "complaint_id", other=where)
            else:
                first_seen[cid] = rec
    return out.findings


def _second_columns(out: _Collector, reg: Register) -> None:
    """A finding on the header row for each column whose cells were never read because another
    column supplies its field: named as the field (duplicate_column) or as a numbered or spare
    variant of it (near_duplicate_column: 联系电话2 beside 联系电话)."""
    seconds = [("duplicate_column", c) for c in reg.duplicate_columns]
    seconds += [("near_duplicate_column", c) for c in reg.near_duplicate_columns]
    for code, dup in seconds:
        used = reg.column_of_field(dup.field) if dup.field else None
        if dup.field is None or used is None:
            continue
        stub = Record(reg.source, reg.sheet, reg.header_row, {}, {}, columns={dup.field: dup.letter})
        named = "" if clean_text(dup.header) == clean_text(used.header) else Text("duplicate_column_named", {"header": dup.header})
        out.add(code, stub, dup.field, dup.header, header=used.header, column=dup.letter, used=used.letter, named=named)


def _prefilled(out: _Collector, reg: Register) -> None:
    """One finding, on the first of them, for the rows read as no complaint because they hold
    values only in columns filled ahead (a branch filled down the sheet): a clerk who started an
    entry there sees that it was not checked, and a filled-down sheet gets one line, not a
    required-field error per cell."""
    rows = reg.prefilled_rows
    stub = Record(reg.source, reg.sheet, rows[0], {}, {}, columns=reg.field_columns)
    out.add("prefilled_rows", stub, "complaint_id", "", rows=row_ranges(rows), n=len(rows))


def row_ranges(rows: Sequence[int], shown: int = 5) -> Joined:
    """Sheet rows as ranges (43–60、75 / 43–60, 75), the first ``shown`` and "…" after them."""
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    texts = [str(a) if a == b else f"{a}–{b}" for a, b in spans[:shown]]
    return Joined(tuple(texts + ["…"] * (len(spans) > shown)), ENUMERATION)


def validate(registers: Sequence[Register], policy: Policy, as_of: dt.date) -> ValidationReport:
    """Validate one or several registers as one batch (duplicate IDs are looked for across files)."""
    out = _Collector(policy)
    for reg in registers:
        present = set(reg.field_columns)
        for name in policy.get("fields.required", []):
            if name not in present:
                stub = Record(reg.source, reg.sheet, reg.header_row, {}, {}, columns=reg.field_columns)
                out.add("required_column_missing", stub, name, "")
        _second_columns(out, reg)
        if reg.prefilled_rows:
            _prefilled(out, reg)
    findings = out.findings + validate_records((r for reg in registers for r in reg.records), policy, as_of)
    order = {(reg.source, reg.sheet): i for i, reg in enumerate(registers)}
    findings.sort(key=lambda f: (order.get((f.source, f.sheet), 0), f.row, _col_key(f.column)))
    return ValidationReport(findings, sum(len(reg.records) for reg in registers))


def _col_key(letter: str) -> tuple[int, str]:
    return (len(letter), letter)


def validation_plan(report: ValidationReport, register: Register, lang: str = "zh", mask: bool = False) -> SheetPlan:
    """The SheetPlan for one register: a problems column, filled problem cells with notes, and a
    findings sheet whose first column links to each cell (its ID numbers and phones masked with
    ``mask``, as in the JSON: the register's own cells are the user's and stay as they are)."""
    mine = [f for f in report.findings if f.source == register.source and f.sheet == register.sheet]
    by_row: dict[int, list[Finding]] = {}
    for f in mine:
        if f.row > register.header_row:
            by_row.setdefault(f.row, []).append(f)
    message = {id(f): f.message(lang, mask) for f in mine}  # each shows in three places
    column = PlanColumn(t("col_validate", lang), {}, {}, width=48)
    marks: list[CellMark] = []
    for row, items in by_row.items():
        column.values[row] = ("；" if lang == "zh" else "; ").join(message[id(f)] for f in items)
        column.fills[row] = RED if any(f.severity == "error" for f in items) else AMBER
    for f in mine:
        # A header finding that names a column (a duplicate column) marks its header cell.
        if f.column and f.row >= register.header_row:
            marks.append(CellMark(f.row, f.column, RED if f.severity == "error" else AMBER, message[id(f)]))
    headers = [t(h, lang) for h in ("hdr_row", "hdr_column", "hdr_severity", "hdr_code", "hdr_field", "hdr_id", "hdr_value", "hdr_message")]
    rows, links, fills = [], {}, {}
    for i, f in enumerate(mine):
        ref = f"{f.column}{f.row}" if f.column else f"A{f.row}"
        rows.append([f"{register.sheet}!{ref}", f.column, t(f"sev_{f.severity}", lang), f.code, field_label(f.field, lang), f.id, f.display_value(mask), message[id(f)]])
        links[i] = f"{register.sheet}!{ref}"
        fills[i] = RED if f.severity == "error" else AMBER
    table = PlanTable(t("sheet_findings", lang), headers, rows, links, fills, [16, 6, 8, 24, 12, 16, 24, 70])
    summary = t("summary_validate", lang, rows=len(register.records), errors=sum(f.severity == "error" for f in mine), warnings=sum(f.severity == "warning" for f in mine))
    last = max([r.row for r in register.records], default=register.header_row)
    return SheetPlan("validate", register.sheet, register.header_row, last, [column], marks, [table], summary)


@operation("validate")
def validate_operation(registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """The validate operation for every door."""
    report = validate(registers, ctx.policy, ctx.as_of)
    summary = t("summary_validate", ctx.lang, rows=report.rows, errors=report.errors, warnings=report.warnings)
    return OpResult("validate", lambda: report.to_dict(ctx.lang, ctx.mask), lambda reg: [validation_plan(report, reg, ctx.lang, ctx.mask)],
                    summary, report.errors, report.warnings, report,
                    items=lambda: report.items(ctx.lang, ctx.mask))
