"""The back-office report workbook: a summary with counts and charts, the overdue and high-risk
lists, one sheet per check, and the files that could not be read.

Built from the pipeline's OpResults (their JSON sections) joined to the records, so the report
says exactly what the CLI's JSON says. Personal data is masked by default: a report is for
forwarding.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell.cell import TIME_FORMATS, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.worksheet import Worksheet

from .errors import InputError
from .fields import FIELDS, field_label
from .collector import collector_paused
from .messages import CATALOG, register_messages, t
from .operations import OpResult
from .outputs import atomic_write, check_writable
from .privacy import mask_cell, scrub
from .register import Record, Register, all_records
from .sheetplan import AMBER, HEADER, RED, YELLOW
from .xlsx_applier import put, safe_text

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
    "rpt_days_overdue": ("超期天数", "days overdue"),
    "op_validate": ("校验", "Validation"),
    "op_dedupe": ("查重", "Duplicates"),
    "op_classify": ("分类", "Classification"),
    "op_followups": ("时限", "Deadlines"),
    "op_risk": ("升级风险", "Escalation risk"),
    # The headers of the check sheets' columns that no check's own sheet names already.
    "rpt_col_rows": ("各行", "rows"),
    "rpt_col_ids": ("各投诉编号", "complaint IDs"),
    "rpt_col_sheets": ("各工作表", "sheets"),
    "rpt_col_files": ("各文件", "files"),
    "rpt_col_dates": ("各受理日期", "received dates"),
    "rpt_col_customer": ("客户", "customer"),
    "rpt_col_members": ("各条记录", "members"),
    "rpt_col_count": ("投诉次数", "complaints"),
    "rpt_col_days_between": ("间隔天数", "days between"),
    "rpt_col_reason_label": ("原因标签", "reason label"),
    "rpt_col_review": ("需人工复核", "review"),
    "rpt_col_guess": ("最可能原因", "best guess"),
    "rpt_col_business_from": ("业务类型依据", "business line from"),
    "rpt_col_method": ("分类方法", "method"),
    "rpt_col_candidates": ("候选原因", "candidates"),
    "rpt_col_followup_days_left": ("回访剩余天数", "follow-up days left"),
    "rpt_col_rule": ("适用规则", "rule"),
    "rpt_col_deadline_note": ("时限说明", "deadline note"),
    "rpt_col_level_text": ("预警颜色", "warning colour"),
})

_TITLE_FONT = Font(size=14, bold=True)
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color=HEADER, end_color=HEADER)
_LEVEL_FILLS = {"high": RED, "medium": AMBER, "low": YELLOW}

#: Every fill a list row can have (levels, severities, deadline statuses).
_ROW_FILLS = (RED, AMBER, YELLOW)
_CHUNK = 1 << 20


#: The header of each JSON key as a check's sheet shows it (a message code): the keys every check
#: shares, then what a key means in one check. The JSON keeps its keys; a key not listed (a new
#: one) is headed by its field's name, or shows as it is.
_COLUMN_HEADERS: dict[str, str] = {
    "file": "hdr_file", "sheet": "hdr_sheet", "row": "hdr_row", "id": "hdr_id", "column": "hdr_column",
    "field": "hdr_field", "value": "hdr_value", "message": "hdr_message", "code": "hdr_code", "severity": "hdr_severity",
}
_CHECK_HEADERS: dict[str, dict[str, str]] = {
    "dedupe": {
        "kind": "dedupe_hdr_kind", "rows": "rpt_col_rows", "ids": "rpt_col_ids", "sheets": "rpt_col_sheets",
        "files": "rpt_col_files", "dates": "rpt_col_dates", "primary": "dedupe_role_primary", "score": "dedupe_hdr_score",
        "reason": "dedupe_hdr_reason", "customer": "rpt_col_customer", "members": "rpt_col_members",
        "count": "rpt_col_count", "days_between": "rpt_col_days_between",
    },
    "classify": {
        "reason": "rpt_col_reason_label", "reason_text": "cls_hdr_reason", "review": "rpt_col_review", "guess": "rpt_col_guess",
        "business": "cls_hdr_business", "business_from": "rpt_col_business_from", "tags": "cls_hdr_tags",
        "confidence": "cls_hdr_confidence", "method": "rpt_col_method", "candidates": "rpt_col_candidates",
        "evidence": "cls_hdr_evidence",
    },
    "followups": {
        "branch": "hdr_branch", "handler": "hdr_handler", "received_date": "hdr_received", "decision_due": "hdr_due",
        "status": "hdr_status", "days_overdue": "rpt_days_overdue", "days_left": "hdr_days_left", "followup_due": "hdr_fu_due",
        "followup_status": "hdr_fu_status", "followup_days_left": "rpt_col_followup_days_left", "level": "hdr_severity",
        "rule": "rpt_col_rule", "reason": "rpt_col_deadline_note", "explanation": "hdr_explain",
    },
    "risk": {
        "level": "risk_hdr_level", "level_text": "rpt_col_level_text", "score": "risk_hdr_score", "reasons": "risk_hdr_reasons",
    },
}


#: The coded values a check's sheet shows in words, by the message code's prefix (overdue ->
#: dl_overdue -> 已超期). The JSON keeps its codes; a row's fill reads the item, not the cell.
_CHECK_VALUES: dict[str, dict[str, str]] = {
    "validate": {"severity": "sev_"},
    "dedupe": {"kind": "dedupe_kind_"},
    "followups": {"status": "dl_", "followup_status": "fu_", "level": "sev_"},
    "risk": {"level": "risk_levelx_"},
}


def in_words(check: str, key: str, value: Any, lang: str = "zh") -> Any:
    """A coded value of a check's row items as the report shows it (followups' status "overdue"
    -> 已超期, see _CHECK_VALUES): in the check's sheet and in the lists taken from it alike. A
    value with no words (a key not coded, a code not known) is shown as it is."""
    prefix = _CHECK_VALUES.get(check, {}).get(key)
    if prefix is None or not isinstance(value, str) or prefix + value not in CATALOG:
        return value
    return t(prefix + value, lang)


def column_header(check: str, key: str, lang: str = "zh") -> str:
    """The header of a check sheet's column for a JSON key of its row items (row -> 行)."""
    code = _CHECK_HEADERS.get(check, {}).get(key) or _COLUMN_HEADERS.get(key)
    if code is not None:
        return t(code, lang)
    return field_label(key, lang) if key in FIELDS else key


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


#: How a cell joins the items of a list and the parts of an object, per language.
_JOINS = {"zh": ("；", "，"), "en": ("; ", ", ")}


@functools.lru_cache(maxsize=4096)
def _masked_name(name: str) -> str:
    return scrub(name)


def _shown_name(name: str, mask: bool) -> str:
    """A file name or path as a report shows it: with ``mask``, a phone or an ID number in it (a
    register saved as 张三13800138000.xlsx) is masked like any other (once per name)."""
    return _masked_name(name) if mask else name


def cell_text(value: Any, lang: str = "zh") -> Any:
    """A JSON value as one cell: lists joined, objects by their message or as key=value."""
    items, parts = _JOINS.get(lang, _JOINS["zh"])
    if isinstance(value, list):
        return items.join([str(cell_text(v, lang)) for v in value])
    if isinstance(value, dict):
        return value.get("message") or parts.join([f"{k}={v}" for k, v in value.items()])
    return value


class _Index:
    """Finds the record a JSON row item is about: by file, sheet and row, or sheet, row and ID."""

    def __init__(self, registers: Sequence[Register]) -> None:
        self.registers = registers
        self.by_file: dict[tuple[str, str, int], Record] = {rec.key: rec for reg in registers for rec in reg.records}
        self._by_sheet: dict[tuple[str, int, str], Record] | None = None

    @property
    def by_sheet(self) -> dict[tuple[str, int, str], Record]:
        # Only items without their file need it: built when the first one comes.
        if self._by_sheet is None:
            self._by_sheet = {(rec.sheet, rec.row, rec.id): rec for reg in self.registers for rec in reg.records}
        return self._by_sheet

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


class _ListSheet:
    """A list sheet of the report, written as its rows come. Its header row, column widths, frozen
    header and filter are in the openpyxl workbook; its rows become sheet XML a block at a time,
    kept compressed (a tenth of the memory of the values), and go into the file when it is saved.
    A check's rows are never all held: 264 MiB less at a million rows (benchmarks/RESULTS.md)."""

    #: Rows per block. A row's fill spans the columns known when its block is written: a key first
    #: met after the first block (rare: each check's items share their keys) is not filled above.
    BLOCK = 4096
    SAMPLE = 200  # rows the column widths are measured on

    def __init__(self, report: "ReportBook", title: str, index: int | None = None) -> None:
        self.report = report
        self.ws = report.workbook.create_sheet(title[:31], index)
        self.width = 0
        self.count = 0
        self.xml = b""
        self.sample: list[list[Any]] = []
        self._rows: list[list[Any]] = []
        self._fills: list[str | None] = []
        self._tails: dict[str, str] = {}
        self._packer = zlib.compressobj(1)
        self._parts: list[bytes] = []

    def add(self, row: list[Any], fill: str | None, width: int) -> None:
        """One row, its fill, and the columns known so far (a fill spans them)."""
        self._rows.append(row)
        self._fills.append(fill)
        if len(self.sample) < self.SAMPLE:
            self.sample.append(row)
        if len(self._rows) >= self.BLOCK:
            self._write(width)

    def _write(self, width: int) -> None:
        self.width = max(self.width, width)
        styles, epoch = self.report.styles, self.report.workbook.epoch
        for block in _rows_xml(self.ws, self.width, self._rows, self._fills, styles, epoch, self.count + 2, self._tails):
            self._parts.append(self._packer.compress(block))
        self.count += len(self._rows)
        self._rows, self._fills = [], []

    def finish(self, headers: list[str], widths: dict[int, float] | None = None) -> None:
        """The header row, widths, frozen header and filter, once every row is in."""
        self._write(len(headers))
        self.width = len(headers)
        self._parts.append(self._packer.flush())
        self.xml = b"".join(self._parts)
        self._parts, self._tails = [], {}
        ws = self.ws
        _write_table(ws, 1, 1, headers, [])
        ws.freeze_panes = "A2"
        if self.count:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{self.count + 1}"
        for j, h in enumerate(headers, start=1):
            longest = max([len(str(h))] + [len(str(r[j - 1])) for r in self.sample if j - 1 < len(r) and r[j - 1] is not None])
            ws.column_dimensions[get_column_letter(j)].width = (widths or {}).get(j, min(60, max(8, longest * 1.6)))
        self.sample = []
        self.report.lists.append(self)


def _list_sheet(report: "ReportBook", title: str, headers: list[str], rows: Sequence[list[Any]],
                fills: Sequence[str | None] | None = None, widths: dict[int, float] | None = None,
                index: int | None = None) -> _ListSheet:
    """A list sheet of rows known in full (the overdue and high-risk lists, once sorted)."""
    sheet = _ListSheet(report, title, index)
    for n, row in enumerate(rows):
        sheet.add(row, fills[n] if fills else None, len(headers))
    sheet.finish(headers, widths)
    return sheet


#: Distinct texts a list column shares between its rows.
_SHARED_TEXTS = 4096


class _SharedTexts:
    """Each row item brings its own copy of texts that repeat down a list's columns (dates,
    statuses, codes, branches): the rows keep one. A column of unique texts (IDs) stops being
    remembered once it has shown it is one."""

    def __init__(self) -> None:
        self.columns: list[dict[str, str]] = []

    def row(self, values: list[Any]) -> list[Any]:
        """``values`` with their texts shared (one pass, no call per cell: a million rows pass here)."""
        columns = self.columns
        while len(columns) < len(values):
            columns.append({})
        out = []
        for seen, v in zip(columns, values):
            if v.__class__ is str:
                shared = seen.get(v)
                if shared is not None:
                    v = shared
                elif len(seen) < _SHARED_TEXTS:
                    seen[v] = v
            out.append(v)
        return out


class _Findings:
    """One check's list sheet, filled from its JSON row items as they come: each item becomes a
    row of cells at once (its values masked by the check itself, which runs with the same --mask;
    file names masked here), its columns the items' keys in the order
    they first appear, and goes on to the sheet. A large register's JSON section is never held
    whole, nor its cells."""

    def __init__(self, sheet: _ListSheet, mask: bool, lang: str, check: str) -> None:
        self.sheet = sheet
        self.mask = mask
        self.lang = lang
        self.check = check
        #: the keys whose coded values are shown in words (``in_words``), and those words
        self.worded = list(_CHECK_VALUES.get(check, {}))
        self._words: dict[tuple[str, str], str] = {}
        #: dedupe's items' lists and objects name files (its members and primary): masked too.
        self.files_in_lists = mask and check == "dedupe"
        self.keys: dict[str, int] = {}
        self.texts = _SharedTexts()

    def add(self, item: dict[str, Any]) -> None:
        keys = self.keys
        row: list[Any] = [None] * len(keys)
        for k, v in item.items():
            at = keys.get(k)
            if at is None:
                at = keys[k] = len(keys)
                row.append(None)
            if v.__class__ in _SCALARS:
                row[at] = v
            else:
                row[at] = cell_text(v, self.lang)
                if self.files_in_lists and isinstance(row[at], str):
                    row[at] = _shown_name(row[at], True)
        for k in self.worded:
            v = item.get(k)
            if isinstance(v, str):
                words = self._words.get((k, v))
                if words is None:
                    words = self._words[(k, v)] = in_words(self.check, k, v, self.lang)
                row[keys[k]] = words
        if self.mask and isinstance(item.get("file"), str):
            row[keys["file"]] = _shown_name(item["file"], True)
        self.sheet.add(self.texts.row(row), _row_fill(item), len(keys))


class _CellStyles:
    """Style ids for streamed cells, registered in the workbook when the report starts: each row
    fill, alone and with the number format openpyxl gives each date and time type."""

    def __init__(self, workbook: Workbook, fills: Iterable[str]) -> None:
        scratch = workbook.create_sheet("~styles")
        self.ids: dict[tuple[str | None, str], int] = {}
        for fill in [None, *sorted(set(fills))]:
            for fmt in ["General", *TIME_FORMATS.values()]:
                cell = scratch.cell(row=1, column=1 + len(self.ids))
                if fill:
                    cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
                cell.number_format = fmt
                self.ids[(fill, fmt)] = cell.style_id
        workbook.remove(scratch)


_DIMENSION = re.compile(rb'<dimension ref="[^"]*"')


def _text_tail(text: str) -> str:
    """A text cell after its reference and style, as openpyxl writes it once ``put`` has made the
    text safe: an inline string, its spaces kept when it has an edge."""
    text = safe_text(text)
    if not text:
        return ' t="inlineStr" />'
    if "&" in text or "<" in text or ">" in text:
        text = escape(text)
    stripped = text.strip()
    space = ' xml:space="preserve"' if stripped and stripped != text else ""
    return f' t="inlineStr"><is><t{space}>{text}</t></is></c>'


#: Distinct texts whose XML a sheet remembers before it starts again (statuses, dates, branches
#: repeat on every row).
_TEXT_MEMO = 65536


def _rows_xml(ws: Worksheet, width: int, rows: Sequence[list[Any]], fills: Sequence[str | None] | None,
              styles: _CellStyles, epoch: dt.datetime, first: int = 2, tails: dict[str, str] | None = None) -> Iterator[bytes]:
    """The sheet's data rows from row ``first`` as openpyxl writes them after ``put``: the same
    types, values and styles, at a fraction of the cost per cell. ``tails``: the sheet's memo of
    text cells' XML, kept from one block of rows to the next."""
    letters = [get_column_letter(j) for j in range(1, width + 1)]
    if tails is None:
        tails = {}
    chunk: list[str] = []
    for n, values in enumerate(rows):
        r = n + first
        if len(values) < width:  # the fill spans the header's width
            values = values + [None] * (width - len(values))
        while len(letters) < len(values):
            letters.append(get_column_letter(len(letters) + 1))
        fill = fills[n] if fills else None
        styled = f' s="{styles.ids[(fill, "General")]}"' if fill else ""
        chunk.append(f'<row r="{r}">')
        for j, value in enumerate(values):
            style = styled if j < width else ""
            kind = value.__class__
            if kind is str:
                tail = tails.get(value)
                if tail is None:
                    tail = _text_tail(value)
                    if len(tails) >= _TEXT_MEMO:
                        # Unique texts (IDs, descriptions) fill it: starting again lets the texts
                        # that repeat (a branch first met late) be remembered, at any size.
                        tails.clear()
                    tails[value] = tail
                chunk.append(f'<c r="{letters[j]}{r}"{style}{tail}')
            elif value is None:
                if style:
                    chunk.append(f'<c r="{letters[j]}{r}"{style} t="n" />')
            elif kind is bool:
                chunk.append(f'<c r="{letters[j]}{r}"{style} t="b"><v>{int(value)}</v></c>')
            elif kind is int or (kind is float and math.isfinite(value)):
                chunk.append(f'<c r="{letters[j]}{r}"{style} t="n"><v>{"%.16g" % value}</v></c>')
            else:  # dates, odd types: put decides, on a fresh cell (a date's format stays with its cell)
                probe = Cell(ws)
                put(probe, value)
                chunk.append(_probe_xml(probe, f"{letters[j]}{r}", style, fill, styles, epoch))
        chunk.append("</row>")
        if len(chunk) > 8192:
            yield "".join(chunk).encode("utf-8", "replace")
            chunk = []
    yield "".join(chunk).encode("utf-8", "replace")


def _probe_xml(cell: Cell, ref: str, style: str, fill: str | None, styles: _CellStyles, epoch: dt.datetime) -> str:
    """A cell ``put`` has set, written as openpyxl writes it."""
    value, kind = cell._value, cell.data_type
    if kind == "s":
        return f'<c r="{ref}"{style}{_text_tail(value)}'
    if kind == "d":  # dates are numbers with the date format openpyxl chose for their type
        return f'<c r="{ref}" s="{styles.ids[(fill, cell.number_format)]}" t="n"><v>{"%.16g" % to_excel(value, epoch)}</v></c>'
    if value is None:
        return f'<c r="{ref}"{style} t="{kind}" />' if style else ""
    return f'<c r="{ref}"{style} t="{kind}"><v>{escape(safe_string(value))}</v></c>'


class ReportBook:
    """The report workbook: the summary and each list's header row, widths, frozen header and
    filter are built with openpyxl; the lists' rows, which can be millions of cells, are written
    straight as sheet XML (openpyxl's own writer costs about 15 µs a cell here; this about 1 µs)
    and put into the sheets when the file is saved."""

    def __init__(self) -> None:
        self.workbook = Workbook()
        self.lists: list[_ListSheet] = []
        self.styles = _CellStyles(self.workbook, _ROW_FILLS)

    def save(self, path: str | Path) -> None:
        """Write the .xlsx file."""
        shell = io.BytesIO()
        self.workbook.save(shell)
        streamed = {sheet.ws.path.lstrip("/"): sheet for sheet in self.lists}
        # The lists are most of the file and compress well at the fastest level (a third of the time).
        with zipfile.ZipFile(shell) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1) as out:
            for info in src.infolist():
                data = src.read(info)
                sheet = streamed.get(info.filename)
                if sheet is None:
                    out.writestr(info.filename, data)
                    continue
                head, tail = data.split(b"</sheetData>", 1)
                last_col = get_column_letter(max(sheet.width, 1))
                head = _DIMENSION.sub(f'<dimension ref="A1:{last_col}{sheet.count + 1}"'.encode(), head, count=1)
                with out.open(info.filename, "w", force_zip64=True) as fh:
                    fh.write(head)
                    unpacker = zlib.decompressobj()
                    for at in range(0, len(sheet.xml), _CHUNK):
                        fh.write(unpacker.decompress(sheet.xml[at:at + _CHUNK]))
                    fh.write(unpacker.flush())
                    fh.write(b"</sheetData>" + tail)


def _counts_block(ws: Worksheet, top: int, title: str, counter: Counter, lang: str, order: Sequence[str] | None = None,
                  words: Callable[[Any], Any] | None = None) -> tuple[int, int, int]:
    """A two-column count table under a bold title; returns (first data row, last data row, next free row).
    ``words`` shows a key that is a code in words ("overdue": 已超期)."""
    ws.cell(row=top, column=1, value=title).font = _BOLD
    keys = list(order or []) + sorted((k for k in counter if k not in (order or [])), key=lambda k: (-counter[k], str(k)))
    rows = [[t("rpt_blank", lang) if k in (None, "") else words(k) if words else k, counter[k]] for k in keys if counter.get(k)]
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


# The lists hold a row of cells per finding (millions at a national register's size) and no
# reference cycles: the cycle collector would walk them and the register again and again (a
# quarter of the build at 200,000 rows), as `run` already knows.
@collector_paused()
def build_report(registers: Sequence[Register], results: Sequence[OpResult], as_of: dt.date, lang: str,
                 failures: Sequence[InputError], mask: bool) -> "ReportBook":
    """The report workbook for one pipeline run. ``mask``: the --mask the operations ran with
    (``OpContext.mask``: their rows arrive masked by them or not, and the report masks what it
    takes from the records itself alike). No default: a report's masking must be the results',
    and a ValueError says so when it is not (an ID number shown whole beside masked ones)."""
    differ = [r.name for r in results if r.masked is not None and r.masked != mask]
    if differ:
        raise ValueError(f"build_report(mask={mask}) for results that ran with mask={not mask}: {', '.join(differ)}")
    index = _Index(registers)
    records = all_records(registers)
    report = ReportBook()
    wb = report.workbook
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
    branch = Counter(rec.values.get("branch") or _shown_name(Path(rec.source).stem, mask) for rec in records)
    _, _, top = _counts_block(ws, top, t("rpt_by_branch", lang), branch, lang)
    # One pass over each check's row items: its list sheet's rows, and what the summary and the
    # overdue and high-risk lists take from it.
    person = ["hdr_file", "hdr_sheet", "hdr_row", "hdr_id"]

    file_names: dict[str, str] = {}

    def who(item: dict[str, Any]) -> list[Any]:
        rec = index.find(item)
        if rec is not None and rec.source not in file_names:
            file_names[rec.source] = _shown_name(Path(rec.source).name, mask)
        name = rec.values.get("customer_name") if rec else None
        phone = rec.values.get("phone") if rec else None
        if mask and phone:
            phone = mask_cell(phone, "phone")
        branch_name = (rec.values.get("branch") if rec else None) or ""
        return [file_names[rec.source] if rec else item.get("file", ""), item.get("sheet"), item.get("row"), item.get("id"), branch_name,
                name, phone, rec.values.get("handler") if rec else None]

    due_headers = [t(h, lang) for h in ("hdr_due", "hdr_status", "rpt_days_overdue", "hdr_fu_due", "hdr_fu_status")]
    counts: dict[str, Counter] = {key: Counter() for key in ("business", "reason", "status", "level")}
    overdue: list[tuple[int, list[Any], str]] = []
    high: list[tuple[float, list[Any]]] = []
    overdue_texts, high_texts = _SharedTexts(), _SharedTexts()
    has_rows: dict[str, bool] = {}
    for result in results:
        # Each check's sheet is written as its rows come; the overdue and high-risk lists go in
        # front of them below.
        sheet = _ListSheet(report, f"{t('rpt_findings', lang)}-{t(f'op_{result.name}', lang)}")
        found = _Findings(sheet, mask, lang, result.name)
        for item in result.items():
            found.add(item)
            if result.name == "classify":
                counts["business"][item.get("business") or ""] += 1
                counts["reason"][item.get("reason") or ""] += 1
            elif result.name == "followups":
                counts["status"][item.get("status")] += 1
                if item.get("status") == "overdue" or item.get("followup_status") == "overdue":
                    status, fu_status = item.get("status"), item.get("followup_status")
                    due = [item.get("decision_due"), in_words("followups", "status", status, lang), item.get("days_overdue"),
                           item.get("followup_due"), in_words("followups", "followup_status", fu_status, lang)]
                    overdue.append((-(item.get("days_overdue") or 0), overdue_texts.row(who(item) + due),
                                    RED if item.get("status") == "overdue" else AMBER))
            elif result.name == "risk":
                counts["level"][item.get("level")] += 1
                if item.get("level") == "high":
                    high.append((-(item.get("score") or 0),
                                 high_texts.row(who(item) + [in_words("risk", "level", "high", lang), item.get("score"), cell_text(item.get("reasons"), lang)])))
        sheet.finish([column_header(result.name, key, lang) for key in found.keys] or ["-"])
        has_rows[result.name] = bool(sheet.count)
        del found, sheet

    business = Counter(rec.values.get("business_line") for rec in records)
    if has_rows.get("classify"):
        business = counts["business"]
    _, _, top = _counts_block(ws, top, t("rpt_by_business", lang), business, lang)
    if has_rows.get("classify"):
        first, last, top = _counts_block(ws, top, t("rpt_by_reason", lang), counts["reason"], lang)
        _bar_chart(ws, t("rpt_chart_reason", lang), first, last, "E20")
    _, _, top = _counts_block(ws, top, t("rpt_by_register_status", lang), Counter(rec.values.get("status") for rec in records), lang)
    if has_rows.get("followups"):
        _, _, top = _counts_block(ws, top, t("rpt_by_status", lang), counts["status"], lang,
                                  ["overdue", "due_soon", "on_track", "closed_late", "closed_on_time"],
                                  lambda status: in_words("followups", "status", status, lang))
    if has_rows.get("risk"):
        # The levels' short names (红, 橙), as the run's summary line says them; the lists say 高（红）.
        _, _, top = _counts_block(ws, top, t("rpt_by_risk", lang), counts["level"], lang, ["high", "medium", "low", "none"],
                                  lambda level: t(f"risk_level_{level}", lang))
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 40
    ws.freeze_panes = "A3"
    # Printed or exported to PDF, the summary and its charts fit the page width.
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0

    who_headers = [t(h, lang) for h in person] + [field_label(f, lang) for f in ("branch", "customer_name", "phone", "handler")]
    at = 1  # right after the summary
    if has_rows.get("followups"):
        overdue.sort(key=lambda o: o[0])  # most overdue first; stable, so ties stay in report order
        _list_sheet(report, t("rpt_overdue", lang), who_headers + due_headers, [o[1] for o in overdue], [o[2] for o in overdue], index=at)
        at += 1
    if has_rows.get("risk"):
        high.sort(key=lambda h: h[0])
        _list_sheet(report, t("rpt_high_risk", lang), who_headers + [t(h, lang) for h in ("risk_hdr_level", "risk_hdr_score", "risk_hdr_reasons")], [h[1] for h in high], [RED] * len(high),
                    index=at)
    if failures:
        _list_sheet(report, t("rpt_unreadable", lang), [t("rpt_file", lang), t("rpt_error", lang)], [[_shown_name(f.path, mask), f.reason(lang)] for f in failures])
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=1, max_row=1):
            for c in row:
                c.alignment = Alignment(vertical="center")
    wb.properties.creator = "complaintkit"
    return report


_SCALARS = frozenset({str, int, float, bool, type(None)})


def write_report(path: str | Path, report: ReportBook, force: bool = False, inputs: Sequence[str] = ()) -> Path:
    """Save the report atomically."""
    target = check_writable(path, force, inputs)
    atomic_write(target, report.save)
    return target
