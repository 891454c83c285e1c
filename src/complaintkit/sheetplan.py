"""SheetPlan: what a check wants to show in a workbook, and the one algorithm that applies it.

A plan names the add-in's own columns (found by header, refreshed in place), fills and notes on
problem cells (remembered so a re-run or 清除结果 restores the user's own formatting), its own
result sheets, and a one-line summary. The CLI applies plans to a copy with openpyxl; the Excel
add-in applies the same plans to the open book with xlwings. Both go through ``apply_plans`` over
a small ``BookAdapter``, so what a branch sees in Excel is what the tests check on Linux.

The rule that keeps a branch's data safe: no value the user typed is ever changed. Own columns
carry the ``CK-`` prefix, own sheets too; marks change formatting only and are undone exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from .messages import translations

OWN_PREFIX = "CK-"
STATE_SHEET = "CK-state"
#: Excel's last column, XFD.
EXCEL_COLUMNS = 16_384


def at_the_edge(width: int) -> bool:
    """Whether a sheet's used width reaches (nearly) column XFD: formatting carried out to the
    sheet's edge, not data, so an adapter measures the width by the cells with content instead
    and the own columns still find room."""
    return width > EXCEL_COLUMNS - 64

# Fill colours (RGB hex) shared by every check so the workbook reads as one.
RED = "FFC7CE"
AMBER = "FFEB9C"
YELLOW = "FFF2CC"
GREEN = "C6EFCE"
BLUE = "DDEBF7"
GREY = "EDEDED"
HEADER = "D9D9D9"


@dataclass
class PlanColumn:
    """One of the add-in's own columns: its header and its value (and fill) for each Excel row.

    Rows not in ``values`` are cleared on apply, so a refreshed column holds no stale result.
    """

    header: str
    values: dict[int, Any]
    fills: dict[int, str] = field(default_factory=dict)
    width: float = 24


@dataclass
class CellMark:
    """A fill (and optional note) on a user cell: formatting only, undone on re-run or clear."""

    row: int
    column: str
    fill: str
    note: str = ""


@dataclass
class PlanTable:
    """One of the add-in's own sheets: a table, with per-row links back to a register cell."""

    name: str
    headers: list[str]
    rows: list[list[Any]]
    links: dict[int, str] = field(default_factory=dict)  # table row index -> "Sheet!C5"
    fills: dict[int, str] = field(default_factory=dict)  # table row index -> fill
    widths: list[float] = field(default_factory=list)


@dataclass
class SheetPlan:
    """Everything one operation shows in a workbook."""

    op: str
    sheet: str
    header_row: int
    last_row: int
    columns: list[PlanColumn] = field(default_factory=list)
    marks: list[CellMark] = field(default_factory=list)
    tables: list[PlanTable] = field(default_factory=list)
    summary: str = ""


class BookAdapter(Protocol):
    """The few workbook operations a plan needs; openpyxl and xlwings each implement them."""

    def sheet_names(self) -> list[str]: ...
    def header_values(self, sheet: str, row: int) -> list[Any]: ...
    def used_width(self, sheet: str) -> int: ...
    def write_column(self, sheet: str, col: int, header_row: int, header: str, first_row: int,
                     values: list[Any], fills: list[str | None], width: float) -> None: ...
    def get_format(self, sheet: str, row: int, col: int) -> tuple[str | None, str | None]: ...
    def set_format(self, sheet: str, row: int, col: int, fill: str | None, note: str | None) -> None: ...
    def replace_table(self, table: PlanTable) -> None: ...
    def delete_sheet(self, name: str) -> None: ...
    def read_state(self) -> list[list[Any]]: ...
    def write_state(self, rows: list[list[Any]]) -> None: ...


def column_index(letter: str) -> int:
    """Excel letters -> 1-based column number (A -> 1, AA -> 27)."""
    n = 0
    for ch in letter.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _find_or_place(book: BookAdapter, sheet: str, header_row: int, header: str, taken: set[int]) -> int:
    headers = book.header_values(sheet, header_row)
    # Found under its name in any language: a press in English refreshes (and renames) the column
    # a press in Chinese wrote, instead of adding a second one beside it that goes stale.
    names = translations(header)
    for i, value in enumerate(headers, start=1):
        if isinstance(value, str) and value.strip() in names:
            return i
    # Right of the last header with a name: a header row merely formatted out to XFD has no room after it.
    named = max((i for i, value in enumerate(headers, start=1) if value is not None and value != ""), default=0)
    col = max(book.used_width(sheet), named) + 1
    while col in taken:
        col += 1
    return col


def _cell(entry: Sequence[Any]) -> tuple[str, int, int]:
    return (entry[1], int(entry[2]), int(entry[3]))


def _restore_marks(book: BookAdapter, state: list[list[Any]], ops: set[str] | None, sheet: str | None) -> list[list[Any]]:
    """Undo the marks of ``ops`` (all when None) and return the state rows that remain.

    Every entry of a cell holds the user's own format (see apply_plans), so the order entries are
    undone in does not matter; a cell another check still marks keeps the mark on top.
    """
    keep: list[list[Any]] = []
    undo: list[list[Any]] = []
    names = book.sheet_names()
    for entry in state:
        op, sh, row, col, fill, note = (list(entry) + [None] * 6)[:6]
        wanted = (ops is None or op in ops) and (sheet is None or sh == sheet) and sh in names
        (undo if wanted else keep).append([op, sh, row, col, fill, note])
    still_marked = {_cell(e) for e in keep}
    for op, sh, row, col, fill, note in undo:
        if (sh, int(row), int(col)) not in still_marked:
            book.set_format(sh, int(row), int(col), fill or None, note or None)
    return keep


def apply_plans(book: BookAdapter, plans: Sequence[SheetPlan]) -> None:
    """Apply plans in order. Idempotent: applying the same plans twice gives the same book."""
    state = book.read_state()
    try:
        for plan in plans:
            state = _restore_marks(book, state, {plan.op}, plan.sheet)
            taken: set[int] = set()
            first = plan.header_row + 1
            last = max([plan.last_row] + [r for c in plan.columns for r in c.values])
            for column in plan.columns:
                col = _find_or_place(book, plan.sheet, plan.header_row, column.header, taken)
                taken.add(col)
                rows = range(first, last + 1)
                book.write_column(
                    plan.sheet, col, plan.header_row, column.header, first,
                    [column.values.get(r) for r in rows], [column.fills.get(r) for r in rows], column.width,
                )
            # A cell another check already marks shows that mark now: its entry holds the user's own format.
            own = {_cell(e): (e[4] or "", e[5] or "") for e in state}
            seen: set[tuple[int, int]] = set()
            for mark in plan.marks:
                col = column_index(mark.column)
                if (mark.row, col) in seen:
                    continue
                seen.add((mark.row, col))
                key = (plan.sheet, mark.row, col)
                if key not in own:
                    fill, note = book.get_format(plan.sheet, mark.row, col)
                    own[key] = (fill or "", note or "")
                fill, note = own[key]
                state.append([plan.op, plan.sheet, mark.row, col, fill, note])
                book.set_format(plan.sheet, mark.row, col, mark.fill, mark.note or note or None)
            for table in plan.tables:
                present = book.sheet_names()
                for name in translations(table.name):  # the same sheet, written in another language
                    if name != table.name and name in present:
                        book.delete_sheet(name)
                book.replace_table(table)
    finally:
        # Also when Excel refuses a write part-way (the clerk clicked into Excel while it ran): the
        # marks made so far are remembered, so the next press or 清除结果 still undoes them.
        book.write_state(state)


def clear_results(book: BookAdapter, sheet_names: Sequence[str] | None = None) -> int:
    """清除结果: blank the own columns, undo every mark, delete own sheets. Returns columns cleared.

    Own columns are emptied rather than deleted so that columns a user added to their right
    never move.
    """
    state = book.read_state()
    _restore_marks(book, state, None, None)
    cleared = 0
    for name in list(sheet_names or book.sheet_names()):
        if name.startswith(OWN_PREFIX):
            continue
        for header_row in _own_header_rows(book, name):
            headers = book.header_values(name, header_row)
            for i, value in enumerate(headers, start=1):
                if isinstance(value, str) and value.startswith(OWN_PREFIX):
                    book.write_column(name, i, header_row, None, header_row + 1, [], [], 0)  # type: ignore[arg-type]
                    cleared += 1
    for name in book.sheet_names():
        if name.startswith(OWN_PREFIX) and name != STATE_SHEET:
            book.delete_sheet(name)
    book.write_state([])
    return cleared


def _own_header_rows(book: BookAdapter, sheet: str) -> list[int]:
    """Header rows that carry own columns: looked for in the first rows (titles come first)."""
    rows = []
    for r in range(1, 31):
        if any(isinstance(v, str) and v.startswith(OWN_PREFIX) for v in book.header_values(sheet, r)):
            rows.append(r)
    return rows
