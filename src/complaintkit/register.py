"""The register model: records with canonical fields, each remembering its file, sheet and row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .normalize import Parsed


@dataclass(frozen=True)
class Column:
    """One column of the source sheet: position, header text as found, canonical field (or None)."""

    index: int
    letter: str
    header: str
    field: str | None
    #: the key of an unknown column's cells in ``Record.extra``: its header, made unique when two
    #: unknown columns share one (the second 联系电话 is "联系电话@N"), so neither is lost.
    key: str = ""

    @property
    def extra_key(self) -> str:
        return self.key or self.header


@dataclass(slots=True)  # a million records: no per-record __dict__
class Record:
    """One complaint row.

    ``values`` holds normalised canonical values (``date`` for date fields, ``int`` for transfers,
    ``str`` otherwise, None when blank or unusable); ``raw`` the cells as typed where they are not
    their value (a text date, a number for a text field, a cell with a problem: ``cell`` reads
    any field as typed); ``problems`` the normalisation problems by field; ``extra`` the unknown
    columns, passed through untouched. The three mappings are read-only.
    """

    source: str
    sheet: str
    row: int
    values: dict[str, Any]
    raw: Mapping[str, Any]
    problems: Mapping[str, Parsed] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    #: A key unique across a batch: (file, sheet, row). Made once: dedupe, risk and the report
    #: look records up by it millions of times.
    key: tuple[str, str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = (self.source, self.sheet, self.row)

    def cell(self, name: str) -> Any:
        """The cell of a canonical field as it was typed (None when blank)."""
        return self.raw[name] if name in self.raw else self.values.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The normalised value of a canonical field."""
        value = self.values.get(name)
        return default if value is None else value

    @property
    def id(self) -> str:
        """The complaint ID as text ('' when missing)."""
        return self.values.get("complaint_id") or ""

    def column_of(self, name: str) -> str:
        """Excel column letter of a canonical field in this record's sheet ('' when absent)."""
        return self.columns.get(name, "")


@dataclass
class Register:
    """A register sheet as read: where it came from, its columns and its records.

    ``duplicate_columns`` are the columns whose header names a field that an earlier column
    supplies ("联系电话" twice, or "联系电话" and "手机号码"): they are in ``columns`` as unknown
    columns (their cells pass through in ``extra``), and here with the field they name, so that
    validate can say that they were not read. ``near_duplicate_columns`` are the same for headers
    that are a numbered or spare variant of a field's name ("联系电话2", "备用电话" beside
    "联系电话"; see ``HeaderMatcher.variant_of``). ``prefilled_rows`` are the sheet rows that hold
    values only in columns filled ahead of the complaints (a branch or 是否延期 filled down, a
    formula column) and none in a field that makes a complaint: not read as complaints, and named
    by validate.
    """

    source: str
    sheet: str
    header_row: int
    columns: list[Column]
    records: list[Record]
    file_format: str = "xlsx"
    notes: list[str] = field(default_factory=list)
    duplicate_columns: list[Column] = field(default_factory=list)
    near_duplicate_columns: list[Column] = field(default_factory=list)
    prefilled_rows: list[int] = field(default_factory=list)

    @property
    def field_columns(self) -> dict[str, str]:
        """Canonical field -> Excel column letter."""
        return {c.field: c.letter for c in self.columns if c.field}

    def column_of_field(self, name: str) -> Column | None:
        """The column read as canonical field ``name`` (None when the register has none)."""
        return next((c for c in self.columns if c.field == name), None)

    @property
    def last_column(self) -> int:
        """0-based index of the last column that has a header."""
        return max((c.index for c in self.columns), default=-1)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def all_records(registers: Iterable[Register]) -> list[Record]:
    """Every record of several registers, in file order: a folder is checked as one register."""
    return [rec for reg in registers for rec in reg.records]


def earlier_records(registers: Sequence[Register], history: Sequence[Register]) -> list[Record]:
    """The records of ``history`` that are not also in ``registers``: a file given both as current
    and as history is current only (it must not be its own earlier complaint)."""
    if not history:
        return []
    current = {r.key for r in all_records(registers)}
    return [r for r in all_records(history) if r.key not in current]
