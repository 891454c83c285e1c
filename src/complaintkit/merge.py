"""The de-duplicated copy of a batch (`complaintkit dedupe --merge -o FILE`).

One new workbook, the inputs untouched:
- the register sheet: every current row except the extra copies of a duplicate entry, in input
  order, each with its source file, sheet and row in own columns (so every kept row can be
  traced back) and what was merged into it;
- ``CK-已合并``: every removed row with all its cells, its source, and the row it merged into;
- ``CK-合并说明``: rows in, kept and removed per file; kept + removed = rows in, always.

Nothing is dropped silently. Cells are copied as they were typed (the raw values, not the
normalised ones), text that starts with "=" stays text, and the file is written atomically.
With ``mask`` (``--mask``: a copy to share) every ID number and phone in it is masked: the ID and
phone columns whole (a second 联系电话 column too), the numbers inside any other cell, file names.
A folder of branch registers becomes one workbook: when the registers' headers differ, columns are
aligned on the canonical fields and the other columns follow by header.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from .dedupe import REPEAT, DedupeResult, Group, member_note, where
from .fields import FIELDS, field_label
from .identity import RecordKey, second_columns
from .messages import CATALOG, register_messages, t
from .outputs import atomic_write, check_writable, require_xlsx
from .privacy import PERSONAL_FIELDS, TEXT_FIELDS, mask_cell
from .register import Record, Register, all_records
from .sheetplan import HEADER, own_names
from .xlsx_applier import put, put_row, sheet_title


register_messages({
    "merge_sheet": ("投诉登记台账", "Register"),
    "merge_removed_sheet": ("CK-已合并", "CK-merged"),
    "merge_summary_sheet": ("CK-合并说明", "CK-merge summary"),
    "merge_col_file": ("CK-来源文件", "CK-source file"),
    "merge_col_sheet": ("CK-来源工作表", "CK-source sheet"),
    "merge_col_row": ("CK-来源行", "CK-source row"),
    "merge_col_merged": ("CK-合并记录", "CK-merged rows"),
    "merge_col_repeat": ("CK-重复投诉", "CK-repeat"),
    "merge_col_into_id": ("CK-并入投诉编号", "CK-merged into ID"),
    "merge_col_into_where": ("CK-并入记录来源", "CK-merged into (source)"),
    "merge_col_into_row": ("CK-并入合并表行", "CK-merged into (row here)"),
    "merge_col_similarity": ("CK-相似度", "CK-similarity"),
    "merge_col_reason": ("CK-原因", "CK-merge reason"),
    "merge_merged_rows": ("合并了 {n} 行：{rows}", "merged {n} rows: {rows}"),
    "merge_first_in_history": ("同一事件首次登记于历史台账：{id}（{where}）", "first entered in history: {id} ({where})"),
    "merge_hdr_file": ("文件", "file"),
    "merge_hdr_sheet": ("工作表", "sheet"),
    "merge_hdr_rows": ("输入行数", "rows in"),
    "merge_hdr_kept": ("保留", "kept"),
    "merge_hdr_removed": ("已合并", "removed"),
    "merge_total": ("合计", "total"),
    "merge_note": (
        "保留的行在“CK-来源文件/CK-来源工作表/CK-来源行”列中注明来源；被合并的行完整列在“{sheet}”表中，并注明并入的记录。保留 + 已合并 = 输入行数。",
        "Kept rows name their source in the CK-source columns; every removed row is listed in full in '{sheet}' with the row it merged into. kept + removed = rows in.",
    ),
    "merge_done": ("已写出合并后的台账 {path}：输入 {rows} 行，保留 {kept} 行，合并 {removed} 行", "wrote the merged register {path}: {rows} rows in, {kept} kept, {removed} merged"),
})
#: The merged workbook's own columns, in both languages: a register merged again gets them anew.
_MERGE_COLUMNS = frozenset(text for code, pair in CATALOG.items() if code.startswith("merge_col_") for text in pair)


@dataclass
class Removal:
    """A current row merged away, the row it merged into, and the group that says why."""

    record: Record
    keeper: Record
    group: Group
    similarity: float


@dataclass
class MergeDecision:
    """Which current rows stay and which go; every current row is in exactly one of the two lists."""

    kept: list[Record]
    removed: list[Removal]
    merged_into: dict[RecordKey, list[Removal]] = field(default_factory=dict)
    history_first: dict[RecordKey, Group] = field(default_factory=dict)


def plan_merge(result: DedupeResult, registers: Sequence[Register]) -> MergeDecision:
    """Keep the primary of each duplicate group (or, when the primary is a history row, the first
    current copy) and remove the other current copies."""
    removed: dict[RecordKey, Removal] = {}
    merged_into: dict[RecordKey, list[Removal]] = {}
    history_first: dict[RecordKey, Group] = {}
    for group in result.duplicates:
        current = group.current()
        keeper = current[0]
        if group.primary.history:
            history_first[keeper.record.key] = group
        for m in current[1:]:
            r = Removal(m.record, keeper.record, group, m.similarity or 0.0)
            removed[m.record.key] = r
            merged_into.setdefault(keeper.record.key, []).append(r)
    records = all_records(registers)
    kept = [r for r in records if r.key not in removed]
    return MergeDecision(kept, [removed[r.key] for r in records if r.key in removed], merged_into, history_first)


@dataclass(frozen=True)
class OutColumn:
    """A data column of the merged sheet: its header and where its values come from."""

    header: str
    field: str | None  # canonical field, or None for a column the policy does not know
    key: str = ""  # where an unknown column's cells are in Record.extra (Column.extra_key)
    #: id_number or phone when the column holds one whole: the field's own column, or a second
    #: column of it (联系电话2 beside 联系电话), which is not read as the field but holds the same data.
    personal: str | None = None


def merged_layout(registers: Sequence[Register], lang: str = "zh") -> list[OutColumn]:
    """The registers' own header row when they all share it; otherwise the canonical fields any of
    them has (in register order) followed by every other header, first seen first. Columns an
    earlier run added (a check's CK- column, or an earlier merge's) are results, not data: they
    are left out. A clerk's own column that merely starts with CK- (CK-负责人) is data."""
    ours = own_names() | _MERGE_COLUMNS
    columns = [[c for c in reg.columns if c.header.strip() not in ours] for reg in registers]
    seconds = {key: name for reg in registers for key, name in second_columns(reg).items() if name in PERSONAL_FIELDS}
    shapes = {tuple((c.header, c.field, c.extra_key) for c in cols) for cols in columns}
    if len(shapes) == 1:
        return [OutColumn(h, f, k, _personal(f, k, seconds)) for h, f, k in shapes.pop()]
    present = {c.field for cols in columns for c in cols if c.field}
    out = [OutColumn(field_label(name, lang), name, personal=_personal(name, "", seconds)) for name in FIELDS if name in present]
    seen: set[str] = set()
    for cols in columns:
        for c in cols:
            if not c.field and c.extra_key not in seen:
                seen.add(c.extra_key)
                out.append(OutColumn(c.header, None, c.extra_key, seconds.get(c.extra_key)))
    return out


def _personal(name: str | None, key: str, seconds: dict[str, str]) -> str | None:
    return name if name in PERSONAL_FIELDS else None if name else seconds.get(key)


def _cell_value(rec: Record, col: OutColumn) -> Any:
    if col.field:
        return rec.cell(col.field)
    return rec.extra.get(col.key or col.header)


def _style_header(ws: Any, width: int) -> None:
    fill = PatternFill("solid", start_color=HEADER, end_color=HEADER)
    for c in range(1, width + 1):
        cell = ws.cell(row=1, column=c)
        cell.font = Font(bold=True)
        cell.fill = fill
    ws.freeze_panes = "A2"


def _write_data(ws: Any, row: int, rec: Record, layout: Sequence[OutColumn], mask: bool) -> None:
    for c, col in enumerate(layout, start=1):
        value = _cell_value(rec, col)
        cell = ws.cell(row=row, column=c)
        if isinstance(value, dt.datetime) and value.time() == dt.time(0):
            value = value.date()
        put(cell, mask_cell(value, col.personal or col.field) if mask else value)
        if col.field in TEXT_FIELDS or col.personal:
            cell.number_format = "@"
        elif isinstance(value, (dt.date, dt.datetime)):
            cell.number_format = "yyyy-mm-dd" if not isinstance(value, dt.datetime) else "yyyy-mm-dd hh:mm"


def _join(items: list[str], lang: str) -> str:
    return ("；" if lang == "zh" else "; ").join(items)


def build_merged_workbook(result: DedupeResult, registers: Sequence[Register], lang: str = "zh",
                          mask: bool = False) -> tuple[Workbook, MergeDecision]:
    """The merged workbook (not yet saved) and the decision it shows; with ``mask`` every ID
    number and phone in it masked (see the module's text)."""

    decision = plan_merge(result, registers)
    # The own columns: file and sheet names, and notes that name rows by their complaint IDs,
    # which are kept. A note names only members of a group (merged rows, keepers, history rows,
    # repeats).
    ids = {m.record.id for group in result.groups for m in group.members}

    def shown(value: Any) -> Any:
        return mask_cell(value, keep=ids) if mask else value

    layout = merged_layout(registers, lang)
    repeats_of: dict[RecordKey, list[tuple[Group, int]]] = {}
    for group in result.groups:
        if group.kind == REPEAT:
            for pos, m in enumerate(group.members):
                repeats_of.setdefault(m.record.key, []).append((group, pos))

    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title(shown(registers[0].sheet) if len(registers) == 1 else t("merge_sheet", lang))
    own = [t(k, lang) for k in ("merge_col_file", "merge_col_sheet", "merge_col_row", "merge_col_merged", "merge_col_repeat")]
    put_row(ws, 1, [col.header for col in layout] + own)  # user headers may start with "="
    _style_header(ws, len(layout) + len(own))
    base = len(layout)
    row_of: dict[RecordKey, int] = {}
    for r, rec in enumerate(decision.kept, start=2):
        row_of[rec.key] = r
        _write_data(ws, r, rec, layout, mask)
        notes = []
        merged = decision.merged_into.get(rec.key, [])
        if merged:
            rows = [f"{m.record.id}（{where(m.record, None, lang)}）" if lang == "zh" else f"{m.record.id} ({where(m.record, None, lang)})" for m in merged]
            notes.append(t("merge_merged_rows", lang, n=len(merged), rows="、".join(rows) if lang == "zh" else ", ".join(rows)))
        group = decision.history_first.get(rec.key)
        if group is not None:
            p = group.primary
            notes.append(t("merge_first_in_history", lang, id=p.record.id, where=where(p.record, None, lang, True)))
        repeat = [member_note(g, pos, None, lang) for g, pos in repeats_of.get(rec.key, [])]
        values = [Path(rec.source).name, rec.sheet, rec.row, _join(notes, lang) or None, _join(repeat, lang) or None]
        for c, value in enumerate(values, start=base + 1):
            put(ws.cell(row=r, column=c), shown(value))
    _widths(ws, layout, [18, 14, 8, 40, 40])
    if decision.kept:
        ws.auto_filter.ref = f"A1:{get_column_letter(base + len(own))}{len(decision.kept) + 1}"

    removed_name = t("merge_removed_sheet", lang)
    rs = wb.create_sheet(removed_name)
    extra = [t(k, lang) for k in ("merge_col_file", "merge_col_sheet", "merge_col_row", "merge_col_into_id", "merge_col_into_where",
                                  "merge_col_into_row", "merge_col_similarity", "merge_col_reason")]
    put_row(rs, 1, [col.header for col in layout] + extra)
    _style_header(rs, len(layout) + len(extra))
    for r, removal in enumerate(decision.removed, start=2):
        rec, keeper = removal.record, removal.keeper
        _write_data(rs, r, rec, layout, mask)
        target = row_of[keeper.key]
        values = [Path(rec.source).name, rec.sheet, rec.row, keeper.id, where(keeper, None, lang), target,
                  round(removal.similarity, 3), removal.group.reason(lang)]
        for c, value in enumerate(values, start=base + 1):
            put(rs.cell(row=r, column=c), shown(value))
        link = rs.cell(row=r, column=base + 6)
        quoted = ws.title.replace("'", "''")
        link.hyperlink = f"#'{quoted}'!A{target}"
        link.font = Font(color="0563C1", underline="single")
    _widths(rs, layout, [18, 14, 8, 16, 24, 10, 10, 80])

    ss = wb.create_sheet(t("merge_summary_sheet", lang))
    ss.append([t(k, lang) for k in ("merge_hdr_file", "merge_hdr_sheet", "merge_hdr_rows", "merge_hdr_kept", "merge_hdr_removed")])
    _style_header(ss, 5)
    removed_keys = {r.record.key for r in decision.removed}
    for reg in registers:
        gone = sum(r.key in removed_keys for r in reg.records)
        put_row(ss, ss.max_row + 1, [shown(Path(reg.source).name), shown(reg.sheet), len(reg.records), len(reg.records) - gone, gone])
    total = sum(len(reg.records) for reg in registers)
    ss.append([t("merge_total", lang), None, total, len(decision.kept), len(decision.removed)])
    ss.cell(row=ss.max_row, column=1).font = Font(bold=True)
    ss.append([])
    ss.append([t("merge_note", lang, sheet=removed_name)])
    for i, w in enumerate([28, 16, 10, 10, 10], start=1):
        ss.column_dimensions[get_column_letter(i)].width = w
    return wb, decision


def _widths(ws: Any, layout: Sequence[OutColumn], own: Sequence[float]) -> None:
    for i, col in enumerate(layout, start=1):
        ws.column_dimensions[get_column_letter(i)].width = 40 if col.field in ("description", "demand", "remarks") else 14
    for i, w in enumerate(own, start=len(layout) + 1):
        ws.column_dimensions[get_column_letter(i)].width = w


@dataclass
class MergeSummary:
    """What was written: rows in, kept, removed (kept + removed == rows)."""

    path: Path
    rows: int
    kept: int
    removed: int

    def message(self, lang: str = "zh") -> str:
        return t("merge_done", lang, path=self.path, rows=self.rows, kept=self.kept, removed=self.removed)


def write_merged(result: DedupeResult, registers: Sequence[Register], out: str | Path, force: bool = False,
                 lang: str = "zh", inputs: Sequence[str] = (), mask: bool = False) -> MergeSummary:
    """Write the de-duplicated workbook to ``out`` (.xlsx) atomically; never over an input.
    ``mask``: mask ID numbers and phones (``--mask``: a copy to share)."""
    require_xlsx(out, "merged")
    target = check_writable(out, force, [reg.source for reg in registers] + list(inputs))
    wb, decision = build_merged_workbook(result, registers, lang, mask)
    atomic_write(target, lambda tmp: wb.save(tmp))
    rows = sum(len(reg.records) for reg in registers)
    return MergeSummary(target, rows, len(decision.kept), len(decision.removed))
