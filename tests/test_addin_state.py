"""What the add-in remembers between presses, checked on both hosts (the openpyxl adapter the CLI
uses, and the xlwings adapter against the simulated Excel of test_addin): a mark follows its
complaint when the clerk sorts, inserts or deletes rows, and its column when the clerk inserts,
deletes or moves columns, and a cell that no longer shows a mark the add-in made is never
written; a clerk's own column or sheet whose name starts with CK- is the clerk's; two register
sheets keep two sets of result sheets; the message box is a few lines; own columns are cleared
down to the data, not to the bottom of a formatted sheet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from complaintkit.addin import core
from complaintkit.addin.core import ALL, CLEAR, press
from complaintkit.addin.xlbook import XlwingsBook, read_sheet
from complaintkit.loader import LoadOptions, load_register
from complaintkit.messages import t
from complaintkit.policy import load_policy
from complaintkit.sheetplan import RED, STATE_SHEET, CellMark, SheetPlan, apply_plans

from conftest import AS_OF, HEADERS, SAMPLES, good_row, write_xlsx
from test_addin import FakeBook, FakeRange, marked_register, normalised, reloaded, sheet_as_xlwings, snapshot

ASOF = dt.date.fromisoformat(AS_OF)
POLICY = core.addin_policy()
USER_FILL = "DDEBF7"
OTHER_FILL = "E2EFDA"
SHEET = "台账"


def user_format(cell, fill: str | None, note: str | None) -> None:
    cell.fill = PatternFill("solid", start_color=fill, end_color=fill) if fill else PatternFill(fill_type=None)
    cell.comment = Comment(note, "网点") if note else None


def under_notes(path: Path, tmp: Path, sheet: str = SHEET) -> Path:
    """``sheet`` of the workbook at ``path`` moved under 35 rows of notes; the policy (a file in
    ``tmp``) that looks for its header that far down (register.header_search_rows = 45)."""
    wb = load_workbook(path)
    wb[sheet].insert_rows(1, 35)
    wb.save(path)
    config = tmp / "deep.toml"
    config.write_text("[register]\nheader_search_rows = 45\n", encoding="utf-8")
    return config


def register(path: Path) -> Path:
    """Five complaints (rows 3-7 under a title and the header); T0002's ID number is wrong (F4 is
    marked by 校验) and carries the clerk's own fill and note; T0003's ID cell, which 校验 does not
    mark, carries another note of the clerk's."""
    rows = [good_row(1), good_row(2, 证件号码="110105194912310021"), good_row(3), good_row(4), good_row(5)]
    write_xlsx(path, rows, title="城南支行投诉登记台账")
    wb = load_workbook(path)
    ws = wb[SHEET]
    user_format(ws["F4"], USER_FILL, "客户说证件号码是旧证")
    user_format(ws["F5"], OTHER_FILL, "T0003 本人已核实")
    wb.save(path)
    return path


# --- the two hosts, driven the same way ------------------------------------------------------------

class Host:
    """A workbook on one host: pressed as a button would, changed as a clerk would."""

    def __init__(self, kind: str, path: Path, tmp: Path, policy: Any = POLICY) -> None:
        self.kind, self.tmp, self.policy = kind, tmp, policy
        self.wb = load_workbook(path)
        self.fake = FakeBook(load_workbook(path)) if kind == "xlwings" else None

    def press(self, tag: str, sheet: str = SHEET) -> str:
        if self.fake is not None:
            rows, merged = ([], []) if tag == CLEAR else read_sheet(self.fake.sheets[sheet])
            return press(XlwingsBook(self.fake), tag, rows, sheet, self.policy, ASOF, merged=merged)
        rows, merged = ([], []) if tag == CLEAR else sheet_as_xlwings(self.wb[sheet])
        return press(core_book(self.wb), tag, rows, sheet, self.policy, ASOF, merged=merged)

    def apply(self, plans: list[SheetPlan]) -> None:
        """Apply plans made by hand, reading the sheet through the adapter."""
        apply_plans(XlwingsBook(self.fake) if self.fake is not None else core_book(self.wb), plans)

    def move_rows(self, to: Callable[[int], int | None], sheet: str = SHEET) -> None:
        """Rows move with their values, fills and notes, as Excel's sort, insert and delete move them."""
        self._move(to, None, sheet)

    def move_columns(self, to: Callable[[int], int | None], sheet: str = SHEET) -> None:
        """Columns move with their cells, as Excel's column insert, delete and cut-and-insert move them."""
        self._move(None, to, sheet)

    def _move(self, rows: Move, cols: Move, sheet: str) -> None:
        if self.fake is not None:
            cells = self.fake.sheets[sheet].cells
            moved = {}
            for (r, c), cell in cells.items():
                where = moved_to(r, c, rows, cols)
                if where:
                    moved[where] = cell
            cells.clear()
            cells.update(moved)
        else:
            move_openpyxl_cells(self.wb[sheet], rows, cols)

    def _cell(self, ref: str, sheet: str = SHEET) -> Any:
        if self.fake is not None:
            from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

            letter, row = coordinate_from_string(ref)
            return self.fake.sheets[sheet].cell(row, column_index_from_string(letter))
        return self.wb[sheet][ref]

    def type_value(self, ref: str, value: Any) -> None:
        """The clerk types over a cell: its fill and note stay, as in Excel."""
        self._cell(ref).value = value

    def reformat(self, ref: str, fill: str | None, note: str | None) -> None:
        """The clerk changes a cell's fill and note."""
        cell = self._cell(ref)
        if self.fake is not None:
            cell.fill = tuple(int(fill[i:i + 2], 16) for i in (0, 2, 4)) if fill else None
            cell.note = note
        else:
            user_format(cell, fill, note)

    def rename_sheet(self, name: str, new_name: str) -> None:
        if self.fake is not None:
            self.fake.sheets[name].name = new_name
        else:
            self.wb[name].title = new_name

    def view(self) -> dict[str, Any]:
        if self.fake is not None:
            return normalised(self.fake.view())
        return normalised(snapshot(reloaded(self.wb, self.tmp / "view.xlsx")))

    def cut_state_to_six_columns(self) -> None:
        """The CK-state sheet as the add-in wrote it before it remembered its own marks."""
        if self.fake is not None:
            state = self.fake.sheets[STATE_SHEET]
            state.cells = {k: v for k, v in state.cells.items() if k[1] <= 6}
        else:
            self.wb[STATE_SHEET].delete_cols(7, 20)


def core_book(wb):
    from complaintkit.xlsx_applier import OpenpyxlBook

    return OpenpyxlBook(wb)


Move = Callable[[int], int | None] | None  # an old row or column number -> its new one (None: deleted)


def moved_to(r: int, c: int, rows: Move, cols: Move) -> tuple[int, int] | None:
    row, col = rows(r) if rows else r, cols(c) if cols else c
    return None if row is None or col is None else (row, col)


def move_openpyxl_cells(ws, rows: Move = None, cols: Move = None) -> None:
    cells = {}
    for (r, c), cell in ws._cells.items():
        where = moved_to(r, c, rows, cols)
        if where:
            cell.row, cell.column = where
            cells[where] = cell
    ws._cells = cells


def expected_after(path: Path, to: Move, tmp: Path, cols: Move = None) -> dict[str, Any]:
    """The clerk's own sheet with the same rows and columns moved: what 清除结果 must give back."""
    wb = load_workbook(path)
    move_openpyxl_cells(wb[SHEET], to, cols)
    return normalised(snapshot(reloaded(wb, tmp / "expected.xlsx")))


def swap(a: int, b: int) -> Callable[[int], int]:
    return lambda r: b if r == a else a if r == b else r


def delete(row: int) -> Callable[[int], int | None]:
    return lambda r: None if r == row else r - 1 if r > row else r


HOSTS = ["openpyxl", "xlwings"]


# --- 1. a mark follows its complaint ---------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("moved", ["sorted", "row deleted above", "row inserted above"])
def test_clear_after_the_clerk_moves_rows_gives_each_row_its_own_formatting_back(host, moved, tmp_path):
    """T0002's marked ID cell moves (a sort swaps it with T0003, or a row above is deleted or
    inserted): 清除结果 puts T0002's fill and note back where T0002 now is, and leaves the cell at
    T0002's old place (now T0003's, with the clerk's own note) alone."""
    path = register(tmp_path / "r.xlsx")
    to = {"sorted": swap(4, 5), "row deleted above": delete(3), "row inserted above": lambda r: r + 1 if r >= 3 else r}[moved]
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_rows(to)
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, to, tmp_path)[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_press_after_a_sort_moves_the_mark_with_its_row(host, tmp_path):
    """Pressing again after a sort marks T0002 where it now is, the mark at its old place does not
    stay behind, and 清除结果 still gives every row its own formatting back."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_rows(swap(4, 5))
    h.press("validate")
    cells = h.view()[SHEET][1]
    assert cells["F5"][1] == RED and cells["F5"][2] == t("id_check_digit", detail="X")
    assert cells["F4"][1:] == (OTHER_FILL, "T0003 本人已核实")
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, swap(4, 5), tmp_path)[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_fixed_and_then_sorted_row_is_found_by_its_complaint_id(host, tmp_path):
    """The clerk corrects T0002's ID number, then sorts: the row's content changed and it moved,
    but its 投诉编号 says where it is. The next press (no longer a problem) gives T0002's cell its
    own fill and note back and leaves T0003's cell alone."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.type_value("F4", "11010519491231002X")
    h.move_rows(swap(4, 5))
    h.press("validate")
    cells = h.view()[SHEET][1]
    assert cells["F5"] == ("11010519491231002X", USER_FILL, "客户说证件号码是旧证")
    assert cells["F4"][1:] == (OTHER_FILL, "T0003 本人已核实")


@pytest.mark.parametrize("host", HOSTS)
def test_cells_several_checks_mark_follow_a_reversed_sort(host, tmp_path):
    """A register where 校验 and 查重 mark the same cells (a duplicate ID, a wrong ID number under
    the clerk's own note): 一键检查, the clerk sorts the rows the other way round, 一键检查 again,
    then 清除结果: every row has its own formatting back, wherever it went."""
    path = marked_register(tmp_path / "r.xlsx")
    reverse = lambda r: 10 - r if 3 <= r <= 7 else r  # noqa: E731
    h = Host(host, path, tmp_path)
    h.press(ALL)
    h.move_rows(reverse)
    h.press(ALL)
    h.press("validate")
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, reverse, tmp_path)[SHEET]}


def test_the_clis_annotated_copy_checked_again_after_a_fix_and_a_sort(runner, tmp_path):
    """`validate -o` on its own annotated copy, after the clerk fixed T0002's ID number and sorted
    it below T0003: T0002's cell gets the clerk's fill and note back, T0003's keeps its own."""
    from complaintkit.cli import cli

    path = register(tmp_path / "r.xlsx")
    first, second = tmp_path / "checked.xlsx", tmp_path / "again.xlsx"
    assert runner.invoke(cli, ["validate", str(path), "-o", str(first), "--as-of", AS_OF]).exit_code == 1
    wb = load_workbook(first)
    wb[SHEET]["F4"] = "11010519491231002X"
    move_openpyxl_cells(wb[SHEET], swap(4, 5))
    wb.save(first)
    assert runner.invoke(cli, ["validate", str(first), "-o", str(second), "--as-of", AS_OF]).exit_code == 0
    cells = normalised(snapshot(load_workbook(second)))[SHEET][1]
    assert cells["F5"] == ("11010519491231002X", USER_FILL, "客户说证件号码是旧证")
    assert cells["F4"][1:] == (OTHER_FILL, "T0003 本人已核实")


@pytest.mark.parametrize("host", HOSTS)
def test_a_mark_the_clerk_changed_is_left_as_the_clerk_left_it(host, tmp_path):
    """The clerk replaced the add-in's fill and note on F4 with their own: neither the next press
    nor 清除结果 writes over it."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.reformat("F4", None, "已电话核实，证件号码无误")
    h.press(CLEAR)
    assert h.view()[SHEET][1]["F4"][1:] == (None, "已电话核实，证件号码无误")


@pytest.mark.parametrize("host", HOSTS)
def test_marks_follow_their_column_under_a_header_below_row_30(host, tmp_path):
    """A register under 35 rows of notes, read with register.header_search_rows = 45: the marks'
    bookkeeping looks for headers (and leaves the own columns out of a row's key) as far down as
    the plans' header row, so after the clerk inserts a column at A, 清除结果 still gives the
    marked cell its own fill and note back."""
    path = register(tmp_path / "r.xlsx")
    config = under_notes(path, tmp_path)
    h = Host(host, path, tmp_path, load_policy(str(config)))
    h.press("validate")
    assert h.view()[SHEET][1]["F39"][1] == RED  # T0002's ID number, marked over the clerk's fill
    h.move_columns(insert_column(1))
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, None, tmp_path, insert_column(1))[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_register_with_its_header_below_row_30_keeps_its_result_sheets_beside_another(host, tmp_path):
    """register.header_search_rows = 45; 1月's header is on row 36, 2月's on row 1. A press on 2月
    sees 1月's own columns as deep as the policy looks, as 清除结果 does: each register gets
    result sheets of its own, and 2月's press does not replace 1月's."""
    path = two_registers(tmp_path / "r.xlsx")
    config = under_notes(path, tmp_path, "1月")
    h = Host(host, path, tmp_path, load_policy(str(config)))
    findings = t("sheet_findings")
    h.press("validate", "1月")
    h.press("validate", "2月")
    seen = h.view()
    assert findings not in seen and links_of(seen, f"{findings}(1月)") == {"1月"} and links_of(seen, f"{findings}(2月)") == {"2月"}


@pytest.mark.parametrize("host", HOSTS)
def test_state_rows_written_before_marks_were_remembered_still_restore(host, tmp_path):
    """A CK-state sheet of six columns (op, sheet, row, column, previous fill and note): 清除结果
    restores a cell that still shows a mark, and leaves alone one whose mark the clerk took off."""
    path = register(tmp_path / "r.xlsx")
    wb = load_workbook(path)
    user_format(wb[SHEET]["B5"], OTHER_FILL, None)
    wb[SHEET]["B5"] = "上周三"  # a second mark, on T0003's received date
    wb.save(path)
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.cut_state_to_six_columns()
    h.reformat("B5", None, "日期待客户确认")
    h.press(CLEAR)
    cells = h.view()[SHEET][1]
    assert cells["F4"][1:] == (USER_FILL, "客户说证件号码是旧证")
    assert cells["B5"][1:] == (None, "日期待客户确认")


# --- 1b. a mark follows its column -----------------------------------------------------------------

def insert_column(at: int) -> Callable[[int], int]:
    return lambda c: c + 1 if c >= at else c


def delete_column(at: int) -> Callable[[int], int | None]:
    return lambda c: None if c == at else c - 1 if c > at else c


def move_column(frm: int, to: int) -> Callable[[int], int]:
    """Cut column ``frm`` and insert it before column ``to`` (to < frm)."""
    return lambda c: to if c == frm else c + 1 if to <= c < frm else c


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("moved", ["column inserted left", "column deleted left", "column moved left"])
def test_clear_after_the_clerk_moves_columns_gives_each_cell_its_own_formatting_back(host, moved, tmp_path):
    """The clerk inserts a column at A, deletes 投诉渠道 (C), or moves 证件号码 (F) to B: T0002's
    marked ID-number cell is no longer at F4. 清除结果 finds it under its header and gives it the
    clerk's own fill and note back; no mark is left behind."""
    path = register(tmp_path / "r.xlsx")
    cols = {"column inserted left": insert_column(1), "column deleted left": delete_column(3),
            "column moved left": move_column(6, 2)}[moved]
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_columns(cols)
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, None, tmp_path, cols)[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_press_after_a_column_is_inserted_marks_the_moved_cell_over_the_clerks_own_format(host, tmp_path):
    """Pressing again after a column was inserted at A finds the mark at G4: it stays one mark,
    over the clerk's own fill and note (not taken for them), so 清除结果 gives them back."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_columns(insert_column(1))
    h.press("validate")
    cells = h.view()[SHEET][1]
    assert cells["G4"][1] == RED and cells["G5"][1:] == (OTHER_FILL, "T0003 本人已核实")
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, None, tmp_path, insert_column(1))[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_the_id_column_is_found_by_its_header_after_it_moved(host, tmp_path):
    """The clerk moves 投诉编号 from A to the right of 证件号码 (which goes to E), corrects T0002's
    ID number and sorts T0002 below T0003: only the complaint ID, read under its header in its new
    column, says where T0002 is. The next press gives T0002's cell its own fill and note back and
    leaves T0003's alone."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_columns(lambda c: 6 if c == 1 else c - 1 if 2 <= c <= 6 else c)
    h.type_value("E4", "11010519491231002X")
    h.move_rows(swap(4, 5))
    h.press("validate")
    cells = h.view()[SHEET][1]
    assert cells["F5"][0] == "T0002"
    assert cells["E5"] == ("11010519491231002X", USER_FILL, "客户说证件号码是旧证")
    assert cells["E4"][1:] == (OTHER_FILL, "T0003 本人已核实")


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("columns", [insert_column(1), move_column(6, 2)], ids=["insert", "move"])
def test_a_row_without_an_id_is_found_after_a_column_change_and_a_sort(host, tmp_path, columns):
    """T0002 has no 投诉编号 (A4 and F4 are marked): after a column is inserted at A, or 证件号码
    moved to B, and the rows are sorted, only the row's content says where it is, whatever the
    order of its columns. 清除结果 gives both cells their own formatting back on T0002's new row."""
    rows = [good_row(1), good_row(2, 投诉编号=None, 证件号码="110105194912310021"), good_row(3), good_row(4)]
    path = write_xlsx(tmp_path / "r.xlsx", rows, title="城南支行投诉登记台账")
    wb = load_workbook(path)
    user_format(wb[SHEET]["F4"], USER_FILL, "客户说证件号码是旧证")
    user_format(wb[SHEET]["A4"], OTHER_FILL, None)
    wb.save(path)
    h = Host(host, path, tmp_path)
    h.press("validate")
    assert {h.view()[SHEET][1][ref][1] for ref in ("A4", "F4")} == {RED}
    h.move_columns(columns)
    h.move_rows(swap(4, 5))
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, swap(4, 5), tmp_path, columns)[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_mark_on_the_second_of_two_like_named_columns_stays_on_the_second(host, tmp_path):
    """Two columns headed 联系电话 (G and N; 校验 marks N's header cell): after a column is
    inserted at A, the mark is found under the second 联系电话 (O), not the first (H)."""
    rows = [good_row(i) + ["13900139000"] for i in range(1, 4)]
    path = write_xlsx(tmp_path / "r.xlsx", rows, [*HEADERS, "联系电话"])
    h = Host(host, path, tmp_path)
    h.press("validate")
    assert h.view()[SHEET][1]["N1"][1] is not None
    h.move_columns(insert_column(1))
    h.press(CLEAR)
    assert h.view() == {SHEET: expected_after(path, None, tmp_path, insert_column(1))[SHEET]}


@pytest.mark.parametrize("host", HOSTS)
def test_a_moved_mark_the_clerk_changed_is_left_as_the_clerk_left_it(host, tmp_path):
    """A column is inserted, then the clerk writes their own note over the moved mark (G4): found
    by its header, it no longer shows the add-in's mark, so neither a press nor 清除结果 touches it."""
    path = register(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    h.press("validate")
    h.move_columns(insert_column(1))
    h.reformat("G4", None, "已电话核实，证件号码无误")
    h.press(CLEAR)
    assert h.view()[SHEET][1]["G4"][1:] == (None, "已电话核实，证件号码无误")


@pytest.mark.parametrize("host", HOSTS)
def test_a_mark_under_a_deleted_column_does_not_take_the_cell_that_moved_into_its_place(host, tmp_path):
    """Two side-by-side cells carry the same mark over different formats of the clerk's; the
    clerk deletes the first column, so the second cell moves to its letter. That cell is the
    second column's (found by its header), and 清除结果 gives it the second cell's own format,
    never the deleted one's."""
    path = write_xlsx(tmp_path / "r.xlsx", [["T0001", "甲", "乙"]], ["投诉编号", "备注一", "备注二"])
    wb = load_workbook(path)
    user_format(wb[SHEET]["B2"], USER_FILL, "备注一的批注")
    user_format(wb[SHEET]["C2"], OTHER_FILL, "备注二的批注")
    wb.save(path)
    h = Host(host, path, tmp_path)
    same = "同一个标记"
    h.apply([SheetPlan("validate", SHEET, 1, 2, marks=[CellMark(2, "B", RED, same), CellMark(2, "C", RED, same)])])
    h.move_columns(delete_column(2))
    h.press(CLEAR)
    assert h.view()[SHEET][1]["B2"] == ("乙", OTHER_FILL, "备注二的批注")


# --- 2. a clerk's CK- column or sheet is the clerk's -----------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_a_clerks_own_ck_column_and_sheet_survive_every_button(host, tmp_path):
    rows = [good_row(i) + [f"张{i}"] for i in range(1, 4)]
    path = write_xlsx(tmp_path / "r.xlsx", rows, [*HEADERS, "CK-负责人"], title="城南支行投诉登记台账")
    wb = load_workbook(path)
    wb.create_sheet("CK-汇总").append(["网点", "件数"])
    wb["CK-汇总"].append(["城南支行", 3])
    wb.save(path)
    original = normalised(snapshot(load_workbook(path)))
    h = Host(host, path, tmp_path)
    h.press(ALL)
    h.press(ALL)
    seen = h.view()
    assert [seen[SHEET][1][f"N{r}"][0] for r in (2, 3, 4, 5)] == ["CK-负责人", "张1", "张2", "张3"]
    assert seen["CK-汇总"] == original["CK-汇总"]
    h.press(CLEAR)
    assert h.view() == original
    register_read = core.register_from_sheet(sheet_as_xlwings(load_workbook(path)[SHEET])[0], SHEET, POLICY)
    assert "CK-负责人" in [c.header for c in register_read.columns]


def test_a_register_sheet_named_ck_something_can_be_checked(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1)], sheet="CK-台账")
    wb = load_workbook(path)
    rows, _ = sheet_as_xlwings(wb["CK-台账"])
    message = press(core_book(wb), "validate", rows, "CK-台账", POLICY, ASOF)
    assert message.startswith("校验：共 1 行") and t("sheet_findings") in wb.sheetnames
    press(core_book(wb), CLEAR, [], "CK-台账", POLICY, ASOF)
    assert wb.sheetnames == ["CK-台账"]


# --- 3. two registers, two sets of result sheets -----------------------------------------------------

def two_registers(path: Path) -> Path:
    write_xlsx(path, [good_row(1), good_row(2, 证件号码="110105194912310021")], sheet="1月")
    wb = load_workbook(path)
    ws = wb.create_sheet("2月")
    for row in [HEADERS, good_row(3, 联系电话="12345"), good_row(4), good_row(5, 受理日期="上周三")]:
        ws.append(row)
    wb.save(path)
    return path


def links_of(view: dict[str, Any], sheet: str) -> set[str]:
    return {v[0].split("!")[0] for k, v in view[sheet][1].items() if k.startswith("A") and k != "A1"}


@pytest.mark.parametrize("host", HOSTS)
def test_each_register_sheet_keeps_its_own_result_sheets(host, tmp_path):
    path = two_registers(tmp_path / "r.xlsx")
    original = normalised(snapshot(load_workbook(path)))
    h = Host(host, path, tmp_path)
    findings = t("sheet_findings")
    h.press("validate", "1月")
    assert links_of(h.view(), findings) == {"1月"}  # one register: the plain name, as the CLI writes it
    h.press("validate", "2月")
    jan, feb = f"{findings}(1月)", f"{findings}(2月)"
    seen = h.view()
    assert findings not in seen and links_of(seen, jan) == {"1月"} and links_of(seen, feb) == {"2月"}
    assert len(seen[jan][1]) < len(seen[feb][1])  # 1月 has one finding, 2月 two
    h.press("validate", "1月")
    h.press(ALL, "2月")
    again = h.view()
    assert again[jan] == seen[jan] and again[feb] == seen[feb] and findings not in again
    h.press(CLEAR)
    assert h.view() == original


@pytest.mark.parametrize("host", HOSTS)
def test_a_result_sheet_the_clerk_renamed_to_keep_is_the_clerks(host, tmp_path):
    """"CK-校验结果(3月存档)" is shaped like a register's result sheet, but no register sheet is
    called 3月存档, and "CK-校验结果(说明)" names a sheet 说明 that is no register (no CK-
    columns): the clerk kept them, and neither a press nor 清除结果 touches them."""
    path = two_registers(tmp_path / "r.xlsx")
    h = Host(host, path, tmp_path)
    findings = t("sheet_findings")
    archive, notes = f"{findings}(3月存档)", f"{findings}(说明)"
    h.press("validate", "1月")
    h.rename_sheet(findings, archive)
    h.press("validate", "1月")
    h.rename_sheet("2月", "说明")  # a sheet of the clerk's that no button was pressed on
    h.rename_sheet(findings, notes)
    kept = h.view()
    h.press("validate", "1月")
    assert h.view()[archive] == kept[archive] and h.view()[notes] == kept[notes]
    h.press(CLEAR)
    seen = h.view()
    assert set(seen) == {"1月", "说明", archive, notes} and seen[archive] == kept[archive] and seen[notes] == kept[notes]


def test_result_sheet_names_fit_excel_and_stay_apart():
    from complaintkit.sheetplan import result_sheet_name

    long_a, long_b = "城南支行投诉登记台账2026年第一季度", "城南支行投诉登记台账2026年第二季度"
    names = {result_sheet_name(t("dedupe_sheet", lang), sheet) for lang in ("zh", "en") for sheet in (long_a, long_b)}
    assert len(names) == 4 and all(len(n) <= 31 for n in names)
    assert result_sheet_name("CK-校验结果", "2月") == "CK-校验结果(2月)"


# --- 4. a message box a clerk can read -------------------------------------------------------------

def test_run_all_says_in_a_few_lines_what_was_found_and_where_to_look(tmp_path):
    branch = SAMPLES / "branches" / "城东支行.xlsx"
    sheet = load_register(branch, LoadOptions(POLICY)).sheet
    wb = load_workbook(branch)
    rows, merged = sheet_as_xlwings(wb[sheet])
    check = core.check_sheet(rows, sheet, ALL, POLICY, ASOF, merged=merged)
    message = press(core_book(wb), ALL, rows, sheet, POLICY, ASOF, merged=merged)
    lines = message.splitlines()
    assert len(lines) <= len(check.results) + 2 and max(map(len, lines)) <= 90, message
    for result in check.results:
        line = next(line for line in lines if line.startswith(core.button_label(result.name)))
        assert result.summary in line
    for table in (tb for plan in check.plans for tb in plan.tables):
        assert table.name in message
    assert t("col_fu_due") not in message and "CK- " in message


# --- 5. own columns are cleared down to the data ---------------------------------------------------

def test_own_columns_are_not_written_down_to_the_bottom_of_a_formatted_sheet(monkeypatch, tmp_path):
    """A sheet whose formatting runs to row 1,048,576 (Ctrl+End lands there): the own columns are
    written and cleared down to the last row with data, not a million rows."""
    path = register(tmp_path / "r.xlsx")
    fake = FakeBook(load_workbook(path))
    fake.sheets[SHEET].cell(1_048_576, 1).fill = (255, 255, 0)
    rows, merged = sheet_as_xlwings(load_workbook(path)[SHEET])
    reached: list[int] = []
    value_setter, color_setter = FakeRange.value.fset, FakeRange.color.fset

    def value(self, data):
        reached.append(self.b[0] if self.sheet.name == SHEET else 0)
        assert self.b[0] < 1000, f"wrote down to row {self.b[0]}"
        value_setter(self, data)

    def color(self, rgb):
        assert self.b[0] < 1000 or self.a[0] == self.b[0], f"coloured down to row {self.b[0]}"
        color_setter(self, rgb)

    monkeypatch.setattr(FakeRange, "value", FakeRange.value.setter(value))
    monkeypatch.setattr(FakeRange, "color", FakeRange.color.setter(color))
    # 清除结果 reads the sheet once, as a press does; the simulated Excel is spared a million rows.
    monkeypatch.setattr(XlwingsBook, "read_rows", lambda self, name: self._sheet(name).range((1, 1), (999, 30)).options(ndim=2).value)
    for tag in (ALL, ALL, CLEAR):
        press(XlwingsBook(fake), tag, rows if tag != CLEAR else [], SHEET, POLICY, ASOF, merged=merged)
    assert max(reached) == 7


def test_clear_results_on_a_host_without_marks_says_whether_marks_are_left_for_the_desktop(tmp_path):
    """清除结果 on xlwings Lite (no marks) empties the own columns and sheets; when the desktop
    add-in made marks, their fills and notes stay (Lite cannot undo them exactly) and the message
    says where to restore them; when there were none, it says only what it cleared."""
    for desktop_first in (True, False):
        wb = load_workbook(register(tmp_path / f"r{desktop_first}.xlsx"))
        rows, merged = sheet_as_xlwings(wb[SHEET])
        press(core_book(wb), "validate", rows, SHEET, POLICY, ASOF, merged=merged, marks=desktop_first)
        message = press(core_book(wb), CLEAR, [], SHEET, POLICY, ASOF, marks=False)
        assert message.startswith("已清除：1 个结果列，1 个结果表")
        assert ("桌面版 Excel 中按“清除结果”还原" in message) is desktop_first, message
        assert (wb[SHEET]["F4"].fill.start_color.rgb[-6:] == RED[-6:]) is desktop_first  # T0002's mark stays for the desktop


def test_the_clerks_formatting_below_the_data_is_left_in_the_own_columns(tmp_path):
    """The clerk bands the rows far below the register, across the own columns too (openpyxl then
    keeps a cell for each): the next press and 清除结果 leave that formatting alone below the data."""
    path = register(tmp_path / "r.xlsx")
    wb = load_workbook(path)
    rows, merged = sheet_as_xlwings(wb[SHEET])
    press(core_book(wb), "validate", rows, SHEET, POLICY, ASOF, merged=merged)
    assert wb[SHEET]["N2"].value == "CK-校验问题" and wb[SHEET]["N4"].value  # the own column, T0002's problem in it
    band = PatternFill("solid", start_color=OTHER_FILL, end_color=OTHER_FILL)
    for r in range(8, 400):
        for c in range(1, 20):
            wb[SHEET].cell(row=r, column=c).fill = band
    for tag in ("validate", CLEAR):
        press(core_book(wb), tag, rows, SHEET, POLICY, ASOF, merged=merged)
    ws = reloaded(wb, tmp_path / "after.xlsx")[SHEET]
    assert all(ws.cell(row=r, column=14).value is None for r in range(2, 8))  # the own column was there, and is emptied
    assert all(ws.cell(row=r, column=c).fill.start_color.rgb[-6:] == OTHER_FILL for r in (8, 200, 399) for c in (14, 15, 19))


@pytest.mark.parametrize("copy_depth", [None, 30])
def test_the_clis_annotated_copy_under_35_rows_of_notes_checked_again_after_a_column_is_inserted(runner, tmp_path, monkeypatch,
                                                                                                 copy_depth):
    """register.header_search_rows = 45 and 35 rows of notes above the register: `validate -o`,
    then the clerk fixes T0002's ID number and inserts a column at A in the copy, then `validate
    -o` on it. The CLI looks for the headers a mark's column is known by as deep as the policy
    says, and never less than the plans' header row (``copy_depth`` 30: a copy made at the
    default depth, which only the plans' header row takes past row 30): the fixed cell, now in
    column G, gets the clerk's fill and note back."""
    from complaintkit.cli import cli, common

    if copy_depth is not None:
        monkeypatch.setattr(common, "header_search_rows", lambda _policy: copy_depth)

    path = register(tmp_path / "r.xlsx")
    config = under_notes(path, tmp_path)
    first, second = tmp_path / "checked.xlsx", tmp_path / "again.xlsx"
    options = ["--config", str(config), "--as-of", AS_OF]
    assert runner.invoke(cli, ["validate", str(path), "-o", str(first), *options]).exit_code == 1
    wb = load_workbook(first)
    wb[SHEET]["F39"] = "11010519491231002X"
    move_openpyxl_cells(wb[SHEET], cols=insert_column(1))
    wb.save(first)
    assert runner.invoke(cli, ["validate", str(first), "-o", str(second), *options]).exit_code == 0
    cells = normalised(snapshot(load_workbook(second)))[SHEET][1]
    assert cells["G39"] == ("11010519491231002X", USER_FILL, "客户说证件号码是旧证")
    assert cells["G40"][1:] == (OTHER_FILL, "T0003 本人已核实")


def test_the_clis_annotated_copy_finds_another_registers_results_as_deep_as_the_policy_says(runner, tmp_path):
    """2月 under 35 rows of notes (register.header_search_rows = 45) checked by `validate -o`,
    then 1月 of that copy: 2月's result sheet is renamed after it and 1月 gets its own, as the
    add-in does. Looking only 30 rows down, the copy missed 2月's own columns at row 36 and wrote
    1月's findings over 2月's."""
    from complaintkit.cli import cli

    path = two_registers(tmp_path / "r.xlsx")
    config = under_notes(path, tmp_path, "2月")
    first, second = tmp_path / "feb.xlsx", tmp_path / "jan.xlsx"
    options = ["--config", str(config), "--as-of", AS_OF]
    assert runner.invoke(cli, ["validate", str(path), "--sheet", "2月", "-o", str(first), *options]).exit_code == 1
    findings = t("sheet_findings")
    assert links_of(normalised(snapshot(load_workbook(first))), findings) == {"2月"}
    assert runner.invoke(cli, ["validate", str(first), "--sheet", "1月", "-o", str(second), *options]).exit_code == 1
    seen = normalised(snapshot(load_workbook(second)))
    jan, feb = f"{findings}(1月)", f"{findings}(2月)"
    assert findings not in seen and links_of(seen, jan) == {"1月"} and links_of(seen, feb) == {"2月"}


def test_the_own_columns_below_row_30_are_looked_for_in_one_read_of_the_top_rows(tmp_path, monkeypatch):
    """With register.header_search_rows = 45 the own columns are looked for down to row 45: the
    adapter reads the top 45 rows once (asked row by row from the top, it read them again for
    every row past 30: 16 passes over the sheet's cells)."""
    from complaintkit import sheetplan
    from complaintkit.xlsx_applier import OpenpyxlBook

    from complaintkit.cli import cli
    from click.testing import CliRunner

    path = register(tmp_path / "r.xlsx")
    config = under_notes(path, tmp_path)
    copy = tmp_path / "checked.xlsx"  # its own column on the header row, row 37
    assert CliRunner().invoke(cli, ["validate", str(path), "-o", str(copy), "--config", str(config), "--as-of", AS_OF]).exit_code == 1
    book = OpenpyxlBook(load_workbook(copy))
    reads = []
    real = OpenpyxlBook._ws
    monkeypatch.setattr(OpenpyxlBook, "_ws", lambda self, sheet: reads.append(sheet) or real(self, sheet))
    assert sheetplan._own_header_rows(book, SHEET, 45) == [37]
    assert reads == [SHEET]
