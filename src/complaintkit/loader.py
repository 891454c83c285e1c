"""From a file to a Register: pick the register sheet, find the header row under titles and
notes, map headers to canonical fields, fill merged cells, and normalise every value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import InputError
from .fields import FIELDS, HeaderMatcher, column_letter
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
from .sources import RawBook, RawSheet, expand_paths, open_book

_FOOTER = re.compile(r"^(制表|填表|审核|负责人|复核|注[:：]|说明[:：]|合计|总计|小计|total|note)", re.I)


@dataclass
class LoadOptions:
    """How to read registers: the policy, a forced sheet name, and manual header mappings."""

    policy: Policy
    sheet: str | None = None
    manual_map: dict[str, str] | None = None


@dataclass
class LoadResult:
    """Registers read from a batch, and the files that could not be used (the batch goes on)."""

    registers: list[Register]
    failures: list[InputError]


def _header_candidates(rows: list[list[Any]], matcher: HeaderMatcher, limit: int) -> tuple[int, dict[int, str]]:
    best_row, best_map = -1, {}
    for r, cells in enumerate(rows[:limit]):
        mapping = matcher.map_row(cells)
        if len(mapping) > len(best_map):
            best_row, best_map = r, mapping
    return best_row, best_map


def _choose_sheet(book: RawBook, opts: LoadOptions, matcher: HeaderMatcher) -> tuple[RawSheet, int, dict[int, str]]:
    limit = int(opts.policy.get("register.header_search_rows", 30))
    need = int(opts.policy.get("register.min_header_fields", 3))
    if opts.sheet is not None:
        if opts.sheet not in book.sheet_names:
            raise InputError(book.path, f"has no sheet {opts.sheet!r} (sheets: {', '.join(book.sheet_names)})")
        names = [opts.sheet]
    else:
        skip = [w.lower() for w in opts.policy.get("register.skip_sheet_words", [])]
        names = [n for n in book.sheet_names if not any(w in n.lower() for w in skip)] or list(book.sheet_names)
    best: tuple[RawSheet, int, dict[int, str]] | None = None
    for name in names:
        sheet = book.sheet(name)
        if not sheet.visible and opts.sheet is None and len(names) > 1:
            continue
        row, mapping = _header_candidates(sheet.rows, matcher, limit)
        if best is None or len(mapping) > len(best[2]):
            best = (sheet, row, mapping)
    if best is None or len(best[2]) < need:
        if all(not any(not is_blank(c) for c in row) for n in names for row in book.sheet(n).rows):
            raise InputError(book.path, "the workbook has no data (every sheet is empty)")
        where = f"sheet {opts.sheet!r}" if opts.sheet else "any sheet"
        raise InputError(
            book.path,
            f"no header row found in the first {limit} rows of {where} (looked for headers such as "
            f"投诉编号, 受理日期, 客户姓名, 投诉内容; name others with --map 'HEADER=field')",
        )
    return best


def _fill_merged(rows: list[list[Any]], merged: list, first_data_row: int) -> int:
    """Copy each merged range's value into all its cells below the header; returns how many ranges."""
    filled = 0
    for (r0, c0), (r1, c1) in merged:
        if r1 < first_data_row or (r0 == r1 and c0 == c1):
            continue
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

    def normalise(value: Any) -> Parsed:
        text = clean_text(value)
        if text is None:
            return Parsed(None)
        key = value_key(text)
        return Parsed(allowed.get(key) or aliases.get(key) or text)

    return normalise


def _text(value: Any) -> Parsed:
    return Parsed(clean_text(value))


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


def build_register(book: RawBook, opts: LoadOptions) -> Register:
    """Turn one opened book into a Register (header found, values normalised)."""
    matcher = HeaderMatcher.from_policy(opts.policy, opts.manual_map)
    sheet, header_idx, mapping = _choose_sheet(book, opts, matcher)
    rows = sheet.rows
    header_cells = rows[header_idx]
    columns = [
        Column(i, column_letter(i), clean_text(h) or "", mapping.get(i))
        for i, h in enumerate(header_cells)
        if not is_blank(h) or i in mapping
    ]
    notes: list[str] = []
    merged = _fill_merged(rows, sheet.merged, header_idx + 1)
    if merged:
        notes.append(f"merged_cells:{merged}")
    field_cols = {c.field: c.letter for c in columns if c.field}
    parsers = field_parsers(opts.policy)
    mapped = [(c.index, c.field, parsers[c.field]) for c in columns if c.field]
    extras = [(c.index, c.header) for c in columns if not c.field]
    records: list[Record] = []
    source = book.path
    for r in range(header_idx + 1, len(rows)):
        cells = rows[r]
        filled = [v for v in cells if not is_blank(v)]
        if not filled:
            continue
        if len(filled) == 1 and isinstance(filled[0], str) and _FOOTER.match(filled[0].strip()):
            continue
        values: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        problems: dict[str, Parsed] = {}
        width = len(cells)
        for idx, name, parse in mapped:
            cell = cells[idx] if idx < width else None
            if is_blank(cell):
                values[name] = None
                continue
            raw[name] = cell
            parsed = parse(cell)
            values[name] = parsed.value
            if parsed.problem:
                problems[name] = parsed
        extra = {h: (cells[i] if i < width else None) for i, h in extras}
        records.append(Record(source, sheet.name, r + 1, values, raw, problems, extra, field_cols))
    return Register(source, sheet.name, header_idx + 1, columns, records, book.file_format, notes)


def register_from_rows(rows: list[list[Any]], sheet_name: str, opts: LoadOptions, source: str = "",
                       merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
                       file_format: str = "xlsx") -> Register:
    """A Register from one sheet's cells already in memory (row 0 is Excel row 1), e.g. the values
    the Excel add-in read from the open workbook: the same header search, mapping and normalising
    as for a file. ``merged`` holds merged ranges, 0-based inclusive, as in RawSheet."""
    sheet = RawSheet(sheet_name, [list(r) for r in rows], list(merged or []))
    book = RawBook(source or sheet_name, file_format, [sheet_name], lambda _n: sheet)
    return build_register(book, LoadOptions(opts.policy, sheet_name, opts.manual_map))


def load_register(path: str | Path, opts: LoadOptions) -> Register:
    """Read one register file."""
    max_mb = float(opts.policy.get("register.max_file_mb", 500))
    return build_register(open_book(path, max_mb), opts)


def load_registers(paths: list[str] | tuple[str, ...], opts: LoadOptions, keep_going: bool = False,
                   progress: Callable[[Path], None] | None = None) -> LoadResult:
    """Read every register that ``paths`` names (files, folders, globs).

    With ``keep_going`` a file that cannot be used is recorded in ``failures`` and the batch goes
    on; otherwise the first such file raises its InputError. ``progress`` is called per file.
    """
    registers: list[Register] = []
    failures: list[InputError] = []
    for path in expand_paths(paths):
        if progress is not None:
            progress(path)
        try:
            registers.append(load_register(path, opts))
        except InputError as exc:
            if not keep_going:
                raise
            failures.append(exc)
    if not registers and not failures:
        raise InputError(", ".join(paths), "no register files (.xlsx, .xlsm, .xls, .csv) found")
    return LoadResult(registers, failures)
