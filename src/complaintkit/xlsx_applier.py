"""Applying SheetPlans to workbook files with openpyxl: the CLI's annotated copies (-o).

Every value goes into a cell through ``put``: whatever a register holds (text that looks like a
formula, control characters, 32,767-character cells, NaN) is written as inert, valid content.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, MergedCell
from openpyxl.comments import Comment
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .errors import InputError
from .fields import EXCEL_COLUMNS, EXCEL_ROWS
from .messages import Text, register_messages
from .outputs import atomic_write, check_writable
from .register import Register
from .sheetplan import HEADER, HEADER_ROWS, STATE_HEADERS, STATE_SHEET, PlanTable, SheetPlan, apply_plans
from .sources import open_book

register_messages({
    "in_annotate_no_memory": ("无法打开文件来添加标注：内存不足", "cannot be opened for annotation: not enough memory"),
    "in_annotate_permission": ("无法打开文件来添加标注：没有权限（文件是否正在其他程序中打开？）",
                               "cannot be opened for annotation: permission denied (is it open in another program?)"),
    "in_annotate_failed": ("无法打开文件来添加标注：{detail}", "cannot be opened for annotation ({detail})"),
    "in_annotate_entities": ("其中的 XML 声明了实体或 DTD，已拒绝读取（可能是实体扩展攻击，或文件已损坏）",
                             "its XML declares entities or a DTD: refused (an entity-expansion attack or a damaged file)"),
    "in_annotate_sheet_lost": ("无法打开文件来添加标注（写入时找不到工作表“{sheet}”：文件已损坏）",
                               "cannot be opened for annotation (sheet {sheet!r} is not where the writer looks: a damaged file)"),
    "in_too_big_for_xlsx": ("无法复制成 .xlsx：它有 {rows:,} 行、{columns:,} 列，超出 Excel 的 {max_rows:,} 行 × {max_columns:,} 列",
                            "cannot be copied into an .xlsx: it has {rows:,} rows and {columns:,} columns, "
                            "beyond Excel's {max_rows:,} x {max_columns:,}"),
})

_AUTHOR = "complaintkit"


#: Excel's limit for the text of a cell or a note: longer text makes Excel "repair" the file.
MAX_CELL_TEXT = 32_767
_SHEET_TITLE_BAD = re.compile(r"[\\/*?:\[\]]")


def safe_text(text: str) -> str:
    """Text a cell or a note can hold: no characters XML forbids, at most 32,767 characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    return text


def put(cell: Any, value: Any) -> None:
    """Set a cell so that Excel shows exactly this value and never runs it.

    Text is stored as text even when it starts with "=" (openpyxl would make it a live formula)
    or reads like an error code (#N/A); characters XML cannot carry are dropped and text is cut
    to Excel's limit. NaN and infinity, and values openpyxl cannot store, are written as text.
    """
    if isinstance(value, str):
        value = safe_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    elif isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is not None:
        value = value.isoformat()
    try:
        cell.value = value
    except (TypeError, ValueError):
        value = safe_text(str(value))
        cell.value = value
    if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
        cell.data_type = "s"


def put_row(ws: Worksheet, row: int, values: Sequence[Any], first_column: int = 1) -> None:
    """``put`` a row of values (what ``ws.append`` does, without turning text into formulas)."""
    for c, value in enumerate(values, start=first_column):
        put(ws.cell(row=row, column=c), value)


def _note(text: str | None) -> Comment | None:
    return Comment(safe_text(text), _AUTHOR, width=300, height=120) if text else None


def sheet_title(name: str, taken: Sequence[str] = ()) -> str:
    """A valid, unused sheet title for ``name``: no \\ / * ? : [ ], at most 31 characters."""
    base = _SHEET_TITLE_BAD.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'") or "Sheet"
    title, n = base[:31], 2
    while title in taken:
        suffix = f"-{n}"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    return title


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
        # The top rows' values per sheet (row -> column -> value) and how deep they were asked
        # for, read in one pass and kept up to date with the headers written: header lookups
        # would otherwise walk every cell each time.
        self._top: dict[str, tuple[int, dict[int, dict[int, Any]]]] = {}

    def sheet_names(self) -> list[str]:
        return list(self.wb.sheetnames)

    def _ws(self, name: str) -> Worksheet:
        return self.wb[name]

    # Cells are looked up in ws._cells rather than with ws.cell()/ws[row], which create every cell
    # they touch: a sheet formatted down to row 1,048,576 would otherwise cost a million cells.

    def header_values(self, sheet: str, row: int) -> list[Any]:
        depth, top = self._top.get(sheet, (0, {}))
        if row > depth:  # read once as deep as asked (a header below row 30: header_search_rows)
            depth, top = max(HEADER_ROWS, row), {}
            for (r, c), cell in self._ws(sheet)._cells.items():
                if r <= depth and cell.value is not None:
                    top.setdefault(r, {})[c] = cell.value
            self._top[sheet] = (depth, top)
        found = top.get(row, {})
        return [found.get(c) for c in range(1, max(found, default=0) + 1)]

    def read_rows(self, sheet: str) -> list[list[Any]]:
        cells = [(r, c, cell.value) for (r, c), cell in self._ws(sheet)._cells.items() if cell.value is not None]
        rows: list[list[Any]] = [[] for _ in range(max((r for r, _c, _v in cells), default=0))]
        for r, c, value in cells:
            row = rows[r - 1]
            if len(row) < c:
                row.extend([None] * (c - len(row)))
            row[c - 1] = value
        return rows

    def used_width(self, sheet: str) -> int:
        ws = self._ws(sheet)
        # max_column also counts formatted-only cells: a new column never lands on user data. (A
        # sheet formatted out to column XFD: apply_plans goes by the values it read instead.)
        return ws.max_column if ws.max_row > 0 and ws.max_column else 0

    def write_column(self, sheet, col, header_row, header, first_row, values, fills, width) -> None:
        ws = self._ws(sheet)
        cell = ws.cell(row=header_row, column=col)
        put(cell, header)
        cell.font = Font(bold=bool(header))
        cell.fill = _fill(HEADER if header else None)
        if sheet in self._top and header_row <= self._top[sheet][0]:
            top_row = self._top[sheet][1].setdefault(header_row, {})
            if header:
                top_row[col] = header
            else:
                top_row.pop(col, None)
        # Exactly the rows given (apply_plans gives them down to the last row with data): a cell
        # that does not exist and gets nothing is not made.
        for i, value in enumerate(values):
            r, fill = first_row + i, fills[i] if i < len(fills) else None
            target = ws._cells.get((r, col))
            if value is None and not fill and (target is None or (target.value is None and target.fill.fill_type is None)):
                continue
            target = target or ws.cell(row=r, column=col)
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
        if isinstance(cell, MergedCell):
            # A cell merged under another has no format or note of its own (Excel shows the
            # range's first cell): the finding stays in the own columns and lists.
            return
        cell.fill = _fill(fill)
        cell.comment = _note(note)

    def replace_table(self, table: PlanTable) -> None:
        self.delete_sheet(table.name)
        ws = self.wb.create_sheet(sheet_title(table.name, self.wb.sheetnames))
        for c, header in enumerate(table.headers, start=1):
            put(ws.cell(row=1, column=c), header)
            ws.cell(row=1, column=c).font = Font(bold=True)
            ws.cell(row=1, column=c).fill = _fill(HEADER)
        for i, row in enumerate(table.rows):
            r = i + 2
            for c, value in enumerate(row, start=1):
                put(ws.cell(row=r, column=c), value)
            target = table.links.get(i)
            if target:
                sheet, _, ref = target.rpartition("!")
                link_cell = ws.cell(row=r, column=1)
                quoted = sheet.replace("'", "''")
                link_cell.hyperlink = Hyperlink(ref=link_cell.coordinate, location=f"'{quoted}'!{ref}")
                link_cell.font = Font(color="0563C1", underline="single")
            if table.fills.get(i):
                # The row's own cells: ws[r] would measure the whole sheet's width for every row.
                fill = _fill(table.fills[i])
                for c in range(1, max(len(row), len(table.headers)) + 1):
                    ws.cell(row=r, column=c).fill = fill
        ws.freeze_panes = "A2"
        if table.rows:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(table.rows) + 1}"
        for i, w in enumerate(table.widths or [14] * len(table.headers), start=1):
            ws.column_dimensions[get_column_letter(i)].width = w

    def rename_sheet(self, name: str, new_name: str) -> None:
        self.wb[name].title = new_name
        self._top.pop(name, None)

    def delete_sheet(self, name: str) -> None:
        if name in self.wb.sheetnames:
            del self.wb[name]
        self._top.pop(name, None)

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
        # The notes kept here are the user's own: they go in as text like everything else. A blank
        # makes no cell (most rows leave several blank).
        for r, values in enumerate([STATE_HEADERS, *rows], start=1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    put(ws.cell(row=r, column=c), value)


def _workbook_for(register: Register) -> Workbook:
    """The workbook to annotate: the original file for xlsx/xlsm, a rebuilt one for csv/xls."""
    path = register.source
    if register.file_format in ("xlsx", "xlsm"):
        try:
            with warnings.catch_warnings():
                # openpyxl warns on stderr about features it drops (extensions, some validations).
                warnings.simplefilter("ignore")
                # openpyxl refuses a workbook by its name (an .xlsx saved as "x.xls"): it gets the bytes.
                named_right = Path(path).suffix.lower() in (".xlsx", ".xlsm", ".xltx", ".xltm")
                wb = load_workbook(path if named_right else io.BytesIO(Path(path).read_bytes()),
                                   keep_vba=register.file_format == "xlsm", rich_text=False)
        except MemoryError:
            raise InputError(path, "in_annotate_no_memory") from None
        except PermissionError:
            raise InputError(path, "in_annotate_permission") from None
        except Exception as exc:
            if _refused_by_defusedxml(exc):
                reason: Text | str = Text("in_annotate_entities")
            else:
                reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise InputError(path, "in_annotate_failed", detail=reason) from exc
        if register.sheet not in wb.sheetnames:
            # The reader and the writer disagree about a damaged file's sheets.
            raise InputError(path, "in_annotate_sheet_lost", sheet=register.sheet)
        return wb
    book = open_book(path)
    rows = book.sheet(register.sheet).rows
    width = max((len(r) for r in rows), default=0)
    if len(rows) > EXCEL_ROWS or width > EXCEL_COLUMNS:
        raise InputError(path, "in_too_big_for_xlsx", rows=len(rows), columns=width, max_rows=EXCEL_ROWS, max_columns=EXCEL_COLUMNS)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title(register.sheet)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None and value != "":
                put(ws.cell(row=r, column=c), value)
    return wb


def _refused_by_defusedxml(exc: BaseException | None) -> bool:
    """openpyxl parses with defusedxml, and wraps its refusal in a ValueError of its own."""
    for _ in range(5):
        if exc is None:
            return False
        if type(exc).__module__.startswith("defusedxml"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def annotated_suffix(register: Register) -> str:
    """.xlsm stays .xlsm (macros kept); everything else becomes .xlsx."""
    return ".xlsm" if register.file_format == "xlsm" else ".xlsx"


def copy_names(sources: Sequence[tuple[str | Path, str]]) -> list[str]:
    """The names of the annotated copies of registers in one folder, in order, from each one's
    (source file, ``annotated_suffix``): 城东支行.checked.xlsx, and 城东支行-2.checked.xlsx for a
    second 城东支行 from another folder."""
    used: set[str] = set()
    out = []
    for source, suffix in sources:
        stem = Path(source).stem
        name, n = f"{stem}.checked{suffix}", 2
        while name in used:
            name, n = f"{stem}-{n}.checked{suffix}", n + 1
        used.add(name)
        out.append(name)
    return out


def write_annotated(register: Register, plans: Sequence[SheetPlan], out: str | Path, force: bool = False,
                    inputs: Sequence[str | Path] = (), depth: int = HEADER_ROWS) -> Path:
    """Write a copy of ``register``'s workbook with ``plans`` applied; the input is never touched,
    nor is any of ``inputs`` (the rest of the batch) overwritten. ``depth``: how far down header
    rows are looked for (the policy's register.header_search_rows; see ``apply_plans``)."""
    target = check_writable(out, force, [register.source, *inputs])
    wb = _workbook_for(register)
    if register.file_format not in ("xlsx", "xlsm"):
        # A rebuilt book's sheet may carry another title (a CSV's name can hold [ ] * ? : / \).
        title = wb.active.title
        for plan in plans:
            plan.sheet = title
            for table in plan.tables:
                table.links = {i: f"{title}!{ref.rpartition('!')[2]}" for i, ref in table.links.items()}
    apply_plans(OpenpyxlBook(wb), plans, depth=depth)
    if all(ws.sheet_state != "visible" for ws in wb.worksheets):
        # Excel cannot open a book with every sheet hidden (openpyxl refuses to write one).
        wb[register.sheet if register.sheet in wb.sheetnames else wb.sheetnames[0]].sheet_state = "visible"
    try:
        atomic_write(target, lambda tmp: wb.save(tmp))
    finally:
        # openpyxl keeps an .xlsm's macros in an open in-memory zip: closed here, not when the
        # interpreter exits (where it printed "Exception ignored ... I/O operation on closed file").
        if wb.vba_archive is not None:
            wb.vba_archive.close()
    return target
