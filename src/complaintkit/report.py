"""The back-office report workbook: a summary with counts and charts, the overdue and high-risk
lists, one sheet per check, and the files that could not be read.

Built from the pipeline's OpResults (their JSON sections) joined to the records, so the report
says exactly what the CLI's JSON says. Personal data is masked by default: a report is for
forwarding.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .errors import InputError
from .fields import field_label
from .messages import register_messages, t
from .operations import OpResult
from .outputs import atomic_write, check_writable
from .privacy import mask_id, mask_phone
from .register import Record, Register
from .sheetplan import AMBER, HEADER, RED, YELLOW
from .xlsx_applier import put

register_messages({
    "rpt_summary": ("汇总", "Summary"),
    "rpt_title": ("投诉登记台账检查报告", "Complaint register report"),
    "rpt_as_of": ("检查日", "As of"),
    "rpt_files": ("文件数", "Files"),
    "rpt_rows": ("投诉笔数", "Complaints"),
    "rpt_unreadable": ("无法读取的文件", "Unreadable files"),
    "rpt_by_branch": ("按机构", "By branch"),
    "rpt_by_business": ("按业务类型", "By business line"),
    "rpt_by_reason": ("按投诉原因", "By reason"),
    "rpt_by_status": ("按时限状态", "By deadline status"),
    "rpt_by_register_status": ("按处理状态", "By handling status"),
    "rpt_by_risk": ("按升级风险", "By escalation risk"),
    "rpt_by_month": ("按受理月份", "By month received"),
    "rpt_count": ("笔数", "Count"),
    "rpt_overdue": ("超期清单", "Overdue"),
    "rpt_high_risk": ("高风险清单", "High risk"),
    "rpt_findings": ("检查结果", "Checks"),
    "rpt_chart_month": ("每月受理投诉", "Complaints by month"),
    "rpt_chart_reason": ("投诉原因分布", "Complaints by reason"),
    "rpt_file": ("文件", "File"),
    "rpt_error": ("原因", "Reason"),
    "rpt_blank": ("（空）", "(blank)"),
    "op_validate": ("校验", "Validation"),
    "op_dedupe": ("查重", "Duplicates"),
    "op_classify": ("分类", "Classification"),
    "op_followups": ("时限", "Deadlines"),
    "op_risk": ("升级风险", "Escalation risk"),
})

_TITLE_FONT = Font(size=14, bold=True)
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color=HEADER, end_color=HEADER)
_LEVEL_FILLS = {"high": RED, "medium": AMBER, "low": YELLOW}
_PERSONAL_KEYS = {"id_number": mask_id, "phone": mask_phone}


def main_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of row items of an operation's JSON section (findings, groups or rows)."""
    for key in ("findings", "groups", "rows"):
        items = data.get(key)
        if isinstance(items, list):
            return [i for i in items if isinstance(i, dict)]
    return []


def _row_fill(item: dict[str, Any]) -> str | None:
    """Red for errors, overdue and high risk; amber for warnings, due soon and medium; yellow for low."""
    level = item.get("level")
    if level in _LEVEL_FILLS:
        return _LEVEL_FILLS[level]
    if item.get("severity") == "error" or item.get("status") == "overdue":
        return RED
    if item.get("severity") == "warning" or item.get("status") == "due_soon":
        return AMBER
    return None


def cell_text(value: Any) -> Any:
    if isinstance(value, list):
        return "；".join(str(cell_text(v)) for v in value)
    if isinstance(value, dict):
        return value.get("message") or "，".join(f"{k}={v}" for k, v in value.items())
    return value


class _Index:
    """Finds the record a JSON row item is about: by file, sheet and row, or sheet, row and ID."""

    def __init__(self, registers: Sequence[Register]) -> None:
        self.by_file: dict[tuple[str, str, int], Record] = {}
        self.by_sheet: dict[tuple[str, int, str], Record] = {}
        for reg in registers:
            for rec in reg.records:
                self.by_file[(rec.source, rec.sheet, rec.row)] = rec
                self.by_sheet[(rec.sheet, rec.row, rec.id)] = rec

    def find(self, item: dict[str, Any]) -> Record | None:
        row = item.get("row")
        if not isinstance(row, int):
            return None
        if item.get("file"):
            rec = self.by_file.get((item["file"], item.get("sheet", ""), row))
            if rec:
                return rec
        return self.by_sheet.get((item.get("sheet", ""), row, item.get("id", "")))


def _write_table(ws: Worksheet, top: int, left: int, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows at (top, left); returns the last row written."""
    for j, h in enumerate(headers):
        c = ws.cell(row=top, column=left + j, value=h)
        c.font = _BOLD
        c.fill = _HEADER_FILL
    r = top
    for r, row in enumerate(rows, start=top + 1):
        for j, value in enumerate(row):
            put(ws.cell(row=r, column=left + j), value)
    return r


def _list_sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]], fills: list[str | None] | None = None,
                widths: dict[int, float] | None = None) -> Worksheet:
    ws = wb.create_sheet(title[:31])
    last = _write_table(ws, 1, 1, headers, rows)
    styles: dict[str, PatternFill] = {}
    for i, fill in enumerate(fills or []):
        if fill:
            style = styles.setdefault(fill, PatternFill("solid", start_color=fill, end_color=fill))
            for j in range(1, len(headers) + 1):
                ws.cell(row=i + 2, column=j).fill = style
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last}"
    for j, h in enumerate(headers, start=1):
        longest = max([len(str(h))] + [len(str(r[j - 1])) for r in rows[:200] if j - 1 < len(r) and r[j - 1] is not None])
        ws.column_dimensions[get_column_letter(j)].width = (widths or {}).get(j, min(60, max(8, longest * 1.6)))
    return ws


def _counts_block(ws: Worksheet, top: int, title: str, counter: Counter, lang: str, order: Sequence[str] | None = None) -> tuple[int, int, int]:
    """A two-column count table under a bold title; returns (first data row, last data row, next free row)."""
    ws.cell(row=top, column=1, value=title).font = _BOLD
    keys = list(order or []) + sorted((k for k in counter if k not in (order or [])), key=lambda k: (-counter[k], str(k)))
    rows = [[k if k not in (None, "") else t("rpt_blank", lang), counter[k]] for k in keys if counter.get(k)]
    last = _write_table(ws, top + 1, 1, ["", t("rpt_count", lang)], rows)
    return top + 2, last, last + 2


def _bar_chart(ws: Worksheet, title: str, first: int, last: int, anchor: str) -> None:
    if last < first:
        return
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.legend = None
    chart.height, chart.width = 7.5, 16
    chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    ws.add_chart(chart, anchor)


def build_report(registers: Sequence[Register], results: Sequence[OpResult], as_of: dt.date, lang: str = "zh",
                 failures: Sequence[InputError] = (), mask: bool = True) -> Workbook:
    """The report workbook for one pipeline run."""
    by_name = {r.name: r for r in results}
    index = _Index(registers)
    records = [rec for reg in registers for rec in reg.records]
    wb = Workbook()
    ws = wb.active
    ws.title = t("rpt_summary", lang)
    ws["A1"] = t("rpt_title", lang)
    ws["A1"].font = _TITLE_FONT
    facts = [(t("rpt_as_of", lang), as_of.isoformat()), (t("rpt_files", lang), len(registers)), (t("rpt_rows", lang), len(records)),
             (t("rpt_unreadable", lang), len(failures))]
    for i, (label, value) in enumerate(facts, start=3):
        ws.cell(row=i, column=1, value=label).font = _BOLD
        ws.cell(row=i, column=2, value=value)
    line = 3 + len(facts)
    for result in results:
        ws.cell(row=line, column=1, value=t(f"op_{result.name}", lang)).font = _BOLD
        ws.cell(row=line, column=2, value=result.summary)
        line += 1
    top = line + 1

    month = Counter(rec.values["received_date"].strftime("%Y-%m") for rec in records if rec.values.get("received_date"))
    months = sorted(month)
    first, last, top = _counts_block(ws, top, t("rpt_by_month", lang), month, lang, months)
    _bar_chart(ws, t("rpt_chart_month", lang), first, last, "E3")
    branch = Counter(rec.values.get("branch") or Path(rec.source).stem for rec in records)
    _, _, top = _counts_block(ws, top, t("rpt_by_branch", lang), branch, lang)
    business = Counter(rec.values.get("business_line") for rec in records)
    classify_rows = main_items(by_name["classify"].data) if "classify" in by_name else []
    if classify_rows:
        business = Counter(item.get("business") or "" for item in classify_rows)
    _, _, top = _counts_block(ws, top, t("rpt_by_business", lang), business, lang)
    if classify_rows:
        reason = Counter(item.get("reason") or "" for item in classify_rows)
        first, last, top = _counts_block(ws, top, t("rpt_by_reason", lang), reason, lang)
        _bar_chart(ws, t("rpt_chart_reason", lang), first, last, "E20")
    _, _, top = _counts_block(ws, top, t("rpt_by_register_status", lang), Counter(rec.values.get("status") for rec in records), lang)
    followup_rows = main_items(by_name["followups"].data) if "followups" in by_name else []
    if followup_rows:
        _, _, top = _counts_block(ws, top, t("rpt_by_status", lang), Counter(i.get("status") for i in followup_rows), lang,
                                  ["overdue", "due_soon", "on_track", "closed_late", "closed_on_time"])
    risk_rows = main_items(by_name["risk"].data) if "risk" in by_name else []
    if risk_rows:
        _, _, top = _counts_block(ws, top, t("rpt_by_risk", lang), Counter(i.get("level") for i in risk_rows), lang,
                                  ["high", "medium", "low", "none"])
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 40
    ws.freeze_panes = "A3"
    # Printed or exported to PDF, the summary and its charts fit the page width.
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0

    person = ["hdr_file", "hdr_sheet", "hdr_row", "hdr_id"]

    def who(item: dict[str, Any]) -> list[Any]:
        rec = index.find(item)
        name = rec.values.get("customer_name") if rec else None
        phone = rec.values.get("phone") if rec else None
        if mask and phone:
            phone = mask_phone(phone)
        branch_name = (rec.values.get("branch") if rec else None) or ""
        return [Path(rec.source).name if rec else item.get("file", ""), item.get("sheet"), item.get("row"), item.get("id"), branch_name,
                name, phone, rec.values.get("handler") if rec else None]

    who_headers = [t(h, lang) for h in person] + [field_label(f, lang) for f in ("branch", "customer_name", "phone", "handler")]
    if followup_rows:
        overdue = [i for i in followup_rows if i.get("status") == "overdue" or i.get("followup_status") == "overdue"]
        overdue.sort(key=lambda i: -(i.get("days_overdue") or 0))
        keys = ["decision_due", "status", "days_overdue", "followup_due", "followup_status"]
        _list_sheet(wb, t("rpt_overdue", lang), who_headers + keys, [who(i) + [i.get(k) for k in keys] for i in overdue],
                    [RED if i.get("status") == "overdue" else AMBER for i in overdue])
    if risk_rows:
        high = [i for i in risk_rows if i.get("level") == "high"]
        high.sort(key=lambda i: -(i.get("score") or 0))
        _list_sheet(wb, t("rpt_high_risk", lang), who_headers + ["level", "score", "reasons"],
                    [who(i) + [i.get("level"), i.get("score"), cell_text(i.get("reasons"))] for i in high], [RED] * len(high))

    for result in results:
        items = main_items(result.data)
        keys: list[str] = []
        for item in items:
            for k in item:
                if k not in keys:
                    keys.append(k)
        rows = []
        for item in items:
            row = []
            for k in keys:
                value = cell_text(item.get(k))
                if mask and item.get("field") in _PERSONAL_KEYS and k == "value" and isinstance(value, str):
                    value = _PERSONAL_KEYS[item["field"]](value)
                row.append(value)
            rows.append(row)
        fills = [_row_fill(item) for item in items]
        _list_sheet(wb, f"{t('rpt_findings', lang)}-{t(f'op_{result.name}', lang)}", keys or ["-"], rows, fills)
    if failures:
        _list_sheet(wb, t("rpt_unreadable", lang), [t("rpt_file", lang), t("rpt_error", lang)], [[f.path, f.reason] for f in failures])
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=1, max_row=1):
            for c in row:
                c.alignment = Alignment(vertical="center")
    wb.properties.creator = "complaintkit"
    return wb


def write_report(path: str | Path, workbook: Workbook, force: bool = False, inputs: Sequence[str] = ()) -> Path:
    """Save the report atomically."""
    target = check_writable(path, force, inputs)
    atomic_write(target, lambda tmp: workbook.save(tmp))
    return target
