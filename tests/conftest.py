"""Shared fixtures: the shipped samples, a CLI runner, and a small register-writing helper."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Sequence

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
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
