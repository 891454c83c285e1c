"""Opening register files: which files a path names, what kind of file each really is, and its
cells as plain rows. Bad files become one-line ``InputError``s, never tracebacks."""

from __future__ import annotations

import codecs
import csv
import glob
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

REGISTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# A workbook zip that inflates past this, or by more than this ratio, is refused as a zip bomb.
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_ZIP_RATIO = 200


@dataclass
class RawSheet:
    """A sheet's cells as rows (row 0 is Excel row 1), plus its merged ranges (0-based, inclusive)."""

    name: str
    rows: list[list[Any]]
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    visible: bool = True


@dataclass
class RawBook:
    path: str
    file_format: str  # xlsx, xlsm, xls, csv
    sheet_names: list[str]
    _loader: Any = None
    _cache: dict[str, RawSheet] = field(default_factory=dict)

    def sheet(self, name: str) -> RawSheet:
        """Rows of one sheet, read on first use."""
        if name not in self._cache:
            self._cache[name] = self._loader(name)
        return self._cache[name]


def expand_paths(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """Files named directly, register files inside folders (recursively) and glob matches.

    Excel's lock files (~$book.xlsx) and hidden files inside folders are skipped; a path that
    names nothing is an InputError.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append(p)

    for entry in paths:
        p = Path(entry)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                name = child.name
                if child.is_file() and name.lower().endswith(REGISTER_SUFFIXES) and not name.startswith(("~$", ".")):
                    add(child)
        elif p.exists():
            add(p)
        elif any(ch in entry for ch in "*?["):
            matches = sorted(glob.glob(entry, recursive=True))
            if not matches:
                raise InputError(entry, "no file matches this pattern")
            for m in matches:
                if Path(m).is_file():
                    add(Path(m))
        else:
            raise InputError(entry, "no such file or folder")
    return found


def open_book(path: str | Path, max_mb: float = 500) -> RawBook:
    """Open a register file after checking what it really is."""
    p = Path(path)
    name = str(p)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    if p.is_dir():
        raise InputError(name, "is a folder, not a file")
    if size == 0:
        raise InputError(name, "empty file (0 bytes)")
    if size > max_mb * 1024**2:
        raise InputError(name, f"file is {size / 1024**2:.0f} MiB, over the {max_mb:g} MiB limit (register.max_file_mb)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as exc:
        raise InputError(name, f"cannot be read ({exc.strerror or exc})") from None
    suffix = p.suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        return _open_zip_workbook(p, suffix)
    if head.startswith(_OLE_MAGIC):
        return _open_ole(p)
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml", b"mime-version")):
        raise InputError(name, "is a web page or XML saved with a spreadsheet name, not a workbook: open it in Excel and save as .xlsx")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raise InputError(name, f"is not a real {suffix} workbook (damaged, or another kind of file renamed)")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(name, "is not a spreadsheet or a CSV text file")
    return _open_csv(p)


def _open_zip_workbook(p: Path, suffix: str) -> RawBook:
    name = str(p)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
    except zipfile.BadZipFile:
        raise InputError(name, "damaged workbook (the file is truncated or not a valid zip)") from None
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        if "content.xml" in names:
            raise InputError(name, "is an OpenDocument spreadsheet: save it as .xlsx")
        raise InputError(name, "is a zip file but not an Excel workbook")
    if total > MAX_UNZIPPED_BYTES or (total > 50 * 1024**2 and total / packed > MAX_ZIP_RATIO):
        raise InputError(name, f"refused: it would inflate to {total / 1024**2:.0f} MiB (a zip bomb or not a register)")
    fmt = "xlsm" if suffix == ".xlsm" or "xl/vbaProject.bin" in names else "xlsx"
    return _calamine_book(p, fmt)


def _open_ole(p: Path) -> RawBook:
    data = p.read_bytes()
    # An encrypted xlsx is an OLE container holding an "EncryptedPackage" stream (UTF-16 name).
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        raise InputError(str(p), "is password-protected: open it in Excel, remove the password (文件→信息→保护工作簿), save and try again")
    return _calamine_book(p, "xls")


def _calamine_book(p: Path, fmt: str) -> RawBook:
    from python_calamine import CalamineWorkbook

    name = str(p)
    try:
        wb = CalamineWorkbook.from_path(str(p))
        sheet_names = list(wb.sheet_names)
        visible = {}
        for meta in getattr(wb, "sheets_metadata", []) or []:
            visible[meta.name] = "visible" in str(getattr(meta, "visible", "visible")).lower()
    except Exception as exc:  # calamine raises several exception types for damaged files
        raise InputError(name, f"cannot be read as a {fmt} workbook ({_short(exc)})") from exc

    def load(sheet_name: str) -> RawSheet:
        try:
            ws = wb.get_sheet_by_name(sheet_name)
            rows = ws.to_python(skip_empty_area=False)
            merged = list(getattr(ws, "merged_cell_ranges", None) or [])
        except Exception as exc:
            raise InputError(name, f"sheet {sheet_name!r} cannot be read ({_short(exc)})") from exc
        return RawSheet(sheet_name, rows, merged, visible.get(sheet_name, True))

    return RawBook(name, fmt, sheet_names, load)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def decode_csv(data: bytes, name: str) -> tuple[str, str]:
    """Text and encoding of a CSV: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError(name, "CSV in an unknown text encoding (not UTF-8 or GB18030): save it from Excel as 'CSV UTF-8'")


def _open_csv(p: Path) -> RawBook:
    name = str(p)
    raw = p.read_bytes()
    text, _encoding = decode_csv(raw, name)
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(min(2**31 - 1, 64 * 1024**2))
    try:
        rows: list[list[Any]] = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise InputError(name, f"CSV cannot be parsed ({exc})") from None
    sheet = RawSheet(p.stem, rows)
    return RawBook(name, "csv", [sheet.name], lambda _n: sheet)

