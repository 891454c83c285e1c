"""Shared fixtures: the shipped samples, a CLI runner, and a small register-writing helper."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "badfiles"))
import make_corpus  # noqa: E402
SAMPLES = ROOT / "samples"
AS_OF = "2026-11-20"  # the date the samples were made for

HEADERS = ["投诉编号", "受理日期", "投诉渠道", "受理机构", "客户姓名", "证件号码", "联系电话", "业务类型", "投诉内容", "处理状态", "办结日期", "回访日期", "回访结果"]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """Every test starts without the user's COMPLAINTKIT_* settings (a developer who works in
    English or keeps a history store would otherwise see other messages and results)."""
    for name in ("COMPLAINTKIT_CONFIG", "COMPLAINTKIT_LANG", "COMPLAINTKIT_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], headers: Sequence[str] = HEADERS, title: str | None = None,
               sheet: str = "台账") -> Path:
    """A register workbook: optional title row, header row, data rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def make_id(n: int, born: str = "19800101") -> str:
    """A valid resident ID number (GB 11643) for person ``n``, born on ``born`` in 东城区."""
    from complaintkit.resident_id import check_digit

    first17 = f"110105{born}{n:03d}"
    return first17 + check_digit(first17)


def good_row(i: int = 1, **over: Any) -> list[Any]:
    """A valid complaint row for HEADERS (closed, followed up)."""
    values = {
        "投诉编号": f"T{i:04d}", "受理日期": dt.date(2026, 3, 2), "投诉渠道": "柜面", "受理机构": "城南支行",
        "客户姓名": "王小明", "证件号码": "11010519491231002X", "联系电话": "13800138000", "业务类型": "信用卡",
        "投诉内容": "信用卡年费被多收", "处理状态": "已办结", "办结日期": dt.date(2026, 3, 6),
        "回访日期": dt.date(2026, 3, 9), "回访结果": "满意",
    }
    values.update(over)
    return [values[h] for h in HEADERS]


def typed(record: Any) -> tuple:
    """A record's contents with each value's type (1, 1.0 and True are equal, and must not be
    taken for one another)."""
    def of(mapping: Any) -> list:
        return sorted((k, type(v).__name__, repr(v)) for k, v in dict(mapping).items())

    return record.row, of(record.values), of(record.raw), of(record.problems), of(record.extra)


# ------------------------------------------------------------------ the bad-files corpus, guarded

#: The corpus's cases that end the reading process when their guard fails: the reader aborts (a
#: Rust abort, not an exception) on a far cell or on a shared-strings count it reserves room for.
ENDS_PROCESS = ("far outside the register", "shared strings")

# Reads each such file alone, then the corpus folder as one batch (the batch guards each file on
# its own path), in 2 GiB of address space where the system lets a process cap its own: one line
# per file, "<index> <code>", then the folder's counts.
_GUARD_CHILD = """
import sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
except (ImportError, AttributeError, ValueError, OSError):
    pass  # Windows has no resource module; macOS refuses RLIMIT_AS
from complaintkit.errors import InputError
from complaintkit.loader import LoadOptions, load_register, load_registers
from complaintkit.policy import load_policy
opts = LoadOptions(load_policy())
folder, *paths = sys.argv[1:]
for i, path in enumerate(paths):
    try:
        load_register(path, opts)
        print(i, "read", flush=True)
    except InputError as exc:
        print(i, exc.code, flush=True)
done = load_registers([folder], opts, keep_going=True)
print("folder", len(done.registers), len(done.failures), flush=True)
"""


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, make_corpus.Case]:
    """tests/badfiles' corpus, built once a session, by case name."""
    return {c.name: c for c in make_corpus.build(tmp_path_factory.mktemp("badfiles"))}


@pytest.fixture(scope="session")
def guard_failures(corpus: dict[str, make_corpus.Case]) -> list[str]:
    """What went wrong reading the corpus's process-ending files in a child process (empty when
    every guard held)."""
    aborting = [c for c in corpus.values() if c.expect in ENDS_PROCESS]
    folder = corpus["good"].path.parent
    try:
        proc = subprocess.run([sys.executable, "-c", _GUARD_CHILD, str(folder), *(str(c.path) for c in aborting)],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return ["the child reading them hung"]
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"the child reading them could not start: {exc}"]
    codes: dict[int, str] = {}
    counts = None
    for line in proc.stdout.splitlines():  # anything else a library printed is not ours
        first, _, rest = line.partition(" ")
        if first.isdigit() and rest:
            codes[int(first)] = rest
        elif first == "folder":
            counts = rest
    failures = [f"{case.name}: read as {codes[i]!r}, not refused" for i, case in enumerate(aborting)
                if i in codes and not codes[i].startswith("in_")]
    if proc.returncode != 0 or counts is None or len(codes) < len(aborting):
        reached = next((case.name for i, case in enumerate(aborting) if i not in codes), "the corpus folder")
        failures.append(f"the child ended with code {proc.returncode} reading {reached}: {proc.stderr[-300:]!r}")
    return failures


@pytest.fixture(autouse=True)
def _guards_first(request: pytest.FixtureRequest) -> None:
    """A test marked ``ends_process`` reads files that end the process if a guard fails: it runs
    only once they were read safely in a child, and fails (not the whole session) otherwise."""
    if request.node.get_closest_marker("ends_process") is not None:
        failures = request.getfixturevalue("guard_failures")
        if failures:
            pytest.fail("not run: a guard failed in a child process, and here it would end the test session: "
                        + "; ".join(failures), pytrace=False)
