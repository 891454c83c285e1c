"""The report's 检查结果-* sheets: headers a clerk reads (Chinese, English with --lang en), not the
JSON keys their rows come from; the JSON keeps its keys."""

from __future__ import annotations

import json
import re

from openpyxl import load_workbook

from complaintkit.cli import cli

from conftest import AS_OF, HEADERS, SAMPLES, good_row, write_xlsx

CHECKS = ("validate", "dedupe", "classify", "followups", "risk")


def _report(runner, tmp_path, lang):
    out = tmp_path / f"report-{lang}.xlsx"
    result = runner.invoke(cli, ["run", str(SAMPLES / "branches"), str(SAMPLES / "messy_branch.xlsx"), "--as-of", AS_OF,
                                 "--report", str(out), "--format", "json", "--lang", lang])
    assert result.exit_code in (0, 1), result.output
    wb = load_workbook(out, read_only=True)
    heads = {ws.title: [c for c in next(ws.iter_rows(max_row=1, values_only=True))] for ws in wb.worksheets}
    return heads, json.loads(result.stdout)


def test_findings_sheets_have_chinese_headers(runner, tmp_path):
    heads, data = _report(runner, tmp_path, "zh")
    sheets = {title: head for title, head in heads.items() if title.startswith("检查结果-")}
    assert len(sheets) == len(CHECKS)
    for title, head in sheets.items():
        assert all(re.search(r"[\u4e00-\u9fff]", h) for h in head), (title, head)
        assert len(set(head)) == len(head), (title, head)
    assert sheets["检查结果-校验"] == ["代码", "级别", "文件", "工作表", "行", "列", "字段", "投诉编号", "原值", "说明"]
    assert sheets["检查结果-查重"][:2] == ["类型", "各行"] and "间隔天数" in sheets["检查结果-查重"]
    assert {"投诉原因", "置信度", "依据", "需人工复核"} <= set(sheets["检查结果-分类"])
    assert {"办理时限", "时限状态", "超期天数", "回访期限"} <= set(sheets["检查结果-时限"])
    assert sheets["检查结果-升级风险"][4:] == ["预警等级", "预警颜色", "风险分", "原因"]
    # The JSON contract keeps its keys.
    assert list(data["validate"]["findings"][0])[:2] == ["code", "severity"]
    assert {"decision_due", "status"} <= set(data["followups"]["rows"][0])


def test_findings_sheets_have_english_headers_with_lang_en(runner, tmp_path):
    heads, _ = _report(runner, tmp_path, "en")
    sheets = {title: head for title, head in heads.items() if title.startswith("Checks-")}
    assert len(sheets) == len(CHECKS)
    for title, head in sheets.items():
        assert not [h for h in head if "_" in h or re.search(r"[\u4e00-\u9fff]", h)], (title, head)
        assert len(set(head)) == len(head), (title, head)
    assert sheets["Checks-Validation"] == ["code", "severity", "file", "sheet", "row", "column", "field", "complaint ID",
                                           "value", "message"]
    assert sheets["Checks-Escalation risk"] == ["file", "sheet", "row", "complaint ID", "level", "warning colour", "score",
                                               "reasons"]
    assert sheets["Checks-Duplicates"][:2] == ["kind", "rows"] and "days between" in sheets["Checks-Duplicates"]
    assert {"reason label", "confidence", "evidence", "review"} <= set(sheets["Checks-Classification"])
    assert {"decision due", "status", "days overdue", "follow-up due"} <= set(sheets["Checks-Deadlines"])


def _column(runner, tmp_path, lang, sheet, header):
    out = tmp_path / f"values-{lang}.xlsx"
    if not out.exists():
        result = runner.invoke(cli, ["run", str(SAMPLES / "branches"), str(SAMPLES / "messy_branch.xlsx"), "--as-of", AS_OF,
                                     "--report", str(out), "--lang", lang])
        assert result.exit_code in (0, 1), result.output
    ws = load_workbook(out, read_only=True)[sheet]
    rows = ws.iter_rows(values_only=True)
    at = next(rows).index(header)
    return {row[at] for row in rows}


def test_coded_values_are_shown_in_words(runner, tmp_path):
    # A clerk filters 时限状态 on 已超期, not on "overdue"; the JSON keeps the codes (above).
    assert _column(runner, tmp_path, "zh", "检查结果-时限", "时限状态") >= {"已超期", "按时办结"}
    assert _column(runner, tmp_path, "zh", "检查结果-查重", "类型") == {"重复录入", "重复投诉"}
    assert _column(runner, tmp_path, "zh", "检查结果-校验", "级别") == {"错误", "警告"}
    assert _column(runner, tmp_path, "zh", "检查结果-升级风险", "预警等级") >= {"高（红）", "中（橙）"}
    assert _column(runner, tmp_path, "en", "Checks-Deadlines", "status") >= {"overdue", "closed on time"}


def test_a_masked_report_shows_a_column_header_found_as_a_finding_as_it_is(runner, tmp_path):
    """A 联系电话2 column beside 联系电话 is a near_duplicate_column finding whose value is the
    header: the report shows 联系电话2 as the JSON does, while the phones in the rows stay masked."""
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1) + ["13912345678"]], headers=HEADERS + ["联系电话2"])
    out = tmp_path / "report.xlsx"
    result = runner.invoke(cli, ["run", str(path), "--as-of", AS_OF, "--report", str(out), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    [finding] = [f for f in json.loads(result.stdout)["validate"]["findings"] if f["code"] == "near_duplicate_column"]
    assert finding["value"] == "联系电话2"
    ws = load_workbook(out, read_only=True)["检查结果-校验"]
    rows = ws.iter_rows(values_only=True)
    head = next(rows)
    shown = [dict(zip(head, row)) for row in rows]
    assert [r["原值"] for r in shown if r["代码"] == "near_duplicate_column"] == ["联系电话2"]
    texts = " ".join(str(v) for wsx in load_workbook(out).worksheets for row in wsx.iter_rows(values_only=True) for v in row if v)
    assert "13912345678" not in texts and "13800138000" not in texts
