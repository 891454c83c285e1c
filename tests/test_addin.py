"""The Excel add-in door, checked on Linux: what a ribbon button writes is what the CLI writes; a
second press changes nothing; 清除结果 gives the user's sheet back; the built .xlam is a valid
package whose buttons reach existing operations through a VBA dispatcher that passes the tag; the
worksheet functions answer as the core does. The xlwings adapter runs against a simulated Excel
here, against real Excel where there is one, and against xlwings' licensed remote engine where a
licence key is set."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from complaintkit.addin import core
from complaintkit.addin.core import (
    ALL, BUTTONS, CLEAR, AddinError, error_message, excel_rows, find_merged, id_check_text, operations_for, plans_for_sheet,
    press,
)
from complaintkit.addin.xlbook import XlwingsBook, excel_value, link_formula, read_sheet, runs
from complaintkit.cli import cli
from complaintkit.deadlines import days_left, due_date
from complaintkit.loader import LoadOptions, load_register
from complaintkit.messages import t
from complaintkit.operations import PIPELINE_ORDER, OpContext, available, run_operation, run_pipeline
from complaintkit.policy import load_policy
from complaintkit.sheetplan import AMBER, OWN_PREFIX, RED, STATE_SHEET, SheetPlan
from complaintkit.validation import validate
from complaintkit.xlsx_applier import OpenpyxlBook, _fill_hex

from conftest import AS_OF, HEADERS, ROOT, SAMPLES, good_row, write_xlsx

EXCEL = ROOT / "excel"
XLAM = EXCEL / "complaintkit.xlam"
ASOF = dt.date.fromisoformat(AS_OF)
POLICY = load_policy()
SMALL = [SAMPLES / "messy_branch.xlsx", SAMPLES / "clean_branch.xlsx"]
BRANCH = SAMPLES / "branches" / "城东支行.xlsx"  # 118 rows with planted duplicates and repeats
CASES = [(op, src) for op in available() for src in SMALL] + [(ALL, src) for src in SMALL + [BRANCH]]
USER_FILL = "DDEBF7"


# --- what xlwings would read, and what a workbook shows -------------------------------------------

def xlwings_value(v: Any) -> Any:
    """A cell as xlwings' used-range read returns it: numbers float, dates datetime, blanks None."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


def sheet_as_xlwings(ws) -> tuple[list[list[Any]], list]:
    """The sheet's values from A1 to the last used cell, and its merged ranges (0-based)."""
    rows = [[xlwings_value(c.value) for c in row] for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column)]
    merged = [((m.min_row - 1, m.min_col - 1), (m.max_row - 1, m.max_col - 1)) for m in ws.merged_cells.ranges]
    return rows, merged


def shown(v: Any) -> Any:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        link = re.fullmatch(r'=HYPERLINK\("#[^"]*","(.*)"\)', v, re.S)
        if link:
            return link.group(1).replace('""', '"')
    return v


def snapshot(wb) -> dict[str, Any]:
    """Every sheet's non-empty cells as (value, fill, note), with the sheet's visibility."""
    out: dict[str, Any] = {}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                item = (shown(c.value), _fill_hex(c), c.comment.text if c.comment else None)
                if item != (None, None, None):
                    cells[c.coordinate] = item
        out[ws.title] = (ws.sheet_state, cells)
    return out


def reloaded(wb, path: Path):
    wb.save(path)
    return load_workbook(path)


def cli_annotated(runner, op: str, src: Path, tmp: Path) -> Path:
    """The CLI's annotated copy: the op's own command with -o, or `run --annotate` (all, or an op
    without its own command)."""
    if op != ALL and op in cli.commands:
        out = tmp / "cli.xlsx"
        args = [op, str(src), "-o", str(out), "--format", "json"]
        if any(p.name == "as_of" for p in cli.commands[op].params):
            args += ["--as-of", AS_OF]
    else:
        out = tmp / "annotated" / f"{src.stem}.checked.xlsx"
        args = ["run", str(src), "--as-of", AS_OF, "--annotate", str(tmp / "annotated"), "--format", "json", "--no-mask"]
        if op != ALL:
            args += ["--checks", op]
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    return out


# --- (a) a button's plan is the CLI's plan ----------------------------------------------------------

@pytest.mark.parametrize("op,src", CASES, ids=[f"{op}-{src.stem}" for op, src in CASES])
def test_button_writes_what_the_cli_writes(op, src, runner, tmp_path):
    register = load_register(src, LoadOptions(POLICY))
    ws = load_workbook(src, data_only=True)[register.sheet]
    rows, merged = sheet_as_xlwings(ws)

    mine = core.check_sheet(rows, register.sheet, op, POLICY, ASOF, source=str(src), merged=merged).plans
    ctx = OpContext(POLICY, ASOF)
    results = run_pipeline([register], ctx) if op == ALL else [run_operation(op, [register], ctx)]
    assert mine == [p for r in results for p in r.plans_for(register)]
    assert mine and all(isinstance(p, SheetPlan) and p.sheet == register.sheet for p in mine)

    wb = load_workbook(src)
    message = press(OpenpyxlBook(wb), op, rows, register.sheet, POLICY, ASOF, source=str(src), merged=merged)
    assert all(r.summary in message for r in results)
    cli_out = load_workbook(cli_annotated(runner, op, src, tmp_path))
    assert snapshot(reloaded(wb, tmp_path / "button.xlsx")) == snapshot(cli_out)


def test_plans_for_sheet_is_values_in_plans_out():
    register = load_register(SAMPLES / "messy_branch.xlsx", LoadOptions(POLICY))
    rows, _ = sheet_as_xlwings(load_workbook(SAMPLES / "messy_branch.xlsx")[register.sheet])
    plans = plans_for_sheet(rows, register.sheet, "validate", POLICY, ASOF)
    assert [p.op for p in plans] == ["validate"]
    assert plans[0].columns[0].header.startswith(OWN_PREFIX)
    assert plans[0].marks and plans[0].tables[0].name.startswith(OWN_PREFIX)


def test_pressing_a_button_again_and_again_keeps_nothing_behind():
    # Excel's Python process lives on between presses: what a press built must go once it is done
    # (the results hold reference cycles, so the collector must be left to find them).
    import gc
    import tracemalloc

    register = load_register(BRANCH, LoadOptions(POLICY))
    rows, _ = sheet_as_xlwings(load_workbook(BRANCH)[register.sheet])
    tracemalloc.start()
    try:
        for _ in range(2):
            plans_for_sheet(rows, register.sheet, ALL, POLICY, ASOF)
        gc.collect()
        settled = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            plans_for_sheet(rows, register.sheet, ALL, POLICY, ASOF)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - settled
    finally:
        tracemalloc.stop()
    assert gc.get_freeze_count() == 0
    assert grown < 100_000, f"{grown:,} bytes kept after three more presses"


def test_excel_rows_pad_short_rows_and_leave_other_cells_alone():
    class Stamp(dt.datetime):  # a date-time type of another library
        pass

    got = excel_rows([[Stamp(2026, 3, 2), "a", 1.5], ["b"], (None, dt.datetime(2026, 3, 2, 0, 0, 1))])
    assert got == [[dt.date(2026, 3, 2), "a", 1.5], ["b", "", ""], ["", dt.datetime(2026, 3, 2, 0, 0, 1), ""]]


_CELLS = st.one_of(
    st.none(), st.text(max_size=3), st.floats(allow_nan=False), st.booleans(),
    st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 3)).map(lambda d: dt.datetime(d.year, d.month, d.day)),
    st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 3)),
    st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 3), timezones=st.just(dt.timezone(dt.timedelta(hours=8)))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_CELLS, max_size=5), max_size=6))
def test_excel_rows_turn_each_cell_as_the_reader_does(values):
    """Property: however cells mix by row and column, each cell comes out by the file reader's
    rule (blank "", a naive date-time at midnight a date, anything else as it is), rows padded to
    the widest."""
    def one(v):
        if v is None:
            return ""
        if isinstance(v, dt.datetime) and v.tzinfo is None and v.time() == dt.time(0):
            return v.date()
        return v

    width = max(map(len, values), default=0)
    got = excel_rows(values)
    expected = [[one(v) for v in row] + [""] * (width - len(row)) for row in values]
    assert got == expected
    assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected]


def test_all_runs_every_available_check_in_pipeline_order():
    assert operations_for(ALL) == [n for n in PIPELINE_ORDER if n in available()]


def test_a_check_that_is_not_installed_says_so(monkeypatch):
    monkeypatch.setattr(core, "available", lambda: ["validate"])
    with pytest.raises(AddinError) as raised:
        operations_for("risk")
    assert "尚未安装" in error_message(raised.value) and "升级风险" in error_message(raised.value)
    with pytest.raises(AddinError) as raised:
        operations_for("risk", "en")
    assert "not in this PC's complaintkit" in error_message(raised.value, "en")
    with pytest.raises(AddinError) as raised:
        operations_for("format_c")
    assert "未知的按钮" in error_message(raised.value)


def test_excel_rows_read_like_the_file_reader():
    got = excel_rows([[None, dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 2, 9, 30), 13800138000.0], ["x"]])
    assert got == [["", dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, 9, 30), 13800138000.0], ["x", "", "", ""]]
    assert excel_rows("only") == [["only"]]  # a one-cell sheet reads as a scalar


def test_merged_data_cells_are_filled_as_for_a_file(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", [good_row(1), good_row(2, 投诉编号="T0002"), good_row(3)], title="投诉登记台账")
    wb = load_workbook(path)
    ws = wb.active
    ws["D3"] = "城北支行"  # 受理机构 merged down over three complaints, as branches do
    ws.merge_cells("D3:D5")
    wb.save(path)
    register = load_register(path, LoadOptions(POLICY))
    rows, merged = sheet_as_xlwings(load_workbook(path).active)
    mine = core.register_from_sheet(rows, register.sheet, POLICY, str(path), merged)
    assert [r.values["branch"] for r in mine.records] == [r.values["branch"] for r in register.records] == ["城北支行"] * 3


def test_find_merged_halves_down_to_each_merged_area():
    areas = [(1, 1, 1, 8), (5, 3, 9, 3), (40, 2, 41, 4)]  # 1-based inclusive: a title, a column block, a box

    def area_of(r, c):
        return next((a for a in areas if a[0] <= r <= a[2] and a[1] <= c <= a[3]), (r, c, r, c))

    def has_merge(r1, c1, r2, c2):
        return any(not (a[2] < r1 or a[0] > r2 or a[3] < c1 or a[1] > c2) for a in areas) or False

    calls = []
    found = find_merged(lambda *b: calls.append(b) or has_merge(*b), area_of, 1000, 30)
    assert found == [((a[0] - 1, a[1] - 1), (a[2] - 1, a[3] - 1)) for a in sorted(areas)]
    assert len(calls) < 300  # not one probe per cell of a 30 000-cell sheet
    assert find_merged(lambda *b: False, area_of, 1000, 30) == []


# --- (b) and (c): pressing twice, and 清除结果 -----------------------------------------------------

def marked_register(path: Path) -> Path:
    """A register with problems, and the user's own fill and note on a cell a check will mark."""
    rows = [good_row(1), good_row(2, 证件号码="110105194912310021"), good_row(3, 受理日期="上周三"),
            good_row(4, 投诉编号="T0001", 联系电话="12345"), good_row(5, 处理状态="已办结", 办结日期=None)]
    write_xlsx(path, rows, title="城南支行投诉登记台账（2026年）")
    wb = load_workbook(path)
    ws = wb.active
    ws["F4"].fill = PatternFill("solid", start_color=USER_FILL, end_color=USER_FILL)
    ws["F4"].comment = Comment("客户说证件号码是旧证", "网点")
    ws["N3"] = "网点自己的备注列"  # a column of the user's to the right of the register
    wb.save(path)
    return path


def press_on(wb, tag: str, sheet: str) -> str:
    rows, merged = sheet_as_xlwings(wb[sheet])
    return press(OpenpyxlBook(wb), tag, rows, sheet, POLICY, ASOF, merged=merged)


@pytest.mark.parametrize("src", ["marked", "messy"])
def test_pressing_twice_changes_nothing_and_user_cells_keep_their_values(src, tmp_path):
    path = marked_register(tmp_path / "r.xlsx") if src == "marked" else SAMPLES / "messy_branch.xlsx"
    sheet = load_register(path, LoadOptions(POLICY)).sheet
    original = snapshot(load_workbook(path))
    wb = load_workbook(path)
    press_on(wb, ALL, sheet)
    first = snapshot(wb := reloaded(wb, tmp_path / "1.xlsx"))
    press_on(wb, ALL, sheet)
    second = snapshot(reloaded(wb, tmp_path / "2.xlsx"))
    assert second == first
    before, after = original[sheet][1], first[sheet][1]
    for coord, (value, _fill, _note) in before.items():
        assert after[coord][0] == value, coord
    own = [coord for coord in after if coord not in before]
    assert own and all(re.match(r"[A-Z]+\d+$", c) for c in own)
    assert any(name.startswith(OWN_PREFIX) for name in first)


def test_marks_cover_the_users_fill_and_note_until_cleared(tmp_path):
    wb = load_workbook(marked_register(tmp_path / "r.xlsx"))
    press_on(wb, "validate", "台账")
    ws = wb["台账"]
    assert _fill_hex(ws["F4"]) == RED
    assert ws["F4"].comment.text == t("id_check_digit", detail="X")
    assert wb[STATE_SHEET].sheet_state == "hidden"


def test_clear_gives_the_users_sheet_back(tmp_path):
    path = marked_register(tmp_path / "r.xlsx")
    original = snapshot(load_workbook(path))
    wb = load_workbook(path)
    for tag in (ALL, "validate", ALL):  # two checks mark F4 and A6, in changing order
        press_on(wb, tag, "台账")
    message = press_on(wb, CLEAR, "台账")
    assert message.startswith("已清除") and "个结果表" in message
    cleared = snapshot(reloaded(wb, tmp_path / "2.xlsx"))
    assert cleared == {"台账": original["台账"]}
    restored = load_workbook(tmp_path / "2.xlsx")["台账"]["F4"]
    assert (_fill_hex(restored), restored.comment.text) == (USER_FILL, "客户说证件号码是旧证")


@pytest.mark.parametrize("second, said", [("联系电话", "“联系电话”列重复（N列）"), ("联系电话2", "N列“联系电话2”像是第二个“联系电话”列")])
def test_a_second_column_and_a_totals_row_on_the_button_as_in_the_cli(runner, tmp_path, second, said):
    """A second 联系电话 column (duplicate_column), or 联系电话2 beside it (near_duplicate_column), is
    a warning marked on its header cell, a 合计 row merged across the sheet is no complaint: the
    button shows what the CLI writes, and 清除结果 takes it back."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1) + ["12345"], good_row(2, 联系电话="12345") + [None], ["合计"]],
                      [*HEADERS, second], title="城南支行投诉登记台账")
    wb = load_workbook(path)
    wb.active.merge_cells("A5:N5")
    wb.save(path)
    original = snapshot(load_workbook(path))
    wb = load_workbook(path)
    message = press_on(wb, "validate", "台账")
    assert "共 2 行：0 个错误，2 个警告" in message
    ws = wb["台账"]
    assert _fill_hex(ws["N2"]) == AMBER and ws["N2"].comment.text.startswith(said) and "只读取了 G 列" in ws["N2"].comment.text
    assert all(_fill_hex(c) is None and c.comment is None for c in ws[5])  # nothing on the 合计 row
    assert snapshot(reloaded(wb, tmp_path / "button.xlsx")) == snapshot(load_workbook(cli_annotated(runner, "validate", path, tmp_path)))
    press_on(wb, CLEAR, "台账")
    assert snapshot(reloaded(wb, tmp_path / "cleared.xlsx")) == {"台账": original["台账"]}


def test_a_results_sheet_is_not_a_register(tmp_path):
    wb = load_workbook(marked_register(tmp_path / "r.xlsx"))
    press_on(wb, "validate", "台账")
    name = t("sheet_findings")
    ok, message = core.guarded(lambda: press_on(wb, "validate", name), "zh", lambda e: None)
    assert not ok and name in message and "投诉登记台账" in message


def test_errors_are_one_line_without_traceback(tmp_path):
    wb = Workbook()
    wb.active.title = "空表"
    logged = []
    ok, message = core.guarded(lambda: press_on(wb, "validate", "空表"), "zh", logged.append)
    assert not ok and message.startswith("当前工作表“空表”是空的") and "\n" not in message and not logged

    def bug():
        raise ZeroDivisionError("division by zero in 13800138000")

    ok, message = core.guarded(bug, "zh", lambda e: "/tmp/complaintkit-addin.log")
    assert not ok and "ZeroDivisionError" in message and "Traceback" not in message
    assert "13800138000" not in message and "/tmp/complaintkit-addin.log" in message


# --- the xlwings adapter against a simulated Excel ---------------------------------------------------

class FakeNote:
    def __init__(self, cell: "FakeCell") -> None:
        self.cell = cell

    @property
    def text(self) -> str:
        return self.cell.note

    @text.setter
    def text(self, value: str) -> None:
        self.cell.note = value

    def delete(self) -> None:
        self.cell.note = None


class FakeCell:
    def __init__(self) -> None:
        self.value: Any = None
        self.fill: tuple[int, int, int] | None = None
        self.note: str | None = None
        self.bold = False


def excel_parse(v: Any) -> Any:
    """What Excel stores for a value assigned through COM: a leading apostrophe marks text, any
    other text is read as if typed (numbers and dates become numbers and dates)."""
    if not isinstance(v, str):
        return v
    if v.startswith("'"):
        return v[1:]
    if v.startswith("="):
        return v
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(v)
    except ValueError:
        return v


class FakeRange:
    def __init__(self, sheet: "FakeSheet", a: tuple[int, int], b: tuple[int, int] | None = None, **opts: Any) -> None:
        self.sheet, self.a, self.b, self.opts = sheet, a, b or a, opts

    def options(self, **opts: Any) -> "FakeRange":
        return FakeRange(self.sheet, self.a, self.b, **opts)

    @property
    def row(self) -> int:
        return self.a[0]

    @property
    def column(self) -> int:
        return self.a[1]

    @property
    def last_cell(self) -> "FakeRange":
        return FakeRange(self.sheet, self.b)

    def _cells(self):
        for r in range(self.a[0], self.b[0] + 1):
            for c in range(self.a[1], self.b[1] + 1):
                yield self.sheet.cell(r, c)

    @property
    def value(self) -> Any:
        grid = [[self.sheet.peek(r, c).value for c in range(self.a[1], self.b[1] + 1)] for r in range(self.a[0], self.b[0] + 1)]
        if self.opts.get("ndim") == 2:
            return grid
        return grid[0][0] if self.a == self.b else grid

    @value.setter
    def value(self, data: Any) -> None:
        r0, c0 = self.a
        if self.opts.get("transpose"):
            data = [[v] for v in data]
        elif not isinstance(data, list):
            data = [[data]]
        for i, row in enumerate(data):
            for j, v in enumerate(row):
                self.sheet.cell(r0 + i, c0 + j).value = excel_parse(v)
        self.sheet.book.writes += 1

    @property
    def color(self) -> Any:
        return self.sheet.peek(*self.a).fill

    @color.setter
    def color(self, value: str | None) -> None:
        rgb = None if value is None else tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))
        for cell in self._cells():
            cell.fill = rgb

    @property
    def note(self) -> FakeNote | None:
        cell = self.sheet.peek(*self.a)
        return FakeNote(cell) if cell.note else None

    def add_note(self, text: str) -> FakeNote:
        cell = self.sheet.cell(*self.a)
        assert cell.note is None, "Excel refuses a second note"
        cell.note = text
        return FakeNote(cell)

    @property
    def font(self) -> Any:
        rng = self

        class Font:
            def __setattr__(self, name, value):
                for cell in rng._cells():
                    cell.bold = value

        return Font()

    @property
    def column_width(self) -> float:
        return 8.43

    @column_width.setter
    def column_width(self, value: float) -> None:
        pass

    @property
    def merge_cells(self) -> Any:
        hits = [m for m in self.sheet.merged if not (m[2] < self.a[0] or m[0] > self.b[0] or m[3] < self.a[1] or m[1] > self.b[1])]
        return bool(hits) or False

    @property
    def merge_area(self) -> "FakeRange":
        for m in self.sheet.merged:
            if m[0] <= self.a[0] <= m[2] and m[1] <= self.a[1] <= m[3]:
                return FakeRange(self.sheet, (m[0], m[1]), (m[2], m[3]))
        return self


class FakeSheet:
    def __init__(self, book: "FakeBook", name: str) -> None:
        self.book, self.name, self.cells, self.visible, self.merged = book, name, {}, True, []
        self.freeze_panes = type("FreezePanes", (), {"freeze_at": lambda _self, where: None})()

    def peek(self, r: int, c: int) -> FakeCell:
        return self.cells.get((r, c), FakeCell())

    def cell(self, r: int, c: int) -> FakeCell:
        return self.cells.setdefault((r, c), FakeCell())

    @property
    def used_range(self) -> FakeRange:
        used = [k for k, v in self.cells.items() if v.value is not None or v.fill or v.note or v.bold]
        if not used:
            return FakeRange(self, (1, 1))
        return FakeRange(self, (1, 1), (max(r for r, _ in used), max(c for _, c in used)))

    def range(self, a: tuple[int, int], b: tuple[int, int] | None = None) -> FakeRange:
        return FakeRange(self, a, b)

    def delete(self) -> None:
        self.book.sheets.items.remove(self)

    def activate(self) -> None:
        self.book.sheets.active = self


class FakeSheets:
    def __init__(self, book: "FakeBook") -> None:
        self.book, self.items, self.active = book, [], None

    def __iter__(self):
        return iter(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: Any) -> FakeSheet:
        if isinstance(key, int):
            return self.items[key]
        return next(s for s in self.items if s.name == key)

    def add(self, name: str, after: FakeSheet) -> FakeSheet:
        assert name not in [s.name for s in self.items]
        sheet = FakeSheet(self.book, name)
        self.items.insert(self.items.index(after) + 1, sheet)
        self.active = sheet
        return sheet


class FakeApp:
    def __init__(self) -> None:
        self.screen_updating, self.display_alerts, self.alerts = True, True, []

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", mode: str | None = None) -> str:
        self.alerts.append((prompt, title, mode))
        return "ok"


class FakeBook:
    """Enough of xlwings' Book API, with Excel's habits, for XlwingsBook, read_sheet and run_button."""

    def __init__(self, wb, fullname: str = "台账.xlsx") -> None:
        self.writes, self.app, self.fullname, self.name = 0, FakeApp(), fullname, Path(fullname).name
        self.sheets = FakeSheets(self)
        for ws in wb.worksheets:
            sheet = FakeSheet(self, ws.title)
            self.sheets.items.append(sheet)
            for row in ws.iter_rows():
                for c in row:
                    if c.value is not None or _fill_hex(c) or c.comment:
                        cell = sheet.cell(c.row, c.column)
                        cell.value = xlwings_value(c.value)
                        fill = _fill_hex(c)
                        cell.fill = tuple(int(fill[i:i + 2], 16) for i in (0, 2, 4)) if fill else None
                        cell.note = c.comment.text if c.comment else None
            sheet.merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
        self.sheets.active = self.sheets.items[0]

    def view(self) -> dict[str, Any]:
        """The same shape as snapshot(): what a user sees."""
        out = {}
        for s in self.sheets:
            cells = {}
            for (r, c), cell in sorted(self.cells_of(s)):
                fill = "%02X%02X%02X" % cell.fill if cell.fill else None
                item = (shown(cell.value), fill, cell.note)
                if item != (None, None, None):
                    cells[f"{_letter(c)}{r}"] = item
            out[s.name] = ("visible" if s.visible else "hidden", cells)
        return out

    @staticmethod
    def cells_of(sheet: FakeSheet):
        return list(sheet.cells.items())


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def normalised(view: dict[str, Any]) -> dict[str, Any]:
    """Numbers as Excel keeps them (all float), so the two hosts compare by value."""
    out = {}
    for name, (state, cells) in view.items():
        out[name] = (state, {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v, f, n)
                             for k, (v, f, n) in cells.items()})
    return out


@pytest.mark.parametrize("src", ["marked", "messy"])
def test_xlwings_adapter_does_what_the_openpyxl_adapter_does(src, tmp_path):
    path = marked_register(tmp_path / "r.xlsx") if src == "marked" else SAMPLES / "messy_branch.xlsx"
    sheet = load_register(path, LoadOptions(POLICY)).sheet
    wb = load_workbook(path)
    fake = FakeBook(load_workbook(path))
    for tag in (ALL, "validate", ALL):
        rows, merged = read_sheet(fake.sheets[sheet])
        press(XlwingsBook(fake), tag, rows, sheet, POLICY, ASOF, merged=merged)
        press_on(wb, tag, sheet)
        assert normalised(fake.view()) == normalised(snapshot(reloaded(wb, tmp_path / "o.xlsx")))
    rows, _ = read_sheet(fake.sheets[sheet])
    press(XlwingsBook(fake), CLEAR, rows, sheet, POLICY, ASOF)
    assert normalised(fake.view()) == normalised(snapshot(load_workbook(path)))


def test_a_header_below_row_30_gets_one_set_of_own_columns_and_clears(tmp_path):
    """A policy that looks for the header further down than the add-in's usual 30 rows
    (register.header_search_rows = 45), a register under 35 rows of notes: a second press finds
    the own columns the first one wrote instead of adding another set beside them, and 清除结果
    empties them, on both hosts."""
    path = write_xlsx(tmp_path / "deep.xlsx", [good_row(1), good_row(2, 联系电话="12345")])
    wb = load_workbook(path)
    wb.active.insert_rows(1, 35)
    wb.active["A1"] = "城南支行投诉登记台账（说明见下）"
    wb.save(path)
    config = tmp_path / "deep.toml"
    config.write_text("[register]\nheader_search_rows = 45\n", encoding="utf-8")
    policy = load_policy(str(config))
    sheet = wb.active.title
    original = snapshot(load_workbook(path))
    fake, wb = FakeBook(load_workbook(path)), load_workbook(path)
    for _ in range(2):
        rows, merged = read_sheet(fake.sheets[sheet])
        press(XlwingsBook(fake), "validate", rows, sheet, policy, ASOF, merged=merged)
        rows, merged = sheet_as_xlwings(wb[sheet])
        press(OpenpyxlBook(wb), "validate", rows, sheet, policy, ASOF, merged=merged)
    on_header_row = [cell.value for (r, _c), cell in fake.sheets[sheet].cells.items() if r == 36]
    assert on_header_row.count(t("col_validate")) == 1
    assert normalised(fake.view()) == normalised(snapshot(reloaded(wb, tmp_path / "o.xlsx")))
    rows, _ = read_sheet(fake.sheets[sheet])
    press(XlwingsBook(fake), CLEAR, rows, sheet, policy, ASOF)
    press(OpenpyxlBook(wb), CLEAR, rows, sheet, policy, ASOF)
    assert normalised(fake.view()) == normalised(original)
    assert snapshot(reloaded(wb, tmp_path / "c.xlsx")) == original


def test_clearing_under_a_shallower_policy_still_finds_columns_written_under_the_default(tmp_path):
    """The register's header is on row 15 (14 rows of notes above it) and was checked under the
    default policy; the branch's policy now looks for headers in the first 10 rows only. 清除结果
    still looks as deep as the add-in writes (30 rows) and empties the CK- columns on row 15."""
    path = write_xlsx(tmp_path / "notes.xlsx", [good_row(1), good_row(2, 联系电话="12345")])
    wb = load_workbook(path)
    wb.active.insert_rows(1, 14)
    wb.active["A1"] = "城南支行投诉登记台账（说明见下）"
    wb.save(path)
    sheet = wb.active.title
    original = snapshot(load_workbook(path))
    fake, wb = FakeBook(load_workbook(path)), load_workbook(path)
    rows, merged = read_sheet(fake.sheets[sheet])
    press(XlwingsBook(fake), "validate", rows, sheet, POLICY, ASOF, merged=merged)
    press_on(wb, "validate", sheet)
    assert t("col_validate") in [cell.value for (r, _c), cell in fake.sheets[sheet].cells.items() if r == 15]
    config = tmp_path / "shallow.toml"
    config.write_text("[register]\nheader_search_rows = 10\n", encoding="utf-8")
    shallow = load_policy(str(config))
    rows, _ = read_sheet(fake.sheets[sheet])
    press(XlwingsBook(fake), CLEAR, rows, sheet, shallow, ASOF)
    press(OpenpyxlBook(wb), CLEAR, rows, sheet, shallow, ASOF)
    assert normalised(fake.view()) == normalised(original)
    assert snapshot(reloaded(wb, tmp_path / "c.xlsx")) == original


def test_run_button_end_to_end_on_a_simulated_excel(monkeypatch, tmp_path):
    import xlwings as xw

    from complaintkit.addin import run_button

    path = marked_register(tmp_path / "r.xlsx")
    fake = FakeBook(load_workbook(path), str(path))
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: fake))
    run_button("validate")
    message, title, mode = fake.app.alerts[-1]
    assert mode == "info" and title == t("addin_title") and message.startswith("校验：共 5 行")
    assert t("col_validate") in [c.value for c in fake.sheets["台账"].cells.values()]
    assert (fake.app.screen_updating, fake.app.display_alerts) == (True, True)
    assert fake.sheets.active.name == "台账"  # back on the register, not on a new result sheet

    run_button("clear")
    assert fake.app.alerts[-1][0].startswith("已清除") and normalised(fake.view()) == normalised(snapshot(load_workbook(path)))

    empty = Workbook()
    empty.active.title = "空表"
    blank = FakeBook(empty)
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: blank))
    run_button("validate")
    assert blank.app.alerts[-1][2] == "critical" and blank.app.alerts[-1][0].startswith("当前工作表“空表”是空的")

    def no_box(*args, **kwargs):
        raise RuntimeError("no message box on this Excel")

    monkeypatch.setattr(blank.app, "alert", no_box)
    with pytest.raises(SystemExit, match="当前工作表“空表”是空的"):  # RunPython shows stderr instead
        run_button("validate")


def test_lite_scripts_run_the_same_checks_without_touching_user_cells(tmp_path):
    spec = importlib.util.spec_from_file_location("lite_main", EXCEL / "lite" / "main.py")
    lite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lite)
    path = marked_register(tmp_path / "r.xlsx")
    fake = FakeBook(load_workbook(path), str(path))
    lite.validate(fake)
    assert fake.app.alerts[-1][2] == "info" and fake.app.alerts[-1][0].startswith("校验：共 5 行")
    before, after = snapshot(load_workbook(path))["台账"][1], normalised(fake.view())["台账"][1]
    assert all(after[k][1:] == v[1:] for k, v in before.items())  # no fill, no note on a user cell
    wb = load_workbook(path)
    press_on(wb, "validate", "台账")
    expected = normalised(snapshot(reloaded(wb, tmp_path / "o.xlsx")))
    assert normalised(fake.view())[t("sheet_findings")] == expected[t("sheet_findings")]
    lite.clear_results(fake)
    assert normalised(fake.view()) == normalised(snapshot(load_workbook(path)))
    # A workbook only Lite has checked has no marks to leave to the desktop: none is mentioned.
    assert fake.app.alerts[-1][:1] == ("已清除：1 个结果列，1 个结果表",), fake.app.alerts[-1]
    assert lite.CK_ID_CHECK("110105194912310021") == "证件号码校验位错误（按 GB 11643 应为 X）"
    assert lite.CK_DUE_DATE(46293.0) == dt.date(2026, 10, 13)


def test_lite_checks_and_clears_a_book_marked_on_the_desktop_and_leaves_the_marks_to_it(tmp_path, monkeypatch):
    """xlwings Lite cannot read a cell's fill back (Range.color raises). On a register the desktop
    add-in has marked, Lite's buttons still run and clear; the marks and CK-state stay, so a
    desktop 清除结果 later gives the clerk's own fill and note back."""
    lite = _lite()
    path = marked_register(tmp_path / "r.xlsx")
    user = snapshot(load_workbook(path))["台账"][1]
    wb = load_workbook(path)
    press_on(wb, "validate", "台账")
    marked = reloaded(wb, tmp_path / "marked.xlsx")
    fake = FakeBook(marked, str(tmp_path / "marked.xlsx"))
    on_show = normalised(fake.view())["台账"][1]["F4"]
    assert on_show[1] == RED

    def no_colour(self):
        raise NotImplementedError("Range.color is not supported in xlwings Lite")

    monkeypatch.setattr(FakeRange, "color", property(no_colour, FakeRange.color.fset))
    lite.validate(fake)
    assert fake.app.alerts[-1][2] == "info", fake.app.alerts[-1]
    lite.clear_results(fake)
    assert fake.app.alerts[-1][2] == "info" and "桌面版 Excel" in fake.app.alerts[-1][0], fake.app.alerts[-1]
    monkeypatch.undo()
    assert normalised(fake.view())["台账"][1]["F4"] == on_show  # left for the desktop to undo
    press(XlwingsBook(fake), CLEAR, [], "台账", POLICY, ASOF)
    assert normalised(fake.view())["台账"][1]["F4"][1:] == user["F4"][1:]  # the clerk's own fill and note


def test_a_column_is_written_in_one_call():
    wb = Workbook()
    wb.active.title = "台账"
    wb.active.append(["投诉编号"])
    fake = FakeBook(wb)
    XlwingsBook(fake).write_column("台账", 3, 1, "CK-x", 2, list(range(5000)), [None] * 4999 + [RED], 20)
    assert fake.writes == 2  # the header cell, then the whole column


def test_text_stays_text_in_excel():
    assert excel_value("2026-03-06") == "'2026-03-06" and excel_value("=cmd|' /c calc'!A0") == "'=cmd|' /c calc'!A0"
    assert excel_value("") is None and excel_value(dt.date(2026, 3, 6)) == dt.datetime(2026, 3, 6)
    assert excel_value("#N/A") == "'#N/A" and excel_value(float("nan")) == "'nan" and len(excel_value("长" * 40000)) == 32_768
    assert link_formula("台账'1!C5", 'say "hi"') == '=HYPERLINK("#\'台账\'\'1\'!C5","say ""hi""")'
    assert link_formula("台账!C5", "长" * 300) is None
    assert runs([None, RED, RED, "FFEB9C", None, RED], 10) == [(11, 12, RED), (13, 13, "FFEB9C"), (15, 15, RED)]


# --- (d) the built add-in ------------------------------------------------------------------------

def ovba_decompress(data: bytes) -> bytes:
    """MS-OVBA 2.4.1 decompression, written from the spec so the check does not trust the writer."""
    assert data[0] == 1, "not a CompressedContainer"
    out, pos = bytearray(), 1
    while pos < len(data):
        header = struct.unpack_from("<H", data, pos)[0]
        end, pos, start = min(pos + (header & 0x0FFF) + 3, len(data)), pos + 2, len(out)
        if not header & 0x8000:
            out += data[pos:pos + 4096]
            pos += 4096
            continue
        while pos < end:
            flags, pos = data[pos], pos + 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token, pos = struct.unpack_from("<H", data, pos)[0], pos + 2
                bits = max((len(out) - start - 1).bit_length(), 4)
                length, offset = (token & (0xFFFF >> bits)) + 3, (token >> (16 - bits)) + 1
                for _ in range(length):
                    out.append(out[-offset])
    return bytes(out)


def vba_modules(xlam: Path) -> dict[str, str]:
    """Module name -> source, read from vbaProject.bin through the dir stream (MS-OVBA 2.3.4.2)."""
    from pyopenvba.cfb import CFB

    cfb = CFB.from_bytes(zipfile.ZipFile(xlam).read("xl/vbaProject.bin"))
    raw, pos, modules, current = ovba_decompress(cfb.get_stream_in_storage("VBA", "dir")), 0, {}, {}
    while pos < len(raw):
        rid = struct.unpack_from("<H", raw, pos)[0]
        if rid == 0x0010:  # the dir stream's terminator
            break
        size = struct.unpack_from("<I", raw, pos + 2)[0]
        pos += 6
        if rid == 0x0009:  # PROJECTVERSION: its size field says 4, six bytes follow
            size = 6
        data, pos = raw[pos:pos + size], pos + size
        if rid == 0x001A:
            current["stream"] = data.decode("cp1252")
        elif rid == 0x0031:
            current["offset"] = struct.unpack("<I", data)[0]
        elif rid == 0x002B:
            stream = cfb.get_stream_in_storage("VBA", current["stream"])
            modules[current["stream"]] = ovba_decompress(stream[current["offset"]:]).decode("cp1252")
            current = {}
    return modules


def test_xlam_is_a_valid_addin_package():
    with zipfile.ZipFile(XLAM) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names[0] == "[Content_Types].xml" and "xl/vbaProject.bin" in names
        types = ET.fromstring(zf.read("[Content_Types].xml"))
        overrides = {o.get("PartName"): o.get("ContentType") for o in types}
        assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.addin.macroEnabled.main+xml"
        assert overrides["/xl/vbaProject.bin"] == "application/vnd.ms-office.vbaProject"
        defaults = {d.get("Extension") for d in types if d.tag.endswith("Default")}
        assert {"xml", "rels"} <= defaults
        rels = {r.get("Type").rsplit("/", 1)[-1]: r.get("Target") for r in ET.fromstring(zf.read("_rels/.rels"))}
        assert rels["officeDocument"] == "xl/workbook.xml"
        assert rels["extensibility"] == "customUI/customUI14.xml" and rels["extensibility"] in names
        workbook_rels = zf.read("xl/_rels/workbook.xml.rels").decode()
        assert 'Target="vbaProject.bin"' in workbook_rels
        assert '<sheet name="complaintkit.conf"' in zf.read("xl/workbook.xml").decode()
        assert "felix" not in zf.read("xl/workbook.xml").decode().lower()


def ribbon_buttons() -> list[dict[str, str]]:
    with zipfile.ZipFile(XLAM) as zf:
        root = ET.fromstring(zf.read("customUI/customUI14.xml"))
    ns = {"ui": "http://schemas.microsoft.com/office/2009/07/customui"}
    tab = root.find(".//ui:tab", ns)
    assert tab is not None and tab.get("label") == "投诉台账"
    return [b.attrib for b in root.iterfind(".//ui:button", ns)]


def test_every_ribbon_button_is_tied_to_an_operation():
    buttons = ribbon_buttons()
    assert [(b["tag"], b["label"]) for b in buttons] == [(tag, zh) for tag, zh, _en in BUTTONS]
    assert {b["tag"] for b in buttons} == set(PIPELINE_ORDER) | {ALL, CLEAR}
    assert {b["onAction"] for b in buttons} == {"RibbonComplaintkit.OnButton"}
    assert len({b["id"] for b in buttons}) == len(buttons)
    for b in buttons:
        if b["tag"] in available() + [ALL]:
            assert operations_for(b["tag"])
        elif b["tag"] != CLEAR:  # a check whose module is not in this tree yet: a clear message, not a crash
            with pytest.raises(AddinError, match=b["label"]):
                operations_for(b["tag"])


def test_the_vba_dispatcher_passes_the_buttons_tag_to_python():
    modules = vba_modules(XLAM)
    ribbon = modules["RibbonComplaintkit"]
    assert re.search(r"Public Sub OnButton\(control As IRibbonControl\)\s+RunCheck control\.Tag", ribbon)
    assert "RunPython \"import complaintkit.addin as a; a.run_button('\" & checkTag & \"')\"" in ribbon
    assert 'Public Const PROJECT_NAME As String = "complaintkit"' in modules["xlwings"]
    assert "RibbonMyAddin" not in modules
    from pyopenvba import ExcelFile

    with ExcelFile(XLAM) as book:
        assert book.get_module("RibbonComplaintkit").replace("\r\n", "\n").strip() == ribbon.replace("\r\n", "\n").strip()


def test_the_addin_declares_every_worksheet_function():
    from complaintkit.addin.udfs import UDFS

    wrappers = vba_modules(XLAM)["xlwings_udfs"]
    declared = re.findall(r"^Function (\w+)\(", wrappers, re.M)
    assert declared == [f.__name__ for f in UDFS]
    for f in UDFS:
        assert f'XLPy.CallUDF("complaintkit.addin.udfs", "{f.__name__}", Array(' in wrappers


def test_vba_sources_are_ascii():
    # The template's VBA project stores source in code page 1252.
    (EXCEL / "RibbonComplaintkit.bas").read_text("ascii")


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_addin", EXCEL / "build_addin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rebuilding_reproduces_the_committed_addin(tmp_path):
    import xlwings

    pytest.importorskip("pyopenvba", reason="pyopenvba (test extra) writes the VBA project")
    built_with = zipfile.ZipFile(XLAM).read("xl/sharedStrings.xml").decode()
    if f">{xlwings.__version__}<" not in built_with:
        pytest.skip(f"the add-in was built from another xlwings template than the installed {xlwings.__version__}")
    from importlib.metadata import version

    if version("pyopenvba") != "6.5.0":
        pytest.skip(f"pyopenvba {version('pyopenvba')} installed; the add-in was built with 6.5.0")
    out = load_build_script().build(tmp_path / "again.xlam")
    assert out.read_bytes() == XLAM.read_bytes(), "excel/complaintkit.xlam is stale: run python excel/build_addin.py"


def test_build_settings_go_into_the_config_sheet(tmp_path):
    pytest.importorskip("pyopenvba")
    script = load_build_script()
    out = script.build(tmp_path / "it.xlam", [("Interpreter_Win", r"%LOCALAPPDATA%\ck\pythonw.exe")])
    strings = zipfile.ZipFile(out).read("xl/sharedStrings.xml").decode()
    assert "UDF Modules" in strings and r"%LOCALAPPDATA%\ck\pythonw.exe" in strings
    with pytest.raises(SystemExit):
        script.main(["--conf", "no-equals-sign", "-o", str(tmp_path / "x.xlam")])


# --- (e) worksheet functions ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["11010519491231002X", "110105194912310021", "11010519491331002X", "1101051949",
                                   1.10105194912310e17, "110105491231002"])
def test_id_check_function_says_what_validate_says(value, tmp_path):
    from complaintkit.addin.udfs import CK_ID_CHECK

    answer = CK_ID_CHECK(value)
    assert answer == id_check_text(value, "zh", dt.date.today())
    path = write_xlsx(tmp_path / "id.xlsx", [good_row(1, 证件号码=value)])
    findings = [f for f in validate([load_register(path, LoadOptions(POLICY))], POLICY, ASOF).findings if f.field == "id_number"]
    assert answer == (findings[0].message() if findings else t("udf_id_ok"))
    assert CK_ID_CHECK(value, "en") == id_check_text(value, "en")


def test_id_check_function_on_blank_is_blank():
    from complaintkit.addin.udfs import CK_ID_CHECK

    assert CK_ID_CHECK(None) == "" and CK_ID_CHECK("") == ""


@pytest.mark.parametrize("received,extended,channel", [
    (dt.datetime(2026, 3, 2), False, None), (dt.datetime(2026, 9, 20), True, "柜面"),
    (46000.0, None, None), ("2026年1月30日", "是", "监管转办"),
])
def test_deadline_functions_answer_as_the_followups_check(received, extended, channel):
    from complaintkit.addin.udfs import CK_DAYS_LEFT, CK_DUE_DATE

    due = CK_DUE_DATE(received, extended, channel)
    assert due == due_date(received, extended, POLICY, channel=channel) and isinstance(due, dt.date)
    assert CK_DAYS_LEFT(received, ASOF, extended, channel) == days_left(received, ASOF, extended, POLICY, channel=channel)
    assert CK_DAYS_LEFT(received, ASOF, extended, channel) == (due - ASOF).days


def test_deadline_functions_take_excel_serials():
    from complaintkit.addin.udfs import CK_DAYS_LEFT, CK_DUE_DATE

    # =CK_DUE_DATE(DATE(2026,9,28)): received Mon 28 Sep, +15 days is Tue 13 Oct, after the
    # National Day holiday (1-8 Oct), a working day; excel/README.md quotes these answers.
    assert CK_DUE_DATE(46293.0) == dt.date(2026, 10, 13)
    assert CK_DAYS_LEFT(46293.0, 46310.0) == -2


def test_due_date_function_matches_the_register_check(tmp_path):
    from complaintkit.addin.udfs import CK_DUE_DATE

    path = write_xlsx(tmp_path / "d.xlsx", [good_row(1, 受理日期=dt.date(2026, 9, 28), 处理状态="处理中", 办结日期=None, 回访日期=None, 回访结果=None)])
    data = run_operation("followups", [load_register(path, LoadOptions(POLICY))], OpContext(POLICY, ASOF)).data
    assert CK_DUE_DATE(dt.datetime(2026, 9, 28), None, "柜面").isoformat() == data["rows"][0]["decision_due"]


def test_a_function_error_is_one_line_in_the_cell():
    from complaintkit.addin.udfs import CK_DUE_DATE

    answer = CK_DUE_DATE("上周三")
    assert answer.startswith("#CK ") and "\n" not in answer and "Traceback" not in answer


# --- (f) the adapter on a real xlwings engine ----------------------------------------------------

def _register_values() -> tuple[list[list[Any]], str]:
    path = SAMPLES / "messy_branch.xlsx"
    sheet = load_register(path, LoadOptions(POLICY)).sheet
    rows, _ = sheet_as_xlwings(load_workbook(path)[sheet])
    return rows, sheet


def test_adapter_in_real_excel(tmp_path):
    import xlwings as xw

    if not any(engine.name == "excel" for engine in xw.engines):
        pytest.skip("needs Microsoft Excel (Windows or macOS): xlwings' free COM/AppleScript engine drives it")
    rows, sheet = _register_values()
    app = xw.App(visible=False, add_book=False)
    try:
        book = app.books.add()
        book.sheets[0].name = sheet
        book.sheets[0]["A1"].value = rows
        for _ in range(2):
            values, merged = read_sheet(book.sheets[sheet])
            press(XlwingsBook(book), ALL, values, sheet, POLICY, ASOF, merged=merged)
        wb = load_workbook(SAMPLES / "messy_branch.xlsx")
        press_on(wb, ALL, sheet)
        for name in [n for n in wb.sheetnames if n == sheet or (n.startswith(OWN_PREFIX) and n != STATE_SHEET)]:
            ours = load_workbook_values(wb[name])
            theirs = book.sheets[name].used_range.options(ndim=2).value
            assert [[shown(xlwings_value(v)) for v in r] for r in ours] == [[shown(v) for v in r] for r in theirs]
    finally:
        app.kill()


def load_workbook_values(ws) -> list[list[Any]]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column)]


def test_adapter_on_the_licensed_remote_engine():
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        pytest.skip("XLWINGS_LICENSE_KEY is not set: xlwings' remote engine (xw.Book(json=...)) needs a licence")
    import xlwings as xw

    try:
        from xlwings.pro import _xlremote as remote
    except Exception as exc:  # an expired or invalid key
        pytest.skip(f"xlwings' remote engine is not usable with this key: {exc}")
    rows, sheet = _register_values()
    width = len(rows[0])
    payload = {
        "client": "Office.js", "version": xw.__version__,
        "book": {"name": "register.xlsx", "active_sheet_index": 0, "selection": "A1"}, "names": [],
        "sheets": [{"name": sheet, "values": [[("" if v is None else v.isoformat() if isinstance(v, dt.datetime) else v) for v in r] for r in rows],
                    "pictures": [], "tables": []}],
    }
    book = xw.Book(impl=remote.App(remote.Apps(), add_book=False).books.open(payload))
    message = press(XlwingsBook(book), "validate", rows, sheet, POLICY, ASOF, marks=False)
    assert t("col_validate") in message
    actions = book.impl.json()["actions"]
    writes = [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == 0]
    assert writes and all(a["start_column"] >= width for a in writes), "a write reached the user's columns"
    assert any("'" + t("col_validate") in json.dumps(a["values"], ensure_ascii=False) for a in writes)


def test_due_date_udf_says_when_the_calendar_does_not_cover_the_year():
    """A 2027 deadline is not shown as a sure date: the cell says the calendar does not cover it."""
    import datetime as _dt

    from complaintkit.addin import udfs

    text = udfs.CK_DUE_DATE(_dt.date(2026, 12, 20))
    assert isinstance(text, str) and text.startswith("#CK") and "2027" in text
    assert udfs.CK_DUE_DATE(_dt.date(2026, 3, 2)) == _dt.date(2026, 3, 17)


def test_classify_and_risk_udfs_match_the_checks(tmp_path):
    """CK_CLASSIFY and CK_RISK_LEVEL give what the classify and risk checks give for the same row."""
    import datetime as _dt

    from openpyxl import Workbook as _Workbook

    from complaintkit.addin import udfs
    from complaintkit.loader import LoadOptions as _Opts, load_register as _load
    from complaintkit.operations import OpContext as _Ctx, run_operation as _run
    from complaintkit.policy import load_policy as _policy

    header = ["投诉编号", "受理日期", "投诉渠道", "客户姓名", "投诉内容", "处理状态"]
    rows = [["T1", _dt.date(2026, 10, 1), "柜面", "张三", "信用卡被扣年费200元，办卡时说免年费。不解决就打12378投诉", "处理中"],
            ["T2", _dt.date(2026, 11, 19), "柜面", "李四", "催收人员给我父母打电话", "处理中"]]
    wb = _Workbook()
    wb.active.append(header)
    for r in rows:
        wb.active.append(r)
    path = tmp_path / "r.xlsx"
    wb.save(path)
    policy = _policy()
    reg = _load(path, _Opts(policy))
    ctx = _Ctx(policy, _dt.date(2026, 11, 20))
    by_id = {r["id"]: r for r in _run("risk", [reg], ctx).data["rows"]}
    classes = {r["id"]: r for r in _run("classify", [reg], ctx).data["rows"]}
    assert udfs.CK_RISK_LEVEL(header, rows[0], "level", _dt.date(2026, 11, 20)) == "高（红）"
    # The as-of date as Excel passes a cell: a date-time, a serial, text.
    for as_of in (_dt.datetime(2026, 11, 20), 46346.0, "2026-11-20"):
        assert udfs.CK_RISK_LEVEL(header, rows[0], "level", as_of) == "高（红）", as_of
    for row in rows:
        cid = row[0]
        assert udfs.CK_RISK_LEVEL([header], [row], "score", _dt.date(2026, 11, 20)) == str(by_id[cid]["score"])
        assert udfs.CK_CLASSIFY(row[4]) == classes[cid]["reason"]
    assert udfs.CK_CLASSIFY(rows[1][4], "tags") == "催收"
    assert udfs.CK_CLASSIFY("") == ""
    assert udfs.CK_CLASSIFY("x", "nonsense").startswith("#CK")


def _lite():
    spec = importlib.util.spec_from_file_location("lite_main", EXCEL / "lite" / "main.py")
    lite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lite)
    return lite


def test_lite_functions_answer_bad_input_with_a_ck_line_as_the_addin_does():
    """In xlwings Lite a bad argument shows one #CK line too, never a Python error in the cell,
    and a deadline in a year the holiday calendar does not cover is not shown as a sure date."""
    from complaintkit.addin import udfs

    lite = _lite()
    for name, args, said in [
        ("CK_DUE_DATE", ("上周三",), "#CK 无法识别为日期：上周三（"), ("CK_DAYS_LEFT", ("上周三",), "#CK 无法识别为日期：上周三（"),
        ("CK_CLASSIFY", ("x", "nonsense"), "#CK ValueError: part must be reason, business, tags or confidence, not 'nonsense'"),
        ("CK_RISK_LEVEL", (["投诉编号"], ["T1"], "nonsense"), "#CK 第一个参数应为台账的表头行"),
        ("CK_DUE_DATE", (dt.date(2026, 12, 20),), "#CK 2027年不在节假日数据范围内"),
    ]:
        for door in (lite, udfs):
            answer = getattr(door, name)(*args)
            assert isinstance(answer, str) and answer.startswith(said), (door.__name__, name, args, answer)


def test_lite_declares_the_same_worksheet_functions_as_the_addin():
    """A formula typed in a branch's workbook works alike whichever door answers it: the same
    names, arguments and defaults."""
    import inspect

    from complaintkit.addin import udfs

    lite = _lite()
    declared = {f.__name__: str(inspect.signature(f)) for f in udfs.UDFS}
    assert sorted(declared) == ["CK_CLASSIFY", "CK_DAYS_LEFT", "CK_DUE_DATE", "CK_ID_CHECK", "CK_RISK_LEVEL"]
    assert {name: str(inspect.signature(getattr(lite, name))) for name in declared} == declared
    assert declared["CK_DAYS_LEFT"] == "(received, as_of=None, extended=False, channel=None, business_line=None, customer_tier=None)"


def test_deadline_functions_leave_a_row_without_a_received_date_empty():
    """=CK_DUE_DATE(B5) filled down the column shows nothing on the rows not yet filled in (as
    CK_ID_CHECK and CK_CLASSIFY do), not an error on every empty row."""
    from complaintkit.addin import udfs

    lite = _lite()
    for module in (udfs, lite):
        for blank in (None, "", "  "):
            assert module.CK_DUE_DATE(blank) == "" and module.CK_DUE_DATE(blank, "是", "柜面") == ""
            assert module.CK_DAYS_LEFT(blank) == "" and module.CK_DAYS_LEFT(blank, ASOF) == ""
        assert module.CK_DAYS_LEFT(46293.0, None) == (dt.date(2026, 10, 13) - dt.date.today()).days


def test_functions_say_in_the_clerks_words_what_is_wrong_with_an_argument(monkeypatch):
    """A date the function cannot read, or a range where one cell belongs, is named in a sentence
    the clerk can act on (in English with COMPLAINTKIT_LANG=en), not as a Python exception."""
    from complaintkit.addin import udfs

    two_cells = [[dt.datetime(2026, 9, 28)], [dt.datetime(2026, 9, 29)]]
    assert udfs.CK_DUE_DATE("上周三") == "#CK 无法识别为日期：上周三（请输入如 2026-03-05 的日期，或引用日期单元格）"
    assert udfs.CK_DAYS_LEFT(46293.0, "下周") == "#CK 无法识别为日期：下周（请输入如 2026-03-05 的日期，或引用日期单元格）"
    for answer in (udfs.CK_DUE_DATE(two_cells), udfs.CK_DAYS_LEFT(two_cells), udfs.CK_ID_CHECK(["11010519491231002X", "x"]),
                   udfs.CK_CLASSIFY([["信用卡年费", "催收"]])):
        assert answer == "#CK 请只引用一个单元格，不是一个区域"
    monkeypatch.setenv("COMPLAINTKIT_LANG", "en")
    assert udfs.CK_DUE_DATE("上周三") == "#CK cannot read 上周三 as a date (type a date such as 2026-03-05, or refer to a date cell)"
    assert udfs.CK_DUE_DATE(two_cells) == "#CK refer to one cell, not a range"


def test_a_function_given_lang_en_words_its_error_in_english_whatever_the_clerks_language(monkeypatch):
    """=CK_ID_CHECK(F5:F6, "en") in a workbook whose clerk reads Chinese: the formula asked for
    English, and its #CK line is English (and the other way round), in the add-in and in Lite."""
    from complaintkit.addin import udfs

    lite = _lite()
    header, row = ["业务类型", "件数"], ["信用卡", 12.0]
    for env, asked, expected_lang in (("zh", "en", "en"), ("en", "zh", "zh")):
        monkeypatch.setenv("COMPLAINTKIT_LANG", env)
        for module in (udfs, lite):
            assert module.CK_ID_CHECK(["11010519491231002X", "x"], asked) == "#CK " + t("udf_one_cell", expected_lang)
            assert module.CK_RISK_LEVEL(header, row, "level", None, asked) == "#CK " + t("udf_no_header", expected_lang)
    # lang left out: the clerk's language, for the answer and for the error alike
    monkeypatch.setenv("COMPLAINTKIT_LANG", "en")
    for module in (udfs, lite):
        assert module.CK_ID_CHECK(["11010519491231002X", "x"]) == "#CK refer to one cell, not a range"
        assert module.CK_ID_CHECK("110105194912310021") == "ID number check digit is wrong (GB 11643 gives X)"
        assert module.CK_ID_CHECK("11010519491231002X") == "valid"
        assert module.CK_ID_CHECK("11010519491231002X", "") == "valid"  # =CK_ID_CHECK(F5,"")


def test_a_button_on_a_sheet_that_is_not_the_register_says_to_switch_sheets():
    """A summary or pivot sheet, or an empty sheet beside the register, is named as the wrong sheet:
    not "every sheet is empty" (the register beside it is not) nor a command-line --map hint."""
    wb = load_workbook(SAMPLES / "messy_branch.xlsx")
    summary = wb.create_sheet("汇总")
    for row in (["2026年投诉汇总"], ["业务类型", "件数", "占比"], ["信用卡", 12, 0.6], ["合计", 20, 1.0]):
        summary.append(row)
    wb.create_sheet("Sheet3")
    for lang in ("zh", "en"):
        ok, message = core.guarded(lambda: press_on(wb, "validate", "汇总"), lang, lambda e: None)
        assert not ok and "--map" not in message and "\n" not in message
        assert message == t("addin_not_register", lang, sheet="汇总", limit=30)
        ok, message = core.guarded(lambda: press_on(wb, ALL, "Sheet3"), lang, lambda e: None)
        assert not ok and message == t("addin_empty_sheet", lang, sheet="Sheet3")
    assert t("addin_empty_sheet", sheet="Sheet3") == "当前工作表“Sheet3”是空的：请切换到投诉登记台账所在的工作表，再按按钮"
    assert not any(n.startswith(OWN_PREFIX) for n in wb.sheetnames)
    # The risk function given something that is not a header row says what to give.
    from complaintkit.addin import udfs

    answer = udfs.CK_RISK_LEVEL(["业务类型", "件数"], ["信用卡", 12.0])
    assert answer == "#CK " + t("udf_no_header") and "--map" not in answer


class _FailsOnThirdMark(OpenpyxlBook):
    """Excel refusing a write part-way through a press (the clerk clicked in Excel while it ran:
    "call was rejected by callee"; a threaded comment that a note cannot replace)."""

    def __init__(self, wb) -> None:
        super().__init__(wb)
        self.marks = 0

    def set_format(self, sheet, row, col, fill, note) -> None:
        self.marks += 1
        if self.marks == 3:
            raise RuntimeError("Call was rejected by callee.")
        super().set_format(sheet, row, col, fill, note)


def test_a_press_that_fails_part_way_still_lets_clear_give_the_users_formatting_back(tmp_path):
    """The marks made before a failure are remembered, so 清除结果 (or the next press) undoes them
    and puts the user's own fills and notes back."""
    path = SAMPLES / "messy_branch.xlsx"
    sheet = load_register(path, LoadOptions(POLICY)).sheet
    wb = load_workbook(path)
    for row in wb[sheet].iter_rows(min_row=4, max_row=37, max_col=18):
        for cell in row:
            cell.fill = PatternFill("solid", start_color=USER_FILL, end_color=USER_FILL)
            cell.comment = Comment(f"网点备注 {cell.coordinate}", "网点")
    original = snapshot(reloaded(wb, tmp_path / "user.xlsx"))
    wb = load_workbook(tmp_path / "user.xlsx")
    rows, merged = sheet_as_xlwings(wb[sheet])
    ok, message = core.guarded(lambda: press(_FailsOnThirdMark(wb), "validate", rows, sheet, POLICY, ASOF, merged=merged),
                               "zh", lambda e: None)
    assert not ok and "Call was rejected" in message
    press_on(wb, CLEAR, sheet)
    assert snapshot(reloaded(wb, tmp_path / "cleared.xlsx"))[sheet] == original[sheet]


def test_the_clear_buttons_tooltip_says_the_columns_are_emptied_not_deleted(tmp_path):
    """清除结果 empties its CK- columns (so the user's columns to their right never move) and deletes
    its CK- sheets: the tooltip says so, or a clerk who still sees the columns thinks it failed."""
    supertip = next(b for b in ribbon_buttons() if b["tag"] == CLEAR)["supertip"]
    assert "清空本加载项添加的 CK- 结果列" in supertip and "删除 CK- 结果表" in supertip
    wb = load_workbook(marked_register(tmp_path / "r.xlsx"))
    headers = [c.value for c in wb["台账"][2]]
    press_on(wb, "validate", "台账")
    press_on(wb, CLEAR, "台账")
    assert [c.value for c in wb["台账"][2]][:len(headers)] == headers and wb["台账"].max_column > len(headers)


def test_a_sheet_used_far_beyond_the_register_is_refused_before_it_is_read(monkeypatch, tmp_path):
    """A stray formatted cell far out (Ctrl+End lands in XFD1048576) would make the button ask Excel
    for billions of cells and hang: it says where the sheet ends and what to delete, as the CLI does."""
    from complaintkit.addin import xlbook

    monkeypatch.setattr(xlbook, "MAX_SHEET_CELLS", 2000, raising=False)  # the real limit is 50 million cells
    wb = load_workbook(marked_register(tmp_path / "far.xlsx"))
    wb["台账"].cell(row=60, column=40).fill = PatternFill("solid", start_color="FFFF00", end_color="FFFF00")
    book = FakeBook(wb)
    monkeypatch.setattr(FakeRange, "value", property(lambda self: pytest.fail("the whole used range was read")))
    with pytest.raises(AddinError) as caught:
        read_sheet(book.sheets["台账"])
    # The sheet is named: 清除结果 reads every register sheet, not only the active one.
    assert caught.value.text() == ("工作表“台账”用到了 AN60（在该表按 Ctrl+End 可以看到），读取要 2,400 个单元格（上限 2,000）："
                                   "请删除台账以外多余的行和列（其中可能只有格式），保存后再按按钮")


def test_a_header_row_formatted_out_to_xfd_gets_the_own_columns_where_the_cli_puts_them(tmp_path):
    """A header row filled out to the sheet's last column (XFD) leaves no room to its right: both
    adapters then put the CK- columns right of the last cell with content, not past column 16,384."""
    path = marked_register(tmp_path / "r.xlsx")
    wb = load_workbook(path)
    wb["台账"].cell(row=2, column=16384).fill = PatternFill("solid", start_color="D9D9D9", end_color="D9D9D9")
    wb.save(path)
    fake = FakeBook(load_workbook(path))
    rows, merged = read_sheet(fake.sheets["台账"])
    press(XlwingsBook(fake), "validate", rows, "台账", POLICY, ASOF, merged=merged)
    wb = load_workbook(path)
    press_on(wb, "validate", "台账")
    placed = [c for (r, c), cell in fake.sheets["台账"].cells.items() if cell.value == t("col_validate")]
    assert placed == [15] and wb["台账"].cell(row=2, column=15).value == t("col_validate")


def test_a_press_in_another_language_refreshes_the_same_columns_and_sheets(tmp_path):
    """A clerk who switches the add-in to English and presses again gets the results in English
    in the same CK- columns and sheets, not a second set beside the Chinese one that goes stale."""
    wb = load_workbook(marked_register(tmp_path / "r.xlsx"))
    sheet = wb.sheetnames[0]
    rows, merged = sheet_as_xlwings(wb[sheet])
    press(OpenpyxlBook(wb), ALL, rows, sheet, POLICY, ASOF, lang="zh", merged=merged)
    zh_headers = [c.value for c in wb[sheet][2] if isinstance(c.value, str) and c.value.startswith("CK-")]
    zh_sheets = [n for n in wb.sheetnames if n.startswith("CK-") and n != "CK-state"]
    press(OpenpyxlBook(wb), ALL, rows, sheet, POLICY, ASOF, lang="en", merged=merged)
    en_headers = [c.value for c in wb[sheet][2] if isinstance(c.value, str) and c.value.startswith("CK-")]
    en_sheets = [n for n in wb.sheetnames if n.startswith("CK-") and n != "CK-state"]
    assert len(en_headers) == len(zh_headers) > 5 and len(en_sheets) == len(zh_sheets) > 2
    assert "CK-validation" in en_headers and "CK-校验问题" not in en_headers
    assert not any("\u4e00" <= ch <= "\u9fff" for name in en_sheets for ch in name)
