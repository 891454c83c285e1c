"""SheetPlan: what a check wants to show in a workbook, and the one algorithm that applies it.

A plan names the add-in's own columns (found by header, refreshed in place), fills and notes on
problem cells (remembered so a re-run or 清除结果 restores the user's own formatting), its own
result sheets, and a one-line summary. The CLI applies plans to a copy with openpyxl; the Excel
add-in applies the same plans to the open book with xlwings. Both go through ``apply_plans`` over
a small ``BookAdapter``, so what a branch sees in Excel is what the tests check on Linux.

The rule that keeps a branch's data safe: no value the user typed is ever changed, and no cell's
formatting is written unless it still shows exactly a mark the add-in made. Own columns and
sheets are known by their names (the checks' ``CK-`` names, in either language), never by the
prefix alone: a clerk's own "CK-负责人" column stays the clerk's. A mark is remembered with the
complaint it is on and its column's header, so it is found again after the clerk sorts, inserts or
deletes rows or columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from .fields import EXCEL_COLUMNS, HEADER_ROWS
from .messages import CATALOG, translations

OWN_PREFIX = "CK-"
STATE_SHEET = "CK-state"
#: The CK-state sheet's columns, one row per mark. Before marks were followed to their complaint a
#: row held only the first six, and before they were followed to their column the first eleven;
#: such rows are still read (see ``_Entry``). A column is remembered by its header too: the text,
#: and how many columns left of it bear the same text (a second 联系电话).
STATE_HEADERS = ["op", "sheet", "row", "column", "previous_fill", "previous_note",
                 "mark_fill", "mark_note", "id_column", "complaint_id", "row_key",
                 "column_header", "column_header_nth", "id_header", "id_header_nth"]
#: Excel's longest sheet name.
SHEET_NAME_MAX = 31


def at_the_edge(width: int) -> bool:
    """Whether a sheet's used width reaches (nearly) column XFD: formatting carried out to the
    sheet's edge, not data, so ``apply_plans`` measures the width by the cells with content
    instead and the own columns still find room."""
    return width > EXCEL_COLUMNS - 64


# Fill colours (RGB hex) shared by every check so the workbook reads as one.
RED = "FFC7CE"
AMBER = "FFEB9C"
YELLOW = "FFF2CC"
GREEN = "C6EFCE"
BLUE = "DDEBF7"
GREY = "EDEDED"
HEADER = "D9D9D9"
#: The fills checks mark cells with: a state row from before marks were remembered restores only
#: a cell that shows one of these (with a note), since it does not say which mark it made.
MARK_FILLS = frozenset({RED, AMBER, YELLOW, GREEN, BLUE, GREY})


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
    #: The register's complaint-ID column (1-based; 0: none): with it each mark is remembered with
    #: its complaint, and found again after the clerk sorts or edits the register.
    id_column: int = 0


@dataclass
class Applied:
    """Where ``apply_plans`` put a press's results: what the message box points the clerk to."""

    columns: dict[str, int] = field(default_factory=dict)  # own column header -> column number
    sheets: dict[str, str] = field(default_factory=dict)  # result table name -> the sheet it is on
    marks: int = 0


@dataclass
class Cleared:
    """What ``clear_results`` removed."""

    columns: int
    sheets: int


class BookAdapter(Protocol):
    """The few workbook operations a plan needs; openpyxl and xlwings each implement them."""

    def sheet_names(self) -> list[str]: ...
    def header_values(self, sheet: str, row: int) -> list[Any]: ...
    def read_rows(self, sheet: str) -> Sequence[Sequence[Any]]: ...
    def used_width(self, sheet: str) -> int: ...
    def write_column(self, sheet: str, col: int, header_row: int, header: str, first_row: int,
                     values: list[Any], fills: list[str | None], width: float) -> None: ...
    def get_format(self, sheet: str, row: int, col: int) -> tuple[str | None, str | None]: ...
    def set_format(self, sheet: str, row: int, col: int, fill: str | None, note: str | None) -> None: ...
    def replace_table(self, table: PlanTable) -> None: ...
    def rename_sheet(self, name: str, new_name: str) -> None: ...
    def delete_sheet(self, name: str) -> None: ...
    def read_state(self) -> list[list[Any]]: ...
    def write_state(self, rows: list[list[Any]]) -> None: ...


def column_index(letter: str) -> int:
    """Excel letters -> 1-based column number (A -> 1, AA -> 27)."""
    n = 0
    for ch in letter.upper():
        n = n * 26 + ord(ch) - 64
    return n


# --- what is the add-in's ----------------------------------------------------------------------

_own: tuple[int, frozenset[str]] = (-1, frozenset())


def own_names() -> frozenset[str]:
    """The names of the add-in's own columns and sheets in every language (the checks' CK- names
    in the message catalog), and CK-state. Only these are the add-in's: a clerk's column or sheet
    that merely starts with CK- is the clerk's, and no button changes it."""
    global _own
    from .operations import available  # each check adds its names to the catalog when imported

    available()
    if _own[0] != len(CATALOG):
        # The merged workbook's CK- columns and sheets (merge_*) say where each row came from: no
        # button made them or can make them again, so 清除结果 leaves them like the clerk's own.
        # Its CK-重复投诉 is dedupe's column by the same name (the repeat links): 查重 refreshes it.
        names = {text for code, pair in CATALOG.items() if not code.startswith("merge_")
                 for text in pair if text.startswith(OWN_PREFIX)}
        _own = (len(CATALOG), frozenset(names | {STATE_SHEET}))
    return _own[1]


def is_own_header(value: Any, names: frozenset[str] | None = None) -> bool:
    """Whether a header cell names one of the add-in's own columns."""
    return isinstance(value, str) and value.strip() in (names or own_names())


def own_columns(rows: Sequence[Sequence[Any]], depth: int) -> set[int]:
    """The add-in's own columns (0-based) among a sheet's values: one of its headers in the first
    ``depth`` rows. Both what a press reads and what it writes leave these out."""
    names = own_names()
    return {c for row in rows[:depth] for c, v in enumerate(row) if is_own_header(v, names)}


def is_own_sheet(name: str) -> bool:
    """Whether a sheet is one of the add-in's: a result sheet under its name in either language,
    or named after its register (see ``result_sheet_name``), or CK-state."""
    names = own_names()
    base, paren, rest = name.partition("(")
    return name in names or (bool(paren) and rest.endswith(")") and base in names)


def own_sheets(sheet_names: Sequence[str], registers: Iterable[str]) -> list[str]:
    """The add-in's result sheets among a workbook's sheets (CK-state left out): each under its
    plain name, or named after one of ``registers``, the sheets with own columns
    (``result_sheet_name``). A sheet only shaped like one is the clerk's: a result sheet renamed
    to keep it ("CK-校验结果(3月存档)", "CK-校验结果(说明)" beside a sheet 说明), or one whose
    register sheet is gone. 清除结果 deletes only these."""
    names = own_names() - {STATE_SHEET}
    named = {result_sheet_name(name, register) for name in names for register in registers}
    return [n for n in sheet_names if n in names or n in named]


def result_sheet_name(name: str, register: str) -> str:
    """The result sheet ``name`` of the register on sheet ``register``, once the workbook holds the
    results of more than one register: "CK-校验结果(2月)". A long register name is cut to fit
    Excel's 31 characters, with a tag of the whole name so that two cut names stay apart."""
    full = f"{name}({register})"
    if len(full) <= SHEET_NAME_MAX:
        return full
    tag = hashlib.blake2b(register.encode(), digest_size=2).hexdigest()
    room = max(SHEET_NAME_MAX - len(name) - len(tag) - 3, 0)
    return f"{name}({register[:room]}~{tag})"


def _own_header_rows(book: BookAdapter, sheet: str, depth: int) -> list[int]:
    """Header rows that carry own columns: looked for in the first ``depth`` rows (titles come
    first; a policy's register.header_search_rows may look further than HEADER_ROWS)."""
    names = own_names()
    # The deepest row asked first: the adapters then read the top rows once, as deep as that.
    found = [r for r in range(depth, 0, -1) if any(is_own_header(v, names) for v in book.header_values(sheet, r))]
    return found[::-1]


# --- which complaint is on which row -----------------------------------------------------------

def cell_text(value: Any) -> str:
    """A cell as text, the same whichever host read it (openpyxl reads 5 and a date-time, xlwings
    5.0 and a date-time, a file reader a date): what a row's identity is made of."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        number = float(value)
        return format(number, ".15g") if math.isfinite(number) else str(number)
    if isinstance(value, dt.datetime):
        midnight = value.tzinfo is None and value.time() == dt.time(0)
        return value.date().isoformat() if midnight else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


class SheetRows:
    """A sheet's values as read now (row 1 first): which complaint is on which Excel row, and
    which column is under which header.

    A row is known by its key (a hash of its cells' texts, the add-in's own columns left out, so a
    press does not change it, and taken in no column order, so inserting, deleting an empty or
    moving a column does not change it either) and by its complaint ID. Keys are worked out for the
    rows asked about: the ID column is indexed when a mark is not where it was left, and every row
    hashed only for a mark whose row had no ID. A column is known by its header (see ``header``).
    """

    def __init__(self, values: Sequence[Sequence[Any]], depth: int) -> None:
        self.values = values
        self.depth = depth  # how far down headers are looked for
        self.skip = own_columns(values, depth)
        self._keys: dict[int, str] = {}
        self._by_key: dict[str, list[int]] | None = None
        self._by_id: dict[int, dict[str, list[int]]] = {}
        self._headers: dict[str, dict[int, list[int]]] | None = None
        self._header_of: dict[tuple[int, int], tuple[str, int]] = {}  # few columns carry all the marks

    @property
    def content_width(self) -> int:
        """The last column holding a value in any row (what a sheet formatted out to XFD really uses)."""
        return max((len(row) - next((i for i, v in enumerate(reversed(row)) if v is not None and v != ""), len(row))
                    for row in self.values), default=0)

    @property
    def last_row(self) -> int:
        """The last row holding a value; the add-in's own old results count (they are to be cleared)."""
        for i in range(len(self.values) - 1, -1, -1):
            if any(v is not None and v != "" for v in self.values[i]):
                return i + 1
        return 0

    def _cells(self, row: int) -> Sequence[Any]:
        return self.values[row - 1] if 0 < row <= len(self.values) else ()

    def key(self, row: int) -> str:
        """The row's key ("" for an empty row: no identity to follow)."""
        key = self._keys.get(row)
        if key is None:
            texts = sorted(filter(None, (cell_text(v) for c, v in enumerate(self._cells(row)) if c not in self.skip)))
            key = hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).hexdigest() if texts else ""
            self._keys[row] = key
        return key

    def complaint_id(self, row: int, col: int) -> str:
        """The complaint ID on ``row``, read in column ``col`` (1-based; 0: none)."""
        cells = self._cells(row)
        return cell_text(cells[col - 1]) if 0 < col <= len(cells) else ""

    def rows_with_key(self, key: str) -> list[int]:
        if self._by_key is None:
            self._by_key = {}
            for row in range(1, len(self.values) + 1):
                if self.key(row):
                    self._by_key.setdefault(self.key(row), []).append(row)
        return self._by_key.get(key, []) if key else []

    def header(self, row: int, col: int) -> tuple[str, int]:
        """Column ``col``'s header on header row ``row``: its text, and how many columns left of it
        bear the same text ("", 0 for a column without one)."""
        found = self._header_of.get((row, col))
        if found is None:
            cells = self._cells(row)
            text = cell_text(cells[col - 1]) if 0 < col <= len(cells) else ""
            found = self._header_of[(row, col)] = (text, sum(cell_text(v) == text for v in cells[:col - 1]) if text else 0)
        return found

    def column(self, header: str, nth: int) -> int:
        """The column under ``header`` now (its ``nth`` + 1-th in its row), or 0 when the header is
        nowhere in the first rows: looked for in the topmost row that has it, since a header row
        comes before the data and may itself have moved."""
        if self._headers is None:
            self._headers = {}
            for r in range(1, min(len(self.values), self.depth) + 1):
                for c, v in enumerate(self._cells(r), start=1):
                    text = cell_text(v)
                    if text:
                        self._headers.setdefault(text, {}).setdefault(r, []).append(c)
        for cols in self._headers.get(header, {}).values() if header else ():
            if nth < len(cols):
                return cols[nth]
        return 0

    def rows_with_id(self, col: int, cid: str) -> list[int]:
        if col not in self._by_id:
            index: dict[str, list[int]] = {}
            for row in range(1, len(self.values) + 1):
                found = self.complaint_id(row, col)
                if found:
                    index.setdefault(found, []).append(row)
            self._by_id[col] = index
        return self._by_id[col].get(cid, []) if cid and col else []


# --- the marks remembered in CK-state ----------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _same_note(a: str | None, b: str | None) -> bool:
    # Excel may hand a note back with \r\n line ends or without trailing blanks.
    def plain(text: str | None) -> str:
        return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()

    return plain(a) == plain(b)


@dataclass
class _Entry:
    """One CK-state row: a mark the add-in made on a user cell, the cell's own fill and note under
    it, whose row it was (the register's complaint ID and the row's key) and the headers of its
    column and of the ID column. ``fill`` is None for a row written before marks were remembered;
    the headers are "" in a row written before columns were followed."""

    op: str
    sheet: str
    row: int
    col: int
    prev_fill: str
    prev_note: str
    fill: str | None = None
    note: str = ""
    id_col: int = 0
    cid: str = ""
    key: str = ""
    header: tuple[str, int] = ("", 0)
    id_header: tuple[str, int] = ("", 0)

    @classmethod
    def read(cls, values: Sequence[Any]) -> _Entry | None:
        v = list(values)[:len(STATE_HEADERS)]
        v += [None] * (len(STATE_HEADERS) - len(v))
        try:
            row, col, id_col, nth, id_nth = int(v[2]), int(v[3]), int(v[8] or 0), int(v[12] or 0), int(v[14] or 0)
        except (TypeError, ValueError):
            return None  # a row damaged by hand: its cell is left as it is
        return cls(_text(v[0]), _text(v[1]), row, col, _text(v[4]).upper(), _text(v[5]),
                   _text(v[6]).upper() or None, _text(v[7]), id_col, cell_text(v[9]), _text(v[10]),
                   (cell_text(v[11]), nth), (cell_text(v[13]), id_nth))

    def cells(self) -> list[Any]:
        return [self.op, self.sheet, self.row, self.col, self.prev_fill or None, self.prev_note or None,
                self.fill, self.note or None, self.id_col or None, self.cid or None, self.key or None,
                self.header[0] or None, self.header[1] or None, self.id_header[0] or None, self.id_header[1] or None]

    def shown_by(self, fill: str, note: str) -> bool:
        """Whether a cell with this fill and note shows this mark."""
        if self.fill is None:
            # The row does not say which mark it made: a check's fill with a note is taken for it.
            return fill.upper() in MARK_FILLS and bool(note)
        return fill.upper() == self.fill and _same_note(note, self.note)


def _read_state(book: BookAdapter) -> list[_Entry]:
    return [e for e in map(_Entry.read, book.read_state()) if e is not None]


class _Formats:
    """User cells' fills and notes as this run has read or written them: each read at most once."""

    def __init__(self, book: BookAdapter) -> None:
        self.book = book
        self.seen: dict[tuple[str, int, int], tuple[str, str]] = {}

    def get(self, sheet: str, row: int, col: int) -> tuple[str, str]:
        cell = (sheet, row, col)
        if cell not in self.seen:
            fill, note = self.book.get_format(sheet, row, col)
            self.seen[cell] = ((fill or "").upper(), note or "")
        return self.seen[cell]

    def set(self, sheet: str, row: int, col: int, fill: str | None, note: str | None) -> None:
        self.book.set_format(sheet, row, col, fill or None, note or None)
        self.seen[(sheet, row, col)] = ((fill or "").upper(), note or "")


def _relocate(state: list[_Entry], sheet: str, rows: SheetRows, formats: _Formats) -> list[_Entry]:
    """The state with the marks on ``sheet`` where they are now (the clerk may have sorted,
    inserted or deleted rows or columns, or typed into them since), without those no cell shows
    any more: such a cell was changed by the clerk and is never written again.

    A mark's column is the one under its header now, and so is the ID column; the letter it was
    left in serves when the header is nowhere (renamed, or a state row that does not name it). In
    that column a mark is looked for, in turn: where it was left, on the same row; on the row with
    the same content elsewhere (moved); on the row with the same complaint ID (edited, and maybe
    moved); where it was left (its ID edited too, or a state row that does not say whose row it
    was). It is found only on a cell that still shows exactly that mark, and a cell is one mark's
    only: marks whose header was found come first, so a mark under a deleted column's letter does
    not take the cell of the column that moved into its place.
    """
    groups: dict[tuple[int, int], list[_Entry]] = {}
    for e in state:
        if e.sheet == sheet:
            groups.setdefault((e.row, e.col), []).append(e)
    # Every entry of a cell was its row's and its column's: the one that says most speaks for all.
    known = {cell: max(group, key=lambda e: (bool(e.key), bool(e.header[0]))) for cell, group in groups.items()}
    by_header = {cell: rows.column(*e.header) for cell, e in known.items()}
    order = sorted(groups, key=lambda cell: not by_header[cell])
    found: dict[tuple[int, int], tuple[int, int]] = {}
    taken: set[tuple[int, int]] = set()

    def look(where: Callable[[int, _Entry], Iterable[int]]) -> None:
        for row, col in order:
            if (row, col) in found:
                continue
            col_now = by_header[(row, col)] or col
            for r in where(row, known[(row, col)]):
                if (r, col_now) not in taken and any(e.shown_by(*formats.get(sheet, r, col_now)) for e in groups[(row, col)]):
                    found[(row, col)] = (r, col_now)
                    taken.add((r, col_now))
                    break

    def near(candidates: list[int], row: int) -> list[int]:
        return sorted(candidates, key=lambda r: (abs(r - row), r))

    def with_id(e: _Entry) -> list[int]:
        return rows.rows_with_id(rows.column(*e.id_header) or e.id_col, e.cid)

    look(lambda row, e: [row] if e.key and rows.key(row) == e.key else [])
    # Moved, unchanged: among the rows with its complaint ID (one column indexed, not every row
    # hashed), or, for a mark whose row had no ID, anywhere.
    look(lambda row, e: near([r for r in with_id(e) if rows.key(r) == e.key], row))
    look(lambda row, e: [] if e.id_col and e.cid else near(rows.rows_with_key(e.key), row))
    look(lambda row, e: near(with_id(e), row))  # edited, and maybe moved
    look(lambda row, e: [row])
    kept = []
    for e in state:
        if e.sheet != sheet:
            kept.append(e)
        elif (e.row, e.col) in found:
            row, col = found[(e.row, e.col)]
            kept.append(replace(e, row=row, col=col, id_col=rows.column(*e.id_header) or e.id_col))
    return kept


def _mark(plan: SheetPlan, state: list[_Entry], formats: _Formats, rows: SheetRows) -> None:
    """Make the plan's marks and undo this check's earlier ones it does not make again. A cell
    another check still marks shows that mark again; any other cell gets the user's own fill and
    note back; a cell already showing the mark is not written. ``state`` is updated in place, also
    when Excel refuses a write part-way, so that what was done is remembered."""
    sheet, id_col = plan.sheet, plan.id_column

    def is_mine(e: _Entry) -> bool:
        return e.op == plan.op and e.sheet == sheet

    others: dict[tuple[int, int], list[_Entry]] = {}
    for e in state:
        if e.sheet == sheet and not is_mine(e):
            others.setdefault((e.row, e.col), []).append(e)
    # Every entry of a cell holds the user's own format (a mark is never taken for it).
    under = {(e.row, e.col): (e.prev_fill, e.prev_note) for e in state if e.sheet == sheet}
    wanted: dict[tuple[int, int], CellMark] = {}
    for mark in plan.marks:
        wanted.setdefault((mark.row, column_index(mark.column)), mark)
    done: set[tuple[int, int]] = set()  # cells whose earlier entries of this check are finished with
    made: list[_Entry] = []
    try:
        for row, col in dict.fromkeys((e.row, e.col) for e in state if is_mine(e)):
            if (row, col) in wanted:
                continue
            top = others.get((row, col), [None])[-1]  # the mark put on last is the one on show
            if top is None:
                formats.set(sheet, row, col, *under[(row, col)])
            elif top.fill is not None and not top.shown_by(*formats.get(sheet, row, col)):
                formats.set(sheet, row, col, top.fill, top.note)
            done.add((row, col))
        for (row, col), mark in wanted.items():
            fill, note = under[(row, col)] if (row, col) in under else formats.get(sheet, row, col)
            entry = _Entry(plan.op, sheet, row, col, fill, note, mark.fill.upper(), mark.note or note,
                           id_col, rows.complaint_id(row, id_col), rows.key(row),
                           rows.header(plan.header_row, col), rows.header(plan.header_row, id_col))
            made.append(entry)  # before the write: a half-made mark is still undone
            if not entry.shown_by(*formats.get(sheet, row, col)):
                formats.set(sheet, row, col, entry.fill, entry.note)
            done.add((row, col))
    finally:
        state[:] = [e for e in state if not (is_mine(e) and (e.row, e.col) in done)] + made


# --- applying and clearing ---------------------------------------------------------------------

def _find_or_place(book: BookAdapter, sheet: str, header_row: int, header: str, taken: set[int], width: int) -> int:
    """The column of an own column: where it is already (under its name in either language), or
    right of the sheet's ``width`` and of the last header with a name."""
    headers = book.header_values(sheet, header_row)
    # Found under its name in any language: a press in English refreshes (and renames) the column
    # a press in Chinese wrote, instead of adding a second one beside it that goes stale.
    names = translations(header)
    for i, value in enumerate(headers, start=1):
        if isinstance(value, str) and value.strip() in names:
            return i
    # Right of the last header with a name: a header row merely formatted out to XFD has no room after it.
    named = max((i for i, value in enumerate(headers, start=1) if value is not None and value != ""), default=0)
    col = max(width, named) + 1
    while col in taken:
        col += 1
    return col


def _registers_with_results(book: BookAdapter, sheet: str, depth: int) -> list[str]:
    """The sheets other than ``sheet`` that carry own columns: registers with results of their own."""
    return [n for n in book.sheet_names() if n != sheet and not is_own_sheet(n) and _own_header_rows(book, n, depth)]


def _name_results_after(book: BookAdapter, register: str) -> None:
    """The result sheets under their plain names, renamed after ``register`` (the only register
    with results until now), so that each register's result sheets say whose they are once a
    second register has results."""
    names = own_names()
    for name in book.sheet_names():
        if name in names and name != STATE_SHEET:
            target = result_sheet_name(name, register)
            book.delete_sheet(target)
            book.rename_sheet(name, target)


def _put_table(book: BookAdapter, register: str, table: PlanTable, named: bool) -> str:
    """Write a result table; returns its sheet's name: the table's name while one register in the
    book has results (what the CLI writes), the name with the register's once several have."""
    names = translations(table.name)  # the same sheet, written in another language, goes
    target = result_sheet_name(table.name, register) if named else table.name
    stale = [result_sheet_name(n, register) for n in names] + ([] if named else list(names))
    present = set(book.sheet_names())
    for name in stale:
        if name != target and name in present:
            book.delete_sheet(name)
    book.replace_table(replace(table, name=target))
    return target


def apply_plans(book: BookAdapter, plans: Sequence[SheetPlan], values: Mapping[str, Sequence[Sequence[Any]]] | None = None,
                marks: bool = True, depth: int = HEADER_ROWS) -> Applied:
    """Apply plans in order. Idempotent: applying the same plans twice gives the same book.

    ``values`` are a sheet's cells as the caller read them for these plans (row 1 first; read
    through the adapter when not given): with them and the plan's ``id_column`` each mark is
    remembered with its complaint, and found again after the clerk sorts or edits the register.

    ``marks=False``, for a host that cannot read a cell's fill back (xlwings Lite): the plans'
    marks are not made, and the marks already remembered are left as they are, on show and in
    CK-state, for a press or 清除结果 on a host that can undo them exactly.

    ``depth``: how far down a header row is looked for, on every sheet (the policy's
    register.header_search_rows, as ``clear_results`` looks), and never less than the plans'.
    """
    applied = Applied()
    depth = max([depth, HEADER_ROWS] + [plan.header_row for plan in plans])
    formats = _Formats(book)
    state = _read_state(book) if marks else []
    rows: dict[str, SheetRows] = {}
    widths: dict[str, int] = {}
    named: dict[str, bool] = {}
    try:
        for plan in plans:
            if plan.sheet not in rows:
                given = (values or {}).get(plan.sheet)
                rows[plan.sheet] = SheetRows(given if given is not None else book.read_rows(plan.sheet), depth)
                if marks:
                    state = _relocate(state, plan.sheet, rows[plan.sheet], formats)
                # Before own columns are written. When this sheet has none yet and exactly one other
                # register has, the plain result sheets were that register's (it was the only one).
                # When this sheet has own columns too, copied with a sheet pressed before, the
                # plain sheets may be either's: they are left as they are.
                others = _registers_with_results(book, plan.sheet, depth)
                if len(others) == 1 and not _own_header_rows(book, plan.sheet, depth):
                    _name_results_after(book, others[0])
                named[plan.sheet] = bool(others)
            taken: set[int] = set()
            if plan.sheet not in widths:
                # Formatted out to column XFD leaves no room: go right of the last cell with a value.
                width = book.used_width(plan.sheet)
                widths[plan.sheet] = rows[plan.sheet].content_width if at_the_edge(width) else width
            first = plan.header_row + 1
            # Down to the last row with data (old results included), not to where formatting ends.
            last = max([plan.last_row, rows[plan.sheet].last_row] + [r for c in plan.columns for r in c.values])
            span = range(first, last + 1)
            for column in plan.columns:
                col = _find_or_place(book, plan.sheet, plan.header_row, column.header, taken, widths[plan.sheet])
                taken.add(col)
                widths[plan.sheet] = max(widths[plan.sheet], col)
                book.write_column(plan.sheet, col, plan.header_row, column.header, first,
                                  [column.values.get(r) for r in span], [column.fills.get(r) for r in span], column.width)
                applied.columns[column.header] = col
            if marks:
                _mark(plan, state, formats, rows[plan.sheet])
                applied.marks += len({(m.row, m.column) for m in plan.marks})
            for table in plan.tables:
                applied.sheets[table.name] = _put_table(book, plan.sheet, table, named[plan.sheet])
    finally:
        # Also when Excel refuses a write part-way (the clerk clicked into Excel while it ran): the
        # marks made so far are remembered, so the next press or 清除结果 still undoes them.
        if marks:
            book.write_state([e.cells() for e in state])
    return applied


def clear_results(book: BookAdapter, marks: bool = True, depth: int = HEADER_ROWS) -> Cleared:
    """清除结果: blank the own columns, undo every mark still on show, delete the own sheets.

    Own columns are emptied rather than deleted so that columns a user added to their right never
    move; they are emptied down to the last row with data. ``marks=False`` (a host that cannot
    read a cell's fill back, see ``apply_plans``) leaves the marks and CK-state as they are.
    ``depth``: how far down a header row is looked for (the policy's register.header_search_rows;
    never fewer rows than a press looks in).
    """
    depth = max(depth, HEADER_ROWS)
    formats = _Formats(book)
    state = _read_state(book) if marks else []
    present = book.sheet_names()
    rows: dict[str, SheetRows] = {}
    for sheet in dict.fromkeys(e.sheet for e in state):
        if sheet in present:
            rows[sheet] = SheetRows(book.read_rows(sheet), depth)
            state = _relocate(state, sheet, rows[sheet], formats)
    # Every entry of a cell holds the user's own format.
    for (sheet, row, col), (fill, note) in {(e.sheet, e.row, e.col): (e.prev_fill, e.prev_note) for e in state}.items():
        if sheet in present:
            formats.set(sheet, row, col, fill, note)
    names = own_names()
    cleared = 0
    registers = []
    for name in [n for n in present if not is_own_sheet(n)]:
        header_rows = _own_header_rows(book, name, depth)
        if header_rows:
            registers.append(name)
        if header_rows and name not in rows:
            rows[name] = SheetRows(book.read_rows(name), depth)
        for header_row in header_rows:
            blank = [None] * max(rows[name].last_row - header_row, 0)
            for i, value in enumerate(book.header_values(name, header_row), start=1):
                if is_own_header(value, names):
                    book.write_column(name, i, header_row, None, header_row + 1, blank, [], 0)  # type: ignore[arg-type]
                    cleared += 1
    results = own_sheets(book.sheet_names(), registers)
    for name in results:
        book.delete_sheet(name)
    if marks:
        book.write_state([])
    return Cleared(cleared, len(results))
