"""Fuzzing the reader (issue 10): mutated sample files and generated cell values give a register
or a one-line InputError, never another exception, never a hang, and never a live formula.

Seeded and bounded: 150 byte-level mutations of small xlsx and CSV files, 150 mutations of the XML
inside a well-formed workbook (so the reader, not just the zip check, meets them), and hypothesis
examples of hostile cell values. A time budget stops the file loops early on a slow machine (the
count tried is printed); nothing is asserted about time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import signal
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from complaintkit.errors import InputError
from complaintkit.loader import LoadOptions, load_register, register_from_rows
from complaintkit.outputs import defuse, to_csv
from complaintkit.policy import load_policy
from complaintkit.validation import validate
from complaintkit.xlsx_applier import put, write_annotated

sys.path.insert(0, str(Path(__file__).parent / "badfiles"))
import make_corpus  # noqa: E402

SEED = 20261120
BYTE_CASES = 150
XML_CASES = 150
BUDGET_S = 20.0
AS_OF = dt.date(2026, 11, 20)
POLICY = load_policy()
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


class Hang(BaseException):
    """One case ran too long (a BaseException: no handler in the code under test swallows it)."""


def within(seconds: int, func: Callable[[], Any]) -> Any:
    def fire(_signum: int, _frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        return func()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read_and_check(path: Path, out_dir: Path | None = None) -> str:
    """Load + validate (+ an annotated copy): 'ok' or 'refused'; anything else propagates."""
    try:
        reg = load_register(path, LoadOptions(POLICY))
        validate([reg], POLICY, AS_OF)
        if out_dir is not None:
            write_annotated(reg, [], out_dir / f"{path.stem}.out.xlsx", force=True)
        return "ok"
    except InputError as exc:
        assert "\n" not in str(exc) or str(exc).count("\n") == str(exc.path).count("\n"), str(exc)
        return "refused"


# ---------------------------------------------------------------------------------- seeds and mutations

def seeds(folder: Path) -> dict[str, bytes]:
    rows = make_corpus.register_rows(3)
    xlsx = make_corpus.write_xlsx(folder / "seed.xlsx", rows).read_bytes()
    wb = Workbook()  # an openpyxl-written one too: shared strings, styles, a dimension
    ws = wb.active
    ws.title = "台账"
    for row in rows:
        ws.append(row)
    wb.save(folder / "seed2.xlsx")
    text = make_corpus.csv_text(rows)
    return {
        "xlsx": xlsx,
        "xlsx2": (folder / "seed2.xlsx").read_bytes(),
        "csv": text.encode("utf-8"),
        "csv_gbk": text.encode("gbk"),
        "xls": make_corpus.ole_file({"Workbook": make_corpus.biff8_workbook(rows)}),
    }


TOKENS = [b'"', b"\x00", b",", b"\t", b"\r\n", b"\n", b"\xef\xbb\xbf", b"\xff\xfe", b"<", b">", b"&", b"&lol;", b"]]>",
          b"=1+1", b"99999999999999999999", b"-1", b"\xe6\x8a\x95", b"\x80", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"'"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits: bit flips, random spans, deletions, duplications, tokens, truncation."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            buf += rng.choice(TOKENS)
            continue
        at = rng.randrange(len(buf))
        kind = rng.randrange(7)
        if kind == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            n = rng.randint(1, 16)
            buf[at:at + n] = bytes(rng.randrange(256) for _ in range(n))
        elif kind == 2:
            del buf[at:at + rng.randint(1, 64)]
        elif kind == 3:
            n = rng.randint(1, 64)
            buf[at:at] = buf[at:at + n] * rng.randint(1, 20)
        elif kind == 4:
            buf[at:at] = rng.choice(TOKENS)
        elif kind == 5:
            del buf[rng.randrange(len(buf)):]
        else:
            buf[at] = rng.choice(b"0123456789ABZaz<>/=\" ")
    return bytes(buf)


XML_TOKENS = [b'r="XFD1048576"', b'r="A1048576"', b'r="a1"', b'r="A0"', b'r="ZZZZ1"', b'r="A99999999999"', b't="s"', b't="e"',
              b't="b"', b't="d"', b't="str"', b"<v>1e308</v>", b"<v>NaN</v>", b"<v>-1</v>", b"<v>99999999</v>", b'<c r="B2">',
              b"</c>", b"</row>", b'<row r="0">', b'<mergeCell ref="A1:XFD1048576"/>', b"<f>1/0</f>", b"&#0;", b"&#x1b;", b"<!--",
              b'<dimension ref="A1:XFD1048576"/>', b'<sheet name="x" sheetId="9" r:id="rId9"/>', b"<si><t>", b"\x00"]


def mutate_xml(parts: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    """Mutate one XML part of a workbook; the zip around it stays well-formed."""
    out = dict(parts)
    name = rng.choice([n for n in parts if n.endswith((".xml", ".rels"))])
    data = bytearray(parts[name])
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        if rng.random() < 0.6:
            data[at:at] = rng.choice(XML_TOKENS)
        else:
            data = bytearray(mutate(bytes(data), rng))
    out[name] = bytes(data)
    return out


def run_cases(tmp_path: Path, count: int, make: Callable[[int, random.Random], tuple[str, bytes]]) -> dict[str, int]:
    rng = random.Random(SEED + count)
    outcome = {"ok": 0, "refused": 0}
    start = time.monotonic()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for i in range(count):
        if time.monotonic() - start > BUDGET_S:
            break
        suffix, data = make(i, rng)
        path = tmp_path / f"case{i:03d}{suffix}"
        path.write_bytes(data)
        try:
            result = within(15, lambda: read_and_check(path, out_dir if i % 5 == 0 else None))
        except Hang:
            pytest.fail(f"case {i} ({suffix}) hung; kept at {path}")
        except Exception as exc:  # the point of the test: report the case, keep the file
            pytest.fail(f"case {i} ({suffix}) raised {type(exc).__name__}: {exc}; kept at {path}")
        outcome[result] += 1
        path.unlink()
        for made in out_dir.iterdir():
            made.unlink()
    print(f"fuzz: {sum(outcome.values())} cases, {outcome}")
    return outcome


@pytest.mark.ends_process  # a mutation can make a far cell
def test_byte_mutations(tmp_path):
    base = seeds(tmp_path)
    kinds = [("xlsx", ".xlsx"), ("xlsx2", ".xlsx"), ("csv", ".csv"), ("csv_gbk", ".csv"), ("xls", ".xls")]

    def make(i: int, rng: random.Random) -> tuple[str, bytes]:
        key, suffix = kinds[i % len(kinds)]
        return suffix, mutate(base[key], rng)

    outcome = run_cases(tmp_path, BYTE_CASES, make)
    assert outcome["ok"] + outcome["refused"] >= 30
    assert outcome["ok"] > 0 and outcome["refused"] > 0  # both paths were exercised


@pytest.mark.ends_process  # a mutation can make a far cell
def test_xml_mutations_inside_a_valid_zip(tmp_path):
    with zipfile.ZipFile(io.BytesIO(seeds(tmp_path)["xlsx2"])) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}

    def make(_i: int, rng: random.Random) -> tuple[str, bytes]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in mutate_xml(parts, rng).items():
                zf.writestr(name, data)
        return ".xlsx", buf.getvalue()

    outcome = run_cases(tmp_path, XML_CASES, make)
    assert outcome["ok"] + outcome["refused"] >= 30
    assert outcome["ok"] > 0 and outcome["refused"] > 0


# ---------------------------------------------------------------------------------- hostile cell values

NASTY_TEXT = ["NaN", "nan", "inf", "-inf", "Infinity", "#N/A", "#VALUE!", "#DIV/0!", "null", "None", "", " ", "\u3000",
              "1.10101E+17", "=1+1", "＝SUM(A1)", "\t=1", "\r\n", "@cmd", "+86 138 0013 8000", "2025-02-29", "1900-02-29",
              "0000-00-00", "9999-12-31", "99999999", "20250305", "2025年3月5日", "２０２５－０３－０５", "-0", "1e309",
              "\x1b[2J", "\u202e", "\ud7ff", "\x00", "柜面\x00", "已办结 ", "  处理中"]
cell = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=st.sampled_from([chr(c) for c in range(0, 32)] + ["=", "+", "-", "@", "＝", "\u202e", "\x7f", "\x9b", "a", "1"]), max_size=12),
    st.sampled_from(NASTY_TEXT),
    st.integers(min_value=-10**40, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(), st.datetimes(), st.times(), st.timedeltas(), st.booleans(), st.none(),
)
rows_of_cells = st.lists(st.lists(cell, min_size=0, max_size=len(make_corpus.HEADERS) + 2), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_of_cells)
def test_hostile_values_through_the_loader_and_validate(rows):
    reg = register_from_rows([make_corpus.HEADERS, *rows], "台账", LoadOptions(POLICY))
    report = validate([reg], POLICY, AS_OF)
    data = report.to_dict("zh", mask=True)
    assert data["summary"]["rows"] == len(reg.records)
    for finding in report.findings:
        finding.message("en")


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(values=st.lists(cell, min_size=1, max_size=12))
def test_hostile_values_written_stay_inert(values, tmp_path_factory):
    """Whatever a cell holds, put() stores text as text and the CSV writer defuses it."""
    folder = tmp_path_factory.mktemp("inert")
    wb = Workbook()
    ws = wb.active
    for i, value in enumerate(values, start=1):
        put(ws.cell(row=i, column=1), value)
    wb.save(folder / "w.xlsx")
    back = load_workbook(folder / "w.xlsx").active
    assert all(c.data_type != "f" for row in back.iter_rows() for c in row)
    text = to_csv(["v"], [[v] for v in values])
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        for v in row:
            assert not v.startswith(FORMULA_STARTS) or v == defuse(v), v


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.one_of(st.text(max_size=30), st.integers(-10**20, 10**20), st.floats(allow_nan=True)),
                              min_size=1, max_size=len(make_corpus.HEADERS)), min_size=1, max_size=5))
def test_hostile_values_through_real_files(rows, tmp_path_factory):
    """The same values written into a real xlsx and a real CSV, read back through every step."""
    folder = tmp_path_factory.mktemp("files")
    table = [make_corpus.HEADERS, *rows]
    make_corpus.write_xlsx(folder / "h.xlsx", table)
    (folder / "h.csv").write_text(make_corpus.csv_text([[str(v) for v in r] for r in table]), "utf-8")
    for name in ("h.xlsx", "h.csv"):
        within(15, lambda: read_and_check(folder / name, folder))


@pytest.mark.parametrize("value,expected", [(dt.timedelta(days=-1), "'-1 day, 0:00:00"), (float("-inf"), "'-inf"),
                                            (-3, -3), (-2.5, -2.5)])
def test_defuse_judges_the_text_a_value_prints_as(value, expected):
    """Found by the hypothesis run: a negative timedelta prints as '-1 day, ...', a formula to Excel."""
    assert defuse(value) == expected
