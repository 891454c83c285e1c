"""Writing outputs safely: atomic replace, no silent overwrite, and text that cannot turn into
a live formula when opened in Excel (formula injection)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from .errors import OutputError
from .messages import Text, register_messages

register_messages({
    "out_is_folder": ("{path}：这是一个文件夹，不是文件", "{path}: is a folder"),
    "out_over_input": ("{path}：不能写在输入文件上（请换一个输出文件名）", "{path}: refusing to write over an input file"),
    "out_exists": ("{path}：文件已存在（要替换请加 --force）", "{path}: already exists (use --force to replace it)"),
    "out_not_a_folder": ("{path}：这是一个文件，不是文件夹", "{path}: is a file, not a folder"),
    "out_folder_blocked": ("{path}：无法写入：{blocker} 是一个文件，不是文件夹", "{path}: cannot be written: {blocker} is a file, not a folder"),
    "out_folder_cannot_create": ("{path}：无法创建文件夹（{detail}）", "{path}: folder cannot be created ({detail})"),
    "out_folder_readonly": ("{path}：文件夹 {folder} 不可写", "{path}: folder {folder} is not writable"),
    "out_cannot_write": ("{path}：无法写入（{detail}）", "{path}: cannot be written ({detail})"),
    "out_xlsx_only": ("{path}：{what}是 .xlsx 工作簿，文件名请以 .xlsx 结尾", "{path}: {what} is an .xlsx workbook; give it a name ending in .xlsx"),
    "out_what_report": ("报告", "the report"),
    "out_what_template": ("模板", "the template"),
    "out_what_merged": ("合并后的台账", "the merged register"),
    "out_locked": ("{path}：无法写入（{detail}；是否正在 Excel 中打开？）", "{path}: cannot be written ({detail}; is it open in Excel?)"),
})

# What spreadsheet programs take as the start of a formula, including the full-width forms a
# Chinese input method types, and the tab/CR/LF tricks that hide a formula behind a blank start.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_NEGATIVE_NUMBER = re.compile(r"-\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def defuse(value: Any) -> Any:
    """Text that Excel would read as a formula gets a leading apostrophe ("'=1+1"), so it opens
    as text; plain negative numbers ("-12.5") stay as they are. Other values are judged by the
    text the CSV will hold (a negative timedelta prints as "-1 day, ...", -inf as "-inf")."""
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return value


def require_xlsx(path: str | Path, what: str) -> None:
    """Refuse a workbook's name that does not end in .xlsx: under .csv, .xls or none, Excel refuses
    the file or shows its bytes. ``what`` is the workbook: "report", "template" or "merged"."""
    if Path(path).suffix.lower() != ".xlsx":
        raise OutputError("out_xlsx_only", path=path, what=Text(f"out_what_{what}"))


def check_writable(path: str | Path, force: bool, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse to overwrite an input, or an existing file without ``force``. A missing folder is
    fine when it can be made (``atomic_write`` makes it): not when a file stands in its way or
    the nearest existing folder is read-only."""
    out = Path(path)
    try:
        exists = out.exists()
        if exists and out.is_dir():
            raise OutputError("out_is_folder", path=out)
        for src in inputs:
            if exists and _same_file(out, Path(src)):
                raise OutputError("out_over_input", path=out)
        if exists and not force:
            raise OutputError("out_exists", path=out)
        parent = _nearest_existing(out.parent if str(out.parent) else Path("."))
        if not parent.is_dir():
            raise OutputError("out_folder_blocked", path=out, blocker=parent)
        if not os.access(parent, os.W_OK):
            raise OutputError("out_folder_readonly", path=out, folder=parent)
    except OSError as exc:  # a name too long, a folder we may not look into
        raise OutputError("out_cannot_write", path=out, detail=exc.strerror or exc) from None
    return out


def make_folder(folder: str | Path) -> Path:
    """Make ``folder`` and the folders above it that are missing, for every output of every
    command alike (-o, --report, --json, --csv, --annotate, --log): a file in the way or a folder
    that cannot be made is one OutputError."""
    folder = Path(folder) if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file by that name
        raise OutputError("out_not_a_folder", path=folder) from None
    except OSError as exc:  # a file further up (Not a directory), a read-only share
        blocker = _nearest_existing(folder)
        if blocker.exists() and not blocker.is_dir():
            raise OutputError("out_folder_blocked", path=folder, blocker=blocker) from None
        raise OutputError("out_folder_cannot_create", path=folder, detail=exc.strerror or exc) from None
    return folder


def _nearest_existing(path: Path) -> Path:
    """``path``, or the nearest folder above it that exists (a file, when one is in the way)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _same_file(a: Path, b: Path) -> bool:
    """The same file, whatever the spelling: relative paths, links, case on Windows."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _new_file_mode(out: Path) -> int:
    """A replaced file keeps its mode; a new one gets the usual one (temporary files are private)."""
    try:
        return out.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


class StagedOutput:
    """An output written to a temporary file beside its place (``write(tmp)``): ``commit`` renames
    it into place, ``discard`` drops it. A run stages its JSON while it makes its report and puts
    it in place after the report, so one that fails partway leaves neither of today's beside
    yesterday's; neither a crash nor a full disk ever leaves a half-written output (nor the
    temporary file)."""

    def __init__(self, path: str | Path, write: Callable[[Path], None]) -> None:
        self.out = Path(path)
        folder = make_folder(self.out.parent)
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".~ck-", suffix=self.out.suffix, dir=str(folder))
        except OSError as exc:
            raise OutputError("out_cannot_write", path=self.out, detail=exc.strerror or exc) from None
        os.close(fd)
        self.tmp = Path(tmp_name)
        try:
            self.mode = _new_file_mode(self.out)
            write(self.tmp)
        except OSError as exc:
            self.discard()
            raise self._failed(exc) from None
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        """Put the output in place."""
        try:
            with contextlib.suppress(OSError):
                os.chmod(self.tmp, self.mode)
            os.replace(self.tmp, self.out)
        except OSError as exc:
            raise self._failed(exc) from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the output (the place keeps what it had)."""
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)

    def _failed(self, exc: OSError) -> OutputError:
        if isinstance(exc, PermissionError):
            return OutputError("out_locked", path=self.out, detail=exc.strerror)
        return OutputError("out_cannot_write", path=self.out, detail=exc.strerror or exc)  # a full disk, a vanished folder


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place, so a
    crash or a full disk never leaves a half-written output (nor the temporary file)."""
    StagedOutput(path, write).commit()


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding, newline=""))


def to_json(data: Any) -> str:
    """Stable JSON: UTF-8 characters as they are, keys in the order the contract gives them."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


class Later:
    """A part of ``json_chunks``' object made only when its turn comes."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def json_chunks(parts: Iterable[tuple[str, Any]]) -> Iterator[str]:
    """``to_json`` of the object whose keys and values ``parts`` gives, the same text in pieces.
    A value given as ``Later`` is made only when its turn comes, and let go once written: a run's
    check sections (hundreds of MB each at 200,000 rows) are never all in memory at once, nor is
    the text. Keys are texts (as every JSON object of the contract has)."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2, default=str)
    opened = False
    yield "{"
    for key, value in parts:
        if not isinstance(key, str):
            raise TypeError(f"json_chunks takes text keys, not {key!r}")
        yield (",\n  " if opened else "\n  ") + json.dumps(key, ensure_ascii=False) + ": "
        opened = True
        made = value.make() if isinstance(value, Later) else value
        # A value one level down: each of its lines two spaces further in (a JSON string holds
        # no raw line break, so every one is the indentation's); done once per block of pieces.
        for block in text_blocks(encoder.iterencode(made), 1 << 16):
            yield block.replace("\n", "\n  ")
        del made
    yield "\n}" if opened else "}"


def json_text(parts: Iterable[tuple[str, Any]]) -> Iterator[str]:
    """``to_json``'s text and its closing line break, in blocks of about a megabyte: what a JSON
    file or stdout gets (see ``json_chunks``)."""
    yield from text_blocks(json_chunks(parts))
    yield "\n"


def text_blocks(chunks: Iterable[str], size: int = 1 << 20) -> Iterator[str]:
    """The chunks joined into blocks of about ``size`` characters (one write per block)."""
    held: list[str] = []
    count = 0
    for chunk in chunks:
        held.append(chunk)
        count += len(chunk)
        if count >= size:
            yield "".join(held)
            held, count = [], 0
    if held:
        yield "".join(held)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (UTF-8 with BOM when written to a file, so Chinese Excel opens it correctly)."""
    buf = io.StringIO()
    write_csv(buf, headers, rows)
    return buf.getvalue()


def write_csv(fh: IO[str], headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``to_csv``'s text written to ``fh`` row by row."""
    writer = csv.writer(fh, lineterminator="\r\n")
    writer.writerow([defuse(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else defuse(v) for v in row])
