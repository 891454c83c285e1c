"""Opening register files: which files a path names, what kind of file each really is, and its
cells as plain rows. Bad files become one-line ``InputError``s, never tracebacks."""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import fnmatch
import functools
import glob
import html
import io
import os
import posixpath
import re
import stat
import struct
import sys
import tempfile
import threading
import zipfile
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .collector import collector_paused
from .errors import InputError
from .fields import EXCEL_COLUMNS, EXCEL_ROWS
from .messages import Text, register_messages
from .xlsx_pieces import PIECE_MIN, Piece, ReadWhole, piece_size, quick_handoffs, read_pieces, split_sheet, worth_cutting

register_messages({
    "in_no_match": ("没有文件符合这个通配符", "no file matches this pattern"),
    "in_no_such_path": ("找不到这个文件或文件夹", "no such file or folder"),
    "in_no_such_file": ("找不到这个文件", "no such file"),
    "in_permission": ("没有权限打开（文件是否正在其他程序中打开，或没有共享给您？）",
                      "permission denied (is it open in another program, or not shared with you?)"),
    "in_cannot_open": ("无法打开（{detail}）", "cannot be opened ({detail})"),
    "in_cannot_read": ("无法读取（{detail}）", "cannot be read ({detail})"),
    "in_is_folder": ("这是文件夹，不是文件", "is a folder, not a file"),
    "in_not_regular_file": ("不是普通文件（是管道或设备）", "is not a regular file (a pipe or a device)"),
    "in_empty_file": ("文件是空的（0 字节）", "empty file (0 bytes)"),
    "in_file_too_big": ("文件有 {size_mb:.0f} MiB，超过上限 {limit_mb:g} MiB（配置项 register.max_file_mb）",
                        "file is {size_mb:.0f} MiB, over the {limit_mb:g} MiB limit (register.max_file_mb)"),
    "in_web_page": ("是网页或 XML 文件，只是起了表格的文件名，不是工作簿：请在 Excel 中打开，另存为 .xlsx",
                    "is a web page or XML saved with a spreadsheet name, not a workbook: open it in Excel and save as .xlsx"),
    "in_not_real_workbook": ("不是真正的 {suffix} 工作簿（文件已损坏，或是别的文件改了扩展名）",
                             "is not a real {suffix} workbook (damaged, or another kind of file renamed)"),
    "in_not_spreadsheet": ("既不是表格文件，也不是 CSV 文本文件", "is not a spreadsheet or a CSV text file"),
    # A reader's failure: what could not be read ({what}), and why ({detail}, a message or the reader's own text).
    "in_read_failed": ("{what}：{detail}", "{what} ({detail})"),
    "in_read_no_memory": ("{what}：内存不足", "{what}: not enough memory"),
    "in_as_workbook": ("无法作为 {fmt} 工作簿读取", "cannot be read as an {fmt} workbook"),
    "in_sheet_unreadable": ("工作表“{sheet}”无法读取", "sheet {sheet!r} cannot be read"),
    "in_password_reason": ("文件设有密码，请在 Excel 中打开，去掉密码（文件→信息→保护工作簿）后保存，再试一次",
                           "it is password-protected: open it in Excel, remove the password (文件→信息→保护工作簿), save and try again"),
    "in_part_inflates": ("其中一部分解压后超过标明的大小：可能是压缩炸弹，或文件已损坏",
                         "a part inflates past its stated size: a zip bomb or a damaged file"),
    "in_xml_entities": ("其中的 XML 声明了实体，已拒绝读取（可能是实体扩展攻击，或文件已损坏）",
                        "its XML declares entities: refused (an entity-expansion attack or a damaged file)"),
    "in_reader_stopped": ("文件已损坏：读取时遇到前后矛盾的数据，无法继续", "the file is damaged: the reader stopped on inconsistent data"),
    "in_xml_damaged": ("其中的 XML 已损坏", "its XML is damaged"),
    "in_zip_damaged": ("其压缩结构已损坏", "its zip structure is damaged"),
    "in_merged_overlap": ("工作表“{sheet}”的合并单元格互相重叠（文件已损坏）：请在 Excel 中取消合并后保存",
                          "sheet {sheet!r} declares overlapping merged cells (a damaged file): unmerge them in Excel and save"),
    "in_part_mismatch": ("工作簿已损坏：其中一部分与标明的大小或校验值不符（可能是压缩炸弹，或文件已损坏）",
                         "damaged workbook: a part does not match its stated size or checksum (a zip bomb or a damaged file)"),
    "in_far_cell": ("{sheet}的单元格 {ref} 有值，远在台账范围之外：读取它要用 {cells:,} 个单元格（上限 {limit:,}）。"
                    "请在 Excel 中按 Ctrl+End 找到它，删除台账以外的行和列，保存后再试一次",
                    "{sheet} has a value in cell {ref}, far outside the register: reading it would take {cells:,} cells "
                    "(limit {limit:,}). In Excel press Ctrl+End to find it, delete the rows and columns after "
                    "the register, save and try again"),
    "in_sheet_named": ("工作表“{sheet}”", "sheet {sheet!r}"),
    "in_part_named": ("工作簿的部件 {part}（读取工作表“{sheet}”时检查）", "the workbook's part {part} (checked to read sheet {sheet!r})"),
    "in_a_sheet": ("有一个工作表", "a sheet"),
    "in_shared_strings": ("工作簿已损坏：在 {size:,} 字节中声称有 {count:,} 个共享字符串（上限 {limit:,}）",
                          "damaged workbook: it announces {count:,} shared strings in {size:,} bytes (limit {limit:,})"),
    "in_sheet_declares": ("工作簿已损坏：有一个工作表声称有 {rows:,} × {cols:,} 个单元格（上限 {limit:,}）",
                          "damaged workbook: a sheet declares {rows:,} x {cols:,} cells (limit {limit:,})"),
    "in_too_many_parts": ("已拒绝：压缩包里有超过 {limit:,} 个部分（不是台账）", "refused: the zip holds more than {limit:,} parts (not a register)"),
    "in_truncated_zip": ("工作簿已损坏（文件不完整，或不是有效的 zip 压缩文件）", "damaged workbook (the file is truncated or not a valid zip)"),
    "in_xlsb": ("是 Excel 二进制工作簿（.xlsb）：请在 Excel 中打开，另存为 .xlsx",
                "is an Excel binary workbook (.xlsb): open it in Excel and save as .xlsx"),
    "in_opendocument": ("是 OpenDocument 电子表格：请另存为 .xlsx", "is an OpenDocument spreadsheet: save it as .xlsx"),
    "in_zip_not_excel": ("是 zip 压缩文件，不是 Excel 工作簿", "is a zip file but not an Excel workbook"),
    "in_zip_bomb": ("已拒绝：解压后会有 {size_mb:.0f} MiB（可能是压缩炸弹，或不是台账）",
                    "refused: it would inflate to {size_mb:.0f} MiB (a zip bomb or not a register)"),
    "in_ole_damaged": ("Office 文件已损坏（内部目录前后矛盾）", "damaged Office file (its internal directory is inconsistent)"),
    "in_password": ("文件设有密码：请在 Excel 中打开，去掉密码（文件→信息→保护工作簿）后保存，再试一次",
                    "is password-protected: open it in Excel, remove the password (文件→信息→保护工作簿), save and try again"),
    "in_word": ("是 Word 文档，不是 Excel 工作簿", "is a Word document, not an Excel workbook"),
    "in_powerpoint": ("是 PowerPoint 文件，不是 Excel 工作簿", "is a PowerPoint file, not an Excel workbook"),
    "in_numbers": ("是 Apple Numbers 文件：请在 Numbers 中导出为 Excel（.xlsx）", "is an Apple Numbers file: export it to Excel (.xlsx) from Numbers"),
    "in_wps": ("是 WPS 表格文件（.et），读不了：请在 WPS 中打开，另存为 .xlsx", "is a WPS spreadsheet (.et) that cannot be read: open it in WPS and save as .xlsx"),
    "in_office_not_excel": ("是 Office 文件，但不是 Excel 工作簿", "is an Office file but not an Excel workbook"),
    "in_unknown_encoding": ("CSV 文件的文字编码无法识别（不是 UTF-8 或 GB18030）：请在 Excel 中另存为“CSV UTF-8(逗号分隔)”",
                            "CSV in an unknown text encoding (not UTF-8 or GB18030): save it from Excel as 'CSV UTF-8'"),
    "in_garbled_encoding": ("CSV 文件的文字编码无法识别（按 GB18030 读出来是乱码，可能是繁体 Big5 或日文 Shift-JIS）："
                            "请在 Excel 中另存为“CSV UTF-8(逗号分隔)”",
                            "CSV in an unknown text encoding (read as GB18030 it is garbled: Big5 or Shift-JIS?): "
                            "save it from Excel as 'CSV UTF-8'"),
    "in_csv_unparsable": ("CSV 无法解析（{detail}）", "CSV cannot be parsed ({detail})"),
})

REGISTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
#: Spreadsheets a folder may hold that cannot be read as they are (Excel binary, WPS, OpenDocument,
#: Numbers): taken from folders all the same, so each is reported with what to do instead of
#: being passed over without a word.
OTHER_SPREADSHEET_SUFFIXES = (".xlsb", ".et", ".ods", ".numbers")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# A workbook zip that inflates past this, or by more than this ratio, is refused as a zip bomb.
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_ZIP_RATIO = 200


class RawSheet:
    """A sheet's cells as rows (row 0 is Excel row 1), plus its merged ranges (0-based, inclusive).

    A large xlsx sheet arrives in pieces (see ``xlsx_pieces``): ``rows`` reads it to its end
    first; the loader takes the rows as they come with ``head`` and ``read_to``, normalising each
    piece while the next ones are parsed. Its merged ranges come with the last piece. Whatever the
    pieces cannot serve is read whole (``_read_whole``)."""

    def __init__(self, name: str, rows: list[list[Any]], merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
                 visible: bool = True, more: Iterator[Piece] | None = None, whole: Callable[[], RawSheet] | None = None,
                 clip: Callable[[list, int, int], list] | None = None) -> None:
        self.name = name
        self.merged = merged if merged is not None else []
        self.visible = visible
        if more is not None and whole is None:
            raise ValueError("a sheet read in pieces needs a whole read to fall back on")
        self._rows = rows
        self._more = more
        self._whole = whole  # the sheet read whole, when its pieces cannot be used
        self._clip = clip  # merged ranges cut to the rows and columns read
        self._width = 0
        self._merged: list = []  # as the last piece gave them, cut once every row is read

    @property
    def complete(self) -> bool:
        """True once every row has been read."""
        return self._more is None

    @property
    def rows(self) -> list[list[Any]]:
        """Every row, each as long as the longest (as reading the whole sheet gives them)."""
        if self._more is not None:
            try:
                self.read_to(None)
            except ReadWhole:
                self._read_whole()
            width = max(map(len, self._rows), default=0)
            if self._rows and min(map(len, self._rows)) < width:
                for row in self._rows:
                    if len(row) < width:
                        row += [""] * (width - len(row))
        return self._rows

    def head(self, n: int) -> list[list[Any]]:
        """The first ``n`` rows (fewer when the sheet is shorter)."""
        try:
            self.read_to(n)
        except ReadWhole:
            self._read_whole()
        return self._rows[:n]

    def stop(self) -> None:
        """Stop reading pieces (the thread that parses them ends, and the pieces it holds go); the
        rows read so far stay, and reading past them reads the sheet whole."""
        more = self._more
        if more is not None and more is not _WHOLE_FROM_HERE:
            self._more = _WHOLE_FROM_HERE
            getattr(more, "close", lambda: None)()

    def read_to(self, n: int | None) -> list[list[Any]]:
        """The rows read so far, reading pieces until there are at least ``n`` (all when None).
        The list grows in place; rows of different pieces may differ in length. Raises ReadWhole
        when the pieces cannot be used (a piece goes back to an earlier row, see xlsx_pieces), and
        on every later call that needs more rows."""
        rows = self._rows
        while self._more is not None and (n is None or len(rows) < n):
            if self._more is _WHOLE_FROM_HERE:
                raise ReadWhole(f"sheet {self.name!r}: read whole from row {len(rows) + 1}")
            try:
                piece = next(self._more, None)
            except ReadWhole:
                self._more = _WHOLE_FROM_HERE  # the pieces have ended: what is left is not in them
                raise
            if piece is None:
                self._more = None
                if self._clip is not None:
                    self.merged = self._clip(self._merged, len(rows), self._width)
                break
            if piece.merged:
                self._merged = piece.merged
            if not piece.rows:
                continue
            if piece.first < len(rows):
                self.stop()
                raise ReadWhole(f"sheet {self.name!r}: a piece goes back to row {piece.first + 1}")
            rows.extend([] for _ in range(piece.first - len(rows)))
            rows += piece.rows if not piece.left else [[""] * piece.left + r for r in piece.rows]
            self._width = max(self._width, piece.left + max(map(len, piece.rows)))
        return rows

    def _read_whole(self) -> None:
        """The sheet read whole, in place of the pieces that could not serve."""
        assert self._whole is not None  # a sheet with pieces has one (see __init__)
        whole = self._whole()
        self._rows, self.merged, self._more = whole.rows, whole.merged, None


class _PiecesStopped(Iterator[Piece]):
    """``RawSheet._more`` of a sheet whose pieces stopped before its end: more rows need a whole
    read. ``read_to`` says so with the row; anything else asking it for a piece is told too,
    rather than given the end of the sheet."""

    def __next__(self) -> Piece:
        raise ReadWhole("the sheet's pieces stopped before its end")


_WHOLE_FROM_HERE: Iterator[Piece] = _PiecesStopped()


@dataclass
class RawBook:
    path: str
    file_format: str  # xlsx, xlsm, xls, csv
    sheet_names: list[str]
    _loader: Any = None
    _cache: dict[str, RawSheet] = field(default_factory=dict)
    #: Starts parsing sheets in a SheetsAhead's thread and returns their names (workbooks only).
    _parse_ahead: Callable[[Sequence[str], "SheetsAhead"], list[str]] | None = None
    _ahead: list[str] = field(default_factory=list)

    def parse_ahead(self, names: Sequence[str], ahead: "SheetsAhead") -> None:
        """Start parsing the sheets ``names`` in ``ahead``'s thread, those a whole read serves
        (a sheet read in pieces has a thread of its own), each guarded first; ``sheet`` then
        takes the parsed sheet. A sheet the guard refuses is left to ``sheet``, which says why."""
        if self._parse_ahead is not None:
            self._ahead = self._parse_ahead(names, ahead)

    def gather(self) -> None:
        """The sheets parsed ahead, as rows: done before the thread parses the next file's, whose
        parse holds the lock that keeps the reader's messages off the terminal."""
        for name in self._ahead:
            self.sheet(name)
        self._ahead = []

    def sheet(self, name: str) -> RawSheet:
        """Rows of one sheet, read on first use."""
        if name not in self._cache:
            self._cache[name] = self._loader(name)
        return self._cache[name]

    def take(self, name: str) -> RawSheet:
        """Rows of one sheet for the caller to use up: the book lets go of them, so their memory
        can be freed as the caller goes (a later ``sheet`` reads them again). The other sheets
        looked at stop being read in pieces: their threads end and the pieces they hold go, while
        the rows read so far stay for a second look."""
        for other, sheet in self._cache.items():
            if other != name:
                sheet.stop()
        return self._cache.pop(name, None) or self._loader(name)


def is_glob(entry: str) -> bool:
    """Whether a batch argument is a glob (``inbox/*/台账.xlsx``) rather than a file or a folder."""
    return any(ch in entry for ch in "*?[")


def batch_folder(entry: str) -> Path | None:
    """The folder a batch argument names: the folder itself, or a glob's fixed leading part
    (``inbox/*/台账.xlsx``: ``inbox``); None for a file."""
    if Path(entry).is_dir():
        return Path(entry)
    if is_glob(entry):
        fixed = []
        for part in Path(entry).parts:
            if is_glob(part):
                break
            fixed.append(part)
        return Path(*fixed) if fixed else Path(".")
    return None


def glob_picks(pattern: str, path: str | Path) -> bool:
    """Whether the glob ``pattern`` (``**`` for any folders, as expand_paths reads it) names
    ``path``: what a run of that glob would read, once the file is there. The pattern's folder
    (its part before the first wildcard) and ``path`` are compared with their links followed: a
    share linked at one path and mounted at another is one folder."""
    def match(parts: tuple[str, ...], names: tuple[str, ...]) -> bool:
        if not parts:
            return not names
        if parts[0] == "**":
            return any(match(parts[1:], names[i:]) for i in range(len(names) + 1))
        return bool(names) and fnmatch.fnmatch(names[0], parts[0]) and match(parts[1:], names[1:])

    fixed = batch_folder(pattern) or Path(pattern)  # a plain file's path names only itself
    rest = Path(pattern).parts[len(fixed.parts):]
    return match(fixed.resolve().joinpath(*rest).parts, Path(path).resolve().parts)


class BatchReach:
    """Where the next run of the same batch arguments reads registers: each folder given (and
    everything below it), and what each glob picks. An output written there is read back by that
    run as one more branch's register (every complaint counted twice, each its own duplicate)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self._folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
        # The folders each glob reads files from now, links followed: a wildcard step may go
        # through a link (分行/*/ with 分行/城东 -> /mnt/share/城东), which the pattern does not show.
        self._reached = {p: {Path(os.path.realpath(os.path.dirname(m) or ".")) for m in glob.glob(p, recursive=True)}
                         for p in paths if is_glob(p) and not Path(p).exists()}

    def folder_reading(self, path: str | Path) -> Path | None:
        """The folder given (or the glob's folder) whose next run would read ``path``, or None."""
        where = Path(path).resolve()
        inside = next((f for f in self._folders if where == f or f in where.parents), None)
        if inside is not None:
            return inside
        for pattern, reached in self._reached.items():
            if glob_picks(pattern, where) or (where.parent in reached and fnmatch.fnmatch(where.name, Path(pattern).name)):
                return batch_folder(pattern)
        return None


def expand_paths(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """Files named directly, register files inside folders (recursively) and glob matches.

    Excel's lock files (~$book.xlsx) and hidden files and folders inside folders are skipped (a
    share's .snapshot/ or .Trash-1000/ holds old copies that would count every complaint twice);
    a path that names nothing is an InputError.
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
        try:
            if p.is_dir():
                for child in sorted(p.rglob("*")):
                    name = child.name
                    if (child.is_file() and name.lower().endswith(REGISTER_SUFFIXES + OTHER_SPREADSHEET_SUFFIXES)
                            and not name.startswith("~$")
                            and not any(part.startswith(".") for part in child.relative_to(p).parts)):
                        add(child)
            elif p.exists():
                add(p)
            elif is_glob(entry):
                matches = sorted(glob.glob(entry, recursive=True))
                if not matches:
                    raise InputError(entry, "in_no_match")
                for m in matches:
                    if Path(m).is_file():
                        add(Path(m))
            else:
                raise InputError(entry, "in_no_such_path")
        except PermissionError:
            raise InputError(entry, "in_permission") from None
        except OSError as exc:  # a name too long, a loop of links
            raise InputError(entry, "in_cannot_open", detail=exc.strerror or str(exc)) from None
    return found


def open_book(path: str | Path, max_mb: float = 500) -> RawBook:
    """Open a register file after checking what it really is."""
    return check_book(path, max_mb).open()


@dataclass
class CheckedBook:
    """A file checked for what it really is (see ``check_book``), to be opened: a workbook by
    the reader, a CSV by reading its text."""

    path: Path
    fmt: str  # xlsx, xlsm, xls, csv
    zip_parts: "_ZipParts | None" = None
    size: int = 0  # bytes on disk
    stamp: tuple[int, ...] = ()  # what the file was when checked (see ``changed``)

    def open(self, reader: Future[_Reader] | None = None) -> RawBook:
        """The book; ``reader``: the workbook opened by a SheetsAhead's thread."""
        if self.fmt == "csv":
            return _open_csv(self.path)
        opened = reader.result() if reader is not None else _open_reader(self.path, self.fmt)
        return _calamine_book(self.path, self.fmt, opened, self.zip_parts)

    def changed(self) -> bool:
        """Whether the file is another now (saved again, replaced) than when it was checked."""
        try:
            return _stamp(os.stat(self.path)) != self.stamp
        except OSError:
            return True


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def check_book(path: str | Path, max_mb: float = 500) -> CheckedBook:
    """What the file really is, or the InputError that says why it cannot be read: its size, its
    kind by its first bytes, and for a workbook its zip (bombs, shared strings that announce too
    many) or its Office container (a password, a Word file)."""
    p = Path(path)
    name = str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(name, "in_no_such_file") from None
    except PermissionError:
        raise InputError(name, "in_permission") from None
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL in the name
        raise InputError(name, "in_cannot_open", detail=getattr(exc, "strerror", None) or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(name, "in_is_folder")
    if not stat.S_ISREG(st.st_mode):
        # A pipe or a device would block or never end.
        raise InputError(name, "in_not_regular_file")
    size = st.st_size
    if size == 0:
        raise InputError(name, "in_empty_file")
    if size > max_mb * 1024**2:
        raise InputError(name, "in_file_too_big", size_mb=size / 1024**2, limit_mb=max_mb)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except PermissionError:
        raise InputError(name, "in_permission") from None
    except OSError as exc:
        raise InputError(name, "in_cannot_read", detail=exc.strerror or str(exc)) from None
    suffix = p.suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        return dataclasses.replace(_check_zip_workbook(p, suffix), size=size, stamp=_stamp(st))
    if head.startswith(_OLE_MAGIC):
        return dataclasses.replace(_check_ole(p), size=size, stamp=_stamp(st))
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith(_MARKUP_STARTS):
        raise InputError(name, "in_web_page")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raise InputError(name, "in_not_real_workbook", suffix=suffix)
    if _utf16_without_bom(head) is None and b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(name, "in_not_spreadsheet")
    return CheckedBook(p, "csv", size=size, stamp=_stamp(st))


_MARKUP_STARTS = (b"<html", b"<!doctype html", b"<table", b"<?xml", b"mime-version", b"<meta", b"<head", b"<body", b"<style")


# ---------------------------------------------------------------------------- calamine, guarded

@contextlib.contextmanager
def _native_stderr_kept_quiet() -> Iterator[None]:
    """Rust prints a panic's message straight to file descriptor 2, around Python's back; keep it
    off the user's terminal (the panic itself becomes an InputError). Anything else the native
    code writes there is passed on afterwards. One thread at a time (a sheet read in pieces
    parses in a second thread): each puts back the descriptor it found."""
    with _STDERR_LOCK, _stderr_quiet():
        yield


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _stderr_quiet() -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (pythonw, some hosts)
        yield
        return
    panicked = False
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            except BaseException as exc:
                panicked = _is_panic(exc)
                raise
            finally:
                os.dup2(saved, 2)
                # Whatever else reached the descriptor meanwhile is passed on: the native code's
                # other messages, and what the loader's thread wrote while a second thread
                # parsed (a progress bar). Of a panic, only its own lines are left out.
                sink.seek(0)
                leftover = sink.read()
                if panicked:
                    leftover = _without_panic(leftover)
                while leftover:
                    leftover = leftover[os.write(2, leftover):]
    finally:
        os.close(saved)


def _without_panic(text: bytes) -> bytes:
    """``text`` without Rust's panic messages: a line "thread '…' panicked at …" (and the blank
    line before it), the message's line after it, and the backtrace and notes that may follow
    ("stack backtrace:", numbered frames, their "at" lines, "note: …")."""
    kept: list[bytes] = []
    skip = 0  # 2: the panic's own line, 1: its message's
    trailing = False  # right after a panic's message: its backtrace and notes may follow
    for line in text.splitlines(keepends=True):
        if b"panicked at" in line:
            skip = 2
            if kept and not kept[-1].strip():  # the blank line the message starts with
                kept.pop()
        if skip:
            skip -= 1
            trailing = True
            continue
        if trailing and _PANIC_TAIL.match(line):
            continue
        trailing = False
        kept.append(line)
    return b"".join(kept)


#: The lines that may follow a panic's message: its backtrace and Rust's notes.
_PANIC_TAIL = re.compile(rb"stack backtrace:|\s+\d+: |\s+at |note: ")


def _is_panic(exc: BaseException) -> bool:
    # pyo3 raises PanicException, a BaseException, when Rust code panics (a damaged file).
    return type(exc).__name__ == "PanicException"


@contextlib.contextmanager
def _calamine(name: str, what: Text) -> Iterator[None]:
    """Calamine's errors, and its panics on damaged files, as one-line InputErrors (``what``
    could not be read)."""
    try:
        with _native_stderr_kept_quiet():
            yield
    except InputError:
        raise
    except MemoryError:
        raise InputError(name, "in_read_no_memory", what=what) from None
    except BaseException as exc:
        if not isinstance(exc, Exception) and not _is_panic(exc):
            raise  # KeyboardInterrupt, SystemExit
        raise InputError(name, "in_read_failed", what=what, detail=_explain(exc)) from exc


_KNOWN_ERRORS = (
    ("password protected", Text("in_password_reason")),
    ("larger than its declared", Text("in_part_inflates")),
    ("permission denied", Text("in_permission")),
    ("os error 13", Text("in_permission")),
    ("unrecognized entity", Text("in_xml_entities")),
)
# Calamine errors that come without a message.
_BARE_ERRORS = {"XmlError": Text("in_xml_damaged"), "ZipError": Text("in_zip_damaged")}


def _explain(exc: BaseException) -> Text | str:
    """Why the reader failed: a message for the failures we know, else the reader's own text."""
    text = str(exc).strip()
    lowered = text.lower()
    for needle, meaning in _KNOWN_ERRORS:
        if needle in lowered:
            return meaning
    if _is_panic(exc):
        return Text("in_reader_stopped")
    if not text and type(exc).__name__ in _BARE_ERRORS:
        return _BARE_ERRORS[type(exc).__name__]
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


#: The names the reader opens by path as each format (it picks its parser by the name).
_READER_SUFFIXES = {"xlsx": (".xlsx", ".xlsm", ".xlam"), "xlsm": (".xlsx", ".xlsm", ".xlam"), "xls": (".xls", ".xla")}


#: The reader's workbook, its sheet names, and whether each sheet is visible.
_Reader = tuple[Any, list[str], dict[str, bool]]


def _open_reader(p: Path, fmt: str) -> _Reader:
    """The workbook opened by the reader (it reads the workbook part and the shared strings)."""
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    with _calamine(str(p), Text("in_as_workbook", {"fmt": fmt})):
        if p.suffix.lower() in _READER_SUFFIXES[fmt]:
            wb = CalamineWorkbook.from_path(str(p))
        else:
            # Named as another kind (an .xlsx saved as "x.xls", a renamed .xls): the reader would
            # go by the name, so it is handed the bytes and goes by what they are.
            with open(p, "rb") as fh:
                wb = CalamineWorkbook.from_filelike(fh)
        sheet_names = list(wb.sheet_names)
        visible = {meta.name: meta.visible == SheetVisibleEnum.Visible for meta in wb.sheets_metadata or []}
    return wb, sheet_names, visible


def _calamine_book(p: Path, fmt: str, opened: _Reader, zip_parts: "_ZipParts | None" = None) -> RawBook:
    name = str(p)
    wb, sheet_names, visible = opened
    parsed: dict[str, Future[Any]] = {}

    def parse_ahead(names: Sequence[str], ahead: SheetsAhead) -> list[str]:
        # The sheets up to the first one that cannot be parsed ahead, in the order the loader
        # reads them: whatever that one says (a far cell, damage) is then said as reading the
        # file alone says it, before anything about the sheets after it.
        xml = 0
        for sheet_name in names:
            if sheet_name not in sheet_names:
                break
            if zip_parts is not None:
                try:
                    size = zip_parts.sheet_xml_bytes(sheet_name)
                    if size is None or xml + size > AHEAD_XML_BYTES or zip_parts.piece_plan(sheet_name) is not None:
                        break
                    zip_parts.check_extent(sheet_name)
                except Exception:  # refused or damaged: said when the sheet is read, in its turn
                    break
                xml += size
            parsed[sheet_name] = ahead.parse(wb, sheet_name)
        return list(parsed)

    def load(sheet_name: str) -> RawSheet:
        plan = zip_parts.piece_plan(sheet_name) if zip_parts is not None else None
        if plan is not None:
            return _in_pieces(p, zip_parts, plan, sheet_name, visible.get(sheet_name, True), load)  # type: ignore[arg-type]
        if zip_parts is not None:
            zip_parts.check_extent(sheet_name)
        early = parsed.pop(sheet_name, None)
        if early is not None:
            futures.wait([early])  # outside the lock of the messages, which its parse holds
        # A list per row, all kept: the collector would walk them again and again while they are
        # made (a 200,000-row sheet: 0.3 s of 4.4).
        with _calamine(name, Text("in_sheet_unreadable", {"sheet": sheet_name})), collector_paused():
            ws = early.result() if early is not None else wb.get_sheet_by_name(sheet_name)
            rows = ws.to_python(skip_empty_area=False)
            merged = list(getattr(ws, "merged_cell_ranges", None) or [])
        return RawSheet(sheet_name, rows, _clip_merged(name, sheet_name, merged, len(rows), max(map(len, rows), default=0)),
                        visible.get(sheet_name, True))

    return RawBook(name, fmt, sheet_names, load, _parse_ahead=parse_ahead)


#: Workbooks up to this size on disk are opened ahead in a batch; a larger one (a whole
#: export, not a branch's file) in its turn, so that two of them never hold memory at once.
AHEAD_BYTES = 16 * 1024**2
#: The sheets of a book parsed ahead hold at most about this much XML (a workbook of a few MiB
#: can unzip to hundreds when its sheets are read whole); the others are parsed in its turn.
AHEAD_XML_BYTES = 8 * 1024**2


def books_in_turn(paths: Sequence[Path], max_mb: float,
                  to_look_at: Callable[[RawBook], Sequence[str]]) -> Iterator[RawBook | Exception]:
    """The book of each of ``paths`` in turn, or the error that says why it cannot be read (an
    InputError, or whatever else went wrong), for a batch read on two cores. While the caller
    builds a register from book k, a second thread opens workbook k+2 and parses the sheets of
    book k+1 that ``to_look_at`` names (calamine does both with the interpreter released); this
    thread checks every file first, guards every sheet before it is parsed and turns the parsed
    sheets into rows. Whatever is wrong with a file is yielded in its turn, after the files
    before it, as the file is then; a file replaced since it was checked is read again, in its
    turn, from the start."""
    n = len(paths)
    if n == 1:
        yield _attempt(open_book, paths[0], max_mb)
        return
    readers: list[Future[_Reader] | None] = [None] * n
    books: list[RawBook | Exception | None] = [None] * n
    checked: list[CheckedBook | None] = [None] * n  # what each file was when checked

    def check(k: int) -> None:
        # A file that fails is checked again in its turn: it may be whole by then (still being
        # copied in when the batch started).
        if k < n:
            found = _attempt(check_book, paths[k], max_mb)
            if isinstance(found, CheckedBook):
                checked[k] = found
                if found.fmt != "csv" and found.size <= AHEAD_BYTES:
                    readers[k] = ahead.open(found)

    def parse(k: int) -> None:
        if k < n and readers[k] is not None:
            # The guard reads the file by its name: were it another file now than the one the
            # reader opened (saved again meanwhile), it would prove one and the reader parse the
            # other. Such a file is left to its turn, which finds it changed too.
            if not checked[k].changed():
                books[k] = _attempt(_parsing, checked[k], readers[k], to_look_at, ahead)
            readers[k] = None

    with SheetsAhead() as ahead:
        check(0)
        check(1)
        parse(0)
        for k in range(n):
            book, was = books[k], checked[k]
            books[k] = checked[k] = None
            # The sheets not parsed ahead are guarded by name from here on: a file that failed
            # its check, or was saved again since, is read again from its checks, as it is now.
            if was is None or was.changed():
                book = _attempt(open_book, paths[k], max_mb)
            elif book is None:  # a CSV or a large workbook: opened in its turn
                book = _attempt(was.open)
            if isinstance(book, RawBook):
                book = _attempt(_gathered, book)
            check(k + 2)
            parse(k + 1)
            yield book


def _attempt(step: Callable[..., Any], *args: Any) -> Any:
    """What ``step`` gives, or the error it raises (to be raised in the file's turn)."""
    try:
        return step(*args)
    except Exception as exc:
        return exc


def _parsing(checked: CheckedBook, reader: Future[_Reader], to_look_at: Callable[[RawBook], Sequence[str]],
             ahead: SheetsAhead) -> RawBook:
    """The book opened by ``reader``, the sheets ``to_look_at`` names being parsed by ``ahead``."""
    book = checked.open(reader)
    book.parse_ahead(to_look_at(book), ahead)
    return book


def _gathered(book: RawBook) -> RawBook:
    book.gather()
    return book


class SheetsAhead:
    """A second thread that opens and parses a batch's next files while the loader normalises
    the current one. Calamine parses with the interpreter released, so on two cores a batch of
    small files costs about its normalising instead of its parse plus its normalising. The
    thread only runs the reader: the checks, the guard, the rows and everything else stay on the
    loader's thread (run here, their hold on the interpreter left the parse waiting, see
    benchmarks/RESULTS.md, round sixteen)."""

    def __enter__(self) -> SheetsAhead:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="complaintkit-ahead")
        self._handoffs = quick_handoffs()
        self._handoffs.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)  # a parse under way finishes
        finally:
            self._handoffs.__exit__(*exc)

    def open(self, checked: CheckedBook) -> Future[_Reader]:
        """The checked workbook, opened by the reader in the thread."""
        return self._pool.submit(_open_reader, checked.path, checked.fmt)

    def parse(self, wb: Any, sheet_name: str) -> Future[Any]:
        """The calamine sheet ``sheet_name`` of ``wb``, parsed in the thread."""
        return self._pool.submit(_parse_quietly, wb, sheet_name)


def _parse_quietly(wb: Any, sheet_name: str) -> Any:
    with _native_stderr_kept_quiet():
        return wb.get_sheet_by_name(sheet_name)


def _in_pieces(p: Path, zip_parts: _ZipParts, plan: tuple[str, list[str], int], sheet_name: str, visible: bool,
               load: Callable[[str], RawSheet]) -> RawSheet:
    """A large sheet read in pieces (see xlsx_pieces): the first piece now, the others as the
    loader asks for them. Whatever goes wrong with a piece (a part the fast guard cannot prove,
    damage, rows out of order) becomes ReadWhole: the sheet is then read whole, guarded, and
    reports any damage the way a whole read does."""
    name = str(p)
    zip_parts.whole.add(sheet_name)  # any later read of this sheet reads it whole
    member, shared, size = plan

    def pieces() -> Iterator[Piece]:
        with zipfile.ZipFile(p) as zf:
            parsed = read_pieces(name, member, shared, sheet_name,
                                 split_sheet(_chunks(zf, member), size, _PlainCheck(), PIECE_MIN), _native_stderr_kept_quiet)
            try:
                while True:
                    try:
                        piece = next(parsed, None)
                    except (ReadWhole, MemoryError, KeyboardInterrupt, SystemExit):
                        raise
                    except BaseException as exc:  # damage, and calamine's panics: the whole read says what
                        raise ReadWhole(f"sheet {sheet_name!r}: {_short(exc)}") from exc
                    if piece is None:
                        return
                    yield piece
            finally:
                parsed.close()

    sheet = RawSheet(sheet_name, [], None, visible, pieces(), lambda: load(sheet_name),
                     lambda merged, height, width: _clip_merged(name, sheet_name, merged, height, width))
    try:
        sheet.read_to(1)
    except ReadWhole:
        return load(sheet_name)
    return sheet


def _clip_merged(name: str, sheet: str, merged: list, height: int, width: int) -> list:
    """Merged ranges cut to the cells that exist (``height`` rows, ``width`` columns). A damaged or
    hostile file may declare ranges far outside the data, or overlapping ones; filling those would
    take forever."""
    budget = height * width
    out = []
    for (r0, c0), (r1, c1) in merged:
        r1, c1 = min(r1, height - 1), min(c1, width - 1)
        if r0 > r1 or c0 > c1 or r0 < 0 or c0 < 0:
            continue
        budget -= (r1 - r0 + 1) * (c1 - c0 + 1)
        if budget < 0:
            raise InputError(name, "in_merged_overlap", sheet=sheet)
        out.append(((r0, c0), (r1, c1)))
    return out


# ---------------------------------------------------------------------------- xlsx / xlsm

# Reading a sheet makes its rectangle from A1 to the farthest cell that holds a value: one stray
# value in XFD1048576 would need 17 billion cells and kill the process. Refuse above this many.
MAX_SHEET_CELLS = 50_000_000
# The shared-string count a workbook announces is reserved up front by the reader.
MAX_SHARED_STRINGS = 50_000_000
_MAX_ZIP_ENTRIES = 10_000
_CHUNK = 4 * 1024 * 1024
# Rows and cells written with a namespace prefix (the careful pass handles them).
_PREFIXED = re.compile(rb':(?:c|row)[\s>/]')
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]{1,3})([1-9]\d{0,6})(?::([A-Z]{1,3})([1-9]\d{0,6}))?"')
# Opening <row>/<c> tags and closing </row> tags, with or without a namespace prefix.
_TAG = re.compile(rb"<(?:(/)(?:[\w.-]+:)?row\s*>|(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>)")
_ATTR_R = re.compile(rb"(?<![\w.:-])r\s*=\s*([\"'])(.*?)\1", re.S)
_REF = re.compile(rb"([A-Za-z]*)(\d+)")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c>")
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")


class _ZipParts:
    """The parts of a workbook zip that reading a sheet depends on (sheet name -> worksheet part)."""

    def __init__(self, path: Path, names: set[str]) -> None:
        self.path = path
        self.names = names
        self.checked: set[str] = set()
        self._by_sheet: dict[str, str] | None = None
        #: Sheets read whole from now on (read in pieces once already, see _in_pieces).
        self.whole: set[str] = set()

    def piece_plan(self, sheet: str) -> tuple[str, list[str], int] | None:
        """How to read the sheet in pieces — its part, the parts every piece repeats, the size of
        a piece — when it is worth it (see xlsx_pieces.worth_cutting) and the sheet has not been
        read yet; else None."""
        if sheet in self.whole:
            return None
        with zipfile.ZipFile(self.path) as zf:
            part = self._part_of(zf, sheet)
            if part is None:
                return None
            shared = self.shared_parts(zf)
            sheet_bytes, shared_bytes = zf.getinfo(part).file_size, sum(zf.getinfo(n).file_size for n in shared)
        if not worth_cutting(sheet_bytes, shared_bytes):
            return None
        return part, shared, piece_size(sheet_bytes, shared_bytes)

    def sheet_xml_bytes(self, sheet: str) -> int | None:
        """How much XML the sheet's part unzips to (None when its part is not clear)."""
        with zipfile.ZipFile(self.path) as zf:
            part = self._part_of(zf, sheet)
            return zf.getinfo(part).file_size if part is not None else None

    def _part_of(self, zf: zipfile.ZipFile, sheet: str) -> str | None:
        """The sheet's worksheet part, when the package names it clearly (see ``_sheet_parts``)."""
        if self._by_sheet is None:
            self._by_sheet = self._sheet_parts(zf)
        part = self._by_sheet.get(sheet)
        return part if part in self.names else None

    def shared_parts(self, zf: zipfile.ZipFile) -> list[str]:
        """The parts every piece of a sheet needs: the package's and the workbook's own parts and
        relationships, its styles and shared strings (not the other sheets, drawings, media)."""
        keep = {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
        rels = _small_part(zf, "xl/_rels/workbook.xml.rels") if "xl/_rels/workbook.xml.rels" in self.names else b""
        for attrs in _RELATIONSHIP.findall(rels):
            kind, target = _attr(attrs, b"Type") or "", _attr(attrs, b"Target")
            if target and kind.rsplit("/", 1)[-1] in ("styles", "sharedStrings"):
                keep.add(posixpath.normpath(target[1:] if target.startswith("/") else "xl/" + target))
        return sorted(keep & self.names)

    def _sheet_parts(self, zf: zipfile.ZipFile) -> dict[str, str]:
        """Worksheet part of each sheet name, found as the reader finds it: the workbook
        (xl/workbook.xml, as packages have it), its relationships. Read with plain patterns
        (these parts must not be trusted with a DTD either), comments and CDATA left out as the
        reader leaves them; {} when anything is missing, and when the reader could find another
        part (a package whose officeDocument is elsewhere or named twice, a relationship Id
        twice, a sheet with two ids, two sheets of one name, a sheet's target that the reader and
        a tidied path would read as two parts): every part is then checked (see ``_check_extent``)."""
        try:
            package = _plain_xml(_small_part(zf, "_rels/.rels"))
            books = [_attr(a, b"Target") for a in _RELATIONSHIP.findall(package) if (_attr(a, b"Type") or "").endswith("/officeDocument")]
            if len(books) != 1 or (books[0] or "").lstrip("/") != _WORKBOOK_PART:
                return {}
            book = _plain_xml(_small_part(zf, _WORKBOOK_PART))
            rels = _plain_xml(_small_part(zf, "xl/_rels/workbook.xml.rels"))
        except KeyError:
            return {}
        targets: dict[str, str | None] = {}  # None: a target that could name two parts
        for attrs in _RELATIONSHIP.findall(rels):
            rid, target = _attr(attrs, b"Id"), _attr(attrs, b"Target")
            if not rid:
                continue
            if rid in targets:
                return {}
            # The reader takes a target as written (relative to xl/); a tidied path (./, ../)
            # would be another part. Only the sheets' targets matter: customXml's ../ is usual.
            literal = (target[1:] if target.startswith("/") else "xl/" + target) if target else ""
            targets[rid] = literal if literal and literal == posixpath.normpath(literal) else None
        out: dict[str, str] = {}
        for attrs in re.findall(rb"<(?:[\w.-]+:)?sheet\b([^>]*)>", book):
            if len(_ID_ATTR.findall(attrs)) > 1:
                return {}
            sheet, rid = _attr(attrs, b"name"), _attr(attrs, rb"(?:[\w.-]+:)?id")
            if sheet and rid in targets:
                sheet = html.unescape(sheet)
                part = targets[rid]
                if part is None or sheet in out:
                    return {}
                out[sheet] = part
        return out

    def check_extent(self, sheet: str) -> None:
        """Refuse a sheet whose cells would span more than MAX_SHEET_CELLS."""
        try:
            self._check_extent(sheet)
        except (InputError, MemoryError):
            raise
        except PermissionError:
            raise InputError(str(self.path), "in_permission") from None
        except Exception:  # zipfile stops at a part's stated size, then finds the checksum wrong
            raise InputError(str(self.path), "in_part_mismatch") from None

    def _check_extent(self, sheet: str) -> None:
        name = str(self.path)
        with zipfile.ZipFile(self.path) as zf:
            part = self._part_of(zf, sheet)
            # Without a clear answer every part is checked, whatever its name says it is: the
            # reader parses whatever part a relationship names.
            parts = [part] if part is not None else sorted(n for n in self.names if not n.endswith("/"))
            for member in parts:
                if member in self.checked:
                    continue
                far = _farthest_cell(zf, member)
                if far is not None:
                    # Every part checked: the cell may be in another sheet than the one asked for.
                    where = Text("in_sheet_named", {"sheet": sheet}) if member == part else \
                        Text("in_part_named", {"part": member, "sheet": sheet})
                    raise _far_cell(name, where, *far)
                self.checked.add(member)


_WORKBOOK_PART = "xl/workbook.xml"
_ID_ATTR = re.compile(rb"(?:^|\s)(?:[\w.-]+:)?id\s*=")
_COMMENT_OR_CDATA = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>", re.S)


def _plain_xml(part: bytes) -> bytes:
    """A small part's XML without its comments and CDATA sections, which the reader skips and a
    pattern would not (a relationship commented out is no relationship)."""
    return _COMMENT_OR_CDATA.sub(b"", part)


def _check_shared_strings(name: str, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """The reader reserves room for the shared-string count a workbook announces: a lie of ten
    billion strings kills the process. A part can hold at most one string per 5 bytes."""
    for info in infos:
        if posixpath.basename(info.filename).lower() != "sharedstrings.xml":
            continue
        with zf.open(info) as fh:
            head = fh.read(65536)
        tag = re.search(rb"<(?:[\w.-]+:)?sst\b([^>]*)>", head)
        count = re.search(rb"(?:^|\s)uniqueCount\s*=\s*[\"']\s*\+?(\d+)", tag.group(1)) if tag else None
        if count and int(count.group(1)) > min(MAX_SHARED_STRINGS, info.file_size // 5 + 1):
            raise InputError(name, "in_shared_strings", count=int(count.group(1)), size=info.file_size, limit=MAX_SHARED_STRINGS)


def _far_cell(name: str, sheet: Text, ref: str, cells: int) -> InputError:
    """The error for a value in cell ``ref`` of ``sheet`` that needs ``cells`` cells to read."""
    return InputError(name, "in_far_cell", sheet=sheet, ref=ref, cells=cells, limit=MAX_SHEET_CELLS)


def _attr(attrs: bytes, key: bytes) -> str | None:
    m = re.search(rb"(?:^|\s)" + key + rb"\s*=\s*([\"'])(.*?)\1", attrs, re.S)
    return m.group(2).decode("utf-8", "replace") if m else None


def _small_part(zf: zipfile.ZipFile, member: str) -> bytes:
    info = zf.getinfo(member)
    if info.file_size > 16 * 1024**2:
        return b""
    return zf.read(member)


def _chunks(zf: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The part's bytes in pieces that never split a tag (each piece ends before a '<')."""
    tail = b""
    with zf.open(member) as fh:
        while True:
            block = fh.read(_CHUNK)
            if not block:
                break
            buf = tail + block
            cut = buf.rfind(b"<")
            if cut <= 0:
                tail = b""
                yield buf
            else:
                buf, tail = buf[:cut], buf[cut:]
                yield buf
    if tail:
        yield tail


def _plainly_small(zf: zipfile.ZipFile, member: str) -> bool:
    """True when every <c> tag starts plainly with r="A1" (no prefix, no second r anywhere) and
    the references keep the rectangle small (see ``_PlainCheck``). A few regular-expression
    searches per buffer, no Python work per cell: about 0.6 s per 100 MiB of sheet XML, unzipping
    included. Anything else is left to the careful pass."""
    return all(map(_PlainCheck(), _chunks(zf, member)))


class _PlainCheck:
    """The fast pass's test of one chunk of a sheet's XML, chunk after chunk from the first: no
    prefixed rows or cells, no second r attribute, and every <c> tag's reference within column AZ
    and row 199,999 (10 million cells), or within the sheet's declared <dimension> when that is
    small enough. A cell with such a reference sits where it says whatever its row tag says, so
    rows need no check."""

    def __init__(self) -> None:
        self.cell_odd: re.Pattern[bytes] | None = None

    def __call__(self, buf: bytes) -> bool:
        if self.cell_odd is None:  # the first chunk holds the <dimension>
            rows, cols = 199_999, 52
            dim = _DIMENSION.search(buf)
            if dim:
                d_rows, d_cols = int(dim.group(4) or dim.group(2)), _col_number(dim.group(3) or dim.group(1))
                if d_rows * d_cols <= MAX_SHEET_CELLS:
                    rows, cols = d_rows, d_cols
            self.cell_odd = _odd_cell(rows, cols)
        return not (_PREFIXED.search(buf) or self.cell_odd.search(buf) or _SECOND_R.search(buf))


@functools.lru_cache(maxsize=32)
def _odd_cell(rows: int, cols: int) -> re.Pattern[bytes]:
    """A pattern for a <c> tag that does not start with a reference within ``rows`` x ``cols``."""
    return re.compile(rb'<c(?=[\s/>])(?! r="' + _at_most(cols, True) + _at_most(rows, False) + rb'"[\s/>])')


# An r attribute (as _ATTR_R finds one) other than the first one of a <c> or <row> tag; anywhere
# else it could move a cell. Written to start with its literal "r": the search skips ahead fast.
_SECOND_R = re.compile(rb"""r(?<![\w.:-]r)(?<!<c r)(?<!<row r)\s*=\s*["']""")


def _at_most(n: int, letters: bool) -> bytes:
    """A pattern for the column letters (or row digits, no leading zero) of every number 1..n.

    The alternatives of n's own length come first and the shorter numbers last: a reference
    of full length then matches without first trying every shorter one (the pattern is tried
    at every cell of a sheet; longest-first makes its search a third faster, the guard 15%)."""
    text = _col_letters(n) if letters else str(n)
    first, cls = (b"A", b"[A-Z]") if letters else (b"1", rb"\d")
    def then(k: int) -> bytes:  # k more characters of any value (no empty repeat: it costs a step)
        return cls + (b"{%d}" % k if k > 1 else b"") if k else b""

    alts = [text.encode()]
    for i in reversed(range(len(text))):
        low = "A" if letters else ("1" if i == 0 else "0")
        if text[i] > low:
            top = chr(ord(text[i]) - 1)
            below = low if top == low else f"[{low}-{top}]"
            alts.append(text[:i].encode() + below.encode() + then(len(text) - i - 1))
    if len(text) > 1:
        alts.append(b"[" + first + (b"-Z]" if letters else b"-9]") + (cls + b"{0,%d}" % (len(text) - 2) if len(text) > 2 else b""))
    return b"(?:" + b"|".join(alts) + b")"


def _farthest_cell(zf: zipfile.ZipFile, member: str) -> tuple[str, int] | None:
    """(cell, cells needed) when the sheet's A1-to-farthest-value rectangle is too big, else None.

    A fast pass proves the usual cases safe (see ``_plainly_small``); otherwise a second pass
    follows cell positions the way the reader does, with references or without."""
    if _plainly_small(zf, member):
        return None
    row_i = col_i = 0
    max_row = max_col = -1
    for buf in _chunks(zf, member):
        for m in _TAG.finditer(buf):
            closing, kind, attrs = m.groups()
            if closing:
                row_i, col_i = row_i + 1, 0
                continue
            empty = attrs.endswith(b"/")
            if kind == b"row":
                for k, r in enumerate(_ATTR_R.finditer(attrs)):
                    ref = _REF.fullmatch(r.group(2).strip())
                    if ref:
                        row_i = max(row_i, int(ref.group(2)) - 1) if k else int(ref.group(2)) - 1
                if empty:
                    row_i, col_i = row_i + 1, 0
                continue
            pos = (row_i, col_i)
            # A tag may carry r twice; the reader keeps one of them: count the farther.
            for k, r in enumerate(_ATTR_R.finditer(attrs)):
                ref = _REF.fullmatch(r.group(2).strip())
                if ref and ref.group(1):
                    here = (int(ref.group(2)) - 1, _col_number(ref.group(1)) - 1)
                    pos = (max(pos[0], here[0]), max(pos[1], here[1])) if k else here
                    col_i = pos[1]
            col_i += 1
            if empty or _CELL_END.match(buf, m.end()):
                continue  # a cell with no value is not part of the rectangle
            if pos[0] > max_row or pos[1] > max_col:
                max_row, max_col = max(max_row, pos[0]), max(max_col, pos[1])
                cells = (max_row + 1) * (max_col + 1)
                if cells > MAX_SHEET_CELLS or max_row >= EXCEL_ROWS or max_col >= EXCEL_COLUMNS:
                    return f"{_col_letters(pos[1] + 1)}{pos[0] + 1}", cells
    return None


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
        if n > 10 * EXCEL_COLUMNS:
            break
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n > 0 and len(out) < 8:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _zip_directory_too_big(p: Path) -> bool:
    """True when the zip's end record announces more parts than any workbook has (its directory
    alone would fill memory before a single cell is read)."""
    with open(p, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return False  # no end record: zipfile reports the damage
    entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
    return entries > _MAX_ZIP_ENTRIES or directory_size > 64 * 1024**2


def _check_zip_workbook(p: Path, suffix: str) -> CheckedBook:
    name = str(p)
    try:
        if _zip_directory_too_big(p):
            raise InputError(name, "in_too_many_parts", limit=_MAX_ZIP_ENTRIES)
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except InputError:
        raise
    except PermissionError:
        raise InputError(name, "in_permission") from None
    except Exception:  # BadZipFile, and the odd ValueError/EOFError zipfile raises on damaged headers
        raise InputError(name, "in_truncated_zip") from None
    names = {i.filename for i in infos}
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if len(infos) > _MAX_ZIP_ENTRIES:
        raise InputError(name, "in_too_many_parts", limit=_MAX_ZIP_ENTRIES)
    if "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            raise InputError(name, "in_xlsb")
        if "content.xml" in names:
            raise InputError(name, "in_opendocument")
        if suffix == ".numbers":
            raise InputError(name, "in_numbers")
        raise InputError(name, "in_zip_not_excel")
    if total > MAX_UNZIPPED_BYTES or (total > 50 * 1024**2 and total / packed > MAX_ZIP_RATIO):
        raise InputError(name, "in_zip_bomb", size_mb=total / 1024**2)
    try:
        with zipfile.ZipFile(p) as zf:
            _check_shared_strings(name, zf, infos)
    except InputError:
        raise
    except Exception:  # the part's stated size or checksum is wrong
        raise InputError(name, "in_part_mismatch") from None
    fmt = "xlsm" if suffix == ".xlsm" or "xl/vbaProject.bin" in names else "xlsx"
    return CheckedBook(p, fmt, _ZipParts(p, names))


# ---------------------------------------------------------------------------- OLE: xls, encrypted

_FREESECT = 0xFFFFFFFA  # ids at or above this mark chain ends and special sectors


class _OleFile:
    """An OLE2 compound file read the way the xls reader reads it (header, sector tables,
    directory, streams, mini streams), but bounded: loops, sectors outside the file and sizes
    larger than the file raise ValueError instead of running away."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        header = data[:512]
        shift, mini_shift = struct.unpack_from("<HH", header, 30)
        if shift not in (9, 12) or mini_shift != 6:
            raise ValueError("not a compound file header")
        self.size = 1 << shift
        self.version = struct.unpack_from("<H", header, 26)[0]
        first_dir, = struct.unpack_from("<I", header, 48)
        self.mini_start, self.mini_count, first_difat, n_difat = struct.unpack_from("<IIII", header, 60)
        per = self.size // 4
        fat_ids = [i for i in struct.unpack_from("<109I", header, 76) if i < _FREESECT]
        nxt, hops = first_difat, 0
        while nxt < _FREESECT:
            hops += 1
            if hops > max(n_difat, 1) + 1 or hops > len(data) // self.size:
                raise ValueError("DIFAT chain loops")
            ids = struct.unpack(f"<{per}I", self._sector(nxt))
            fat_ids.extend(i for i in ids[:-1] if i < _FREESECT)
            nxt = ids[-1]
        self.fat: list[int] = []
        for i in fat_ids[: len(data) // self.size + 1]:
            self.fat.extend(struct.unpack(f"<{per}I", self._sector(i)))
        directory = self._chain(first_dir, self.fat, self._sector, len(data))
        self.entries: list[tuple[str, int, int, int]] = []  # name, kind, start, size
        for off in range(0, len(directory) - 127, 128):
            length, kind = struct.unpack_from("<HB", directory, off + 64)
            start, = struct.unpack_from("<I", directory, off + 116)
            size = struct.unpack_from("<I" if self.size == 512 else "<Q", directory, off + 120)[0]
            name = directory[off:off + max(0, min(length, 64) - 2)].decode("utf-16-le", "replace")
            self.entries.append((name, kind, start, size))
        if not self.entries:
            raise ValueError("empty directory")

    def _sector(self, i: int) -> bytes:
        at = (i + 1) * self.size
        if at + self.size > len(self.data):
            raise ValueError("sector past the end")
        return self.data[at:at + self.size]

    @staticmethod
    def _chain(start: int, table: list[int], read: Callable[[int], bytes], limit: int) -> bytes:
        out: list[bytes] = []
        got, seen, current = 0, set(), start
        while current < _FREESECT and got < limit:
            if current in seen or current >= len(table):
                raise ValueError("sector chain loops or leaves the table")
            seen.add(current)
            block = read(current)
            out.append(block)
            got += len(block)
            current = table[current]
        return b"".join(out)[:limit]

    def stream(self, name: str) -> bytes | None:
        """The first stream called ``name`` (exactly, as the reader looks it up), or None."""
        for entry_name, kind, start, size in self.entries:
            if entry_name == name and kind == 2:
                if size > len(self.data):
                    raise ValueError("stream larger than the file")
                if size >= 4096:
                    return self._chain(start, self.fat, self._sector, size)
                root = self.entries[0]
                mini_data = self._chain(root[2], self.fat, self._sector, min(root[3], len(self.data)))
                mini_fat_bytes = self._chain(self.mini_start, self.fat, self._sector, self.mini_count * self.size)
                mini_fat = list(struct.unpack(f"<{len(mini_fat_bytes) // 4}I", mini_fat_bytes[: len(mini_fat_bytes) // 4 * 4]))

                def mini(i: int) -> bytes:
                    if (i + 1) * 64 > len(mini_data):
                        raise ValueError("mini sector past the end")
                    return mini_data[i * 64:(i + 1) * 64]

                return self._chain(start, mini_fat, mini, size)
        return None


def ole_stream_names(path: str | Path) -> set[str] | None:
    """Names in an OLE2 compound file's directory (upper case); None when the file's structure
    is inconsistent (a damaged file)."""
    try:
        return {name.upper() for name, kind, _s, _n in _OleFile(Path(path).read_bytes()).entries if kind in (1, 2, 5)}
    except (OSError, ValueError, struct.error):
        return None


# BIFF records the xls reader turns into cells: (row, column) lead their data.
_BIFF_CELLS = frozenset((0x0203, 0x0204, 0x00D6, 0x0205, 0x027E, 0x00FD, 0x0006, 0x00BD))
_BIFF_BOF, _BIFF_EOF, _BIFF_DIMENSIONS, _BIFF_BOUNDSHEET = 0x0809, 0x000A, 0x0200, 0x0085


def _biff_too_big(stream: bytes, name: str) -> InputError | None:
    """The error for what in an xls Workbook stream (of file ``name``) would make the reader
    allocate more than MAX_SHEET_CELLS cells (a far cell, or a DIMENSIONS record announcing a
    vast sheet), else None. Each sheet is walked from where the workbook says it starts, as the
    reader walks it."""
    unpack = struct.unpack_from
    n = len(stream)
    starts, pos = [], 0
    while pos + 4 <= n:
        typ, size = unpack("<HH", stream, pos)
        if typ == _BIFF_BOUNDSHEET and size >= 4:
            starts.append(unpack("<I", stream, pos + 4)[0])
        elif typ == _BIFF_EOF:
            break
        pos += 4 + size
    for pos in starts:
        max_row = max_col = -1
        depth, seen_bof = 0, False
        while pos + 4 <= n:
            typ, size = unpack("<HH", stream, pos)
            body = pos + 4
            pos = body + size
            if depth:
                depth += (typ == _BIFF_BOF) - (typ == _BIFF_EOF)
                continue
            if typ == _BIFF_BOF:
                depth, seen_bof = (depth + 1 if seen_bof else depth), True
            elif typ == _BIFF_EOF:
                break
            elif typ == _BIFF_DIMENSIONS and size in (10, 14) and body + size <= n:
                rf, rl, cf, cl = unpack("<HHHH" if size == 10 else "<IIHH", stream, body)
                cf = 0 if cf > 0xFF or cl < cf else cf
                if rl >= 1 and cl >= 1:
                    # Reserved up front, with the reader's unsigned 32-bit arithmetic.
                    rows, cols = (rl - 1 - rf + 1) % 2**32, (cl - 1 - cf + 1) % 2**32
                    if rows * cols > MAX_SHEET_CELLS:
                        return InputError(name, "in_sheet_declares", rows=rows, cols=cols, limit=MAX_SHEET_CELLS)
            elif typ in _BIFF_CELLS and size >= 4 and body + size <= n:
                row, col = unpack("<HH", stream, body)
                if typ == 0x00BD and size >= 6:
                    col = max(col, unpack("<H", stream, body + size - 2)[0])
                if row > max_row or col > max_col:
                    max_row, max_col = max(max_row, row), max(max_col, col)
                    cells = (max_row + 1) * (max_col + 1)
                    if cells > MAX_SHEET_CELLS:
                        return _far_cell(name, Text("in_a_sheet"), f"{_col_letters(col + 1)}{row + 1}", cells)
    return None


def _check_ole(p: Path) -> CheckedBook:
    name = str(p)
    try:
        ole = _OleFile(p.read_bytes())
        streams = {n.upper() for n, kind, _s, _z in ole.entries if kind in (1, 2, 5)}
        workbook = ole.stream("Workbook")
        if workbook is None:
            workbook = ole.stream("Book")
    except PermissionError:
        raise InputError(name, "in_permission") from None
    except (OSError, ValueError, struct.error):
        raise InputError(name, "in_ole_damaged") from None
    # An encrypted xlsx/xlsm is an OLE container holding these two streams.
    if {"ENCRYPTEDPACKAGE", "ENCRYPTIONINFO"} & streams:
        raise InputError(name, "in_password")
    if not {"WORKBOOK", "BOOK"} & streams:
        if "WORDDOCUMENT" in streams:
            raise InputError(name, "in_word")
        if "POWERPOINT DOCUMENT" in streams:
            raise InputError(name, "in_powerpoint")
        if p.suffix.lower() == ".et":
            raise InputError(name, "in_wps")
        raise InputError(name, "in_office_not_excel")
    too_big = _biff_too_big(workbook, name) if workbook is not None else None
    if too_big is not None:
        raise too_big
    return CheckedBook(p, "xls")


# ---------------------------------------------------------------------------- CSV

def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the bytes look like UTF-16 text without a BOM: the ASCII
    characters every CSV has (digits, commas, line ends) leave a zero byte in every other place."""
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even = head[0:pairs * 2:2].count(0)
    odd = head[1:pairs * 2:2].count(0)
    # A few CJK characters (U+4E00 一 ...) have a zero byte of their own: allow for them.
    if odd >= pairs // 20 and even * 8 <= odd:
        return "utf-16-le"
    if even >= pairs // 20 and odd * 8 <= even:
        return "utf-16-be"
    return None


_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def decode_csv(data: bytes, name: str) -> tuple[str, str]:
    """Text and encoding of a CSV: UTF-8 (with or without BOM), UTF-16 (with BOM, or without one
    when unmistakable), else GB18030, the encoding of Chinese Windows Excel."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[3:].decode("utf-8"), "utf-8-sig"
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), "utf-16"
        utf16 = _utf16_without_bom(data[:4096])
        if utf16:
            return data.decode(utf16), utf16
    except UnicodeDecodeError:
        raise InputError(name, "in_unknown_encoding") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(name, "in_unknown_encoding") from None
    if _looks_garbled(text):
        raise InputError(name, "in_garbled_encoding")
    return text, "gb18030"


def _looks_garbled(text: str) -> bool:
    """Big5 or Shift-JIS bytes decode as GB18030 without error, into rare characters: real
    Chinese registers keep to the common GB2312 set (measured: 100% on the samples; Big5 read as
    GB18030 scores about 35%, Shift-JIS 0%)."""
    sample = text[:65536]
    wide = len(_NOT_ASCII.findall(sample))
    if wide < 20:
        return False
    rare = sample.encode("gb2312", errors="replace").count(b"?") - sample.count("?")
    return rare > wide * 0.2


def _sniff_delimiter(text: str) -> str:
    # csv.Sniffer is quadratic in its sample: a few KiB of hostile quotes would take minutes.
    sample = text[:4096]
    if "\n" in sample[:-1]:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _open_csv(p: Path) -> RawBook:
    name = str(p)
    try:
        raw = p.read_bytes()
    except PermissionError:
        raise InputError(name, "in_permission") from None
    except OSError as exc:
        raise InputError(name, "in_cannot_read", detail=exc.strerror or str(exc)) from None
    text, _encoding = decode_csv(raw, name)
    del raw
    delimiter = _sniff_delimiter(text)
    csv.field_size_limit(min(2**31 - 1, 64 * 1024**2))
    try:
        with collector_paused():  # a list per row, all kept (see _calamine_book)
            rows: list[list[Any]] = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(name, "in_csv_unparsable", detail=str(exc)) from None
    sheet = RawSheet(p.stem, rows)
    return RawBook(name, "csv", [sheet.name], lambda _n: sheet)
