"""A large sheet read in pieces (xlsx_pieces) gives what reading it whole gives: the same register,
the same rows, the same errors; and whatever the pieces cannot serve is read whole."""

from __future__ import annotations

import datetime as dt
import gc
import io
import re
import sys
import threading
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import Workbook

from complaintkit import loader, sources, xlsx_pieces
from complaintkit.errors import InputError
from complaintkit.loader import LoadOptions, load_register
from complaintkit.policy import load_policy

from conftest import HEADERS, SAMPLES

SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture
def pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every sheet read in pieces of a few KiB (unzipped in chunks of 4 KiB); the list counts the
    pieces each sheet was read in."""
    monkeypatch.setattr(xlsx_pieces, "PIECES_FROM", 0)
    monkeypatch.setattr(xlsx_pieces, "SHARED_SHARE", 1.0)
    monkeypatch.setattr(sources, "PIECE_MIN", 6000)
    monkeypatch.setattr(xlsx_pieces, "PIECE_MIN", 6000)
    monkeypatch.setattr(xlsx_pieces, "PIECE_MAX", 6000)
    monkeypatch.setattr(sources, "_CHUNK", 4096)
    counts: list[int] = []
    real = sources.read_pieces

    def counted(*args, **kwargs):
        counts.append(0)
        for piece in real(*args, **kwargs):
            counts[-1] += 1
            yield piece

    monkeypatch.setattr(sources, "read_pieces", counted)
    return counts


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_pieces, "PIECES_FROM", 1 << 62)


def _register(path: Path):
    return load_register(path, LoadOptions(load_policy()))


def _same(a, b) -> None:
    assert (a.sheet, a.header_row, a.columns, a.notes) == (b.sheet, b.header_row, b.columns, b.notes)
    assert len(a.records) == len(b.records)
    for x, y in zip(a.records, b.records):
        assert (x.row, x.values, dict(x.raw), dict(x.problems), dict(x.extra)) == \
               (y.row, y.values, dict(y.raw), dict(y.problems), dict(y.extra))


def _compare(path: Path, pieces: list[int], monkeypatch: pytest.MonkeyPatch):
    cut = _register(path)
    with monkeypatch.context() as m:
        _whole(m)
        whole = _register(path)
    _same(cut, whole)
    return cut


def _refused_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The message refusing the file in pieces, which must be the whole read's message."""
    with pytest.raises(InputError) as cut:
        _register(path)
    with monkeypatch.context() as m:
        _whole(m)
        with pytest.raises(InputError) as whole:
            _register(path)
    assert str(cut.value) == str(whole.value)
    return str(cut.value)


def _book(path: Path, rows: int = 600, title: bool = True, extra=None) -> Path:
    """A register with styles and date cells, blank rows, a stretch without column A, numbers
    typed as text and a footer (openpyxl writes its texts inline, as streaming writers do)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    if title:
        ws.append(["投诉登记台账"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append(HEADERS)
    for i in range(rows):
        if i % 97 == 50:
            ws.append([])  # a blank row
            continue
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)
        ws.append([
            None if 200 <= i < 260 else f"TS{i:06d}", day if i % 3 else day.strftime("%Y年%m月%d日"), "电话", "城东支行",
            f"客户{i % 40}", f"11010519491231002{i % 10}", 13800138000 + i % 50 if i % 2 else f"1380013{i % 9999:04d}",
            "信用卡", f"第{i}号投诉：年费未经同意扣收，要求退还。" * (1 + i % 3), "处理中" if i % 4 else "已办结",
            day + dt.timedelta(days=5) if i % 4 == 0 else None, None, "满意" if i % 5 == 0 else None,
        ])
    ws.append(["制表人：张三"])
    if extra:
        extra(ws)
    wb.save(path)
    return path


def _shared_strings(path: Path) -> Path:
    """The same workbook with its texts in shared strings, as Excel saves them."""
    index: dict[bytes, int] = {}

    def shared(m: re.Match) -> bytes:
        return b'<c r="%s" t="s"><v>%d</v></c>' % (m.group(1), index.setdefault(m.group(2), len(index)))

    out = _edit(path, lambda xml: re.sub(rb'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>', shared, xml),
                {"xl/_rels/workbook.xml.rels": lambda x: x.replace(b"</Relationships>", b'<Relationship Id="rIdS" Type="http://schemas'
                                                                   b'.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
                                                                   b'Target="sharedStrings.xml"/></Relationships>'),
                 "[Content_Types].xml": lambda x: x.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType='
                                                            b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')},
                lambda: b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        + b"".join(b"<si><t>%s</t></si>" % t for t in index) + b"</sst>")
    return out


def _edit(path: Path, change, others: dict | None = None, sst=None) -> Path:
    """The same workbook with its sheet's XML changed."""
    with zipfile.ZipFile(path) as zf:
        parts = [(info, zf.read(info)) for info in zf.infolist()]
    out = path.with_name("edited-" + path.name)
    others = others or {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in parts:
            zf.writestr(info.filename, change(data) if info.filename == SHEET else others.get(info.filename, bytes)(data))
        if sst is not None:
            zf.writestr("xl/sharedStrings.xml", sst())
    return out


def test_a_register_read_in_pieces_is_the_register_read_whole(tmp_path, pieces, monkeypatch):
    reg = _compare(_book(tmp_path / "r.xlsx"), pieces, monkeypatch)
    assert pieces and pieces[0] >= 10  # really cut: each piece a few KiB
    assert len(reg.records) > 500
    assert not [t for t in threading.enumerate() if t.name.startswith("complaintkit-pieces")]


@pytest.mark.parametrize("ahead", [1, 2, 5])
def test_however_many_pieces_are_parsed_ahead_every_row_is_read(tmp_path, pieces, monkeypatch, ahead):
    monkeypatch.setattr(xlsx_pieces, "AHEAD", ahead)
    reg = _compare(_book(tmp_path / "r.xlsx"), pieces, monkeypatch)
    assert pieces[0] >= 10 and len(reg.records) > 500


def test_each_piece_is_normalised_as_it_comes(tmp_path, pieces, monkeypatch):
    """The loader turns the rows of a piece into records before it takes the next one, while the
    other thread parses ahead (asking for a chunk's worth of rows left a core idle)."""
    taken: list[tuple[int, int, float]] = []
    real = loader._chunk_records

    def chunk(rows, *args, **kwargs):
        taken.append((pieces[-1], len(rows), sys.getswitchinterval()))
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(loader, "_chunk_records", chunk)
    before = sys.getswitchinterval()
    reg = _register(_book(tmp_path / "r.xlsx"))
    given = [n for n, _, _ in taken]
    assert pieces[0] >= 10 and len(taken) >= pieces[0] - given[0]  # the header search took the first few
    assert all(b - a <= 1 for a, b in zip(given, given[1:]))  # never a second piece before the first is done
    assert sum(n for _, n, _ in taken) >= len(reg.records)
    # The threads hand the interpreter over quickly while the pieces are read, and as before after.
    assert all(s == pytest.approx(min(before, xlsx_pieces.HANDOFF_S)) for _, _, s in taken)
    assert sys.getswitchinterval() == before


def test_a_switch_interval_set_while_a_sheet_is_read_in_pieces_is_left_as_it_was_set(tmp_path, pieces):
    """Another part of the process (a host, a profiler) sets its own switch interval while a sheet
    is read in pieces: the read, ending, does not put the one from before it back over it."""
    before = sys.getswitchinterval()
    book = sources.open_book(_book(tmp_path / "r.xlsx"))
    sheet = book.sheet(book.sheet_names[0])
    assert len(sheet.head(5)) == 5 and not sheet.complete
    try:
        sys.setswitchinterval(0.003)
        assert sheet.rows
        assert sys.getswitchinterval() == pytest.approx(0.003)
    finally:
        sys.setswitchinterval(before)


def test_two_sheets_read_in_pieces_at_once_put_the_switch_interval_back_whichever_ends_first(tmp_path, pieces):
    path = _book(tmp_path / "r.xlsx", extra=lambda ws: ws.parent.copy_worksheet(ws))
    before = sys.getswitchinterval()
    book = sources.open_book(path)
    first, second = (book.sheet(name) for name in book.sheet_names)
    assert len(first.head(5)) == len(second.head(5)) == 5 and not first.complete and not second.complete
    assert first.rows and sys.getswitchinterval() == pytest.approx(min(before, xlsx_pieces.HANDOFF_S))  # the second still reads
    assert second.rows and sys.getswitchinterval() == before


def test_sheets_looked_at_and_not_taken_stop_being_read_in_pieces(tmp_path, pieces):
    path = _book(tmp_path / "r.xlsx", extra=lambda ws: ws.parent.copy_worksheet(ws))
    before = sys.getswitchinterval()
    book = sources.open_book(path)
    first, second = (book.sheet(name) for name in book.sheet_names)
    first.head(5), second.head(5)
    taken = book.take(book.sheet_names[0])
    assert taken is first and not first.complete
    # The other one's thread is gone, and with it the quick handoffs once the taken one is read.
    assert len([t for t in threading.enumerate() if t.name.startswith("complaintkit-pieces")]) == 1
    assert len(taken.rows) > 600 and sys.getswitchinterval() == before
    # A second look at the rows read so far needs no read; past them the sheet is read whole.
    again = book.sheet(book.sheet_names[1])
    assert again is second and again.head(5) == taken.rows[:5] and not again.complete
    assert again.rows == taken.rows and again.complete


def _row_damaged(xml: bytes, row: int = 20) -> bytes:
    at = xml.index(b'<row r="%d"' % row)
    return xml[:at] + b'<row r="%d"><c r="A%d"><v>1</c></row>' % (row, row) + xml[at:]


def _row_moved(xml: bytes, row: int = 25, before: int = 41) -> bytes:
    start = xml.index(b'<row r="%d"' % row)
    end = xml.index(b"</row>", start) + len(b"</row>")
    moved, xml = xml[start:end], xml[:start] + xml[end:]
    at = xml.index(b'<row r="%d"' % before)
    return xml[:at] + moved + xml[at:]


def test_damage_found_while_the_header_is_looked_for_is_refused_as_when_read_whole(tmp_path, pieces, monkeypatch):
    # Row 20 is read by the header search (``head``), in the sheet's second or third piece.
    assert "ill-formed" in _refused_alike(_edit(_book(tmp_path / "r.xlsx"), _row_damaged), monkeypatch)


def test_a_piece_going_back_while_the_header_is_looked_for_reads_the_whole_register(tmp_path, pieces, monkeypatch):
    reg = _compare(_edit(_book(tmp_path / "r.xlsx"), _row_moved), pieces, monkeypatch)
    assert len(reg.records) > 500


def test_a_register_with_shared_strings_read_in_pieces_is_the_register_read_whole(tmp_path, pieces, monkeypatch):
    path = _shared_strings(_book(tmp_path / "r.xlsx"))
    with zipfile.ZipFile(path) as zf:
        assert b't="s"' in zf.read(SHEET) and b"inlineStr" not in zf.read(SHEET)
    _compare(path, pieces, monkeypatch)
    assert pieces[0] >= 2  # each piece at least twice the shared strings


def test_a_workbook_whose_shared_strings_are_large_is_read_whole():
    assert xlsx_pieces.worth_cutting(160 * 1024**2, 10 * 1024**2)
    assert not xlsx_pieces.worth_cutting(123 * 1024**2, 41 * 1024**2)  # the bench's register saved with shared strings
    assert not xlsx_pieces.worth_cutting(xlsx_pieces.PIECES_FROM - 1, 0)


@pytest.mark.parametrize("name", ["messy_branch.xlsx", "clean_branch.xlsx", "escalation_history.xlsx"])
def test_the_samples_read_in_pieces_as_whole(name, pieces, monkeypatch):
    _compare(SAMPLES / name, pieces, monkeypatch)


def test_rows_of_a_sheet_read_in_pieces_are_the_rows_read_whole(tmp_path, pieces, monkeypatch):
    path = _book(tmp_path / "r.xlsx")
    book = sources.open_book(path)
    rows = book.sheet("台账").rows
    with monkeypatch.context() as m:
        _whole(m)
        whole = sources.open_book(path).sheet("台账")
    assert rows == whole.rows
    assert book.sheet("台账").merged == whole.merged == [((0, 0), (0, len(HEADERS) - 1))]
    assert pieces[0] >= 10


def test_merged_cells_among_the_rows_read_the_sheet_whole(tmp_path, pieces, monkeypatch):
    # The merged ranges come with the last piece: filled before normalising only when read whole.
    path = _book(tmp_path / "r.xlsx", extra=lambda ws: ws.merge_cells("D500:D520"))
    reg = _compare(path, pieces, monkeypatch)
    assert any(n.startswith("merged_cells:") for n in reg.notes)
    assert len(pieces) == 1  # pieces tried once, then the sheet read whole


def test_rows_out_of_order_in_the_xml_read_the_sheet_whole(tmp_path, pieces, monkeypatch):
    def move_row_5_to_the_end(xml: bytes) -> bytes:
        start = xml.index(b'<row r="5"')
        end = xml.index(b"</row>", start) + len(b"</row>")
        row = xml[start:end]
        xml = xml[:start] + xml[end:]
        at = xml.index(b"</sheetData>")
        return xml[:at] + row + xml[at:]

    path = _edit(_book(tmp_path / "r.xlsx"), move_row_5_to_the_end)
    reg = _compare(path, pieces, monkeypatch)
    assert reg.records[2].row == 5 and reg.records[2].id == "TS000002"


@pytest.mark.ends_process  # a far cell, read in this process
def test_a_far_cell_in_a_late_piece_is_refused_as_when_read_whole(tmp_path, pieces, monkeypatch):
    def far_cell(xml: bytes) -> bytes:
        at = xml.index(b"</sheetData>")
        return xml[:at] + b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row>' + xml[at:]

    path = _edit(_book(tmp_path / "r.xlsx"), far_cell)
    assert "XFD1048576" in _refused_alike(path, monkeypatch)


def test_cells_without_references_in_a_late_piece_read_the_sheet_whole(tmp_path, pieces, monkeypatch):
    # Cells placed by their order, not their reference: only the guard's careful pass follows them.
    def unreferenced(xml: bytes) -> bytes:
        start = xml.index(b'<row r="500"')
        end = xml.index(b"</row>", start)
        return xml[:start] + re.sub(rb'<c r="[A-Z]+500"', b"<c", xml[start:end]) + xml[end:]

    path = _edit(_book(tmp_path / "r.xlsx"), unreferenced)
    reg = _compare(path, pieces, monkeypatch)
    assert any(r.row == 500 and r.id for r in reg.records)


@pytest.mark.parametrize("odd", [b"<!-- a note -->", b"<?pi x?>"])
def test_comments_among_the_rows_read_the_sheet_whole(tmp_path, pieces, monkeypatch, odd):
    def note(xml: bytes) -> bytes:
        at = xml.index(b'<row r="300"')
        return xml[:at] + odd + xml[at:]

    _compare(_edit(_book(tmp_path / "r.xlsx"), note), pieces, monkeypatch)


def test_a_damaged_piece_reports_what_a_whole_read_reports(tmp_path, pieces, monkeypatch):
    def damage(xml: bytes) -> bytes:
        at = xml.index(b'<row r="400"')
        return xml[:at] + b"<row r=\"400\"><c r=\"A400\"><v>1</c></row>" + xml[at:]

    path = _edit(_book(tmp_path / "r.xlsx"), damage)
    assert _refused_alike(path, monkeypatch)


def _hidden_past_stated_size(tmp_path: Path, before_end: bool) -> Path:
    """The register with a value in XFD1048576 that inflates past the sheet's stated size, whose
    checksum fits the bytes before it (zipfile, and so the guard and the pieces, stop there)."""
    sys.path.insert(0, str(Path(__file__).parent / "badfiles"))
    import make_corpus

    book = _book(tmp_path / "r.xlsx")
    with zipfile.ZipFile(book) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    clean = parts[SHEET]
    far = make_corpus.FAR_CELL.encode()
    cut = clean.index(b"</sheetData>") if before_end else len(clean)
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = comp.compress(clean[:cut] + far + clean[cut:]) + comp.flush()
    return make_corpus._zip_with_raw_member(tmp_path / "hidden.xlsx", parts, SHEET, raw, zlib.crc32(clean[:cut]), cut)


@pytest.mark.ends_process  # a far cell, read in this process
def test_a_value_hidden_past_the_stated_size_among_the_rows_is_refused_as_when_read_whole(tmp_path, pieces, monkeypatch):
    # The corpus's stray_value_past_stated_size: the stated part has no end, the sheet is read
    # whole and calamine refuses it (docs/robustness.md).
    path = _hidden_past_stated_size(tmp_path, before_end=True)
    assert "past its stated size" in _refused_alike(path, monkeypatch)


@pytest.mark.ends_process  # a far cell, read in this process
def test_bytes_hidden_past_the_end_of_the_sheets_xml_are_never_read_in_pieces(tmp_path, pieces, monkeypatch):
    # The stated part is a whole sheet: read in pieces, only those bytes are read (as openpyxl
    # reads them); read whole, calamine refuses the part. Neither lets the hidden cell in.
    path = _hidden_past_stated_size(tmp_path, before_end=False)
    reg = _register(path)
    assert max(r.row for r in reg.records) < 1000 and pieces[0] >= 10
    with monkeypatch.context() as m:
        _whole(m)
        with pytest.raises(InputError, match="past its stated size"):
            _register(path)


def test_a_sheet_left_half_read_stops_its_thread(tmp_path, pieces):
    before = sys.getswitchinterval()
    book = sources.open_book(_book(tmp_path / "r.xlsx"))
    sheet = book.sheet("台账")
    assert len(sheet.head(5)) == 5 and not sheet.complete
    assert sys.getswitchinterval() == pytest.approx(min(before, xlsx_pieces.HANDOFF_S))
    del book, sheet
    gc.collect()
    assert not [t for t in threading.enumerate() if t.name.startswith("complaintkit-pieces")]
    assert sys.getswitchinterval() == before


# -- cutting ---------------------------------------------------------------------------------

_HEAD = b'<?xml version="1.0"?><worksheet xmlns="urn:x"><dimension ref="A1:B9"/><sheetData>'
_TAIL = b'</sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>'


def _chunked(data: bytes, size: int):
    """Chunks ending before a '<', as the reader unzips them."""
    while data:
        cut = data.rfind(b"<", 0, size) if len(data) > size else len(data)
        cut = cut if cut > 0 else len(data)
        yield data[:cut]
        data = data[cut:]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("ab<&", max_size=30), min_size=1, max_size=40), st.integers(200, 600), st.integers(1, 300),
       st.integers(1, 300))
def test_the_pieces_hold_every_row_once_in_order(texts, chunk, first, size):
    # (The reader's first chunk, 4 MiB, holds the sheet's head and first row; so does this one.)
    rows = [b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>'
            % (i + 1, i + 1, t.replace("&", "&amp;").replace("<", "&lt;").encode()) for i, t in enumerate(texts)]
    xml = _HEAD + b"".join(rows) + _TAIL
    pieces = list(xlsx_pieces.split_sheet(_chunked(xml, chunk), size, lambda _: True, first))
    assert [last for _, last in pieces] == [False] * (len(pieces) - 1) + [True]
    found = []
    for data, last in pieces:
        assert data.startswith(_HEAD)
        assert data.endswith(_TAIL if last else b"</sheetData></worksheet>")
        root = ET.fromstring(data)  # each piece is a sheet of its own
        found += [r.get("r") for r in root.iter("{urn:x}row")]
        assert root.find("{urn:x}mergeCells") is not None if last else root.find("{urn:x}mergeCells") is None
    assert found == [str(i + 1) for i in range(len(texts))]


def test_a_chunk_the_fast_pass_cannot_prove_reads_the_sheet_whole():
    xml = _HEAD + b'<row r="1"><c r="A1"><v>1</v></c></row>' * 50 + _TAIL
    seen = []
    with pytest.raises(xlsx_pieces.ReadWhole):
        list(xlsx_pieces.split_sheet(_chunked(xml, 100), 200, lambda buf: seen.append(buf) or len(seen) < 5, 200))
    assert len(seen) == 5  # nothing past the chunk it could not prove was handed on


def test_a_piece_is_at_least_twice_the_parts_it_repeats():
    assert xlsx_pieces.piece_size(10 * 1024**3, 0) == xlsx_pieces.PIECE_MAX
    assert xlsx_pieces.piece_size(8 * 1024**2, 0) == xlsx_pieces.PIECE_MIN
    assert xlsx_pieces.piece_size(400 * 1024**2, 100 * 1024**2) == 200 * 1024**2


def test_stored_zip_is_a_zip():
    data = xlsx_pieces._stored_zip([("a.xml", b"<a/>"), ("b/c.xml", b"<c/>")])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("b/c.xml") == b"<c/>" and zf.testzip() is None


def test_a_sheet_whose_pieces_stopped_never_passes_for_complete():
    """Pieces that stopped before the sheet's end leave a marker that, asked for a piece, says
    the sheet must be read whole (an empty iterator would have passed for the sheet's end); and
    a sheet in pieces always has its whole read to fall back on."""
    with pytest.raises(sources.ReadWhole):
        next(sources._WHOLE_FROM_HERE)
    with pytest.raises(ValueError):
        sources.RawSheet("台账", [], None, True, iter(()))
