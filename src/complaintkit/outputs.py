"""Writing outputs safely: atomic replace, no silent overwrite, and text that cannot turn into
a live formula when opened in Excel (formula injection)."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .errors import OutputError

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def defuse(value: Any) -> Any:
    """Text that Excel would read as a formula gets a leading apostrophe-free quote: "'=..."."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if value[:1] == "-" and _is_number(value):
            return value
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_writable(path: str | Path, force: bool, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse to overwrite an input, or an existing file without ``force``; the folder must exist."""
    out = Path(path)
    for src in inputs:
        try:
            if out.exists() and out.resolve() == Path(src).resolve():
                raise OutputError(f"{out}: refusing to write over an input file")
        except OSError:
            continue
    if out.exists() and not force:
        raise OutputError(f"{out}: already exists (use --force to replace it)")
    if out.exists() and out.is_dir():
        raise OutputError(f"{out}: is a folder")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{out}: folder {parent} is not writable")
    return out


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place, so a
    crash or a full disk never leaves a half-written output."""
    out = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=".~ck-", suffix=out.suffix, dir=str(out.parent or "."))
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, out)
    except PermissionError as exc:
        raise OutputError(f"{out}: cannot be written ({exc.strerror}; is it open in Excel?)") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding, newline=""))


def to_json(data: Any) -> str:
    """Stable JSON: UTF-8 characters as they are, keys in the order the contract gives them."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (UTF-8 with BOM when written to a file, so Chinese Excel opens it correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else defuse(v) for v in row])
    return buf.getvalue()
