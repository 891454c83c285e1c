"""Reading real registers: header under titles, aliases, sheets, CSV encodings, merged cells."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import example, given, settings, strategies as st
from openpyxl import Workbook

from complaintkit.errors import InputError
from complaintkit.fields import HeaderMatcher, header_key, parse_manual_map
from complaintkit.loader import LoadOptions, load_register, load_registers
from complaintkit.policy import load_policy

from conftest import HEADERS, good_row, typed, write_xlsx

POLICY = load_policy()


@pytest.mark.parametrize("header, field", [
    ("投诉编号", "complaint_id"), ("工单编号", "complaint_id"), ("受理时间", "received_date"),
    ("来源渠道", "channel"), ("经办网点", "branch"), ("客户联系电话", "phone"), ("身份证号", "id_number"),
    ("投诉事由", "description"), ("办理状态", "status"), ("完成日期", "closed_date"), ("回访满意度", "followup_result"),
    ("*受理日期（YYYY-MM-DD）", "received_date"), ("  证件 号码 ", "id_number"), ("联系电话(手机)", "phone"),
    ("ＣＯＭＰＬＡＩＮＴ　ＩＤ", "complaint_id"), ("Date received", "received_date"), ("Consumer complaint narrative", "description"),
    ("Submitted via", "channel"), ("Company response to consumer", "status"), ("客户联系电话（必填）", "phone"),
    ("录入人", None), ("", None),
])
def test_header_aliases(header, field):
    assert HeaderMatcher.from_policy(POLICY).match(header) == field


def test_exact_header_wins_over_containment():
    matcher = HeaderMatcher.from_policy(POLICY)
    mapping = matcher.map_row(["回访状态", "处理状态", "受理日期"])
    assert mapping == {1: "status", 2: "received_date"}


def test_header_key_folds_width_case_brackets():
    assert header_key("【必填】投诉 编号") == header_key("投诉编号")
    assert header_key("Complaint-ID") == "complaintid"


def test_manual_map():
    assert parse_manual_map(["来电人=customer_name", "网点名=受理机构"]) == {"来电人": "customer_name", "网点名": "branch"}
    with pytest.raises(ValueError):
        parse_manual_map(["来电人=nobody"])


def test_header_found_under_title_and_notes(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["某某银行投诉登记台账"])
    ws.merge_cells("A1:M1")
    ws.append(["注：每周报送"])
    ws.append([])
    ws.append(HEADERS)
    ws.append(good_row(1))
    path = tmp_path / "r.xlsx"
    wb.save(path)
    reg = load_register(path, LoadOptions(POLICY))
    assert reg.header_row == 4
    assert [r.row for r in reg.records] == [5]
    rec = reg.records[0]
    assert rec.values["received_date"] == dt.date(2026, 3, 2)
    assert rec.column_of("phone") == "G"


def test_register_sheet_chosen_among_several(tmp_path):
    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["填表说明：投诉编号、受理日期、客户姓名"])
    other = wb.create_sheet("汇总")
    other.append(["网点", "件数"])
    reg_ws = wb.create_sheet("2026年台账")
    reg_ws.append(HEADERS)
    reg_ws.append(good_row(1))
    path = tmp_path / "multi.xlsx"
    wb.save(path)
    assert load_register(path, LoadOptions(POLICY)).sheet == "2026年台账"
    with pytest.raises(InputError, match="no header row"):
        load_register(path, LoadOptions(POLICY, sheet="汇总"))
    with pytest.raises(InputError, match="has no sheet"):
        load_register(path, LoadOptions(POLICY, sheet="不存在"))


def test_unknown_columns_are_kept(tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [good_row(1) + ["小李"]], HEADERS + ["录入人"])
    rec = load_register(path, LoadOptions(POLICY)).records[0]
    assert rec.extra == {"录入人": "小李"}


def test_merged_cells_in_data_are_filled(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", [good_row(1), good_row(2, 受理机构=None), good_row(3, 受理机构=None)])
    from openpyxl import load_workbook
    wb = load_workbook(path)
    wb.active.merge_cells("D2:D4")
    wb.save(path)
    reg = load_register(path, LoadOptions(POLICY))
    assert [r.values["branch"] for r in reg.records] == ["城南支行"] * 3


def test_footer_lines_are_not_complaints(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [good_row(1), [], ["制表人：小李"]])
    assert len(load_register(path, LoadOptions(POLICY)).records) == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings(tmp_path, encoding):
    lines = [",".join(HEADERS), "T1,2026/3/2,柜面,城南支行,张三,11010519491231002X,13800138000,信用卡,年费多收,已办结,2026-03-06,2026-03-09,满意"]
    path = tmp_path / f"r-{encoding}.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding))
    reg = load_register(path, LoadOptions(POLICY))
    assert reg.file_format == "csv"
    assert reg.records[0].values["customer_name"] == "张三"
    assert reg.records[0].values["received_date"] == dt.date(2026, 3, 2)


def test_semicolon_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("投诉编号;受理日期;客户姓名;投诉内容\nT1;2026-03-02;张三;年费\n", encoding="utf-8")
    assert load_register(path, LoadOptions(POLICY)).records[0].values["description"] == "年费"


def test_folder_and_glob(tmp_path, samples):
    result = load_registers((str(samples / "branches"),), LoadOptions(POLICY))
    assert len(result.registers) == 4
    assert sum(len(r) for r in result.registers) > 400
    csv_reg = [r for r in result.registers if r.file_format == "csv"][0]
    assert csv_reg.records[0].row == 2
    result = load_registers((str(samples / "branches" / "*.xlsx"),), LoadOptions(POLICY))
    assert len(result.registers) == 3


def test_batch_keeps_going_past_a_bad_file(tmp_path):
    write_xlsx(tmp_path / "good.xlsx", [good_row(1)])
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 truncated")
    result = load_registers((str(tmp_path),), LoadOptions(POLICY), keep_going=True)
    assert len(result.registers) == 1 and len(result.failures) == 1
    assert "damaged" in str(result.failures[0])


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"PK\x03\x04\x14\x00\x00\x00", "damaged"),
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    (b"\x00\x01\x02\x03binary", "not a spreadsheet"),
])
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.xlsx" if content.startswith(b"PK") else tmp_path / "bad.csv"
    if b"html" in content:
        path = tmp_path / "bad.xls"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_register(path, LoadOptions(POLICY))


def test_no_header(tmp_path):
    path = write_xlsx(tmp_path / "n.xlsx", [[1, 2, 3]], headers=["a", "b", "c"])
    with pytest.raises(InputError, match="no header row"):
        load_register(path, LoadOptions(POLICY))


def test_legacy_xls_is_read(samples):
    reg = load_register(samples / "legacy_branch.xls", LoadOptions(POLICY))
    clean = load_register(samples / "clean_branch.xlsx", LoadOptions(POLICY))
    assert reg.file_format == "xls"
    assert [r.values for r in reg.records] == [r.values for r in clean.records]


def test_a_record_keeps_the_cells_typed_otherwise_than_their_value(tmp_path):
    rows = [good_row(1), good_row(2, 受理日期="2026年3月5日", 联系电话=13800138000, 办结日期="下周"), good_row(3, 回访结果="")]
    reg = load_register(write_xlsx(tmp_path / "r.xlsx", rows), LoadOptions(POLICY))
    plain, typed, blank = reg.records
    assert dict(plain.raw) == {} and dict(plain.problems) == {}  # every cell is its value
    assert plain.cell("received_date") == dt.date(2026, 3, 2) and plain.cell("description") == "信用卡年费被多收"
    assert typed.get("received_date") == dt.date(2026, 3, 5) and typed.cell("received_date") == "2026年3月5日"
    assert typed.get("phone") == "13800138000" and typed.cell("phone") == 13800138000  # a number cell stays a number
    assert typed.get("closed_date") is None and typed.cell("closed_date") == "下周" and "closed_date" in typed.problems
    assert blank.cell("followup_result") is None and "followup_result" not in blank.raw
    with pytest.raises(TypeError):
        plain.raw["x"] = 1  # shared by records without such cells: read-only


# --- a field's second column -----------------------------------------------------------------------

def test_a_second_column_for_a_field_is_kept_as_passed_through_and_recorded(tmp_path):
    """Two 联系电话 columns, or 联系电话 and an alias of it: the first is read, the other is passed
    through untouched and named in duplicate_columns (validate reports it)."""
    headers = HEADERS + ["联系电话", "手机号码（备用）", "回访状态"]
    path = write_xlsx(tmp_path / "d.xlsx", [good_row(1) + ["139 0000 0000", "13700000000", "已回访"]], headers)
    reg = load_register(path, LoadOptions(POLICY))
    assert reg.field_columns["phone"] == "G"
    assert reg.records[0].values["phone"] == "13800138000"
    assert reg.records[0].extra == {"联系电话": "139 0000 0000", "手机号码(备用)": "13700000000", "回访状态": "已回访"}
    # 回访状态 only contains an alias of status (状态): it is another thing, not a second status column.
    assert [(c.letter, c.header, c.field) for c in reg.duplicate_columns] == [("N", "联系电话", "phone"), ("O", "手机号码(备用)", "phone")]


def test_header_matcher_names_the_columns_it_shadows():
    matcher = HeaderMatcher.from_policy(POLICY, {"备用号码": "phone"})
    cells = ["投诉编号", "投诉内容", "受理日期", "投诉内容", None, 3, "事由", "回访状态", "处理状态", "备用号码", "联系电话"]
    mapping = matcher.map_row(cells)
    assert mapping == {0: "complaint_id", 1: "description", 2: "received_date", 8: "status", 9: "phone"}
    # The first column wins (here the --map entry, which names a field exactly like an alias).
    assert matcher.shadowed(cells, mapping) == {3: "description", 6: "description", 10: "phone"}
    assert matcher.shadowed(HEADERS, matcher.map_row(HEADERS)) == {}


# The default aliases, and --map entries that are regular-expression syntax.
_MATCHERS = [HeaderMatcher.from_policy(POLICY),
             HeaderMatcher.from_policy(POLICY, {"a|b": "phone", "[客户]号": "customer_name", "x+y?": "branch", "(?i)案由": "description",
                                                "qq^zz": "demand", "mm$nn": "remarks"})]
_PIECES = sorted({alias for m in _MATCHERS for alias, _ in m.partial}) + ["客户", "（备注）", "2", " ", "编号", "日期", "a", "状态的"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_MATCHERS), st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=6).map("".join))
@example(_MATCHERS[1], "qq^zz1")  # an alias holding ^ or $: the one search must take them as they are
@example(_MATCHERS[1], "0mm$nn")
def test_the_matcher_finds_the_field_trying_each_alias_would(matcher, text):
    """The matcher remembers each text's key and tells a text holding no alias by one search; the
    field it finds is the one the plain way finds: the exact name, else the longest alias the
    header holds (texts over 40 characters are no header)."""
    key = header_key(text)
    plain = matcher.exact.get(key) if key in matcher.exact else (
        None if not key or len(key) > 40 else next((name for alias, name in matcher.partial if alias in key), None))
    assert matcher.match(text) == plain
    assert matcher.match(text) == plain  # remembered
    assert matcher.named(text) == matcher.exact.get(key)


def test_the_matcher_forgets_its_keys_past_its_bound(monkeypatch):
    from complaintkit import fields

    monkeypatch.setattr(fields, "_KEYS_KEPT", 3)
    matcher = HeaderMatcher.from_policy(POLICY)
    assert [matcher.match(h) for h in ("投诉编号", "客户姓名", "张三", "受理日期", "投诉编号")] == \
        ["complaint_id", "customer_name", None, "received_date", "complaint_id"]
    assert 0 < len(matcher._keys) <= 3


def test_one_matcher_and_one_set_of_column_parsers_serve_every_file_of_a_batch(samples, monkeypatch):
    from complaintkit import loader

    made = {"matchers": 0, "parsers": 0}
    real_matcher, real_parsers = HeaderMatcher.from_policy.__func__, loader.ColumnParsers.__init__

    def matcher(cls, *args, **kwargs):
        made["matchers"] += 1
        return real_matcher(cls, *args, **kwargs)

    def parsers(self, *args, **kwargs):
        made["parsers"] += 1
        real_parsers(self, *args, **kwargs)

    monkeypatch.setattr(HeaderMatcher, "from_policy", classmethod(matcher))
    monkeypatch.setattr(loader.ColumnParsers, "__init__", parsers)
    batch = load_registers([str(samples / "branches")], LoadOptions(POLICY)).registers
    assert len(batch) == 4 and made == {"matchers": 1, "parsers": 1}
    assert LoadOptions(POLICY, manual_map={"事由": "description"}).matcher.match("事由") == "description"


@pytest.mark.parametrize("header, field", [
    ("联系电话2", "phone"), ("联系电话-2", "phone"), ("联系电话 02", "phone"), ("联系电话①", "phone"), ("联系电话二", "phone"),
    ("手机号码1", "phone"), ("第二联系电话", "phone"), ("备用电话", "phone"), ("备用联系电话", "phone"), ("客户电话2", "phone"),
    ("ｐｈｏｎｅ２", "phone"), ("Phone 2", "phone"), ("证件号码2", "id_number"), ("身份证号2", "id_number"), ("投诉内容2", "description"),
    # The field's own name (a bracketed note is dropped: that is duplicate_column's), and other things.
    ("联系电话", None), ("联系电话（备用）", None), ("回访电话", None), ("联系人电话", None), ("经办人电话", None),
    ("紧急联系人电话", None), ("其他联系电话", None), ("回访状态", None), ("原投诉编号", None), ("id2", None), ("2", None),
    ("备用", None), ("", None),
])
def test_a_numbered_or_spare_header_is_a_variant_of_the_field_it_names(header, field):
    assert HeaderMatcher.from_policy(POLICY).variant_of(header) == field


def test_header_matcher_names_the_near_duplicates_it_leaves_unread():
    matcher = HeaderMatcher.from_policy(POLICY)
    cells = ["联系电话2", "投诉编号", "联系电话", "回访电话", "受理日期", "证件号码2", "联系电话", "投诉内容二"]
    mapping = matcher.map_row(cells)
    # 证件号码2 and 投诉内容二 are read by containment: no column names their field.
    assert mapping == {1: "complaint_id", 2: "phone", 4: "received_date", 5: "id_number", 7: "description"}
    assert matcher.near_duplicates(cells, mapping) == {0: "phone"}
    assert matcher.shadowed(cells, mapping) == {6: "phone"}  # an exact repeat is not a near one too
    assert matcher.near_duplicates(HEADERS, matcher.map_row(HEADERS)) == {}


def test_a_numbered_second_column_is_kept_as_passed_through_and_recorded(tmp_path):
    """联系电话2 and 备用电话 beside 联系电话: the field's own column is read, the others pass through
    untouched and are named in near_duplicate_columns; 回访电话 is the follow-up's, not a second."""
    headers = HEADERS + ["联系电话2", "备用电话", "证件号码2", "回访电话"]
    extra = ["13900000000", "13700000000", "110105194912310029", "13600000000"]
    path = write_xlsx(tmp_path / "n.xlsx", [good_row(1) + extra], headers)
    reg = load_register(path, LoadOptions(POLICY))
    assert (reg.field_columns["phone"], reg.field_columns["id_number"]) == ("G", "F")
    assert reg.records[0].values["phone"] == "13800138000"
    assert reg.records[0].extra == dict(zip(headers[13:], extra))
    assert [(c.letter, c.header, c.field) for c in reg.near_duplicate_columns] == [
        ("N", "联系电话2", "phone"), ("O", "备用电话", "phone"), ("P", "证件号码2", "id_number")]
    assert reg.duplicate_columns == []


def test_numbered_columns_without_the_plain_one_read_the_first(tmp_path):
    """No 联系电话 column, only 联系电话1 and 联系电话2: the first is the phone, the second is reported."""
    headers = [h if h != "联系电话" else "联系电话1" for h in HEADERS] + ["联系电话2"]
    path = write_xlsx(tmp_path / "n.xlsx", [good_row(1) + ["13900000000"]], headers)
    reg = load_register(path, LoadOptions(POLICY))
    assert reg.records[0].values["phone"] == "13800138000"
    assert [(c.letter, c.field) for c in reg.near_duplicate_columns] == [("N", "phone")]


def test_a_customer_phone_header_is_the_phone_not_the_name():
    """客户电话 and 客户手机 contain 客户 (customer_name) as much as 电话: they are aliases of phone, so
    neither is read as the name, nor left unread beside 客户姓名."""
    matcher = HeaderMatcher.from_policy(POLICY)
    assert matcher.map_row(["投诉编号", "客户姓名", "客户电话", "投诉内容"]) == {0: "complaint_id", 1: "customer_name", 2: "phone", 3: "description"}
    assert matcher.map_row(["投诉编号", "客户手机", "投诉内容"]) == {0: "complaint_id", 1: "phone", 2: "description"}


# --- totals, sign-off and note rows -------------------------------------------------------------------

def _with_merges(path, *ranges):
    from openpyxl import load_workbook
    wb = load_workbook(path)
    for ref in ranges:
        wb.active.merge_cells(ref)
    wb.save(path)
    return path


@pytest.mark.parametrize("rows, merges", [
    ([["合计"]], ["A3:M3"]),                                       # 合计 merged across the row
    ([["合计：120件"]], ["A3:M3"]),
    ([["以下空白"]], ["A3:M3"]),                                    # any note merged across the row
    ([["合计", None, None, None, None, None, None, None, 120, "35件", "1,234.50元"]], ["A3:C3"]),  # counts beside it
    ([["小计", 3, None, "3笔"]], []),
    ([["制表人：张三", None, None, None, None, "审核：李四", None, None, None, "日期：2026年11月20日"]], []),  # sign-off line
    ([["制表人：张三  审核：李四"]], []),
    ([[None, None, "Total", 1]], []),
    ([["合计（含撤销）", 120, None, "城南支行", None, None, None, None, "120件"]], []),  # a count under 受理日期, a branch
    ([["城南支行小计", None, None, None, None, None, None, None, "35"]], []),
    ([[None] * 8 + ["合计：3笔"]], []),                              # under 投诉内容, as a totals text
])
def test_totals_and_sign_off_rows_are_not_complaints(tmp_path, rows, merges):
    path = _with_merges(write_xlsx(tmp_path / "t.xlsx", [good_row(1), *rows, [], ["注：本表每周报送"]]), *merges)
    reg = load_register(path, LoadOptions(POLICY))
    assert [r.row for r in reg.records] == [2]


def test_subtotal_rows_between_complaints_are_not_complaints(tmp_path):
    rows = [good_row(1), ["小计", None, None, "城南支行", None, None, None, None, "1件"], good_row(2), ["合计"]]
    path = _with_merges(write_xlsx(tmp_path / "s.xlsx", rows), "A5:M5")
    assert [r.row for r in load_register(path, LoadOptions(POLICY)).records] == [2, 4]


def test_a_complaint_that_says_heji_is_a_complaint(tmp_path):
    """合计 in a description, even its first word, even on a row without a date or an ID, or a
    footer word in a row that holds anything else: the row is a complaint."""
    rows = [
        good_row(1, 投诉内容="合计多扣了三次年费"),
        good_row(2, 投诉编号=None, 受理日期=None, 投诉渠道=None, 受理机构=None, 客户姓名=None, 证件号码=None, 联系电话=None,
                 业务类型=None, 投诉内容="合计多扣了三次年费", 办结日期=None, 回访日期=None, 回访结果=None),  # + 已办结
        ["合计", "2026-03-02"],                                     # a date
        ["合计", None, None, None, "王小明"],                          # a name
        ["审核：李四", None, None, None, None, "11010519491231002X"],  # an ID number
        ["小计", None, None, None, None, None, None, None, "多收年费"],  # a description
        ["城南支行", "城南支行"],                                       # one text twice, not across the row
        [None] * 8 + ["合计多扣了三次年费"],                              # a description alone
        ["合计", None, None, None, None, None, 13800138000],            # a phone typed as a number
    ]
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    reg = load_register(path, LoadOptions(POLICY))
    assert [r.row for r in reg.records] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert reg.records[0].values["description"] == reg.records[1].values["description"] == "合计多扣了三次年费"


def test_a_merged_complaint_row_is_still_a_complaint(tmp_path):
    """A complaint whose description is merged over two columns, and a complaint merged down over
    two rows: only a row with nothing but the note is left out."""
    headers = HEADERS + ["处理经过"]
    rows = [good_row(1, 投诉内容="合计扣费三次") + [None], good_row(2) + ["已回电"], [None] * 8 + ["合计"] + [None] * 5]
    path = _with_merges(write_xlsx(tmp_path / "m.xlsx", rows, headers), "I2:J2", "A3:A4")
    reg = load_register(path, LoadOptions(POLICY))
    assert [r.row for r in reg.records] == [2, 3, 4]  # row 4: T0002 merged down onto a row holding 合计


def test_a_totals_row_from_cells_in_memory_is_left_out_too():
    """The add-in's door: the same rows and merged ranges handed in as values."""
    from complaintkit.loader import register_from_rows
    rows = [HEADERS, good_row(1), ["合计"] + [None] * 12, ["制表人：张三"]]
    reg = register_from_rows(rows, "台账", LoadOptions(POLICY), merged=[((2, 0), (2, 12))])
    assert [r.row for r in reg.records] == [2]
    dup = register_from_rows([HEADERS + ["投诉内容"], good_row(1) + ["另一段内容"]], "台账", LoadOptions(POLICY))
    assert [(c.letter, c.field) for c in dup.duplicate_columns] == [("N", "description")]


def test_a_folder_skips_hidden_subfolders(tmp_path):
    """A share's snapshot or recycle folder (.snapshot/, .Trash-1000/) holds old copies of the
    registers: read with the folder, every complaint would count twice."""
    from complaintkit.sources import expand_paths

    folder = tmp_path / "分行台账"
    for sub in (".snapshot/hourly.0", ".Trash-1000/files", "二区"):
        (folder / sub).mkdir(parents=True)
    write_xlsx(folder / "城东支行.xlsx", [good_row()])
    write_xlsx(folder / ".snapshot" / "hourly.0" / "城东支行.xlsx", [good_row()])
    write_xlsx(folder / ".Trash-1000" / "files" / "旧台账.xlsx", [good_row()])
    write_xlsx(folder / "二区" / "城西支行.xlsx", [good_row()])
    assert sorted(p.relative_to(folder).as_posix() for p in expand_paths([str(folder)])) == ["二区/城西支行.xlsx", "城东支行.xlsx"]


def test_an_annotated_copy_is_read_without_the_checks_own_columns(runner, tmp_path):
    """`classify -o` writes CK-投诉原因 beside the register: read again (the CLI checking its own
    copy, a clerk re-running on it), that column is the check's result, not the register's 投诉类别
    (it matched the field's alias before), so the copy reads as the register did."""
    from complaintkit.cli import cli

    source = write_xlsx(tmp_path / "r.xlsx", [good_row(1), good_row(2, 投诉编号="T0002")])
    copy = tmp_path / "copy.xlsx"
    first = runner.invoke(cli, ["classify", str(source), "-o", str(copy), "--format", "json"])
    assert first.exit_code == 0, first.output
    reg = load_register(copy, LoadOptions(load_policy()))
    fields = {c.header: c.field for c in reg.columns}
    assert fields["CK-投诉原因"] is None and "category" not in fields.values()
    again = runner.invoke(cli, ["classify", str(copy), "--format", "json"])
    assert json.loads(again.stdout)["summary"] == json.loads(first.stdout)["summary"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_sheet_read_whole_is_read_without_the_cycle_collector_walking_its_rows(tmp_path, suffix):
    """Every row of a sheet read whole is a list kept until the register is built: with the
    collector on, it would walk the rows read so far again every 700 of them (a 200,000-row
    sheet: 0.3 s of its 4.4 s read). Counted in collections, not timed."""
    import gc

    from complaintkit.sources import open_book

    rows = [["投诉编号", "受理日期", "投诉内容"]] + [[f"C{i}", "2026-11-02", f"第{i}号"] for i in range(20_000)]
    path = tmp_path / f"r{suffix}"
    if suffix == ".csv":
        path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    else:
        write_xlsx(path, rows[1:], headers=rows[0])
    started: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    assert gc.isenabled()  # else there would be nothing to count
    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython 3.10-3.13's defaults, whatever the test run set
    gc.callbacks.append(count)
    try:
        book = open_book(path)  # a CSV is read here, a workbook's sheet below
        read = len(book.sheet(book.sheet_names[0]).rows)
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*thresholds)
    assert read == 20_001
    assert len(started) <= 2, started  # 28 or more without the pause


def test_a_batch_reads_each_file_as_it_would_be_read_alone(tmp_path, samples):
    """One set of column parsers serves every file of a batch (each distinct value parsed once for
    them all): every register is still the one its file gives read alone, its values, the cells
    typed otherwise than their value, its problems and its unknown columns."""
    texts = write_xlsx(tmp_path / "texts.xlsx", [good_row(1, 受理日期="2026年11月2日"), good_row(2, 联系电话="13800138000 ")])
    files = sorted((samples / "branches").glob("*.*")) + [samples / "messy_branch.xlsx", texts]
    batch = load_registers([str(f) for f in files], LoadOptions(POLICY)).registers
    alone = [load_register(f, LoadOptions(POLICY)) for f in files]
    assert [r.source for r in batch] == [r.source for r in alone]
    for a, b in zip(batch, alone):
        assert (a.header_row, a.columns, a.notes) == (b.header_row, b.columns, b.notes)
        assert [typed(r) for r in a.records] == [typed(r) for r in b.records]
    assert batch[-1].records[0].raw  # the text date is kept as typed, after files whose dates were cells
