"""From a file to a Register: pick the register sheet, find the header row under titles and
notes, map headers to canonical fields, fill merged cells, and normalise every value."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import itertools
import operator
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence

from .collector import collector_paused
from .errors import InputError
from .fields import FIELDS, HEADER_ROWS, HeaderMatcher, column_letter
from .messages import Text, register_messages
from .normalize import (
    Parsed,
    clean_text,
    is_blank,
    parse_count,
    parse_date,
    parse_id_number,
    parse_phone,
    value_key,
)
from .policy import Policy
from .register import Column, Record, Register
from .sources import RawBook, ReadWhole, RawSheet, books_in_turn, expand_paths, open_book

register_messages({
    "in_no_sheet": ("没有名为“{sheet}”的工作表（现有工作表：{sheets}）", "has no sheet {sheet!r} (sheets: {sheets})"),
    "in_no_data": ("工作簿里没有数据（每个工作表都是空的）", "the workbook has no data (every sheet is empty)"),
    "in_no_header": ("在{where}的前 {limit} 行里找不到表头行（找的是“投诉编号、受理日期、客户姓名、投诉内容”这类表头；"
                     "其他表头请用 --map '表头=字段' 指定）",
                     "no header row found in the first {limit} rows of {where} (looked for headers such as "
                     "投诉编号, 受理日期, 客户姓名, 投诉内容; name others with --map 'HEADER=field')"),
    "in_any_sheet": ("各工作表", "any sheet"),
    "in_no_register_files": ("没有找到台账文件（.xlsx、.xlsm、.xls、.csv）", "no register files (.xlsx, .xlsm, .xls, .csv) found"),
})

#: The raw cells, problems or unknown columns of a record that has none (shared: never changed).
_NOTHING: Mapping[str, Any] = types.MappingProxyType({})
# Notes under (or between) the complaints: totals, sign-offs, remarks. A text in this many cells
# of a row and nothing else is a note merged (or copied) across the row.
_NOTE_CELLS = 3
#: A count or an amount in a totals line: 120, 120件, 3笔, 1,234.50元, 95% (not a phone or an ID).
_TALLY = r"[共计]?\s*[-+]?\d{1,9}(?:[,，]\d{3})*(?:\.\d+)?\s*(?:件|笔|条|个|人|次|户|元|万元|%|％)?"
#: A note in any column: a sign-off (制表人：张三, 审核：李四, 日期：…), a remark (注：…, 以下空白), or
#: a totals text and nothing more (合计, 合计：120件, 城南支行小计, Total 35; see _is_note).
_NOTE = re.compile(r"^(?:(?:制表|填表|填报|审核|复核|审批|负责|签字|签名)人?\s*[:：]|(?:制表|填表|填报|报送|统计)?日期\s*[:：]|"
                   r"注\s*[:：]|说明\s*[:：]|以下空白|以下无内容)")
_TOTAL = re.compile(r"^.{0,20}?(?:合计|总计|小计|sub-?total|grand total|total)\s*[:：]?\s*(?:" + _TALLY + r")?$", re.I)
#: How a note may begin where a complaint's own words are not kept (合计（含撤销）：120件 in column A).
#: In 客户姓名, 投诉内容 and the like a text so begun is the complaint's ("合计多扣了三次年费").
_FOOTER = re.compile(r"^(制表|填表|填报|审核|负责人|复核|注[:：]|说明[:：]|合计|总计|小计|total|note)", re.I)
_TALLY_TEXT = re.compile(f"^{_TALLY}$")
#: Fields whose value makes a row a complaint, and among them those that hold what a complaint says.
_DATA_FIELDS = frozenset({"complaint_id", "received_date", "customer_name", "id_number", "phone", "description", "demand"})
_SAYS_FIELDS = _DATA_FIELDS - {"complaint_id", "received_date"}


@dataclass
class LoadOptions:
    """How to read registers: the policy, a forced sheet name, and manual header mappings."""

    policy: Policy
    sheet: str | None = None
    manual_map: dict[str, str] | None = None

    @functools.cached_property
    def matcher(self) -> HeaderMatcher:
        """The header matcher of these options, one for every file of a batch (it remembers the
        texts it has folded)."""
        return HeaderMatcher.from_policy(self.policy, self.manual_map)


@dataclass
class LoadResult:
    """Registers read from a batch, and the files that could not be used (the batch goes on)."""

    registers: list[Register]
    failures: list[InputError]


def _header_candidates(rows: list[list[Any]], matcher: HeaderMatcher, limit: int) -> tuple[int, dict[int, str]]:
    from .sheetplan import is_own_header, own_names  # the checks' modules name their own columns

    names = own_names()
    best_row, best_map = -1, {}
    for r, cells in enumerate(rows[:limit]):
        # A check's own column (CK-投诉原因 in an annotated copy) is a result, never the clerk's
        # field, whichever door reads the sheet: it stays an unknown column.
        mapping = matcher.map_row(["" if is_own_header(c, names) else c for c in cells])
        if len(mapping) > len(best_map):
            best_row, best_map = r, mapping
    return best_row, best_map


def header_search_rows(policy: Policy) -> int:
    """How many rows from the top the header row is looked for in (register.header_search_rows)."""
    return int(policy.get("register.header_search_rows", HEADER_ROWS))


def _sheets_to_look_at(book: RawBook, opts: LoadOptions) -> list[str]:
    """The sheets the register is looked for in: the one named, else all but those whose name
    says they are not it (说明, 汇总 ...), or all when that leaves none."""
    if opts.sheet is not None:
        return [opts.sheet]
    skip = [w.lower() for w in opts.policy.get("register.skip_sheet_words", [])]
    return [n for n in book.sheet_names if not any(w in n.lower() for w in skip)] or list(book.sheet_names)


def _choose_sheet(book: RawBook, opts: LoadOptions) -> tuple[RawSheet, int, dict[int, str]]:
    limit = header_search_rows(opts.policy)
    need = int(opts.policy.get("register.min_header_fields", 3))
    if opts.sheet is not None and opts.sheet not in book.sheet_names:
        raise InputError(book.path, "in_no_sheet", sheet=opts.sheet, sheets=", ".join(book.sheet_names))
    names = _sheets_to_look_at(book, opts)
    best: tuple[RawSheet, int, dict[int, str]] | None = None
    for name in names:
        sheet = book.sheet(name)
        if not sheet.visible and opts.sheet is None and len(names) > 1:
            continue
        row, mapping = _header_candidates(sheet.head(limit), opts.matcher, limit)
        if best is None or len(mapping) > len(best[2]):
            best = (sheet, row, mapping)
    if best is None or len(best[2]) < need:
        if all(not any(not is_blank(c) for c in row) for n in names for row in book.sheet(n).rows):
            raise InputError(book.path, "in_no_data")
        where = Text("in_sheet_named", {"sheet": opts.sheet}) if opts.sheet else Text("in_any_sheet")
        raise InputError(book.path, "in_no_header", limit=limit, where=where)
    return best


def _to_fill(merged: list, first_data_row: int) -> list:
    """The merged ranges whose value is copied into their cells: those reaching below the header
    and spanning more than one cell."""
    return [((r0, c0), (r1, c1)) for (r0, c0), (r1, c1) in merged if r1 >= first_data_row and (r0, c0) != (r1, c1)]


def _fill_merged(rows: list[list[Any]], merged: list, first_data_row: int) -> int:
    """Copy each merged range's value into all its cells below the header; returns how many ranges."""
    filled = 0
    for (r0, c0), (r1, c1) in _to_fill(merged, first_data_row):
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(max(r0, first_data_row), min(r1, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c0, c1 + 1):
                if c < len(row) and is_blank(row[c]):
                    row[c] = value
        filled += 1
    return filled


def _enum_normaliser(policy: Policy, name: str) -> Callable[[Any], Parsed]:
    aliases = {value_key(k): v for k, v in (policy.get(f"values.aliases.{name}", {}) or {}).items()}
    allowed = {value_key(v): v for v in (policy.get(f"values.allowed.{name}", []) or [])}

    def value_of(value: Any) -> str | None:
        text = clean_text(value)
        if text is None:
            return None
        key = value_key(text)
        return allowed.get(key) or aliases.get(key) or text

    def normalise(value: Any) -> Parsed:
        return Parsed(value_of(value))

    normalise.value_of = value_of  # type: ignore[attr-defined]  # never a problem: see _ColumnParser
    return normalise


def _text(value: Any) -> Parsed:
    return Parsed(clean_text(value))


_text.value_of = clean_text  # type: ignore[attr-defined]


#: At most this many distinct values are remembered per column.
_PARSE_CACHE = 1 << 20
#: A column stops remembering once it holds this many values and a chunk brings mostly new ones:
#: its values are unique (IDs, descriptions) and remembering them would only cost memory.
_UNIQUE_AFTER = 4096
_CHUNK_ROWS = 8192
_FIRST_CHUNK = 256
# Markers in a parsed column: a blank cell, a cell not parsed yet.
_BLANK = object()
_MISS = object()
# How a cell is remembered. Text, dates and numbers are their own keys: a text or a date equals
# no cell of another type, and an int equals only a float of the same value, which every parser
# reads alike. Booleans (True == 1) and blanks are keyed with their type; naive datetimes too, as a
# datetime never equals a date. Other cells are not remembered (equal aware datetimes can fall on
# different dates).
_OWN_KEY = frozenset({str, dt.date, int, float})
_TYPED_KEY = frozenset({bool, type(None), dt.datetime})
# A column whose cells are all of these types can be looked up cell by cell without a miss-match.
_PLAIN_CELLS = _OWN_KEY | {type(None), dt.datetime, dt.time, dt.timedelta}


class _ColumnParser:
    """A field's parser over a column of cells, remembering what each distinct value parsed to:
    registers repeat most values (channels, statuses, branches, dates, repeat customers), so a
    repeated cell costs one dictionary lookup made in C."""

    def __init__(self, parse: Callable[[Any], Parsed]) -> None:
        self.parse = parse
        # A parser may offer its bare value function: the value, or a Parsed only for a cell with
        # a problem (no Parsed built per good cell).
        self.value_of: Callable[[Any], Any] | None = getattr(parse, "value_of", None)
        self.clean: dict[Any, Any] = {}  # key -> value (or _BLANK) of cells without a problem
        self.flagged: dict[Any, Parsed] = {}  # key -> Parsed of cells with a problem
        self.room = _PARSE_CACHE
        # Every text parsed so far came out as itself (or blank): its value can stand for its raw
        # text, which saves a string per cell and a pass over the column.
        self.verbatim = True

    def column(self, cells: Sequence[Any]) -> tuple[list[Any], list[int], list[tuple[int, Parsed]], list[tuple[int, Any]]]:
        """The value of every cell (None when blank), the positions of blank cells, the
        (position, Parsed) of cells with a problem, and the (position, cell) of the cells that are
        not their value as typed (a text date, a number read as text, a cell with a problem)."""
        kinds = set(map(type, cells))
        texts = kinds == {str}
        if self.room == 0 and texts:
            # A column of unique texts (IDs, descriptions) remembers nothing: its texts are parsed
            # in one pass, without lookups or a search for repeats.
            missing: Sequence[int] = range(len(cells))
            parsed = self._parse_many(cells)
        else:
            plain = kinds <= _PLAIN_CELLS
            # Booleans, unhashable or unusual values handed in by a caller are taken one by one.
            values = list(map(self.clean.get, cells, itertools.repeat(_MISS))) if plain else [_MISS] * len(cells)
            missing = _positions(values, _MISS)
            parsed = self._parse_missing(cells, missing, plain) if missing else []
        if len(missing) == len(cells):  # a column of new values
            values = [value for value, _ in parsed]
        else:
            for i, (value, _) in zip(missing, parsed):
                values[i] = value
        problems = [(i, problem) for i, (_, problem) in zip(missing, parsed) if problem is not None]
        blanks = _positions(values, _BLANK)
        for i in blanks:
            values[i] = None
        if texts and self.verbatim:
            return values, blanks, problems, []  # every text is its value
        # Cells that differ from their value, or are of another type (2.0 read as 2), found in C;
        # blank cells are not kept.
        differ = map(operator.or_, map(operator.ne, cells, values), map(operator.is_not, map(type, cells), map(type, values)))
        typed = [(i, cells[i]) for i in itertools.compress(range(len(cells)), differ)]
        if blanks:
            gone = set(blanks)
            typed = [(i, cell) for i, cell in typed if i not in gone]
        if texts and self.room > 0:  # a repeated text typed otherwise than its value: one string each
            typed = [(i, sys.intern(cell)) for i, cell in typed]
        return values, blanks, problems, typed

    def _parse_missing(self, cells: Sequence[Any], missing: list[int], plain: bool) -> list[tuple[Any, Parsed | None]]:
        """(value, problem) of the cells at ``missing``, not found among the remembered ones."""
        new = list(map(cells.__getitem__, missing))
        # A value new in this chunk is parsed once however often it repeats here (texts, dates
        # and numbers: equal ones parse alike, see _OWN_KEY); other cells one by one.
        fresh = [c for c in dict.fromkeys(new) if c.__class__ in _OWN_KEY] if plain else []
        # Judged on chunks of some size: a file's last rows, or a piece's first, may be one new value
        # (and a batch's files share their parsers).
        if len(cells) >= _FIRST_CHUNK and len(fresh) > 0.9 * len(cells) and len(self.clean) >= _UNIQUE_AFTER:
            self.room = 0
        found = dict(zip(fresh, self._parse_many(fresh)))
        parsed = list(map(found.get, new)) if found else [None] * len(new)
        for k in itertools.compress(range(len(parsed)), map(operator.not_, parsed)):
            parsed[k] = self._parse(new[k])
        return parsed

    def _parse_many(self, cells: list[Any]) -> list[tuple[Any, Parsed | None]]:
        """``_parse`` of distinct cells; a column's new texts go through its bare value function
        in one pass."""
        if self.value_of is None or not all(c.__class__ is str for c in cells):
            return [self._parse(c) for c in cells]
        value_of = self.value_of
        values = [_BLANK if not c.strip() else value_of(c) for c in cells]
        out = [(value, None) if value.__class__ is not Parsed else (value.value, value) for value in values]
        if self.verbatim:
            self.verbatim = all(value is _BLANK or value is cell or value == cell for cell, value in zip(cells, values))
        if self.room > 0:
            kept = cells[:self.room]
            self.room -= len(kept)
            for cell, (value, problem) in zip(kept, out):
                if problem is None:
                    self.clean[cell] = value
                else:
                    self.flagged[cell] = problem
        return out

    def _parse(self, cell: Any) -> tuple[Any, Parsed | None]:
        kind = cell.__class__
        if kind in _OWN_KEY:
            key = cell
        elif kind in _TYPED_KEY and (kind is not dt.datetime or cell.tzinfo is None):
            key = (kind, cell)
        else:
            key = None
        if key is not None:
            value = self.clean.get(key, _MISS)
            if value is not _MISS:
                return value, None
            flagged = self.flagged.get(key)
            if flagged is not None:
                return flagged.value, flagged
        problem = None
        if is_blank(cell):
            value = _BLANK
        else:
            value = self.value_of(cell) if self.value_of is not None else self.parse(cell)
            if value.__class__ is Parsed:
                value, problem = value.value, (value if value.problem else None)
            if kind is str and (problem is not None or value != cell):
                self.verbatim = False
        if key is not None and self.room > 0:
            self.room -= 1
            if problem is None:
                self.clean[key] = value
            else:
                self.flagged[key] = problem
        return value, problem


def _positions(values: list[Any], marker: object) -> list[int]:
    """Where ``marker`` stands in ``values``; looked for first, as most chunks of a column have
    no new value and many no blank."""
    if marker not in values:
        return []
    return list(itertools.compress(range(len(values)), map(operator.is_, values, itertools.repeat(marker))))


def _chunk_records(rows: list[list[Any]], first: int, fields: list[tuple[int, str, _ColumnParser]],
                   extras: list[tuple[int, str]], source: str, sheet: str, field_cols: dict[str, str],
                   prefilled: list[int]) -> list[Record]:
    """Records of consecutive sheet rows (``first`` is the 0-based index of rows[0]); blank rows,
    footer lines and prefilled rows are left out, the sheet row of each prefilled one added to
    ``prefilled``."""
    needed = max([i for i, _, _ in fields] + [i for i, _ in extras], default=-1) + 1
    if rows and min(map(len, rows)) < needed:  # ragged rows (CSV, cells handed in): pad with blanks
        rows = [r if len(r) >= needed else list(r) + [None] * (needed - len(r)) for r in rows]
    names = [name for _, name, _ in fields]
    cells = _pick(rows, [i for i, _, _ in fields])
    parsed = [parser.column(col) for (_, _, parser), col in zip(fields, zip(*cells))] if rows else []
    values = [dict(zip(names, v)) for v in zip(*[col for col, _, _, _ in parsed])] if names else [{} for _ in rows]
    # Most rows have no cell typed otherwise than its value, no problem and no unknown column:
    # they share one empty mapping instead of a dict each (80 MiB less for 200,000 rows).
    typed: list[dict[str, Any] | None] = [None] * len(rows)
    problems: list[dict[str, Parsed] | None] = [None] * len(rows)
    for name, (_, _, flagged, kept) in zip(names, parsed):
        for i, cell in kept:
            found = typed[i]
            if found is None:
                found = typed[i] = {}
            found[name] = cell
        for i, problem in flagged:
            found = problems[i]
            if found is None:
                found = problems[i] = {}
            found[name] = problem
    extra_names = [h for _, h in extras]
    extra = [dict(zip(extra_names, c)) for c in _pick(rows, [i for i, _ in extras])] if extras else [_NOTHING] * len(rows)
    # A row with a received date is a complaint. The others (a few: blank rows, notes, incomplete
    # entries) are looked at whole, with the rows whose date is a bare number (read as an Excel
    # serial; a totals line's count reads so too); a register without the column has all looked at.
    if parsed and "received_date" in names:
        days, _, _, typed_days = parsed[names.index("received_date")]
        undated: Iterable[int] = set(_positions(days, None)).union(
            [i for i, cell in typed_days if cell.__class__ is int or cell.__class__ is float])
    else:
        undated = range(len(rows))
    data = {i for i, name, _ in fields if name in _DATA_FIELDS}
    says = {i for i, name, _ in fields if name in _SAYS_FIELDS}
    skip = {k for k in undated if _not_a_complaint(rows[k], data, says)}
    # A row with values, but none where a complaint has its own (a branch or 是否延期 filled down
    # the sheet ahead of the complaints, a formula column): no complaint, said once by validate.
    empty = [k for k in undated if k not in skip and data and all(is_blank(rows[k][i]) for i in data)]
    skip.update(empty)
    prefilled += [first + k + 1 for k in sorted(empty)]
    return [
        Record(source, sheet, first + k + 1, values[k], typed[k] or _NOTHING, problems[k] or _NOTHING, extra[k], field_cols)
        for k in range(len(rows))
        if k not in skip
    ]


def _pick(rows: list[list[Any]], idxs: list[int]) -> list[tuple[Any, ...]]:
    """The cells at ``idxs`` of every row, as tuples."""
    if len(idxs) >= 2:
        return list(map(operator.itemgetter(*idxs), rows))
    if idxs:
        return [(r[idxs[0]],) for r in rows]
    return [()] * len(rows)


def _not_a_complaint(cells: Sequence[Any], data: Collection[int] = (), says: Collection[int] = ()) -> bool:
    """True for a row (merged cells filled, no date in its received date) that holds no
    complaint: no value at all, or only a note. ``data`` are the columns of the fields whose value
    makes a complaint (ID, received date, customer, ID number, phone, description, demand),
    ``says`` those among them that hold the complaint's own words.

    A note is one text in three or more cells and nothing else (合计, or 以下空白, merged across the
    row), or a line whose first value is a note (a sign-off such as 制表人：张三 or 审核：李四, or a
    totals text such as 合计：120件 or 城南支行小计; in a column that is not the complaint's own words,
    any text begun 合计, 小计, 总计, 制表, 审核 ...) and whose other values are that text again,
    counts and amounts (120, 35件, 1,234.50元), more notes, or values of columns that say nothing
    of a complaint (a branch, a status). A row with an ID, a date, a customer or a description of
    its own is a complaint, whatever its words: "合计多扣了三次年费" is one.
    """
    at = next((i for i, v in enumerate(cells) if not is_blank(v)), -1)
    if at < 0:
        return True
    first = cells[at]
    if first.__class__ is not str:
        return False
    text = first.strip()
    starts = _is_note(text) or (at not in says and bool(_FOOTER.match(text)))
    if not starts and cells.count(first) < _NOTE_CELLS:  # most rows: a complaint's ID or name comes first
        return False
    filled = [(i, v) for i, v in enumerate(cells) if i > at and not is_blank(v)]
    if not starts:
        return len(filled) + 1 >= _NOTE_CELLS and all(v == first for _, v in filled)
    return all(v == first or i not in data or _is_tally_or_note(v) for i, v in filled)


def _is_note(text: str) -> bool:
    """A sign-off, a remark or a totals text (see _NOTE, _TOTAL)."""
    if _NOTE.match(text):
        return True
    return ("计" in text or "otal" in text or "OTAL" in text) and bool(_TOTAL.match(text))


def _is_tally_or_note(value: Any) -> bool:
    """A count or an amount (a number, or text such as 120件), or a note (审核：李四)."""
    if value.__class__ in (int, float, decimal.Decimal):
        return abs(value) < 1e9 or value != value  # a phone or an ID number typed as a number is not a count
    if value.__class__ is not str:
        return False
    text = value.strip()
    return bool(_TALLY_TEXT.match(text)) or _is_note(text)


def field_parsers(policy: Policy) -> dict[str, Callable[[Any], Parsed]]:
    """The normaliser of every canonical field under this policy."""
    parsers: dict[str, Callable[[Any], Parsed]] = {name: _text for name in FIELDS}
    for name in policy.get("fields.date_fields", ["received_date", "closed_date", "followup_date"]):
        parsers[name] = parse_date
    parsers["id_number"] = parse_id_number
    parsers["phone"] = parse_phone
    parsers["transfers"] = parse_count
    for name in policy.get("values.allowed", {}) or {}:
        if name in parsers and parsers[name] is _text:
            parsers[name] = _enum_normaliser(policy, name)
    return parsers


class ColumnParsers:
    """The parser of each field's column, for one file or every file of a batch: the branches'
    files repeat one another's channels, statuses, branches and dates, and each distinct value is
    parsed once for them all (parsers started anew in each of 300 files cost their read 13%).
    What they remember goes with them once the batch is read."""

    def __init__(self, policy: Policy) -> None:
        self._parsers = {name: _ColumnParser(parse) for name, parse in field_parsers(policy).items()}

    def __getitem__(self, field: str) -> _ColumnParser:
        return self._parsers[field]


def build_register(book: RawBook, opts: LoadOptions, parsers: ColumnParsers | None = None) -> Register:
    """Turn one opened book into a Register (header found, values normalised). The chosen sheet's
    rows are used up: the book reads them again if asked. ``parsers``: those of the batch the
    book is read in (a file's own when not given)."""
    parsers = ColumnParsers(opts.policy) if parsers is None else parsers
    try:
        return _build_register(book, opts, parsers)
    except ReadWhole:  # the sheet's pieces could not be used: the book now reads it whole
        return _build_register(book, opts, parsers)


def _build_register(book: RawBook, opts: LoadOptions, parsers: ColumnParsers) -> Register:
    matcher = opts.matcher
    sheet, header_idx, mapping = _choose_sheet(book, opts)
    sheet = book.take(sheet.name)
    rows = sheet.read_to(header_idx + 1)
    header_cells = rows[header_idx]
    columns = [
        Column(i, column_letter(i), clean_text(h) or "", mapping.get(i))
        for i, h in enumerate(header_cells)
        if not is_blank(h) or i in mapping
    ]
    # Unknown columns that share a header keep their cells apart (see Column.key).
    headers_seen: set[str] = set()
    for i, c in enumerate(columns):
        if not c.field:
            if c.header in headers_seen:
                columns[i] = c = Column(c.index, c.letter, c.header, None, f"{c.header}@{c.letter}")
            headers_seen.add(c.header)
    # A second column naming a field already read, or a numbered or spare variant of its name
    # (联系电话2 beside 联系电话): kept as an unknown column, and reported.
    duplicates = _second_columns(columns, matcher.shadowed(header_cells, mapping))
    near_duplicates = _second_columns(columns, matcher.near_duplicates(header_cells, mapping))
    notes: list[str] = []
    seen = sheet.merged  # a sheet read in pieces has them with its last piece (checked below)
    merged = _fill_merged(rows, seen, header_idx + 1)
    if merged:
        notes.append(f"merged_cells:{merged}")
    field_cols = {c.field: c.letter for c in columns if c.field}
    fields = [(c.index, c.field, parsers[c.field]) for c in columns if c.field]
    extras = [(c.index, c.extra_key) for c in columns if not c.field]
    records: list[Record] = []
    prefilled: list[int] = []
    # Column by column in chunks: the per-cell work runs in C (map, zip, dict) and memory for the
    # intermediate columns stays bounded however long the sheet is. A sheet read in pieces grows
    # a piece at a time as the chunks ask for rows, while the next ones are parsed on the other core.
    # The first chunk is small: its distinct values are parsed one by one, later chunks find them.
    start, size = header_idx + 1, _FIRST_CHUNK
    with collector_paused():  # millions of new dicts, no cycles: the collector would rescan them all
        while True:
            # The rows read so far, at least one more: a piece is normalised as soon as it is
            # parsed, while the second core parses the next ones (asking for a whole chunk's rows
            # left this core idle until several pieces had come).
            end = min(start + size, len(sheet.read_to(start + 1)))
            if end <= start:
                break
            records += _chunk_records(rows[start:end], start, fields, extras, book.path, sheet.name, field_cols, prefilled)
            # The reader's rows go as soon as their records exist: the records fill the memory they
            # held, and the peak stays near the larger of the two instead of their sum.
            rows[start:end] = itertools.repeat(None, end - start)
            start, size = end, _CHUNK_ROWS
    if sheet.merged is not seen and _to_fill(sheet.merged, header_idx + 1):
        raise ReadWhole(f"sheet {sheet.name!r} has merged cells among its rows")  # to be filled before normalising
    return Register(book.path, sheet.name, header_idx + 1, columns, records, book.file_format, notes, duplicates,
                    near_duplicates, prefilled)


def _second_columns(columns: list[Column], fields: dict[int, str]) -> list[Column]:
    """The columns at the indexes of ``fields`` (a field's second column, read as unknown), each
    with the field it would have supplied, for validate to report."""
    return [Column(c.index, c.letter, c.header, fields[c.index]) for c in columns if c.index in fields]


def register_from_rows(rows: list[list[Any]], sheet_name: str, opts: LoadOptions, source: str = "",
                       merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
                       file_format: str = "xlsx") -> Register:
    """A Register from one sheet's cells already in memory (row 0 is Excel row 1), e.g. the values
    the Excel add-in read from the open workbook: the same header search, mapping and normalising
    as for a file. ``merged`` holds merged ranges, 0-based inclusive, as in RawSheet."""
    sheet = RawSheet(sheet_name, [list(r) for r in rows], list(merged or []))
    book = RawBook(source or sheet_name, file_format, [sheet_name], lambda _n: sheet)
    return build_register(book, LoadOptions(opts.policy, sheet_name, opts.manual_map))


def load_register(path: str | Path, opts: LoadOptions, parsers: ColumnParsers | None = None) -> Register:
    """Read one register file (``parsers``: those of the batch it is read in)."""
    return build_register(open_book(path, _max_mb(opts)), opts, parsers)


def _without_frames(exc: InputError) -> InputError:
    """``exc`` and the errors it was raised from, without their tracebacks."""
    seen: BaseException | None = exc
    done: set[int] = set()
    while seen is not None and id(seen) not in done:
        done.add(id(seen))
        seen.__traceback__ = None
        seen = seen.__cause__ or seen.__context__
    return exc


def _max_mb(opts: LoadOptions) -> float:
    return float(opts.policy.get("register.max_file_mb", 500))


def load_registers(paths: list[str] | tuple[str, ...], opts: LoadOptions, keep_going: bool = False,
                   progress: Callable[[Path], None] | None = None, files: Sequence[Path] | None = None) -> LoadResult:
    """Read every register that ``paths`` names (files, folders, globs; ``files``: those paths
    expanded already, so that a large share is not listed twice).

    With ``keep_going`` a file that cannot be used is recorded in ``failures`` and the batch goes
    on; otherwise the first such file raises its InputError. ``progress`` is called per file.
    """
    registers: list[Register] = []
    failures: list[InputError] = []
    parsers = ColumnParsers(opts.policy)
    todo = expand_paths(paths) if files is None else list(files)
    books = books_in_turn(todo, _max_mb(opts), functools.partial(_sheets_to_look_at, opts=opts))
    with contextlib.closing(books):  # the second thread stops with the batch, however it ends
        for path, book in zip(todo, books):
            if progress is not None:
                progress(path)
            try:
                if isinstance(book, BaseException):  # what went wrong with the file, said in its turn
                    raise book
                registers.append(build_register(book, opts, parsers))
            except InputError as exc:
                if not keep_going:
                    raise
                # Said as one line: the frames the error was raised in (the file's rows) can go.
                failures.append(_without_frames(exc))
    if not registers and not failures:
        raise InputError(", ".join(paths), "in_no_register_files")
    return LoadResult(registers, failures)
