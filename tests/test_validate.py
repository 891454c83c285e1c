"""`complaintkit validate`: every planted finding at its cell, none on the clean register, the
JSON contract, exit codes, languages, annotated copies, and inputs left untouched."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaintkit.cli import cli
from complaintkit.loader import LoadOptions, load_register
from complaintkit.policy import load_policy
from complaintkit.sheetplan import AMBER, RED
from complaintkit.validation import validate
from complaintkit.xlsx_applier import write_annotated

from conftest import AS_OF, HEADERS, ROOT, SAMPLES, good_row, sha256, write_xlsx


def run_json(runner, *args):
    result = runner.invoke(cli, ["validate", *args, "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(result.stdout)


def test_messy_sample_findings_are_exactly_the_planted_ones(runner, samples):
    expected = json.loads((samples / "messy_branch.expected.json").read_text("utf-8"))
    result, data = run_json(runner, str(samples / "messy_branch.xlsx"))
    got = {(f["row"], f["column"], f["code"]) for f in data["findings"]}
    want = {(f["row"], f["column"], f["code"]) for f in expected["findings"]}
    assert got == want
    assert all(f["sheet"] == expected["sheet"] for f in data["findings"])
    assert result.exit_code == 1
    # every kind of finding the issue names is among them
    codes = {c for _, _, c in want}
    assert {"required_missing", "date_unreadable", "date_future", "closed_before_received", "followup_before_closed",
            "id_precision_lost", "id_check_digit", "id_birth_date", "id_length", "phone_invalid", "value_not_allowed",
            "duplicate_complaint_id", "closed_without_date", "open_with_closed_date", "transfers_invalid"} <= codes


def test_clean_sample_has_no_findings(runner, samples):
    result, data = run_json(runner, str(samples / "clean_branch.xlsx"))
    assert result.exit_code == 0
    assert data == {"ok": True, "summary": {"rows": 40, "errors": 0, "warnings": 0}, "findings": []}


def test_json_contract_fields(runner, samples):
    _, data = run_json(runner, str(samples / "messy_branch.xlsx"))
    assert set(data) == {"ok", "summary", "findings"}
    assert set(data["summary"]) == {"rows", "errors", "warnings"}
    for f in data["findings"]:
        assert {"code", "severity", "sheet", "row", "column", "field", "value", "message", "id", "file"} <= set(f)
        assert f["severity"] in ("error", "warning")
        assert isinstance(f["row"], int)


def test_did_you_mean_and_lost_id_are_explained(runner, samples):
    _, data = run_json(runner, str(samples / "messy_branch.xlsx"))
    by_code = {}
    for f in data["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    assert any("处理中" in f["message"] for f in by_code["value_not_allowed"])
    lost = by_code["id_precision_lost"]
    assert all(f["value"] == "1.10101E+17" for f in lost)
    assert all("15位" in f["message"] for f in lost)


def test_english_messages(runner, samples):
    result = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "json", "--lang", "en"])
    data = json.loads(result.stdout)
    messages = " ".join(f["message"] for f in data["findings"])
    assert "did you mean '处理中'" in messages
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in data["findings"][0]["message"].replace("上周三", ""))


def test_fail_on_levels(runner, tmp_path):
    path = write_xlsx(tmp_path / "w.xlsx", [good_row(1, 联系电话="12345")])  # a warning only
    assert runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json"]).exit_code == 0
    assert runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--fail-on", "warning"]).exit_code == 1
    bad = write_xlsx(tmp_path / "e.xlsx", [good_row(1, 客户姓名=None)])
    assert runner.invoke(cli, ["validate", str(bad), "--as-of", AS_OF, "--format", "json", "--fail-on", "none"]).exit_code == 0


def test_future_dates_depend_on_as_of(runner, tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [good_row(1)])
    result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-03-04", "--format", "json"])
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert codes == {"date_future"}


def test_a_number_in_a_date_cell_is_too_early_not_a_1900_complaint(runner, tmp_path):
    path = write_xlsx(tmp_path / "n.xlsx", [good_row(1, 受理日期=1), good_row(2, 受理日期=2025.3), good_row(3)])
    result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-04-01", "--format", "json"])
    found = [(f["code"], f["row"], f["column"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [("date_too_early", 2, "B"), ("date_too_early", 3, "B")]
    assert "1900-01-01 早于 2000-01-01" in json.loads(result.stdout)["findings"][0]["message"]
    result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-04-01", "--lang", "en"])
    assert "1905-07-17 is before 2000-01-01" in result.stdout
    # followups computes no deadline from such a date (it would be 46,006 days overdue).
    result = runner.invoke(cli, ["followups", str(path), "--as-of", "2026-04-01", "--format", "json"])
    rows = {r["row"]: r for r in json.loads(result.stdout)["rows"]}
    assert [rows[r]["status"] for r in (2, 3, 4)] == ["unknown", "unknown", "closed_on_time"]
    assert rows[3]["decision_due"] is None and "1905-07-17 早于 2000-01-01" in rows[3]["reason"]


def test_csv_and_table_outputs(runner, samples):
    result = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "csv"])
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["工作表", "行", "列"] and len(rows) == 25
    table = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "table"])
    assert "date_unreadable" in table.stdout and "共 34 行" in table.stdout


def test_masking_personal_data(runner, samples):
    result = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "json", "--mask"])
    values = [f["value"] for f in json.loads(result.stdout)["findings"] if f["field"] in ("id_number", "phone")]
    assert values and all("*" in v or v == "1.10101E+17" for v in values)


def test_a_phone_typed_with_spaces_is_masked_as_the_merged_register_masks_it(runner, tmp_path):
    """One masking rule for every output (privacy.mask_cell): the finding's value, the report and
    the merged register show a wrong phone typed with spaces alike, its spaces gone."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1, 联系电话="138 0013 800")])
    _, data = run_json(runner, str(path), "--mask")
    [value] = [f["value"] for f in data["findings"] if f["field"] == "phone"]
    assert value == "13****3800"
    report = tmp_path / "report.xlsx"
    assert runner.invoke(cli, ["run", str(path), "--as-of", AS_OF, "--report", str(report), "--quiet"]).exit_code in (0, 1)
    shown = [c for ws in load_workbook(report).worksheets for row in ws.iter_rows(values_only=True) for c in row
             if isinstance(c, str) and "3800" in c]
    assert shown and set(shown) == {"13****3800"}
    merged = tmp_path / "merged.xlsx"
    assert runner.invoke(cli, ["dedupe", str(path), "--merge", "-o", str(merged), "--mask", "--format", "json"]).exit_code == 0
    assert dict(zip(*load_workbook(merged).active.iter_rows(values_only=True)))["联系电话"] == "13****3800"


def test_folder_is_one_batch_with_file_column(runner, samples):
    result = runner.invoke(cli, ["validate", str(samples / "branches"), "--as-of", AS_OF, "--format", "json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["summary"]["rows"] > 400


def test_duplicate_ids_across_files(runner, tmp_path):
    write_xlsx(tmp_path / "a.xlsx", [good_row(1)])
    write_xlsx(tmp_path / "b.xlsx", [good_row(1)])
    result = runner.invoke(cli, ["validate", str(tmp_path), "--as-of", AS_OF, "--format", "json"])
    found = json.loads(result.stdout)["findings"]
    assert [f["code"] for f in found] == ["duplicate_complaint_id"]
    assert "a.xlsx" in found[0]["message"]


def test_annotated_copy(runner, samples, tmp_path):
    src = samples / "messy_branch.xlsx"
    before = sha256(src)
    out = tmp_path / "out.xlsx"
    result = runner.invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(out)])
    assert result.exit_code == 1
    assert sha256(src) == before
    wb = load_workbook(out)
    ws = wb["投诉登记台账"]
    headers = [c.value for c in ws[3]]
    col = headers.index("CK-校验问题") + 1
    assert col == 19  # right after the 18 user columns
    assert "无法识别" in ws.cell(row=9, column=col).value
    assert ws["B9"].fill.start_color.rgb.endswith(RED)
    assert ws["B9"].comment is not None and "上周三" in ws["B9"].comment.text
    assert ws["B9"].value == "上周三"  # the user's value is untouched
    findings = wb["CK-校验结果"]
    assert findings.max_row == 25
    assert findings["A2"].hyperlink.location == "'投诉登记台账'!B9"
    # refusing to overwrite without --force, replacing with it
    again = runner.invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(out)])
    assert again.exit_code == 2 and "文件已存在" in again.output
    forced = runner.invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(out), "--force"])
    assert forced.exit_code == 1


def _snapshot(path):
    wb = load_workbook(path)
    cells = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                cells[(ws.title, c.coordinate)] = (c.value, c.fill.fill_type, c.fill.start_color.rgb if c.fill.fill_type else None,
                                                   c.comment.text if c.comment else None)
    return wb.sheetnames, cells


def test_re_annotating_an_annotated_copy_changes_nothing(samples, tmp_path):
    policy = load_policy()
    first = tmp_path / "first.xlsx"
    reg = load_register(samples / "messy_branch.xlsx", LoadOptions(policy))
    from complaintkit.operations import OpContext, run_operation
    import datetime as dt
    result = run_operation("validate", [reg], OpContext(policy, dt.date(2026, 11, 20)))
    write_annotated(reg, result.plans_for(reg), first)
    reg2 = load_register(first, LoadOptions(policy))
    assert len(reg2.records) == len(reg.records)
    result2 = run_operation("validate", [reg2], OpContext(policy, dt.date(2026, 11, 20)))
    second = tmp_path / "second.xlsx"
    write_annotated(reg2, result2.plans_for(reg2), second)
    assert _snapshot(first) == _snapshot(second)


def test_user_fill_restored_when_problem_is_fixed(tmp_path):
    """A mark on a user cell is undone on re-run once the problem is gone."""
    from openpyxl.styles import PatternFill
    import datetime as dt
    policy = load_policy()
    path = write_xlsx(tmp_path / "u.xlsx", [good_row(1, 联系电话="12345")])
    wb = load_workbook(path)
    wb.active["G2"].fill = PatternFill("solid", start_color="FF00B0F0", end_color="FF00B0F0")
    wb.save(path)
    reg = load_register(path, LoadOptions(policy))
    annotated = tmp_path / "a.xlsx"
    write_annotated(reg, [__import__("complaintkit.validation", fromlist=["x"]).validation_plan(validate([reg], policy, dt.date(2026, 11, 20)), reg)], annotated)
    assert load_workbook(annotated).active["G2"].fill.start_color.rgb.endswith("FFEB9C")
    # the clerk fixes the phone in the annotated copy and checks again
    wb = load_workbook(annotated)
    wb.active["G2"].value = "13800138000"
    wb.save(annotated)
    reg2 = load_register(annotated, LoadOptions(policy))
    from complaintkit.validation import validation_plan
    again = tmp_path / "b.xlsx"
    write_annotated(reg2, [validation_plan(validate([reg2], policy, dt.date(2026, 11, 20)), reg2)], again)
    ws = load_workbook(again).active
    assert ws["G2"].fill.start_color.rgb.endswith("00B0F0")
    headers = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=headers.index("CK-校验问题") + 1).value is None


def test_csv_input_annotated_as_xlsx(runner, tmp_path, samples):
    out = tmp_path / "gx.xlsx"
    src = samples / "branches" / "高新区支行.csv"
    result = runner.invoke(cli, ["validate", str(src), "--as-of", AS_OF, "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    assert ws["A1"].value == "投诉编号" and "CK-校验问题" in [c.value for c in ws[1]]


def test_annotate_dir_for_a_folder(runner, tmp_path, samples):
    result = runner.invoke(cli, ["validate", str(samples / "branches"), "--as-of", AS_OF, "--format", "json", "--annotate", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{p.stem}.checked.xlsx" for p in (samples / "branches").iterdir())
    many = runner.invoke(cli, ["validate", str(samples / "branches"), "--as-of", AS_OF, "-o", str(tmp_path / "x.xlsx")])
    assert many.exit_code == 2 and "--annotate" in many.output


@pytest.mark.parametrize("args, message", [
    (["missing.xlsx"], "找不到这个文件"),
    (["missing.xlsx", "--lang", "en"], "no such file"),
    (["--as-of", "someday", "x.xlsx"], "不是日期"),
    (["--map", "nonsense", "x.xlsx"], "表头=字段"),
    (["--map", "nonsense", "x.xlsx", "--lang", "en"], "HEADER=field"),
])
def test_usage_errors_exit_2(runner, args, message):
    result = runner.invoke(cli, ["validate", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_map_option_names_an_unknown_header(runner, tmp_path):
    headers = ["投诉编号", "受理日期", "来电人", "投诉内容", "处理状态", "投诉渠道"]
    path = write_xlsx(tmp_path / "m.xlsx", [["T1", "2026-03-02", "张三", "年费", "处理中", "柜面"]], headers)
    plain = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json"])
    assert "required_column_missing" in plain.stdout
    mapped = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--map", "来电人=客户姓名"])
    assert mapped.exit_code == 0, mapped.output


def test_config_override_changes_severity(runner, tmp_path):
    cfg = tmp_path / "bank.toml"
    cfg.write_text('[rules]\nphone_invalid = { enabled = true, severity = "error" }\n', encoding="utf-8")
    path = write_xlsx(tmp_path / "w.xlsx", [good_row(1, 联系电话="12345")])
    result = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--config", str(cfg)])
    assert result.exit_code == 1 and json.loads(result.stdout)["findings"][0]["severity"] == "error"
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules\n", encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(path), "--config", str(bad)])
    assert result.exit_code == 2 and "不是有效的 TOML" in result.output


def test_installed_entry_point(samples, tmp_path):
    exe = shutil.which("complaintkit") or str(Path(sys.executable).parent / "complaintkit")
    src = samples / "messy_branch.xlsx"
    before = sha256(src)
    proc = subprocess.run([exe, "validate", str(src), "--as-of", AS_OF, "--format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and json.loads(proc.stdout)["summary"]["errors"] == 20
    assert sha256(src) == before
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    proc = subprocess.run([exe, "validate", str(empty)], capture_output=True, text=True, timeout=60, env={**os.environ, "COMPLAINTKIT_LANG": "zh"})
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "文件是空的" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "complaintkit", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "complaintkit" in proc.stdout


def test_a_finding_inside_merged_cells_gets_its_copy_written(runner, tmp_path):
    """A wrong phone merged over two rows is found on both; the second row's cell is merged under
    the first, so it has no note of its own, and the annotated copy is still written."""
    path = write_xlsx(tmp_path / "m.xlsx", [good_row(1, 联系电话="12345"), good_row(2, 联系电话="12345"), good_row(3)])
    wb = load_workbook(path)
    wb.active.merge_cells("G2:G3")
    wb.save(path)
    out = tmp_path / "m.checked.xlsx"
    result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-04-01", "-o", str(out)])
    assert result.exit_code == 0, result.output  # two warnings
    ws = load_workbook(out).active
    assert ws["G2"].comment is not None and "联系电话" in ws["G2"].comment.text
    assert [str(r) for r in ws.merged_cells.ranges] == ["G2:G3"]


def test_the_language_from_the_environment_ignores_case(runner, samples, monkeypatch):
    monkeypatch.setenv("COMPLAINTKIT_LANG", "EN")
    result = runner.invoke(cli, ["validate", str(samples / "clean_branch.xlsx"), "--as-of", "2026-11-20", "--format", "table"])
    assert result.exit_code == 0 and "40 rows: 0 errors" in result.output


def test_an_annotated_copy_is_named_as_the_workbook_it_is_and_checked_before_any_output(runner, tmp_path, samples):
    macro = shutil.copy(samples / "clean_branch.xlsx", tmp_path / "b.xlsm")
    for source, out, suffix in ((macro, "b.checked.xlsx", ".xlsm"), (samples / "clean_branch.xlsx", "b.csv", ".xlsx")):
        result = runner.invoke(cli, ["validate", str(source), "--as-of", AS_OF, "--format", "json", "-o", str(tmp_path / out)])
        assert result.exit_code == 2 and f"-o 的文件名请以 {suffix} 结尾" in result.output
        assert result.stdout == ""  # no result printed before the refusal
        assert not (tmp_path / out).exists()


def test_an_implausible_as_of_is_a_usage_error(runner, samples):
    result = runner.invoke(cli, ["validate", str(samples / "clean_branch.xlsx"), "--as-of", "0001-01-01"])
    assert result.exit_code == 2 and "不像是检查日" in result.output


# --- a field's second column, and totals rows -------------------------------------------------------

def _two_phone_columns(path, second="联系电话"):
    """A register (title row above the header) with a second phone column in N, whose value would fail."""
    headers = HEADERS + [second]
    return write_xlsx(path, [good_row(1) + ["12345"], good_row(2) + [None]], headers, title="城南支行投诉登记台账")


@pytest.mark.parametrize("second, zh, en", [
    ("联系电话", "“联系电话”列重复（N列）：只读取了 G 列，N 列的内容未被检查",
     "column '联系电话' appears twice (column N): only column G is read, column N is not checked"),
    ("手机号码", "“联系电话”列重复（N列“手机号码”）：只读取了 G 列，N 列的内容未被检查",
     "column '联系电话' appears twice (column N '手机号码'): only column G is read, column N is not checked"),
])
def test_a_second_column_for_a_field_is_a_warning_on_the_header_row(runner, tmp_path, second, zh, en):
    path = _two_phone_columns(tmp_path / "d.xlsx", second)
    result, data = run_json(runner, str(path))
    assert result.exit_code == 0  # a warning: the register is read, from its first phone column
    assert data["summary"] == {"rows": 2, "errors": 0, "warnings": 1}
    [f] = data["findings"]
    assert (f["code"], f["severity"], f["row"], f["column"], f["field"], f["value"], f["id"]) == (
        "duplicate_column", "warning", 2, "N", "phone", second, "")
    assert f["message"] == zh
    english = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--lang", "en"])
    assert json.loads(english.stdout)["findings"][0]["message"] == en
    assert runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--fail-on", "warning"]).exit_code == 1


def test_the_same_description_header_twice_and_the_rule_in_the_policy(runner, tmp_path):
    headers = HEADERS + ["投诉内容"]
    path = write_xlsx(tmp_path / "c.xlsx", [good_row(1) + ["第二段内容"]], headers)
    _, data = run_json(runner, str(path))
    assert [(f["code"], f["column"], f["field"]) for f in data["findings"]] == [("duplicate_column", "N", "description")]
    assert "只读取了 I 列" in data["findings"][0]["message"]
    off = tmp_path / "off.toml"
    off.write_text('[rules]\nduplicate_column = { enabled = false }\n', encoding="utf-8")
    _, quiet = run_json(runner, str(path), "--config", str(off))
    assert quiet["findings"] == []
    strict = tmp_path / "strict.toml"
    strict.write_text('[rules]\nduplicate_column = { severity = "error" }\n', encoding="utf-8")
    result, loud = run_json(runner, str(path), "--config", str(strict))
    assert result.exit_code == 1 and loud["findings"][0]["severity"] == "error"


def test_a_second_column_is_marked_in_the_annotated_copy(runner, tmp_path):
    path = _two_phone_columns(tmp_path / "d.xlsx")
    out = tmp_path / "out.xlsx"
    assert runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "-o", str(out)]).exit_code == 0
    wb = load_workbook(out)
    ws = wb["台账"]
    assert ws["N2"].value == "联系电话"  # the user's header is untouched, its cell marked
    assert ws["N2"].fill.start_color.rgb.endswith(AMBER)
    assert "只读取了 G 列" in ws["N2"].comment.text
    assert ws["N3"].comment is None and ws.cell(row=2, column=15).value == "CK-校验问题"
    findings = wb["CK-校验结果"]
    assert findings.max_row == 2 and findings["A2"].hyperlink.location == "'台账'!N2"
    assert findings["D2"].value == "duplicate_column"


@pytest.mark.parametrize("second", ["联系电话2", "手机号码1", "第二联系电话", "备用电话", "客户电话2"])
def test_a_numbered_second_column_for_a_field_is_a_warning_on_the_header_row(runner, tmp_path, second):
    path = _two_phone_columns(tmp_path / "n.xlsx", second)
    result, data = run_json(runner, str(path))
    assert result.exit_code == 0 and data["summary"] == {"rows": 2, "errors": 0, "warnings": 1}
    [f] = data["findings"]  # N3's 12345 was never read as a phone: no phone_invalid
    assert (f["code"], f["severity"], f["row"], f["column"], f["field"], f["value"], f["id"]) == (
        "near_duplicate_column", "warning", 2, "N", "phone", second, "")
    assert f["message"] == f"N列“{second}”像是第二个“联系电话”列：只读取了 G 列，N 列的内容未被检查"


def test_a_numbered_second_column_in_english_masked_and_in_the_policy(runner, tmp_path):
    path = _two_phone_columns(tmp_path / "n.xlsx", "联系电话2")
    _, english = run_json(runner, str(path), "--lang", "en", "--mask")
    [f] = english["findings"]
    assert f["message"] == "column N '联系电话2' looks like a second '联系电话' column: only column G is read, column N is not checked"
    assert f["value"] == "联系电话2"  # a header, not a phone: nothing to mask
    off = tmp_path / "off.toml"
    off.write_text('[rules]\nnear_duplicate_column = { enabled = false }\n', encoding="utf-8")
    assert run_json(runner, str(path), "--config", str(off))[1]["findings"] == []
    strict = tmp_path / "strict.toml"
    strict.write_text('[rules]\nnear_duplicate_column = { severity = "error" }\n', encoding="utf-8")
    result, loud = run_json(runner, str(path), "--config", str(strict))
    assert result.exit_code == 1 and loud["findings"][0]["severity"] == "error"


def test_columns_that_only_contain_a_field_name_are_not_second_columns(runner, tmp_path):
    """Headers a register may hold beside the fields: the follow-up's phone and status, other
    people's phones, the original complaint's ID. None is a field's second column."""
    others = ["回访电话", "回访状态", "回访方式", "联系人电话", "经办人电话", "紧急联系人电话", "其他联系电话", "原投诉编号",
              "证件类型", "联系地址", "录入人", "处理经过"]
    values = ["13600000000", "已回访", "电话", "13500000000", "02512345678", "13400000000", "13300000000", "T0000",
              "身份证", "南京市", "李四", "已致电客户"]
    path = write_xlsx(tmp_path / "o.xlsx", [good_row(1) + values, good_row(2) + values], HEADERS + others)
    result, data = run_json(runner, str(path))
    assert result.exit_code == 0 and data["findings"] == []


def _shipped_registers() -> list[Path]:
    samples = sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".xlsx", ".xls", ".csv"))
    return samples + [ROOT / "src" / "complaintkit" / "templates" / "register_template.xlsx"]


@pytest.mark.parametrize("path", _shipped_registers(), ids=lambda p: p.name)
def test_no_shipped_register_has_a_second_column(path):
    """The samples and the template have normal headers: no column is reported as a field's second."""
    policy = load_policy()
    reg = load_register(path, LoadOptions(policy))
    assert reg.duplicate_columns == [] and reg.near_duplicate_columns == []
    codes = {f.code for f in validate([reg], policy, dt.date.fromisoformat(AS_OF)).findings}
    assert not codes & {"duplicate_column", "near_duplicate_column"}


def test_a_merged_totals_row_gives_no_findings(runner, tmp_path):
    rows = [good_row(1), good_row(2, 投诉内容="合计多扣了三次年费", 联系电话="12345"), ["合计：2件"],
            ["制表人：张三", None, None, None, None, "审核：李四"]]
    path = write_xlsx(tmp_path / "t.xlsx", rows)
    wb = load_workbook(path)
    wb.active.merge_cells("A4:M4")
    wb.save(path)
    result, data = run_json(runner, str(path))
    assert result.exit_code == 0
    assert data["summary"] == {"rows": 2, "errors": 0, "warnings": 1}
    assert [(f["row"], f["code"]) for f in data["findings"]] == [(3, "phone_invalid")]  # the complaint that says 合计 is checked


def _filled_ahead(**over):
    """A row as a sheet filled down ahead of the complaints has it: a branch and a status, nothing else."""
    row = [None] * len(HEADERS)
    for header, value in {"受理机构": "城南支行", "处理状态": "待处理", **over}.items():
        row[HEADERS.index(header)] = value
    return row


def test_rows_filled_ahead_of_the_complaints_are_none_and_one_warning_names_them(runner, tmp_path):
    blank = [None] * len(HEADERS)
    rows = [good_row(1), good_row(2), *[_filled_ahead()] * 4, blank, blank, _filled_ahead()]
    path = write_xlsx(tmp_path / "filled.xlsx", rows)
    _, data = run_json(runner, str(path))
    assert data["summary"]["rows"] == 2  # the two complaints; before, seven rows and an error per empty field
    assert [(f["code"], f["row"], f["column"], f["severity"]) for f in data["findings"]] == [("prefilled_rows", 4, "A", "warning")]
    assert data["findings"][0]["message"].startswith("第 4–7、10 行（共 5 行）只有预先填好的列")
    result = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "--format", "json", "--lang", "en"])
    assert json.loads(result.stdout)["findings"][0]["message"].startswith("rows 4–7, 10 (5 rows) hold only columns filled in ahead")
    off = tmp_path / "off.toml"
    off.write_text('[rules]\nprefilled_rows = { enabled = false }\n', encoding="utf-8")
    assert run_json(runner, str(path), "--config", str(off))[1] == {**data, "findings": [], "summary": {**data["summary"], "warnings": 0}}


def test_an_entry_begun_with_its_own_words_is_a_complaint_and_checked(runner, tmp_path):
    """Only values in the fields that make a complaint count: a row with a description, a phone or
    a customer's name is an entry begun, whose empty fields are errors as before."""
    rows = [good_row(1), _filled_ahead(投诉内容="信用卡年费被多收"), _filled_ahead(联系电话="13800138000"), _filled_ahead(客户姓名="李四")]
    _, data = run_json(runner, str(write_xlsx(tmp_path / "begun.xlsx", rows)))
    assert data["summary"]["rows"] == 4
    assert {f["row"] for f in data["findings"] if f["code"] == "required_missing"} == {3, 4, 5}
    assert "prefilled_rows" not in {f["code"] for f in data["findings"]}


def test_the_add_in_reads_rows_filled_ahead_as_the_command_line_does():
    from complaintkit.addin.core import register_from_sheet

    values = [HEADERS, good_row(1), *[[None if v is None else v for v in _filled_ahead()]] * 3]
    reg = register_from_sheet(values, "台账", load_policy())
    assert len(reg.records) == 1 and reg.prefilled_rows == [3, 4, 5]


def test_a_masked_annotated_copy_masks_the_values_its_findings_sheet_lists(runner, tmp_path):
    """--mask masks what complaintkit writes (the findings sheet's 原值), not the register's own cells."""
    wrong_id, wrong_phone = "110105194912310021", "1380013800"
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1, 证件号码=wrong_id, 联系电话=wrong_phone)])

    def findings_sheet_text(*extra):
        out = tmp_path / f"out{len(extra)}.xlsx"
        result = runner.invoke(cli, ["validate", str(path), "--as-of", AS_OF, "-o", str(out), *extra])
        assert result.exit_code == 1, result.output
        wb = load_workbook(out)
        own = next(ws for ws in wb.worksheets if ws.title.startswith("CK-") and ws.title != "CK-state")
        return " ".join(str(c.value) for row in own.iter_rows() for c in row if c.value is not None), wb

    plain, _ = findings_sheet_text()
    assert wrong_id in plain and wrong_phone in plain
    masked, wb = findings_sheet_text("--mask")
    assert wrong_id not in masked and wrong_phone not in masked and "110105" in masked
    assert wb["台账"]["F2"].value == wrong_id  # the user's cell is theirs


def test_with_mask_a_message_quotes_no_digits_of_an_id_number(runner, samples, tmp_path):
    """--mask masks a finding's value, and what its message quotes of the ID number too: the
    digits Excel kept (1.10101E+17) and the birth date inside the number, in the JSON, the
    table and the annotated copy's findings sheet; without --mask they are shown as typed."""
    masked = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "json", "--mask"])
    plain = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "json", "--no-mask"])
    table = runner.invoke(cli, ["validate", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "table", "--mask",
                                "-o", str(tmp_path / "copy.xlsx")])
    by_code = lambda out: {f["code"]: f["message"] for f in json.loads(out)["findings"]}  # noqa: E731
    shown, typed = by_code(masked.stdout), by_code(plain.stdout)
    assert "1.10101E+17" in typed["id_precision_lost"] and "19900230" in typed["id_birth_date"]
    assert "1.1****E+17" in shown["id_precision_lost"] and "出生日期 **** 不可能" in shown["id_birth_date"]
    copy = "".join(str(c.value) for row in load_workbook(tmp_path / "copy.xlsx")["CK-校验结果"].iter_rows() for c in row)
    for text in (masked.stdout, table.stdout, copy):
        assert "1.10101E+17" not in text and "19900230" not in text
