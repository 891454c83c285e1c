"""Bad files, hostile content, nothing lost (issue 10).

Every command that reads registers runs over the corpus built by tests/badfiles/make_corpus.py
(commands are discovered from the CLI, so later ones are covered without editing this file).
Each bad input gets its documented behaviour (docs/robustness.md): read, or one line on stderr
starting "complaintkit: " and exit code 2, never a traceback; the whole corpus as one folder is
checked past its bad files, each listed, with exit code 3. A subset also runs through the
installed entry point under a time and memory limit. Then: outputs that cannot be written,
formula injection read back from every output, inputs unchanged by hash, atomic writes, and no
personal data in error messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import click
import pytest
from hypothesis import given, settings, strategies as st
from click.testing import CliRunner
from openpyxl import load_workbook

from complaintkit import outputs, sources
from complaintkit.cli import cli
from complaintkit.errors import InputError
from complaintkit.history import HistoryStore
from complaintkit.loader import LoadOptions, load_register
from complaintkit.operations import available
from complaintkit.policy import load_policy
from complaintkit.sources import open_book
from complaintkit.validation import validate

from conftest import make_corpus, sha256

# Far cells abort the reader if their guard fails: conftest reads them in a child process first.
pytestmark = pytest.mark.ends_process
AS_OF = "2026-11-20"
# What the one-line message says in Chinese (the default language) for each case's English words.
ZH_EXPECT = {
    "cannot be read": "无法读取",
    "cannot be read as an xls workbook": "无法作为 xls 工作簿读取",
    "damaged": "损坏",
    "damaged workbook": "工作簿已损坏",
    "declares entities": "声明了实体",
    "empty file (0 bytes)": "文件是空的（0 字节）",
    "encoding": "编码无法识别",
    "far outside the register": "远在台账范围之外",
    "has no data": "工作簿里没有数据",
    "is a zip file but not an Excel workbook": "是 zip 压缩文件，不是 Excel 工作簿",
    "is an OpenDocument spreadsheet": "是 OpenDocument 电子表格",
    "is not a real .xlsx workbook": "不是真正的 .xlsx 工作簿",
    "is not a spreadsheet or a CSV text file": "既不是表格文件，也不是 CSV 文本文件",
    "no header row found": "找不到表头行",
    "not an Excel workbook": "不是 Excel 工作簿",
    "password-protected": "文件设有密码",
    "shared strings": "共享字符串",
    "stated size": "标明的大小",
    "web page": "是网页",
    "zip bomb": "压缩炸弹",
}
ENTRY_POINT = Path(sys.executable).parent / "complaintkit"
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) ")


class Hang(BaseException):
    """Raised by the watchdog: a BaseException, so no error handler can swallow it."""


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """A test that runs for a minute has hung: fail it instead of stalling the suite."""
    def fire(_signum: int, _frame: Any) -> None:
        raise Hang("test ran over 60 s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def register_commands() -> list[tuple[str, ...]]:
    """Every CLI command (groups included) that takes register PATHS."""
    found: list[tuple[str, ...]] = []

    def walk(cmd: click.Command, names: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, names + (name,))
        elif any(isinstance(p, click.Argument) and p.name == "paths" for p in cmd.params):
            found.append(names)

    walk(cli, ())
    return found


def command(names: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in names:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd


def formats(names: tuple[str, ...]) -> tuple[str, ...]:
    fmt = {p.name: p for p in command(names).params}.get("fmt")
    return tuple(getattr(fmt.type, "choices", ())) if fmt is not None else ()


def args_for(names: tuple[str, ...], paths: list[str], tmp: Path, write: bool = False, fmt: str = "json") -> list[str]:
    """The command line for ``names`` over ``paths``: a fixed date and JSON (or ``fmt``) where the
    command has them; with ``write``, every output it can write, into ``tmp``."""
    params = {p.name: p for p in command(names).params}
    args = [*names, *paths]
    if "as_of" in params:
        args += ["--as-of", AS_OF]
    if fmt in formats(names):
        args += ["--format", fmt]
    tag = "-".join(names)
    if "store_path" in params:
        # A store that is there: one only looked back on that is not there is a warning line
        # (docs/cli.md), and this harness is about the registers.
        HistoryStore(tmp / f"{tag}.db").close()
        args += ["--store", str(tmp / f"{tag}.db")]
    if write:
        for name, option, target in (("annotate_dir", "--annotate", f"ann-{tag}"), ("report_path", "--report", f"report-{tag}.xlsx"),
                                     ("json_path", "--json", f"{tag}.json"), ("csv_dir", "--csv", f"csv-{tag}"),
                                     ("log_file", "--log", f"{tag}.log")):
            if name in params:
                args += [option, str(tmp / target)]
        if "output" in params and len(paths) == 1 and "annotate_dir" not in params:
            args += ["-o", str(tmp / f"out-{tag}.xlsx")]
    return args


def error_lines(stderr: str) -> list[str]:
    """stderr without the run log's timestamped lines: what the user is told."""
    return [line for line in stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]


def check_outcome(case: make_corpus.Case, names: tuple[str, ...], code: int, stdout: str, stderr: str, lang: str = "zh") -> str | None:
    """What is wrong with one run in ``lang`` (Chinese unless --lang en), or None."""
    where = f"{' '.join(names)} {case.name}"
    if "Traceback" in stderr or "panicked" in stderr:
        return f"{where}: traceback or panic on stderr: {stderr[-300:]}"
    told = error_lines(stderr)
    if case.outcome == "error":
        if code != 2:
            return f"{where}: exit {code}, expected 2"
        if len(told) != 1 or not told[0].startswith("complaintkit: "):
            return f"{where}: expected one 'complaintkit: ' line, got {told}"
        expect = case.expect if lang == "en" else ZH_EXPECT.get(case.expect)
        if expect is None:
            return f"{where}: add the Chinese for {case.expect!r} to ZH_EXPECT"
        if expect not in told[0]:
            return f"{where}: {told[0]!r} does not say {expect!r}"
        return None
    if code not in (0, 1):
        return f"{where}: exit {code} on a readable file: {stderr[-300:]}"
    if told:
        return f"{where}: unexpected stderr {told}"
    if "json" in formats(names):
        try:
            json.loads(stdout)
        except ValueError:
            return f"{where}: stdout is not JSON: {stdout[:200]}"
    return None


# ---------------------------------------------------------------------------------- the corpus

def test_commands_are_discovered_from_the_cli():
    found = register_commands()
    assert ("validate",) in found
    top = {names[0] for names in found}
    # Every operation that has a command (or a command group) of its own is covered.
    assert {op for op in available() if op in cli.commands} <= top


def test_corpus_is_the_documented_one(corpus):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "robustness.md").read_text("utf-8")
    missing = [name for name in corpus if f"`{name}`" not in doc]
    assert not missing, f"docs/robustness.md does not describe: {missing}"
    assert len(corpus) >= 40
    assert {c.outcome for c in corpus.values()} == {"read", "error"}


@pytest.mark.parametrize("names", register_commands(), ids=lambda n: "-".join(n))
def test_every_command_on_every_bad_file(corpus, names, tmp_path):
    runner = CliRunner()
    before = {c.name: sha256(c.path) for c in corpus.values()}
    problems = []
    for case in corpus.values():
        result = runner.invoke(cli, args_for(names, [str(case.path)], tmp_path))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{' '.join(names)} {case.name}: raised {result.exception!r}")
            continue
        problem = check_outcome(case, names, result.exit_code, result.stdout, result.stderr)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)
    assert {c.name: sha256(c.path) for c in corpus.values()} == before, "an input was modified"


def test_every_bad_file_says_the_documented_english_with_lang_en(corpus, tmp_path):
    """docs/robustness.md quotes the English messages: --lang en gives them."""
    problems = []
    for case in corpus.values():
        result = CliRunner().invoke(cli, args_for(("validate",), [str(case.path)], tmp_path) + ["--lang", "en"])
        problem = check_outcome(case, ("validate",), result.exit_code, result.stdout, result.stderr, "en")
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


def check_commands() -> list[tuple[str, ...]]:
    """The single-check commands (validate, dedupe, classify ...) and `run`: those that go past
    the files of a folder they cannot read."""
    return [names for names in register_commands() if names[-1] in available() or names == ("run",)]


@pytest.mark.parametrize("names", check_commands(), ids=lambda n: "-".join(n))
def test_the_whole_corpus_as_one_folder(corpus, names, tmp_path):
    """Every check command over the corpus folder goes past each bad file (one line on stderr,
    its code and documented reason in "unreadable"), checks the others and exits 3: no longer
    stopped by the first bad file. Excel's ~$ lock file is skipped in a folder, not reported."""
    folder = corpus["good"].path.parent
    result = CliRunner().invoke(cli, args_for(names, [str(folder)], tmp_path))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 3, (result.exit_code, result.stderr[-500:])
    bad = {str(c.path): c for c in corpus.values() if c.outcome == "error" and not c.path.name.startswith("~$")}
    data = json.loads(result.stdout)
    unreadable = {u["file"]: u for u in data["unreadable"]}
    assert set(unreadable) == set(bad)
    for path, entry in unreadable.items():
        assert entry["code"].startswith("in_") and ZH_EXPECT[bad[path].expect] in entry["reason"], entry
    if names != ("run",):  # run says it in its log, in English and time-stamped (docs/robustness.md)
        told = error_lines(result.stderr)
        assert len(told) == len(bad) and all(line.startswith("complaintkit: 无法读取：") for line in told), told
        assert "Traceback" not in result.stderr


def test_readable_files_read_correctly(corpus):
    """The documented row counts, and the values that matter for the tricky ones."""
    policy = load_policy()
    for case in corpus.values():
        if case.outcome != "read":
            continue
        reg = load_register(case.path, LoadOptions(policy))
        assert len(reg.records) == case.rows, case.name
    ids = [make_corpus.ID_1, make_corpus.ID_2, make_corpus.ID_3]
    for name in ("legacy_xls", "csv_gbk", "csv_utf16_no_bom", "csv_utf16be_no_bom", "csv_utf16_bom_tabs", "chinese_path", "hidden_rows_cols"):
        reg = load_register(corpus[name].path, LoadOptions(policy))
        assert [r.get("id_number") for r in reg.records] == ids, name
        assert reg.records[0].get("customer_name") == "王小明", name
    merged = load_register(corpus["merged_cells"].path, LoadOptions(policy))
    assert [r.get("channel") for r in merged.records] == ["柜面"] * 3
    totals = load_register(corpus["totals_rows"].path, LoadOptions(policy))
    assert [r.id for r in totals.records] == ["T0001", "T0002", "T0003"]
    twice = load_register(corpus["duplicate_column"].path, LoadOptions(policy))
    assert [r.get("phone") for r in twice.records] == ["13800138000", "13800138001", "13800138002"]
    assert [(c.letter, c.field) for c in twice.duplicate_columns] == [("I", "phone"), ("J", "phone")]
    findings = validate([twice], policy, dt.date.fromisoformat(AS_OF)).findings
    assert [(f.code, f.row, f.column) for f in findings] == [("duplicate_column", 1, "I"), ("duplicate_column", 1, "J")]
    cached = load_register(corpus["formulas_cached"].path, LoadOptions(policy))
    assert cached.records[0].id == "T0001" and str(cached.records[1].get("received_date")) == "2026-03-03"
    uncached = load_register(corpus["formulas_uncached"].path, LoadOptions(policy))
    assert uncached.records[0].id == ""  # never calculated: nothing to read, validate says it is missing
    long = load_register(corpus["long_cells"].path, LoadOptions(policy))
    assert len(long.records[0].get("description")) == 32000 and len(long.records[1].get("channel")) == 32767
    hidden = load_register(corpus["hidden_sheet"].path, LoadOptions(policy))
    assert hidden.sheet == "台账"


def test_entry_point_subset_under_time_and_memory_limits(corpus, tmp_path):
    """The installed command, a fresh process per file, at most 60 s and 2 GiB of address space
    each: bombs and stray cells end in one line, not in a hang, a kill or an abort."""
    if not ENTRY_POINT.exists():
        pytest.skip("complaintkit is not installed in this interpreter's environment")
    import resource

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    env = {**os.environ, "COMPLAINTKIT_LANG": "zh"}

    def run(case: make_corpus.Case) -> str | None:
        try:
            proc = subprocess.run([str(ENTRY_POINT), *args_for(("validate",), [str(case.path)], tmp_path)], capture_output=True,
                                  text=True, timeout=60, preexec_fn=limits, env=env)
        except subprocess.TimeoutExpired:
            return f"{case.name}: hung"
        return check_outcome(case, ("validate",), proc.returncode, proc.stdout, proc.stderr)

    chosen = [c for c in corpus.values() if c.subprocess]
    assert len(chosen) >= 10
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(run, chosen) if p]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------- hardened XML

def test_openpyxl_parses_with_defusedxml(corpus):
    """The annotating writer never expands entities: defusedxml refuses the bomb at once."""
    import openpyxl

    assert openpyxl.DEFUSEDXML is True
    with pytest.raises(Exception) as caught:
        load_workbook(corpus["billion_laughs_properties"].path)
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(type(exc).__module__)
        exc = exc.__cause__ or exc.__context__
    assert any(m.startswith("defusedxml") for m in chain)


def test_entity_bomb_refused_by_the_annotating_writer(corpus, tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(corpus["billion_laughs_properties"].path), "--as-of", AS_OF,
                                      "--format", "json", "-o", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 2
    assert "声明了实体" in result.stderr and len(error_lines(result.stderr)) == 1
    assert not (tmp_path / "out.xlsx").exists() and not list(tmp_path.glob(".~ck-*"))


def test_calamine_does_not_expand_entities(corpus):
    """The reader refuses undeclared-to-it entities instead of expanding them (bounded)."""
    for name in ("billion_laughs", "billion_laughs_shared_strings"):
        with pytest.raises(InputError, match="entities"):
            book = open_book(corpus[name].path)
            book.sheet(book.sheet_names[0])


def test_zip_limits(corpus, monkeypatch):
    with pytest.raises(InputError, match="zip bomb"):
        open_book(corpus["zip_bomb"].path)
    monkeypatch.setattr(sources, "_MAX_ZIP_ENTRIES", 3)
    with pytest.raises(InputError, match="more than 3 parts"):
        open_book(corpus["good"].path)


def test_stray_cell_limit_is_exact(tmp_path, monkeypatch):
    """Just under the limit reads; one column more is refused, naming the cell."""
    monkeypatch.setattr(sources, "MAX_SHEET_CELLS", 60 * 1000)
    rows = make_corpus.register_rows()
    under = '<row r="1000"><c r="BH1000" t="inlineStr"><is><t>x</t></is></c></row>'  # 1000 x 60
    over = '<row r="1000"><c r="BI1000" t="inlineStr"><is><t>x</t></is></c></row>'  # 1000 x 61
    book = open_book(make_corpus.write_xlsx(tmp_path / "under.xlsx", rows, extra_rows=under))
    assert len(book.sheet("台账").rows) == 1000
    book = open_book(make_corpus.write_xlsx(tmp_path / "over.xlsx", rows, extra_rows=over))
    with pytest.raises(InputError, match="BI1000"):
        book.sheet("台账")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2_000_000), st.integers(1, 2_000_000))
def test_bound_patterns_match_exactly_one_to_n(n, k):
    """The fast pass's reference bounds: a row number (no leading zero) or column letters match
    the pattern for n exactly when they stand for 1..n, whatever the order of its alternatives."""
    rows = re.compile(sources._at_most(n, False))
    assert bool(rows.fullmatch(str(k).encode())) is (k <= n)
    assert not rows.fullmatch(b"0" + str(k).encode()) and not rows.fullmatch(b"0")
    cols = re.compile(sources._at_most(min(n, 16_384), True))
    assert bool(cols.fullmatch(sources._col_letters(k).encode())) is (k <= min(n, 16_384))


def test_fast_path_and_careful_path_agree(tmp_path, monkeypatch):
    """A stray cell within the declared <dimension> passes the fast path; the same file with the
    dimension gone, or with a cell outside it, goes the careful way and reaches the same answer."""
    monkeypatch.setattr(sources, "MAX_SHEET_CELLS", 2_500_000)
    rows = make_corpus.register_rows()
    far = '<row r="250000"><c r="A250000" t="inlineStr"><is><t>x</t></is></c></row>'  # 250,000 x 8
    for i, (dimension, expected_fast) in enumerate((("A1:H250000", True), (None, False), ("A1:H10", False))):
        path = make_corpus.write_xlsx(tmp_path / f"d{i}.xlsx", rows, extra_rows=far, dimension=dimension)
        with zipfile.ZipFile(path) as zf:
            assert sources._plainly_small(zf, "xl/worksheets/sheet1.xml") is expected_fast, dimension
            assert sources._farthest_cell(zf, "xl/worksheets/sheet1.xml") is None
    monkeypatch.setattr(sources, "MAX_SHEET_CELLS", 1_000_000)
    with pytest.raises(InputError, match="A250000"):
        open_book(path).sheet("台账")


# ---------------------------------------------------------------------------------- files open elsewhere, unwritable outputs

def one_line_error(result: Any, *words: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    told = error_lines(result.stderr)
    assert len(told) == 1 and told[0].startswith("complaintkit: "), told
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in told[0], (word, told[0])
    return told[0]


def test_a_far_cell_found_checking_every_part_names_the_part(corpus):
    """A workbook whose sheets' parts can be read two ways has every part checked: the far cell
    may be in another sheet than the one asked for, so the message names the part it is in."""
    with pytest.raises(InputError) as caught:
        load_register(corpus["stray_value_two_ids"].path, LoadOptions(load_policy()))
    assert caught.value.code == "in_far_cell"
    assert "工作簿的部件 xl/worksheets/sheet2.xml（读取工作表“台账”时检查）的单元格 XFD1048576 有值" in caught.value.text("zh")
    assert "the workbook's part xl/worksheets/sheet2.xml (checked to read sheet '台账') has a value" in caught.value.text("en")


def test_input_locked_by_another_program(corpus, monkeypatch):
    """Windows refuses to open a file another program holds exclusively: PermissionError."""
    real_open = open

    def locked(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).name == "good.xlsx":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(sources, "open", locked, raising=False)
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", AS_OF, "--format", "json"])
    one_line_error(result, "没有权限打开", "其他程序中打开")
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", AS_OF, "--format", "json", "--lang", "en"])
    one_line_error(result, "permission denied", "open in another program")


def test_output_open_in_excel(corpus, tmp_path, monkeypatch):
    """Excel holds the old output open: the rename fails, nothing half-written is left."""
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"old contents")

    def refuse(src: Any, dst: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outputs.os, "replace", refuse)
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", AS_OF, "--format", "json", "-o", str(out), "--force"])
    one_line_error(result, "out.xlsx", "是否正在 Excel 中打开")
    assert out.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


@pytest.mark.parametrize("situation", ["a file in the folder's place", "read-only folder", "output is the input", "input by another name",
                                       "input through a link", "exists without --force", "output is a folder", "annotate into a file"])
def test_outputs_that_cannot_be_written(corpus, tmp_path, monkeypatch, situation):
    src = tmp_path / "in" / "register.xlsx"
    src.parent.mkdir()
    shutil.copy(corpus["good"].path, src)
    before = sha256(src)
    base = ["validate", str(src), "--as-of", AS_OF, "--format", "json"]
    if situation == "a file in the folder's place":  # a missing folder is made (docs/cli.md); a file in its way is not
        (tmp_path / "nowhere").write_text("x")
        args, words = base + ["-o", str(tmp_path / "nowhere" / "out.xlsx")], ["无法写入", "不是文件夹"]
    elif situation == "read-only folder":
        locked = tmp_path / "locked"
        locked.mkdir()
        real_access = os.access
        monkeypatch.setattr(outputs.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
        args, words = base + ["-o", str(locked / "out.xlsx")], ["不可写"]
    elif situation == "output is the input":
        args, words = base + ["-o", str(src), "--force"], ["不能写在输入文件上"]
    elif situation == "input by another name":
        args, words = base + ["-o", str(tmp_path / "in" / ".." / "in" / "register.xlsx"), "--force"], ["不能写在输入文件上"]
    elif situation == "input through a link":
        (tmp_path / "link.xlsx").symlink_to(src)
        args, words = base + ["-o", str(tmp_path / "link.xlsx"), "--force"], ["不能写在输入文件上"]
    elif situation == "exists without --force":
        (tmp_path / "out.xlsx").write_bytes(b"keep me")
        args, words = base + ["-o", str(tmp_path / "out.xlsx")], ["文件已存在", "--force"]
    elif situation == "output is a folder":
        (tmp_path / "dir.xlsx").mkdir()
        args, words = base + ["-o", str(tmp_path / "dir.xlsx"), "--force"], ["这是一个文件夹"]
    else:
        (tmp_path / "afile").write_text("x")
        args, words = base + ["--annotate", str(tmp_path / "afile")], ["这是一个文件，不是文件夹"]
    one_line_error(CliRunner().invoke(cli, args), *words)
    assert sha256(src) == before
    if situation == "exists without --force":
        assert (tmp_path / "out.xlsx").read_bytes() == b"keep me"
    assert not list(tmp_path.rglob(".~ck-*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not ENTRY_POINT.exists(),
                    reason="needs root to act as another user, and the installed entry point")
def test_real_permissions_as_another_user(corpus, tmp_path_factory):
    """Root ignores file modes; an ordinary user (nobody) gets the real refusals."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ck-perm-"))
    try:
        base.chmod(0o755)
        secret = base / "secret.xlsx"
        shutil.copy(corpus["good"].path, secret)
        secret.chmod(0o000)
        readable = base / "register.xlsx"
        shutil.copy(corpus["good"].path, readable)
        readable.chmod(0o644)
        frozen = base / "frozen"
        frozen.mkdir(mode=0o555)

        def as_nobody(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([str(ENTRY_POINT), *args], capture_output=True, text=True, timeout=60, cwd=str(base),
                                  preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))

        try:
            if as_nobody("--version").returncode != 0:
                pytest.skip("the interpreter is not usable by another user here")
        except PermissionError:
            pytest.skip("the interpreter is not usable by another user here (it lives in a private folder)")

        denied = as_nobody("validate", str(secret), "--as-of", AS_OF, "--format", "json")
        assert denied.returncode == 2 and denied.stderr.startswith("complaintkit: ") and "permission denied" in denied.stderr
        assert denied.stderr.count("\n") == 1
        blocked = as_nobody("validate", str(readable), "--as-of", AS_OF, "--format", "json", "-o", str(frozen / "out.xlsx"))
        assert blocked.returncode == 2 and "不可写" in blocked.stderr and blocked.stderr.count("\n") == 1
        assert list(frozen.iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------- nothing lost

@pytest.mark.parametrize("names", register_commands(), ids=lambda n: "-".join(n))
def test_inputs_unchanged_outputs_atomic_and_not_overwritten(samples, tmp_path, names):
    """Every command over the shipped samples, writing every output it has: inputs keep their
    SHA-256, no temporary file is left, a second run without --force refuses and changes nothing,
    with --force it replaces."""
    inputs = sorted(p for p in samples.rglob("*") if p.is_file() and p.suffix in (".xlsx", ".xls", ".csv"))
    before = {p: sha256(p) for p in inputs}
    one = str(samples / "messy_branch.xlsx")
    for paths in ([one], [str(samples / "branches")]):
        out = tmp_path / ("one" if len(paths) == 1 and paths[0] == one else "batch")
        out.mkdir()
        args = args_for(names, paths, out, write=True)
        first = CliRunner().invoke(cli, args)
        assert first.exit_code in (0, 1, 3), (args, first.output)
        written = {p: sha256(p) for p in out.rglob("*") if p.is_file() and not p.name.endswith((".db", ".log", ".lock"))}
        outputs_made = [p for p in written if p.suffix in (".xlsx", ".xlsm", ".json", ".csv")]
        if outputs_made and out.name == "batch":
            again = CliRunner().invoke(cli, args)
            assert again.exit_code == 2 and "文件已存在" in again.stderr, (args, again.output)
            assert {p: sha256(p) for p in written} == written
            forced = CliRunner().invoke(cli, args + ["--force"])
            assert forced.exit_code in (0, 1, 3), forced.output
        assert not list(out.rglob(".~ck-*")), "a temporary file was left behind"
    assert {p: sha256(p) for p in inputs} == before, "an input was modified"


def test_failed_write_leaves_nothing_and_keeps_the_old_output(corpus, tmp_path, monkeypatch):
    from openpyxl import Workbook

    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous run")

    def disk_full(self: Any, filename: Any) -> None:
        Path(filename).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Workbook, "save", disk_full)
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", AS_OF, "--format", "json", "-o", str(out), "--force"])
    one_line_error(result, "No space left on device")
    assert out.read_bytes() == b"previous run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


def test_written_files_get_ordinary_permissions(corpus, tmp_path):
    out = tmp_path / "out.xlsx"
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", AS_OF, "--format", "json", "-o", str(out)])
    finally:
        os.umask(old)
    assert result.exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o644  # not the 0600 of a temporary file


def test_annotate_checks_every_target_before_writing(corpus, tmp_path):
    """A batch whose second copy cannot be written writes no copy at all."""
    folder = tmp_path / "ann"
    folder.mkdir()
    a = tmp_path / "a.xlsx"
    b = tmp_path / "b.xlsx"
    shutil.copy(corpus["good"].path, a)
    shutil.copy(corpus["good"].path, b)
    (folder / "b.checked.xlsx").write_bytes(b"keep")
    result = CliRunner().invoke(cli, ["validate", str(a), str(b), "--as-of", AS_OF, "--format", "json", "--annotate", str(folder)])
    one_line_error(result, "b.checked.xlsx", "文件已存在")
    assert sorted(p.name for p in folder.iterdir()) == ["b.checked.xlsx"]


def test_a_batch_never_writes_over_another_input(corpus, tmp_path):
    """Inputs a.xlsx and a.checked.xlsx annotated into their own folder, even with --force."""
    a = tmp_path / "a.xlsx"
    shutil.copy(corpus["good"].path, a)
    shutil.copy(corpus["good"].path, tmp_path / "a.checked.xlsx")
    before = sha256(tmp_path / "a.checked.xlsx")
    result = CliRunner().invoke(cli, ["validate", str(a), str(tmp_path / "a.checked.xlsx"), "--as-of", AS_OF, "--format", "json",
                                      "--annotate", str(tmp_path), "--force"])
    one_line_error(result, "不能写在输入文件上")
    assert sha256(tmp_path / "a.checked.xlsx") == before


# ---------------------------------------------------------------------------------- formula injection

HOSTILE_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝")


def test_hostile_cells_are_inert_in_every_output(corpus, tmp_path):
    """Every command, every output, over the hostile cells (and a hostile header, file name and
    sheet name): read back, no cell is a formula and every CSV value that starts like one
    carries the apostrophe."""
    named = tmp_path / "=cmd[1].csv"
    rows = [make_corpus.HEADERS + ['=HYPERLINK("http://evil.example","x")']] + [r + ["=1+1"] for r in make_corpus.data_rows(3)]
    named.write_text(make_corpus.csv_text(rows), "utf-8")
    inputs = {case: corpus[case].path for case in ("formula_injection_xlsx", "formula_injection_csv")}
    inputs["hostile_names"] = named
    checked_xlsx = checked_csv = 0
    for names in register_commands():
        for case, src in inputs.items():
            out = tmp_path / "-".join(names) / case
            out.mkdir(parents=True)
            result = CliRunner().invoke(cli, args_for(names, [str(src)], out, write=True))
            assert result.exit_code in (0, 1), result.output
            if "merge" in {p.name for p in command(names).params}:
                merged = CliRunner().invoke(cli, [*names, str(src), "--merge", "-o", str(out / "merged.xlsx")])
                assert merged.exit_code in (0, 1), merged.output
            if "csv" in formats(names):
                csv_out = CliRunner().invoke(cli, args_for(names, [str(src)], out, fmt="csv"))
                for row in csv.reader(io.StringIO(csv_out.stdout)):
                    assert all(not v.startswith(HOSTILE_STARTS) or outputs._NEGATIVE_NUMBER.fullmatch(v) for v in row), row
                checked_csv += 1
            for path in out.rglob("*"):
                if path.suffix in (".xlsx", ".xlsm"):
                    wb = load_workbook(path)
                    for ws in wb.worksheets:
                        for row in ws.iter_rows():
                            for cell in row:
                                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
                    checked_xlsx += 1
                elif path.suffix == ".csv":
                    for row in csv.reader(io.StringIO(path.read_text("utf-8-sig"))):
                        assert all(not v.startswith(HOSTILE_STARTS) or outputs._NEGATIVE_NUMBER.fullmatch(v) for v in row), row
                    checked_csv += 1
    assert checked_xlsx >= 6 and checked_csv >= 3


def test_hostile_values_keep_their_text(corpus, tmp_path):
    """Inert, but not lost: the annotated copy still shows what the user typed."""
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(cli, ["validate", str(corpus["formula_injection_csv"].path), "--as-of", AS_OF, "--format", "json", "-o", str(out)])
    assert result.exit_code in (0, 1)
    ws = load_workbook(out).worksheets[0]
    channel = [ws.cell(row=r, column=3).value for r in range(2, 2 + len(make_corpus.HOSTILE))]
    assert channel == [v.replace("\r", "\n") for v in make_corpus.HOSTILE]  # XML reads CR as LF
    assert all(ws.cell(row=r, column=3).data_type == "s" for r in range(2, 2 + len(make_corpus.HOSTILE)))


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("＝1+1", "'＝1+1"), ("－1", "'－1"), ("-inf", "'-inf"), ("-1_000", "'-1_000"),
    ("-12", "-12"), ("-12.5", "-12.5"), ("-1.5e3", "-1.5e3"), ("信用卡", "信用卡"), ("a=b", "a=b"), (12, 12), (None, None),
])
def test_defuse(value, expected):
    assert outputs.defuse(value) == expected


def test_csv_headers_are_defused_too():
    text = outputs.to_csv(["=cmd", "ok"], [["=1", "-3"]])
    assert next(csv.reader(io.StringIO(text))) == ["'=cmd", "ok"]


def test_put_keeps_everything_inert(tmp_path):
    from openpyxl import Workbook

    from complaintkit.xlsx_applier import put

    wb = Workbook()
    ws = wb.active
    values = ["=1+1", "#N/A", "a\x00b\x1bc", "长" * 40000, float("nan"), float("-inf"), "@x", "+1"]
    for i, v in enumerate(values, start=1):
        put(ws.cell(row=i, column=1), v)
    wb.save(tmp_path / "p.xlsx")
    back = load_workbook(tmp_path / "p.xlsx").active
    got = [back.cell(row=i, column=1) for i in range(1, len(values) + 1)]
    assert all(c.data_type == "s" for c in got)
    assert [c.value for c in got[:3]] == ["=1+1", "#N/A", "abc"]
    assert len(got[3].value) == 32767 and got[3].value.endswith("…")
    assert [c.value for c in got[4:6]] == ["nan", "-inf"]


def test_sheet_formatted_to_the_last_column_gets_its_result_column_in_reach(tmp_path):
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    from complaintkit.sheetplan import PlanColumn, SheetPlan, apply_plans
    from complaintkit.xlsx_applier import OpenpyxlBook

    wb = Workbook()
    ws = wb.active
    ws.append(make_corpus.HEADERS)
    ws.cell(row=1, column=16384).fill = PatternFill("solid", start_color="FFFF00")
    apply_plans(OpenpyxlBook(wb), [SheetPlan("validate", ws.title, 1, 1, [PlanColumn("CK-校验问题", {})])])
    assert ws.cell(row=1, column=len(make_corpus.HEADERS) + 1).value == "CK-校验问题"


# ---------------------------------------------------------------------------------- terminal and log safety

def test_control_characters_never_reach_the_terminal(corpus):
    result = CliRunner().invoke(cli, ["validate", str(corpus["control_chars"].path), "--as-of", AS_OF, "--format", "table"])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout
    assert "\\x1b" in result.stdout  # shown, escaped


def test_error_line_stays_one_line_whatever_the_file_name(tmp_path):
    path = tmp_path / "evil\nname\x1b[2J.xlsx"
    path.write_bytes(b"")
    result = CliRunner().invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json"])
    line = one_line_error(result, "文件是空的")
    assert "\x1b" not in line and "\\n" in line


def test_no_personal_data_in_error_messages(corpus, tmp_path):
    """An ID number or a phone in a sheet name or a file name is masked in the message."""
    the_id = make_corpus.ID_1
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--sheet", the_id, "--as-of", AS_OF, "--format", "json"])
    line = one_line_error(result, "没有名为")
    assert the_id not in line and f"{the_id[:6]}********{the_id[-4:]}" in line
    named = tmp_path / f"客户{the_id}电话13800138000.xlsx"
    named.write_bytes(b"")
    result = CliRunner().invoke(cli, ["validate", str(named), "--as-of", AS_OF, "--format", "json"])
    line = one_line_error(result, "文件是空的")
    assert the_id not in line and "13800138000" not in line and "138****8000" in line
    result = CliRunner().invoke(cli, ["validate", str(corpus["good"].path), "--as-of", "+86 138-0013-8000", "--format", "json"])
    assert result.exit_code == 2 and "0013" not in result.output


def test_no_personal_data_in_the_run_log(corpus, tmp_path):
    if ("run",) not in register_commands():
        pytest.skip("no run command")
    named = tmp_path / f"{make_corpus.ID_2}.xlsx"
    named.write_bytes(b"")
    log = tmp_path / "run.log"
    result = CliRunner().invoke(cli, ["run", str(named), str(corpus["good"].path), "--as-of", AS_OF, "--format", "json", "--log", str(log)])
    assert result.exit_code == 3
    text = log.read_text("utf-8") + result.stderr
    assert make_corpus.ID_2 not in text and make_corpus.ID_2[:6] in text


def test_a_reader_panic_is_one_line_and_silent(corpus, capfd):
    """The Rust reader panics on some damaged files (here: sector tables that point at
    themselves, which the OLE check normally catches first). The panic becomes the usual
    InputError, and Rust's own panic message never reaches the terminal."""
    with pytest.raises(InputError, match="damaged"):
        sources._open_reader(corpus["ole_damaged_tables"].path, "xls")
    _out, err = capfd.readouterr()
    assert "panicked" not in err and err == ""


# ---------------------------------------------------------------------------------- found by fuzzing

def test_copy_of_a_book_whose_sheets_are_all_hidden_opens(tmp_path):
    parts = make_corpus.xlsx_parts([("台账", make_corpus.sheet_xml(make_corpus.register_rows()), "hidden")])
    src = make_corpus.write_zip(tmp_path / "hidden.xlsx", parts)
    from complaintkit.xlsx_applier import write_annotated

    reg = load_register(src, LoadOptions(load_policy()))
    write_annotated(reg, [], tmp_path / "out.xlsx")  # no plan, so no results sheet of our own either
    assert load_workbook(tmp_path / "out.xlsx")["台账"].sheet_state == "visible"


def test_xls_wider_than_xlsx_reads_but_is_not_copied(tmp_path):
    """An .xls can carry a value in column 20,000; an .xlsx stops at 16,384 (XFD)."""
    rows = make_corpus.register_rows(1) + [["T0002"] + [None] * 2 + ["x"]]  # a complaint (its ID) reaching far out
    stream = make_corpus.biff8_workbook(rows).replace(struct_pack(2, 3), struct_pack(2, 20000))
    src = tmp_path / "wide.xls"
    src.write_bytes(make_corpus.ole_file({"Workbook": stream}))
    ok = CliRunner().invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json"])
    assert ok.exit_code in (0, 1) and json.loads(ok.stdout)["summary"]["rows"] == 2
    refused = CliRunner().invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(tmp_path / "out.xlsx")])
    one_line_error(refused, "无法复制成 .xlsx", "16,384")


def struct_pack(row: int, col: int) -> bytes:
    """The (row, column, format) that leads a BIFF cell record."""
    return struct.pack("<HHH", row, col, 0)


def test_reader_and_writer_disagreeing_about_sheets_is_one_line(tmp_path):
    """The reader finds the sheet through the package's relationships; the writer, given a
    workbook part it cannot follow, finds none: refused, not a crash."""
    parts = make_corpus.xlsx_parts([("台账", make_corpus.sheet_xml(make_corpus.register_rows()))])
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b'Id="rId1"', b'Id="rId1" TargetMode="External"')
    src = make_corpus.write_zip(tmp_path / "odd.xlsx", parts)
    result = CliRunner().invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(tmp_path / "out.xlsx")])
    one_line_error(result, "无法打开文件来添加标注", "文件已损坏")


def test_xls_that_declares_a_vast_sheet_is_refused_before_the_reader_reserves_it(tmp_path):
    """The xls reader reserves room for the DIMENSIONS record's rows x columns before reading a
    cell; 4 billion rows (or a first row past the last, which its unsigned arithmetic wraps
    into 4 billion) would kill the process."""
    rows = make_corpus.register_rows(1)
    honest = struct.pack("<IIHHH", 0, len(rows), 0, len(rows[0]), 0)
    assert honest in make_corpus.biff8_workbook(rows)
    for declared in (struct.pack("<IIHHH", 0, 4_000_000_000, 0, 8, 0), struct.pack("<IIHHH", 10, 5, 0, 8, 0)):
        stream = make_corpus.biff8_workbook(rows).replace(honest, declared)
        assert "declares" in str(sources._biff_too_big(stream, "vast.xls"))
        src = tmp_path / "vast.xls"
        src.write_bytes(make_corpus.ole_file({"Workbook": stream}))
        one_line_error(CliRunner().invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json"]), "工作簿已损坏", "声称有")
    assert sources._biff_too_big(make_corpus.biff8_workbook(rows), "ok.xls") is None
