"""A large sheet read in pieces, on two cores.

python-calamine parses a sheet's XML with the interpreter released, then turns its cells into
Python rows with it held; the far-cell guard's searches and normalising the rows into records
hold it too. Read whole, they run one after the other. Cut into pieces at ``<row>`` tags, each
piece a small workbook of its own (the same workbook part, styles and shared strings; the sheet's
XML head, some of its rows, closing tags), a second thread parses the next pieces (up to
``AHEAD`` in hand) while the loader normalises piece k; the loader's thread cuts and checks them.

A piece is cut and parsed only once the guard's fast pass has proved its XML plain: every cell
carries its own reference within the sheet's bounds, so a cell lands where it says whichever
piece holds it, and no comment, CDATA or processing instruction can hide a ``<row`` that is not a
tag. Anything else — a chunk the fast pass cannot prove, rows out of order across pieces, merged
cells among the data rows — raises ``ReadWhole`` and the sheet is read whole, guarded as before.
Rows come out as reading the whole sheet gives them, except that rows of different pieces may
differ in length (each piece is as wide as its own cells).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import sys
import threading
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

#: Sheets with less XML than this are read whole: a piece's own workbook costs a little, and
#: smaller sheets read in well under a second.
PIECES_FROM = 8 * 1024**2
#: A sheet is cut into about this many pieces, each at least PIECE_MIN bytes of XML (each costs
#: the workbook's shared strings once more, parsed on the second core). The first piece is
#: PIECE_MIN: nothing is normalised until it is parsed.
PIECES = 8
PIECE_MIN = 2 * 1024**2
#: Larger pieces hold more memory and start the pipeline later; but a piece is never smaller than
#: twice the parts it repeats, so parsing those again costs at most half the sheet's own parse.
PIECE_MAX = 32 * 1024**2
#: Every piece parses the workbook's shared strings again: a workbook whose shared strings
#: (with its styles) are more than this share of the sheet's XML is read whole. Measured on a
#: 200,000-row register saved with shared strings (41 MiB of them for 123 MiB of sheet XML),
#: pieces were no faster than the whole read, and slower at 20,000 rows.
SHARED_SHARE = 1 / 16
#: The XML after </sheetData> (merged cells, hyperlinks, print settings) goes with the last piece;
#: a sheet with more of it than this is read whole.
TAIL_MAX = 16 * 1024**2
#: Pieces in the second thread's hands at once: the one the loader waits for and those after it,
#: so that the thread always has the next one to parse (measured: 3 reads 20,000 rows about 3%
#: faster than 2, which it was before; 1 would parse nothing ahead).
AHEAD = 3
#: While pieces are read, the interpreter is handed between the threads after this many seconds
#: instead of Python's 5 ms. The parsing thread needs it back four or five times a piece (to
#: start, after reading the piece's workbook, after the parse, to build the rows) while the loader
#: holds it normalising; at 5 ms a handoff, waiting for it doubled a piece's time and left a
#: 20,000-row read 1.7x the floor; at 0.2 ms 1.40-1.45x (benchmarks/RESULTS.md, round fifteen).
HANDOFF_S = 0.0002

_SHEET_DATA = re.compile(rb"<((?:[\w.-]+:)?)sheetData(?:\s[^>]*)?(/?)>")
_ROOT = re.compile(rb"<((?:[\w.-]+:)?)worksheet[\s>]")
_ROW = re.compile(rb"<row[\s/>]")


class ReadWhole(Exception):
    """The sheet cannot be read in pieces (see the module's docstring): read it whole."""


@dataclass
class Piece:
    """One piece, parsed: its rows start at sheet row ``first`` (0-based) and column ``left``;
    the last piece brings the sheet's merged ranges."""

    first: int
    left: int
    rows: list[list[Any]]
    merged: list[Any]


def split_sheet(chunks: Iterator[bytes], size: int, plain: Callable[[bytes], bool],
                first_size: int = PIECE_MIN) -> Iterator[tuple[bytes, bool]]:
    """The sheet's XML as pieces of about ``size`` bytes (the first ``first_size``), each a sheet
    of its own: (XML, last).

    ``chunks`` are the sheet's bytes, each ending before a '<'; ``plain`` is the guard's fast
    test of one chunk, run on each before any of it is handed on."""
    head = closing = end_tag = b""
    rows: list[bytes] = []
    held = 0
    want = first_size
    tail: list[bytes] | None = None
    for n, buf in enumerate(chunks):
        if not plain(buf):
            raise ReadWhole("a part of the sheet needs the careful pass")
        if tail is not None:  # past </sheetData>
            tail.append(buf)
            if sum(map(len, tail)) > TAIL_MAX:
                raise ReadWhole("the sheet's XML after its rows is large")
            continue
        start = 0
        if n == 0:
            data, root = _SHEET_DATA.search(buf), _ROOT.search(buf)
            first = _ROW.search(buf, data.end()) if data is not None and not data.group(2) else None
            if root is None or first is None:
                raise ReadWhole("no rows in the sheet's first chunk")
            start = first.start()
            head = buf[:start]
            end_tag = b"</" + data.group(1) + b"sheetData>"  # type: ignore[union-attr]
            closing = end_tag + b"</" + root.group(1) + b"worksheet>"
        stop = buf.find(end_tag, start)
        hi = len(buf) if stop < 0 else stop
        # A comment, CDATA or processing instruction may hold "<row" that is not a tag.
        if buf.find(b"<!", start, hi) >= 0 or buf.find(b"<?", start, hi) >= 0:
            raise ReadWhole("the sheet's rows hold comments or processing instructions")
        while held + hi - start > want:
            cut = _ROW.search(buf, max(start, start + want - held), hi)
            if cut is None:
                break
            rows.append(buf[start:cut.start()])
            yield b"".join((head, *rows, closing)), False
            rows, held, start, want = [], 0, cut.start(), size
        rows.append(buf[start:hi])
        held += hi - start
        if stop >= 0:
            tail = [buf[stop:]]
    if tail is None:
        raise ReadWhole("the sheet's XML has no end")
    yield b"".join((head, *rows, *tail)), True


def _stored_zip(parts: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in parts:
            zf.writestr(name, data)
    return out.getvalue()


def worth_cutting(sheet_bytes: int, shared_bytes: int) -> bool:
    """Whether a sheet of this much XML, in a workbook whose pieces each repeat this much, is
    read in pieces."""
    return sheet_bytes >= PIECES_FROM and shared_bytes <= sheet_bytes * SHARED_SHARE


def piece_size(sheet_bytes: int, shared_bytes: int) -> int:
    """How much of the sheet's XML goes into each piece after the first (see PIECE_MAX)."""
    return max(PIECE_MIN, min(sheet_bytes // PIECES, PIECE_MAX), 2 * shared_bytes)


_handoffs = threading.Lock()
_reading = 0  # sheets being read in pieces now (several, while the loader looks for the register)
_handoff_before = _handoff_set = 0.0


@contextlib.contextmanager
def quick_handoffs() -> Iterator[None]:
    """The switch interval at ``HANDOFF_S`` while any sheet is read in pieces (or a batch's next
    file is parsed ahead, see sources.SheetsAhead), and as it was once none is (sheets read at
    once may finish in any order). An interval another part of the process set meanwhile is left
    as it was set."""
    global _reading, _handoff_before, _handoff_set
    with _handoffs:
        if _reading == 0:
            _handoff_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_handoff_before, HANDOFF_S))
            _handoff_set = sys.getswitchinterval()
        _reading += 1
    try:
        yield
    finally:
        with _handoffs:
            _reading -= 1
            if _reading == 0 and sys.getswitchinterval() == _handoff_set:
                sys.setswitchinterval(_handoff_before)


def read_pieces(path: str, member: str, shared: list[str], sheet_name: str, pieces: Iterator[tuple[bytes, bool]],
                quietly: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> Iterator[Piece]:
    """Each piece of the sheet (``pieces``, from ``split_sheet``), parsed, in order, by a second
    thread that has up to ``AHEAD`` pieces in hand (the one the caller waits for and those
    after), with the interpreter handed between the two every ``HANDOFF_S`` meanwhile.
    ``shared`` names the workbook's parts every piece needs besides the sheet; ``quietly`` wraps
    each parse (the reader keeps Rust's panic messages off the terminal with it). The thread
    stops when the caller stops asking."""
    from python_calamine import CalamineWorkbook

    with zipfile.ZipFile(path) as zf:
        common = [(name, zf.read(name)) for name in shared]

    def parse(k: int, held: list[bytes], last: bool) -> Piece:
        # The XML comes in a list the parse empties: the pool's work item keeps its arguments
        # until the parse returns, and a piece's XML is not needed once it is in its workbook.
        data = _stored_zip([*common, (member, held.pop())])
        with quietly():
            ws = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet_name)
            del data
            merged = list(ws.merged_cell_ranges or []) if last else []
            if k == 0:  # from A1, as the whole sheet is read
                return Piece(0, 0, ws.to_python(skip_empty_area=False), merged)
            rows = ws.to_python(skip_empty_area=True)
            first, left = ws.start if rows else (0, 0)
            return Piece(first, left, rows, merged)

    # This thread cuts and checks the next piece while the second one parses the current: the
    # guard's searches hold the interpreter, and run in the second thread they left the parse
    # waiting for it (measured: no faster than a whole read, see benchmarks/RESULTS.md).
    pool = ThreadPoolExecutor(1, thread_name_prefix="complaintkit-pieces")
    ahead: deque[Future[Piece]] = deque()
    count = itertools.count()

    def submit() -> bool:
        found = next(pieces, None)
        if found is not None:
            xml, last = found
            ahead.append(pool.submit(parse, next(count), [xml], last))
        return found is not None

    try:
        with quick_handoffs():
            while True:
                while len(ahead) < AHEAD and submit():
                    pass
                if not ahead:
                    break
                yield ahead.popleft().result()
    finally:
        for future in ahead:
            future.cancel()
        pool.shutdown(wait=True)  # a parse under way finishes (calamine cannot be interrupted)
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
