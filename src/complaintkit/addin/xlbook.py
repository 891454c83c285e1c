"""The open workbook through xlwings: reading a sheet's values once, and the ``BookAdapter`` that
``apply_plans`` / ``clear_results`` use, with the same meaning as ``xlsx_applier.OpenpyxlBook``.

Speed matters on a live book: every xlwings call is a COM round trip. So a sheet's values are read
in one call, a column is written in one call (values) plus one call per run of equal fills, a
result sheet in one call, and the top rows that hold headers are read once and cached.

Works on any object with xlwings' Book API (``xw.Book``); nothing here imports xlwings.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable

from ..fields import column_letter
from ..sheetplan import HEADER, HEADER_ROWS, STATE_HEADERS, STATE_SHEET, PlanTable
from ..sources import MAX_SHEET_CELLS
from ..xlsx_applier import safe_text, sheet_title
from .core import AddinError, Merged, find_merged


def excel_value(value: Any) -> Any:
    """A Python value as written into a cell: what the openpyxl adapter's ``put`` stores, and text
    always stored as text.

    Excel reads a string assigned through COM as if typed, so "2026-03-06", "00123", "1E5" or
    "000000" (a fill colour) would turn into dates and numbers, "=..." into a formula and "#N/A"
    into an error. A leading apostrophe keeps the text verbatim (it is Excel's text marker, not
    part of the value)."""
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    elif isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is not None:
        value = value.isoformat()
    if isinstance(value, str):
        return "'" + safe_text(value) if value else None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def hex_of(rgb: Any) -> str | None:
    """xlwings' colour (an (r, g, b) tuple or None) as the plans' RRGGBB text."""
    if not rgb:
        return None
    r, g, b = rgb[:3]
    return f"{int(r):02X}{int(g):02X}{int(b):02X}"


def link_formula(target: str, text: Any) -> str | None:
    """A HYPERLINK formula to "Sheet!C5": one value in the table write instead of one COM call per
    link. None when a text is over the 255 characters a formula's string may hold."""
    sheet, _, ref = target.rpartition("!")
    where = f"#'{sheet.replace(chr(39), chr(39) * 2)}'!{ref}"
    shown = str(text if text not in (None, "") else target).replace('"', '""')
    if max(len(where), len(shown)) > 255:
        return None
    return f'=HYPERLINK("{where}","{shown}")'


def runs(fills: Iterable[str | None], start: int) -> list[tuple[int, int, str]]:
    """Consecutive equal fills as (first_row, last_row, fill), blanks skipped."""
    out: list[tuple[int, int, str]] = []
    for i, fill in enumerate(fills):
        row = start + i
        if fill and out and out[-1][2] == fill and out[-1][1] == row - 1:
            out[-1] = (out[-1][0], row, fill)
        elif fill:
            out.append((row, row, fill))
    return out


def read_values(sheet: Any) -> list[list[Any]]:
    """The sheet's values from A1 to the last used cell, in one read (rows keep their Excel numbers
    even when the used range starts lower or further right)."""
    last = sheet.used_range.last_cell
    cells = last.row * last.column
    if cells > MAX_SHEET_CELLS:
        # A stray (even formatted-only) cell far out: Excel would be asked for all of them and hang.
        raise AddinError("addin_far_cell", sheet=sheet.name, ref=f"{column_letter(last.column - 1)}{last.row}", cells=cells,
                         limit=MAX_SHEET_CELLS)
    return sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value


def read_sheet(sheet: Any) -> tuple[list[list[Any]], Merged]:
    """The sheet's values and its merged ranges (found with a few MergeCells probes)."""
    values = read_values(sheet)
    last = sheet.used_range.last_cell
    merged = find_merged(
        lambda r1, c1, r2, c2: sheet.range((r1, c1), (r2, c2)).merge_cells,
        lambda r, c: _bounds(sheet.range((r, c)).merge_area),
        last.row, last.column,
    )
    return values, merged


def _bounds(rng: Any) -> tuple[int, int, int, int]:
    last = rng.last_cell
    return rng.row, rng.column, last.row, last.column


class XlwingsBook:
    """BookAdapter over an open xlwings Book.

    Header cells this adapter wrote are remembered and laid over what the sheet reports, so a later
    plan in the same run finds the columns an earlier one added even where reads lag behind writes
    (xlwings Lite sends writes to Excel only when the script ends).
    """

    def __init__(self, book: Any) -> None:
        self.book = book
        #: the top rows' values per sheet, read in one call, and how deep they were asked for
        self._top: dict[str, tuple[int, list[list[Any]]]] = {}
        self._heads: dict[str, dict[tuple[int, int], Any]] = {}

    # -- reading ---------------------------------------------------------------------------
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def _sheet(self, name: str) -> Any:
        return self.book.sheets[name]

    def _last_cell(self, name: str) -> tuple[int, int]:
        sheet = self._sheet(name)
        last = sheet.used_range.last_cell
        if last.row == 1 and last.column == 1 and sheet.range((1, 1)).value is None:
            return 0, 0
        return last.row, last.column

    def used_width(self, sheet: str) -> int:
        # UsedRange also counts formatted-only cells: a new column never lands on user data.
        # (A sheet formatted out to column XFD: apply_plans goes by the values it read instead.)
        written = [c for (_r, c) in self._heads.get(sheet, {})]
        return max([self._last_cell(sheet)[1]] + written)

    def header_values(self, sheet: str, row: int) -> list[Any]:
        depth, top = self._top.get(sheet, (0, []))
        if row > depth:  # read once as deep as asked (a header below row 30: header_search_rows)
            depth = max(HEADER_ROWS, row)
            last_row, last_col = self._last_cell(sheet)
            rows = min(last_row, depth)
            top = self._sheet(sheet).range((1, 1), (rows, last_col)).options(ndim=2).value if rows else []
            self._top[sheet] = (depth, top)
        values = list(top[row - 1]) if row <= len(top) else []
        for (r, c), value in self._heads.get(sheet, {}).items():
            if r == row:
                values += [None] * (c - len(values))
                values[c - 1] = value
        return values

    def read_rows(self, sheet: str) -> list[list[Any]]:
        return read_values(self._sheet(sheet))

    def get_format(self, sheet: str, row: int, col: int) -> tuple[str | None, str | None]:
        cell = self._sheet(sheet).range((row, col))
        note = cell.note
        return hex_of(cell.color), (note.text if note is not None else None)

    def read_state(self) -> list[list[Any]]:
        if STATE_SHEET not in self.sheet_names():
            return []
        last_row, last_col = self._last_cell(STATE_SHEET)
        if last_row < 2:
            return []
        values = self._sheet(STATE_SHEET).range((2, 1), (last_row, len(STATE_HEADERS))).options(ndim=2).value
        return [list(r) for r in values if any(v is not None for v in r)]

    # -- writing ---------------------------------------------------------------------------
    def write_column(self, sheet, col, header_row, header, first_row, values, fills, width) -> None:
        ws = self._sheet(sheet)
        head = ws.range((header_row, col))
        head.value = excel_value(header) if header else None
        head.font.bold = bool(header)
        head.color = f"#{HEADER}" if header else None
        # Exactly the rows given (apply_plans gives them down to the last row with data), not down
        # to the used range's end: on a sheet formatted to row 1,048,576 that is a million cells.
        last = first_row + len(values) - 1
        if values:
            body = ws.range((first_row, col), (last, col))
            body.options(transpose=True).value = [excel_value(v) for v in values]
            body.color = None
            for r1, r2, fill in runs(fills, first_row):
                ws.range((r1, col), (r2, col)).color = f"#{fill}"
        if width:
            ws.range((1, col)).column_width = width
        self._heads.setdefault(sheet, {})[(header_row, col)] = header

    def set_format(self, sheet, row, col, fill, note) -> None:
        cell = self._sheet(sheet).range((row, col))
        cell.color = f"#{fill}" if fill else None
        existing = cell.note
        note = safe_text(note) if note else note  # the text the openpyxl adapter writes, and CK-state keeps
        if note:
            if existing is not None:
                existing.text = note
            else:
                cell.add_note(note)
        elif existing is not None:
            existing.delete()

    def _add_sheet(self, name: str) -> Any:
        sheets = self.book.sheets
        return sheets.add(name=name, after=sheets[len(sheets) - 1])

    def replace_table(self, table: PlanTable) -> None:
        self.delete_sheet(table.name)
        ws = self._add_sheet(sheet_title(table.name, self.sheet_names()))
        width = len(table.headers)
        data = [[excel_value(h) for h in table.headers]]
        for i, row in enumerate(table.rows):
            cells = [excel_value(v) for v in row] + [None] * (width - len(row))
            link = link_formula(table.links[i], row[0] if row else None) if table.links.get(i) else None
            if link:
                cells[0] = link
            data.append(cells[:width])
        ws.range((1, 1)).value = data
        head = ws.range((1, 1), (1, width))
        head.font.bold = True
        head.color = f"#{HEADER}"
        for r1, r2, fill in runs((table.fills.get(i) for i in range(len(table.rows))), 2):
            ws.range((r1, 1), (r2, width)).color = f"#{fill}"
        for i, w in enumerate(table.widths or [14] * width, start=1):
            ws.range((1, i)).column_width = w
        if hasattr(ws, "freeze_panes"):  # xlwings >= 0.37; the table reads fine without it
            ws.freeze_panes.freeze_at("A2")

    def rename_sheet(self, name: str, new_name: str) -> None:
        self._sheet(name).name = new_name
        for cache in (self._top, self._heads):
            if name in cache:
                cache[new_name] = cache.pop(name)

    def delete_sheet(self, name: str) -> None:
        if name in self.sheet_names():
            self._sheet(name).delete()
        self._top.pop(name, None)
        self._heads.pop(name, None)

    def write_state(self, rows: list[list[Any]]) -> None:
        self.delete_sheet(STATE_SHEET)
        if not rows:
            return
        ws = self._add_sheet(STATE_SHEET)
        ws.range((1, 1)).value = [STATE_HEADERS] + [[excel_value(v) for v in r] for r in rows]
        ws.visible = False
