"""A large sheet read in pieces, on two cores.

python-calamine parses a sheet's XML with the interpreter released, then turns its cells into
Python rows with it held; normalising those rows into records holds it too. Read whole, the
three run one after the other. Cut into pieces at ``<row>`` tags, each piece a small workbook of
its own (the same workbook, styles and shared strings; the sheet's XML head, some of its rows and
the closing tags), a second thread parses piece k+1 while the loader normalises piece k.

The far-cell guard finds the cuts in the pass it makes over the sheet anyway (``PieceCutter``),
and only when that pass proves the sheet plain: every cell carries its own reference, so a cell
lands where it says whichever piece holds it, and no comment, CDATA or processing instruction
can hide a ``<row`` that is not a tag. Rows come out as reading the whole sheet gives them, but
rows of different pieces may differ in length (each piece is as wide as its own cells).
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

#: Sheets with less XML than this are read whole: a piece's own workbook costs a little, and
#: smaller sheets read in well under a second.
PIECES_FROM = 8 * 1024**2
#: A sheet is cut into about this many pieces, each at least PIECE_MIN bytes of XML: the first
#: piece is parsed before any row is normalised, so it should be small; more pieces cost each
#: the workbook's shared strings once more (parsed on the second core).
PIECES = 8
PIECE_MIN = 2 * 1024**2
#: The XML after </sheetData> (merged cells, hyperlinks, print settings) is kept for the first
#: piece; a sheet with more of it than this is read whole.
TAIL_MAX = 16 * 1024**2

_SHEET_DATA = re.compile(rb"<((?:[\w.-]+:)?)sheetData(?:\s[^>]*)?(/?)>")
_ROOT = re.compile(rb"<((?:[\w.-]+:)?)worksheet[\s>]")
_ROW = re.compile(rb"<row[\s/>]")


@dataclass
class SheetLayout:
    """Where a sheet's XML is cut: ``head`` is everything before its first row, ``tail`` everything
    from ``</sheetData>``; piece k holds the bytes cuts[k]..cuts[k+1] (the last one up to ``end``)."""

    member: str
    head: bytes
    tail: bytes
    cuts: list[int]
    end: int
    closing: bytes  # closes a piece that does not carry the tail

    def piece_xml(self, k: int, rows: bytes) -> bytes:
        """Piece k's sheet XML around its rows: the first piece carries the sheet's tail (its
        merged cells), the others only the closing tags."""
        return b"".join((self.head, rows, self.tail if k == 0 else self.closing))


@dataclass
class PieceCutter:
    """Fed the sheet's XML by the guard's fast pass, chunk by chunk (each ending before a '<'),
    finds where to cut it; ``layout()`` is None when the sheet must be read whole."""

    member: str
    size: int
    piece: int = field(init=False)
    _head: bytes | None = field(default=None, init=False)
    _closing: bytes = field(default=b"", init=False)
    _end_tag: bytes = field(default=b"", init=False)
    _cuts: list[int] = field(default_factory=list, init=False)
    _tail: list[bytes] | None = field(default=None, init=False)
    _tail_size: int = field(default=0, init=False)
    _end: int = field(default=-1, init=False)
    _ok: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        self.piece = max(PIECE_MIN, self.size // PIECES)

    def feed(self, offset: int, buf: bytes) -> None:
        """The chunk of the sheet's XML that starts at byte ``offset``."""
        if not self._ok:
            return
        start = 0
        if self._head is None:
            start = self._find_head(buf) if offset == 0 else -1
            if start < 0:
                self._ok = False
                return
        if self._tail is not None:  # past </sheetData>
            self._tail.append(buf)
            self._tail_size += len(buf)
            self._ok = self._tail_size <= TAIL_MAX
            return
        stop = buf.find(self._end_tag, start)
        hi = len(buf) if stop < 0 else stop
        # A comment, CDATA or processing instruction may hold "<row" that is not a tag.
        if buf.find(b"<!", start, hi) >= 0 or buf.find(b"<?", start, hi) >= 0:
            self._ok = False
            return
        lo = max(start, self._cuts[-1] + self.piece - offset)
        if lo < hi:
            row = _ROW.search(buf, lo, hi)
            if row is not None:
                self._cuts.append(offset + row.start())
        if stop >= 0:
            self._end = offset + stop
            self._tail = [buf[stop:]]
            self._tail_size = len(buf) - stop

    def give_up(self) -> None:
        """The sheet is read whole (the guard's fast pass could not prove it plain)."""
        self._ok = False

    def _find_head(self, buf: bytes) -> int:
        data = _SHEET_DATA.search(buf)
        root = _ROOT.search(buf)
        if data is None or root is None or data.group(2):  # no rows at all
            return -1
        first = _ROW.search(buf, data.end())
        if first is None:
            return -1
        self._head = buf[:first.start()]
        self._end_tag = b"</" + data.group(1) + b"sheetData>"
        self._closing = self._end_tag + b"</" + root.group(1) + b"worksheet>"
        self._cuts = [first.start()]
        return first.start()

    def layout(self) -> SheetLayout | None:
        """The cuts, when the sheet can be read in pieces and is cut at least once."""
        if not self._ok or self._head is None or self._tail is None or len(self._cuts) < 2:
            return None
        return SheetLayout(self.member, self._head, b"".join(self._tail), self._cuts, self._end, self._closing)


class PiecesOutOfOrder(Exception):
    """A piece holds a cell of a row that an earlier piece already gave: the sheet's rows are
    not in order in its XML and it must be read whole (the reader remembers that)."""


@dataclass
class Piece:
    """One piece, parsed: its rows start at sheet row ``first`` (0-based) and column ``left``."""

    first: int
    left: int
    rows: list[list[Any]]
    merged: list[Any]


def _stored_zip(parts: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in parts:
            zf.writestr(name, data)
    return out.getvalue()


def read_pieces(path: str, layout: SheetLayout, shared: list[str], sheet_name: str,
                quietly: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> Iterator[Future[Piece]]:
    """Each piece of the sheet as a future, in order, parsed in a second thread that works at
    most two pieces ahead. ``shared`` names the workbook's parts every piece needs besides the
    sheet; ``quietly`` wraps each parse (the reader keeps Rust's panic messages off the terminal
    with it). The thread stops when the caller stops asking (the generator is closed)."""
    from python_calamine import CalamineWorkbook

    with zipfile.ZipFile(path) as zf, zf.open(layout.member) as fh:
        common = [(name, zf.read(name)) for name in shared]
        fh.read(layout.cuts[0])  # the head, kept in the layout
        bounds = [*layout.cuts, layout.end]

        def parse(k: int) -> Piece:
            rows_xml = fh.read(bounds[k + 1] - bounds[k])  # the pieces are parsed in order
            data = _stored_zip([*common, (layout.member, layout.piece_xml(k, rows_xml))])
            del rows_xml
            with quietly():
                ws = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet_name)
                del data
                if k == 0:  # from A1, as the whole sheet is read
                    return Piece(0, 0, ws.to_python(skip_empty_area=False), list(ws.merged_cell_ranges or []))
                rows = ws.to_python(skip_empty_area=True)
                first, left = ws.start if rows else (0, 0)
                return Piece(first, left, rows, [])

        with ThreadPoolExecutor(1, thread_name_prefix="complaintkit-pieces") as pool:
            ahead: deque[Future[Piece]] = deque()
            try:
                for k in range(len(bounds) - 1):
                    ahead.append(pool.submit(parse, k))
                    if len(ahead) > 2:
                        yield ahead.popleft()
                while ahead:
                    yield ahead.popleft()
            finally:
                for future in ahead:
                    future.cancel()
