"""A batch read on two cores: the next files opened and parsed in a second thread (sources.books_in_turn)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from complaintkit import sources, xlsx_pieces
from complaintkit.errors import InputError
from complaintkit.loader import LoadOptions, load_register, load_registers
from complaintkit.policy import load_policy

from conftest import good_row, typed, write_xlsx

sys.path.insert(0, str(Path(__file__).parent / "badfiles"))
import make_corpus  # noqa: E402


POLICY = load_policy()
AHEAD = "complaintkit-ahead"


@pytest.fixture
def reader_calls(monkeypatch):
    """(what, file or sheet, thread name) of every workbook the reader opens and sheet it parses."""
    calls: list[tuple[str, str, str]] = []
    real_open, real_parse = sources._open_reader, sources._parse_quietly

    def open_reader(p, fmt):
        calls.append(("open", Path(p).name, threading.current_thread().name))
        return real_open(p, fmt)

    def parse(wb, sheet_name):
        calls.append(("parse", sheet_name, threading.current_thread().name))
        return real_parse(wb, sheet_name)

    monkeypatch.setattr(sources, "_open_reader", open_reader)
    monkeypatch.setattr(sources, "_parse_quietly", parse)
    return calls


def _branches(tmp_path: Path, n: int) -> list[Path]:
    return [write_xlsx(tmp_path / f"b{k}.xlsx", [good_row(10 * k + 1), good_row(10 * k + 2)], sheet=f"台账{k}") for k in range(n)]


def test_a_batch_opens_and_parses_its_files_in_the_second_thread(tmp_path, reader_calls):
    files = _branches(tmp_path, 4)
    batch = load_registers([str(f) for f in files], LoadOptions(POLICY)).registers
    assert [r.sheet for r in batch] == ["台账0", "台账1", "台账2", "台账3"]
    assert sorted(reader_calls) == sorted([("open", f"b{k}.xlsx", reader_calls[0][2]) for k in range(4)]
                                          + [("parse", f"台账{k}", reader_calls[0][2]) for k in range(4)])
    assert reader_calls[0][2].startswith(AHEAD)
    assert [len(r.records) for r in batch] == [2, 2, 2, 2]


def test_one_file_and_large_files_are_read_in_their_turn(tmp_path, reader_calls, monkeypatch):
    files = _branches(tmp_path, 3)
    load_registers([str(files[0])], LoadOptions(POLICY))
    monkeypatch.setattr(sources, "AHEAD_BYTES", 0)  # every file is "large"
    load_registers([str(f) for f in files], LoadOptions(POLICY))
    assert {thread for _, _, thread in reader_calls} == {threading.main_thread().name}
    assert [what for what, _, _ in reader_calls] == ["open"] * 4  # parsed when read: not by the reader's second call


def test_sheets_past_the_xml_bound_or_read_in_pieces_are_parsed_in_their_turn(tmp_path, reader_calls, monkeypatch):
    """The sheets parsed ahead hold at most AHEAD_XML_BYTES of XML per file, and a sheet read in
    pieces has a thread of its own: neither is handed to the batch's thread."""
    files = _branches(tmp_path, 3)
    monkeypatch.setattr(sources, "AHEAD_XML_BYTES", 10)  # less than any sheet
    load_registers([str(f) for f in files], LoadOptions(POLICY))
    assert [name for what, name, thread in reader_calls if what == "parse" and thread.startswith(AHEAD)] == []
    reader_calls.clear()
    monkeypatch.setattr(sources, "AHEAD_XML_BYTES", 8 * 1024**2)
    monkeypatch.setattr(sources._ZipParts, "piece_plan", lambda self, sheet: ("xl/worksheets/sheet1.xml", [], 1 << 20))
    monkeypatch.setattr(sources, "_in_pieces", lambda p, parts, plan, name, visible, load: sources.RawSheet(
        name, [list(r) for r in __import__("openpyxl").load_workbook(p)[name].values], []))
    batch = load_registers([str(f) for f in files], LoadOptions(POLICY)).registers
    assert [len(r.records) for r in batch] == [2, 2, 2]
    assert [what for what, _, _ in reader_calls] == ["open"] * 3  # opened ahead, never parsed by the reader


def test_what_is_wrong_with_a_file_is_said_in_its_turn(tmp_path):
    """The third file is checked while the first is read; the second has no header. The batch
    stops at the second, as it would reading them one by one, and with keep_going the failures
    come in the files' order."""
    good = write_xlsx(tmp_path / "a.xlsx", [good_row(1)])
    no_header = write_xlsx(tmp_path / "b.xlsx", [["x", "y", "z"]], headers=["甲", "乙", "丙"])
    (tmp_path / "c.xlsx").write_bytes(b"PK\x03\x04 truncated")
    files = [str(good), str(no_header), str(tmp_path / "c.xlsx")]
    with pytest.raises(InputError) as caught:
        load_registers(files, LoadOptions(POLICY))
    assert caught.value.path == str(no_header) and caught.value.code == "in_no_header"
    seen: list[str] = []
    result = load_registers(files, LoadOptions(POLICY), keep_going=True, progress=lambda p: seen.append(Path(p).name))
    assert seen == ["a.xlsx", "b.xlsx", "c.xlsx"]
    assert [r.source for r in result.registers] == [str(good)]
    assert [(Path(f.path).name, f.code) for f in result.failures] == [("b.xlsx", "in_no_header"), ("c.xlsx", "in_truncated_zip")]


def test_a_file_still_being_copied_in_when_checked_is_read_as_it_is_in_its_turn(tmp_path):
    """The third file is empty when it is checked (while the first is read), and whole by its
    turn (a branch's upload finishing as the nightly batch starts): it is read, as it would be
    one file after another, not refused for what it was."""
    a = write_xlsx(tmp_path / "a.xlsx", [good_row(1)])
    b = write_xlsx(tmp_path / "b.xlsx", [good_row(2)])
    late = tmp_path / "c.xlsx"
    late.write_bytes(b"")

    def progress(path: Path) -> None:
        if Path(path).name == "b.xlsx":  # c was checked at a's end
            late.write_bytes(a.read_bytes())

    result = load_registers([str(a), str(b), str(late)], LoadOptions(POLICY), keep_going=True, progress=progress)
    assert result.failures == [] and [Path(r.source).name for r in result.registers] == ["a.xlsx", "b.xlsx", "c.xlsx"]


FAR = make_corpus.FAR_CELL


@pytest.mark.ends_process  # a far cell, read in this process
def test_every_sheet_is_guarded_before_the_second_thread_parses_it(tmp_path, monkeypatch):
    """The guard runs before a sheet is handed to the second thread: a value at XFD1048576 would
    have the reader reserve 17 billion cells (and abort the process)."""
    guarded: set[tuple[str, str]] = set()
    opened: dict[int, str] = {}
    parsed: list[tuple[str, str]] = []
    real_check, real_open, real_parse = sources._ZipParts.check_extent, sources._open_reader, sources._parse_quietly

    def check_extent(self, sheet):
        real_check(self, sheet)
        guarded.add((Path(self.path).name, sheet))

    def open_reader(p, fmt):
        found = real_open(p, fmt)
        opened[id(found[0])] = Path(p).name
        return found

    def parse(wb, sheet_name):
        parsed.append((opened[id(wb)], sheet_name))
        assert parsed[-1] in guarded, f"{parsed[-1]} parsed before it was guarded"
        return real_parse(wb, sheet_name)

    monkeypatch.setattr(sources._ZipParts, "check_extent", check_extent)
    monkeypatch.setattr(sources, "_open_reader", open_reader)
    monkeypatch.setattr(sources, "_parse_quietly", parse)
    good = write_xlsx(tmp_path / "a.xlsx", [good_row(1)])
    far = make_corpus.write_xlsx(tmp_path / "far.xlsx", make_corpus.register_rows(), extra_rows=FAR)
    after = write_xlsx(tmp_path / "c.xlsx", [good_row(2)])
    result = load_registers([str(good), str(far), str(after)], LoadOptions(POLICY), keep_going=True)
    assert [Path(r.source).name for r in result.registers] == ["a.xlsx", "c.xlsx"]
    assert [f.code for f in result.failures] == ["in_far_cell"]
    assert parsed == [("a.xlsx", "台账"), ("c.xlsx", "台账")]


@pytest.mark.ends_process  # a far cell, read in this process
def test_a_file_with_two_bad_sheets_says_what_it_says_alone(tmp_path):
    """Sheet A has a far cell, sheet B is cut short: alone, the file is refused for A's far cell
    (the sheets are read in order), and in a batch too (B, once parsed ahead, used to be said
    first)."""
    far = make_corpus.sheet_xml(make_corpus.register_rows(), extra_rows=FAR)
    cut = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData')
    two = make_corpus.write_zip(tmp_path / "two.xlsx", make_corpus.xlsx_parts([("A", far), ("B", cut)]))
    files = [write_xlsx(tmp_path / "a.xlsx", [good_row(1)]), two, write_xlsx(tmp_path / "c.xlsx", [good_row(2)])]
    with pytest.raises(InputError) as alone:
        load_register(two, LoadOptions(POLICY))
    result = load_registers([str(f) for f in files], LoadOptions(POLICY), keep_going=True)
    assert alone.value.code == "in_far_cell"
    assert [(f.path, f.code, str(f)) for f in result.failures] == [(str(two), "in_far_cell", str(alone.value))]


def test_any_error_waits_for_its_files_turn(tmp_path, monkeypatch):
    """Not only the errors a file is known to give: a MemoryError checking the third file (while
    the first is read) comes in the third file's turn, after the first file's own error."""
    no_header = write_xlsx(tmp_path / "a.xlsx", [["x", "y", "z"]], headers=["甲", "乙", "丙"])
    files = [no_header, write_xlsx(tmp_path / "b.xlsx", [good_row(1)]), write_xlsx(tmp_path / "c.xlsx", [good_row(2)])]
    real = sources.check_book

    def check_book(path, *args):
        if Path(path).name == "c.xlsx":
            raise MemoryError
        return real(path, *args)

    monkeypatch.setattr(sources, "check_book", check_book)
    seen: list[str] = []
    with pytest.raises(InputError) as caught:
        load_registers([str(f) for f in files], LoadOptions(POLICY), progress=lambda p: seen.append(Path(p).name))
    assert caught.value.code == "in_no_header" and seen == ["a.xlsx"]
    seen.clear()
    with pytest.raises(MemoryError):
        load_registers([str(f) for f in files], LoadOptions(POLICY), keep_going=True, progress=lambda p: seen.append(Path(p).name))
    assert seen == ["a.xlsx", "b.xlsx", "c.xlsx"]


@pytest.mark.parametrize("saved_while", ["p0.xlsx", "p1.xlsx"])
def test_a_file_saved_again_during_the_batch_is_read_as_it_is_now(tmp_path, saved_while):
    """The third file has a far cell when it is checked and opened ahead; while the first (or the
    second) file is read, the clerk saves a fixed copy over it (a new file renamed over the old,
    as Excel saves). The guard reads the file by its name: it must not prove the new file while
    the reader parses the old one, whether the save comes before the third file's sheets are
    handed to the second thread or after. Run in a child process with its memory capped: that
    parse would abort it."""
    script = f"""
import os, sys, threading
from pathlib import Path
sys.path[:0] = {[str(Path(__file__).parent / "badfiles"), str(Path(__file__).parent)]!r}
try:  # the abort ends this child either way; the cap makes it quick where a process may set one
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
except (ImportError, ValueError, OSError):
    pass  # Windows has no resource module; macOS refuses RLIMIT_AS
import make_corpus
from complaintkit import sources
from complaintkit.loader import LoadOptions, load_registers
from complaintkit.policy import load_policy
d = Path({str(tmp_path)!r})
files = [make_corpus.write_xlsx(d / f"p{{k}}.xlsx", make_corpus.register_rows()) for k in range(2)]
p2 = make_corpus.write_xlsx(d / "p2.xlsx", make_corpus.register_rows(), extra_rows={FAR!r})
fixed = make_corpus.write_xlsx(d / "fixed.tmp", make_corpus.register_rows(4))
opened = threading.Event()
old_p2: list = []  # the reader's workbook of the file as it was checked (with the far cell)
parsed_old = []
real_open, real_parse = sources._open_reader, sources._parse_quietly

def open_reader(p, fmt):
    found = real_open(p, fmt)
    if Path(p).name == "p2.xlsx" and not opened.is_set():
        old_p2.append(found[0])
        opened.set()
    return found

def parse(wb, sheet_name):
    if old_p2 and wb is old_p2[0]:
        parsed_old.append(sheet_name)  # said below: the parse itself would abort, or be cancelled at the end
        raise RuntimeError("the old file parsed")
    return real_parse(wb, sheet_name)

sources._open_reader, sources._parse_quietly = open_reader, parse

def progress(p):
    if Path(p).name == {saved_while!r}:
        assert opened.wait(30)  # the second thread holds the old p2.xlsx
        os.replace(fixed, p2)

res = load_registers([str(f) for f in [*files, p2]], LoadOptions(load_policy()), keep_going=True, progress=progress)
print([(Path(r.source).name, len(r.records)) for r in res.registers], [f.code for f in res.failures], parsed_old)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[('p0.xlsx', 3), ('p1.xlsx', 3), ('p2.xlsx', 4)] [] []"


@pytest.mark.ends_process  # a far cell, read in this process
def test_a_workbooks_other_relationships_leave_its_sheets_parts_clear(tmp_path):
    """Excel writes a customXml relationship as "../customXml/item1.xml" (SharePoint metadata,
    Power Query): only the sheets' own targets decide whether a package can be read two ways,
    so such a workbook's sheets keep their parts: a far cell in a lists sheet the register is
    not read from does not refuse the file, and only the register sheet is guarded."""
    custom = (b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/customXml" '
              b'Target="../customXml/item1.xml"/></Relationships>')
    parts = make_corpus.xlsx_parts([("台账", make_corpus.sheet_xml(make_corpus.register_rows())),
                                    ("下拉", make_corpus.sheet_xml([["柜面"], ["电话"]], extra_rows=FAR))])
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", custom)
    parts["customXml/item1.xml"] = b'<?xml version="1.0"?><root/>'
    path = make_corpus.write_zip(tmp_path / "custom.xlsx", parts)
    register = load_register(path, LoadOptions(POLICY, "台账"))
    assert len(register.records) == 3
    book = sources.check_book(path)
    book.zip_parts.check_extent("台账")
    assert book.zip_parts.checked == {"xl/worksheets/sheet1.xml"}


def test_what_the_loaders_thread_writes_while_a_parse_panics_still_reaches_the_terminal(capfd):
    """While a second thread's parse holds the terminal's descriptor, what the loader's thread
    writes (a progress bar) goes to the sink with Rust's messages; after a panic, the panic's
    own lines are left out and the rest is passed on."""
    class PanicException(BaseException):  # as pyo3 names it
        pass

    started, written = threading.Event(), threading.Event()

    def parse():
        with sources._native_stderr_kept_quiet():
            started.set()
            assert written.wait(10)
            os.write(2, b"\nthread '<unnamed>' panicked at src/cfb.rs:329:25:\nindex out of bounds\nstack backtrace:\n"
                        b"   0: rust_begin_unwind\nnote: Some details are omitted, run with `RUST_BACKTRACE=full`.\n")
            raise PanicException("index out of bounds")

    with ThreadPoolExecutor(1) as pool:
        parsing = pool.submit(parse)
        assert started.wait(10)
        os.write(2, "读取 2/3\n".encode())  # as sys.stderr writes on a terminal
        written.set()
        with pytest.raises(PanicException):
            parsing.result()
    _out, err = capfd.readouterr()
    assert err == "读取 2/3\n"


def test_the_switch_interval_is_quick_during_a_batch_and_as_it_was_after(tmp_path):
    files = _branches(tmp_path, 3)
    before = sys.getswitchinterval()
    during: list[float] = []
    load_registers([str(f) for f in files], LoadOptions(POLICY), progress=lambda _p: during.append(sys.getswitchinterval()))
    assert during == [pytest.approx(min(before, xlsx_pieces.HANDOFF_S))] * 3
    assert sys.getswitchinterval() == before


def test_a_reader_panic_in_the_second_thread_is_one_line_and_silent(tmp_path, capfd):
    """The reader's Rust code panics on some damaged files; in the second thread too, its message
    stays off the terminal and the panic becomes the file's InputError."""
    damaged = bytearray(make_corpus.ole_file({"Workbook": make_corpus.biff8_workbook(make_corpus.register_rows())}))
    damaged[76:80] = struct.pack("<I", make_corpus._FAT)  # the sector table now points at itself
    path = tmp_path / "damaged.xls"
    path.write_bytes(bytes(damaged))
    with sources.SheetsAhead() as ahead:
        opened = ahead.open(sources.CheckedBook(path, "xls"))
        with pytest.raises(InputError, match="damaged"):
            opened.result()
    _out, err = capfd.readouterr()
    assert "panicked" not in err and err == ""


def test_a_batch_with_a_csv_and_an_xls_reads_each_as_alone(samples):
    files = [samples / "legacy_branch.xls", *sorted((samples / "branches").glob("*.*")), samples / "clean_branch.xlsx"]
    batch = load_registers([str(f) for f in files], LoadOptions(POLICY)).registers
    alone = [load_register(f, LoadOptions(POLICY)) for f in files]
    assert [(r.source, r.sheet, r.header_row, r.columns) for r in batch] == [(r.source, r.sheet, r.header_row, r.columns) for r in alone]
    assert [[typed(rec) for rec in r.records] for r in batch] == [[typed(rec) for rec in r.records] for r in alone]


@pytest.mark.parametrize("text, kept", [
    # The first panic of a process: message, backtrace, Rust's note.
    (b"progress 1/3\n\nthread '<unnamed>' (9014) panicked at src/cfb.rs:329:25:\nindex out of bounds\nstack backtrace:\n"
     b"   0: rust_begin_unwind\n             at /rustc/x.rs:1:2\nnote: Some details are omitted, run with `RUST_BACKTRACE=full`.\n"
     b"progress 2/3\n", b"progress 1/3\nprogress 2/3\n"),
    # A later panic: Rust prints no note, and what follows it is not the panic's.
    (b"thread '<unnamed>' panicked at src/x.rs:1:1:\nboom\nprogress 3/3\n", b"progress 3/3\n"),
    (b"thread 'x' panicked at a.rs:\nmsg\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n", b""),
    (b"no panic here\nnote: a line of our own\n", b"no panic here\nnote: a line of our own\n"),
])
def test_a_panics_own_lines_are_left_out_and_nothing_else(text, kept):
    assert sources._without_panic(text) == kept
