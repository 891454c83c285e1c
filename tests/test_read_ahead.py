"""A batch read on two cores: the next files opened and parsed in a second thread (sources.books_in_turn)."""

from __future__ import annotations

import struct
import sys
import threading
from pathlib import Path

import pytest

from complaintkit import sources, xlsx_pieces
from complaintkit.errors import InputError
from complaintkit.loader import LoadOptions, load_register, load_registers
from complaintkit.policy import load_policy

from conftest import good_row, write_xlsx

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


def test_a_far_cell_is_refused_before_the_second_thread_parses_it(tmp_path, reader_calls):
    """The guard runs before the sheet is handed to the second thread: a value at XFD1048576
    would have the reader reserve 17 billion cells."""
    good = write_xlsx(tmp_path / "a.xlsx", [good_row(1)])
    far = make_corpus.write_xlsx(tmp_path / "far.xlsx", make_corpus.register_rows(),
                                 extra_rows='<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>')
    after = write_xlsx(tmp_path / "c.xlsx", [good_row(2)])
    result = load_registers([str(good), str(far), str(after)], LoadOptions(POLICY), keep_going=True)
    assert len(result.registers) == 2
    assert [f.code for f in result.failures] == ["in_far_cell"]
    assert [name for what, name, _ in reader_calls if what == "parse"] == ["台账", "台账"]  # the two good files' sheets


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
    assert [(r.source, r.sheet, r.header_row, len(r.records)) for r in batch] == \
        [(r.source, r.sheet, r.header_row, len(r.records)) for r in alone]
    assert [[rec.values for rec in r.records] for r in batch] == [[rec.values for rec in r.records] for r in alone]
