"""Applying SheetPlans to workbook files with openpyxl: the CLI's annotated copies (-o)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .errors import InputError
from .outputs import atomic_write, check_writable
from .register import Register
from .sheetplan import HEADER, STATE_SHEET, PlanTable, SheetPlan, apply_plans
from .sources import open_book

_AUTHOR = "complaintkit"


def put(cell: Any, value: Any) -> None:
    """Set a cell; text starting with "=" stays text (openpyxl would store it as a live formula)."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"


def _fill(hex_rgb: str | None) -> PatternFill:
    if not hex_rgb:
        return PatternFill(fill_type=None)
    return PatternFill("solid", start_color=hex_rgb, end_color=hex_rgb)


def _fill_hex(cell: Any) -> str | None:
    fill = cell.fill
    if fill is None or fill.fill_type != "solid":
        return None
    color = fill.start_color
    if color is None or color.type != "rgb" or not isinstance(color.rgb, str):
        return None
    return color.rgb[-6:]


class OpenpyxlBook:
    """BookAdapter over an openpyxl Workbook."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb

    def sheet_names(self) -> list[str]:
        return list(self.wb.sheetnames)

    def _ws(self, name: str) -> Worksheet:
        return self.wb[name]

    def header_values(self, sheet: str, row: int) -> list[Any]:
        ws = self._ws(sheet)
        if row > ws.max_row:
            return []
        return [c.value for c in ws[row]]

    def used_width(self, sheet: str) -> int:
        ws = self._ws(sheet)
        # max_column also counts formatted-only cells: a new column never lands on user data.
        return ws.max_column if ws.max_row > 0 and ws.max_column else 0

    def write_column(self, sheet, col, header_row, header, first_row, values, fills, width) -> None:
        ws = self._ws(sheet)
        cell = ws.cell(row=header_row, column=col)
        cell.value = header
        cell.font = Font(bold=bool(header))
        cell.fill = _fill(HEADER if header else None)
        end = max(ws.max_row, first_row + len(values) - 1)
        for i, r in enumerate(range(first_row, end + 1)):
            value = values[i] if i < len(values) else None
            fill = fills[i] if i < len(fills) else None
            target = ws.cell(row=r, column=col)
            if value is None and target.value is None and not fill and target.fill.fill_type is None:
                continue
            put(target, value)
            target.fill = _fill(fill)
        if width:
            ws.column_dimensions[get_column_letter(col)].width = width

    def get_format(self, sheet, row, col):
        cell = self._ws(sheet).cell(row=row, column=col)
        note = cell.comment.text if cell.comment is not None else None
        return _fill_hex(cell), note

    def set_format(self, sheet, row, col, fill, note) -> None:
        cell = self._ws(sheet).cell(row=row, column=col)
        cell.fill = _fill(fill)
        cell.comment = Comment(note, _AUTHOR, width=300, height=120) if note else None

    def replace_table(self, table: PlanTable) -> None:
        if table.name in self.wb.sheetnames:
            del self.wb[table.name]
        ws = self.wb.create_sheet(table.name)
        ws.append(table.headers)
        for c in ws[1]:
            c.font = Font(bold=True)
            c.fill = _fill(HEADER)
        for i, row in enumerate(table.rows):
            r = i + 2
            for c, value in enumerate(row, start=1):
                put(ws.cell(row=r, column=c), value)
            target = table.links.get(i)
            if target:
                sheet, _, ref = target.rpartition("!")
                link_cell = ws.cell(row=r, column=1)
                link_cell.hyperlink = Hyperlink(ref=link_cell.coordinate, location=f"'{sheet}'!{ref}")
                link_cell.font = Font(color="0563C1", underline="single")
            if table.fills.get(i):
                for c in ws[r]:
                    c.fill = _fill(table.fills[i])
        ws.freeze_panes = "A2"
        if table.rows:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(table.rows) + 1}"
        for i, w in enumerate(table.widths or [14] * len(table.headers), start=1):
            ws.column_dimensions[get_column_letter(i)].width = w

    def delete_sheet(self, name: str) -> None:
        if name in self.wb.sheetnames:
            del self.wb[name]

    def read_state(self) -> list[list[Any]]:
        if STATE_SHEET not in self.wb.sheetnames:
            return []
        return [list(r) for r in self.wb[STATE_SHEET].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]

    def write_state(self, rows: list[list[Any]]) -> None:
        if STATE_SHEET in self.wb.sheetnames:
            del self.wb[STATE_SHEET]
        if not rows:
            return
        ws = self.wb.create_sheet(STATE_SHEET)
        ws.sheet_state = "hidden"
        ws.append(["op", "sheet", "row", "column", "previous_fill", "previous_note"])
        for r in rows:
            ws.append(r)


def _workbook_for(register: Register) -> Workbook:
    """The workbook to annotate: the original file for xlsx/xlsm, a rebuilt one for csv/xls."""
    path = register.source
    if register.file_format in ("xlsx", "xlsm"):
        try:
            return load_workbook(path, keep_vba=register.file_format == "xlsm", rich_text=False)
        except Exception as exc:
            raise InputError(path, f"cannot be opened for annotation ({str(exc)[:160]})") from exc
    book = open_book(path)
    rows = book.sheet(register.sheet).rows
    wb = Workbook()
    ws = wb.active
    ws.title = register.sheet[:31]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None and value != "":
                put(ws.cell(row=r, column=c), value)
    return wb


def annotated_suffix(register: Register) -> str:
    """.xlsm stays .xlsm (macros kept); everything else becomes .xlsx."""
    return ".xlsm" if register.file_format == "xlsm" else ".xlsx"


def write_annotated(register: Register, plans: Sequence[SheetPlan], out: str | Path, force: bool = False) -> Path:
    """Write a copy of ``register``'s workbook with ``plans`` applied; the input is never touched."""
    target = check_writable(out, force, [register.source])
    wb = _workbook_for(register)
    if register.file_format not in ("xlsx", "xlsm"):
        for plan in plans:
            plan.sheet = wb.active.title
    apply_plans(OpenpyxlBook(wb), plans)
    atomic_write(target, lambda tmp: wb.save(tmp))
    return target
