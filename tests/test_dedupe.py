"""`complaintkit dedupe`: duplicate entries found and merged, repeat chains linked oldest first,
look-alikes left alone; precision and recall on the shipped branch sample; the JSON contract;
annotated and merged workbooks; inputs untouched."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaintkit.cli import cli
from complaintkit.dedupe import (
    DUPLICATE, PALETTE, REPEAT, IssueLabel, IssueMatch, comparable_text, dedupe, dedupe_operation, dedupe_plan, find_groups,
)
from complaintkit.errors import PolicyError
from complaintkit.loader import LoadOptions, load_registers
from complaintkit.operations import OpContext, OpResult, run_operation
from complaintkit.policy import load_policy
from complaintkit.register import Record, Register

from conftest import HEADERS, SAMPLES, good_row, make_id, sha256, write_xlsx

POLICY = load_policy()
# Text-only matching: the tests must not depend on whichever classifier is installed.
TEXT_ONLY = POLICY.with_overrides({"dedupe": {"repeat": {"use_classifier": False}}})
D0 = dt.date(2026, 3, 2)
FEE = "我的信用卡3月账单被收取了年费120元，办卡时说首年免年费，要求退还。"
FEE_RETYPED = "客户来电反映：本人信用卡3月账单被收取了年费120元,办卡时说首年免年费  希望退还"
LOSS = "客户经理推荐我买理财产品时说保本保收益，现在亏损了3000元，购买时没有做风险评估。"


def rec(row: int, day: int, text: str, person: int | None = 1, *, cid: str | None = None, name: str = "张伟",
        phone: str | None = None, branch: str | None = "城东支行", business: str = "信用卡", source: str = "a.xlsx",
        category: str | None = None) -> Record:
    values = {
        "complaint_id": cid or f"T{row:04d}", "received_date": D0 + dt.timedelta(days=day), "customer_name": name,
        "id_number": make_id(person) if person is not None else None, "phone": phone, "branch": branch,
        "business_line": business, "description": text, "category": category,
    }
    return Record(source, "台账", row, values, {k: v for k, v in values.items() if v is not None},
                  columns={"complaint_id": "A", "received_date": "B", "description": "I"})


def kinds(result, kind):
    return [[m.record.row for m in g.members] for g in result.groups if g.kind == kind]


# --------------------------------------------------------------------------------------------
# core rules


def test_comparable_text_folds_what_a_second_clerk_changes():
    assert comparable_text("客户来电反映：年费　被多收，ＡＢＣ。", ["客户来电反映"]) == "年费被多收abc"
    assert comparable_text(None) == ""


def test_retyped_copy_with_another_id_is_a_duplicate_and_the_earliest_is_primary():
    rows = [rec(3, 1, FEE_RETYPED, cid="HOTLINE-77"), rec(2, 0, FEE, cid="T0002"), rec(4, 0, LOSS, person=2)]
    result = find_groups(rows, TEXT_ONLY)
    assert kinds(result, DUPLICATE) == [[2, 3]]
    group = result.duplicates[0]
    assert group.primary.record.id == "T0002"
    assert 0.85 <= group.score < 1.0
    reason = group.reason("en")
    assert "same ID number" in reason and "2026-03-02, 2026-03-03" in reason and "1 days apart" in reason and "%" in reason
    assert result.duplicate_rows == 1 and result.to_dict()["summary"]["unique_rows"] == 2


def test_duplicate_needs_close_dates_and_close_text():
    far = [rec(2, 0, FEE), rec(3, 4, FEE)]  # 4 days apart: not one event (default max_days 3)
    assert kinds(find_groups(far, TEXT_ONLY), DUPLICATE) == []
    other_text = [rec(2, 0, FEE), rec(3, 1, LOSS, business="信用卡")]
    assert find_groups(other_text, TEXT_ONLY).groups == []
    wider = TEXT_ONLY.with_overrides({"dedupe": {"duplicate": {"max_days": 5}}})
    assert kinds(find_groups(far, wider), DUPLICATE) == [[2, 3]]


def test_primary_most_complete_policy():
    sparse = rec(2, 0, FEE)
    full = rec(3, 1, FEE_RETYPED, phone="13800138000", category="定价收费")
    policy = TEXT_ONLY.with_overrides({"dedupe": {"duplicate": {"primary": "most_complete"}}})
    assert find_groups([sparse, full], policy).duplicates[0].primary.record.row == 3
    assert find_groups([sparse, full], TEXT_ONLY).duplicates[0].primary.record.row == 2


def test_repeats_are_chained_oldest_first_with_days_between():
    rows = [rec(5, 70, FEE), rec(2, 0, FEE), rec(4, 30, FEE_RETYPED), rec(3, 10, LOSS, business="理财")]
    result = find_groups(rows, TEXT_ONLY)
    assert kinds(result, REPEAT) == [[2, 4, 5]]
    chain = result.repeats[0]
    assert chain.days_between == [30, 40]
    data = chain.to_dict("en")
    assert data["count"] == 3 and data["days_between"] == [30, 40]
    assert data["dates"] == ["2026-03-02", "2026-04-01", "2026-05-11"]
    assert "3 times" in data["reason"] and "text similarity" in data["reason"]


def test_a_duplicate_is_never_also_a_repeat():
    rows = [rec(2, 0, FEE), rec(3, 1, FEE_RETYPED), rec(4, 40, FEE)]
    result = find_groups(rows, TEXT_ONLY)
    assert kinds(result, DUPLICATE) == [[2, 3]]
    assert kinds(result, REPEAT) == [[2, 4]]  # the copy on row 3 is not a complaint of its own


def test_repeat_window_is_respected_and_measured_from_the_previous_complaint():
    apart = [rec(2, 0, FEE), rec(3, 200, FEE)]
    assert find_groups(apart, TEXT_ONLY).groups == []
    longer = TEXT_ONLY.with_overrides({"dedupe": {"repeat": {"window_days": 365}}})
    assert kinds(find_groups(apart, longer), REPEAT) == [[2, 3]]
    steps = [rec(2, 0, FEE), rec(3, 150, FEE), rec(4, 300, FEE)]
    assert kinds(find_groups(steps, TEXT_ONLY), REPEAT) == [[2, 3, 4]]


def test_same_customer_different_issue_is_not_a_repeat_unless_labels_agree():
    rows = [rec(2, 0, FEE), rec(3, 40, "信用卡还款晚了一天，被收取违约金和利息共200元，利息计算不透明。")]
    assert find_groups(rows, TEXT_ONLY).groups == []
    labels = {r.key: IssueLabel("定价收费", 0.9) for r in rows}
    result = find_groups(rows, TEXT_ONLY, labels=labels)
    assert kinds(result, REPEAT) == [[2, 3]]
    assert result.repeats[0].members[1].match.how == "label"
    assert "定价收费" in result.repeats[0].reason("zh")
    # Low confidence labels, or the same label on different business lines, do not link.
    weak = {r.key: IssueLabel("定价收费", 0.3) for r in rows}
    strict = TEXT_ONLY.with_overrides({"dedupe": {"repeat": {"min_label_confidence": 0.5}}})
    assert find_groups(rows, strict, labels=weak).groups == []
    assert kinds(find_groups(rows, TEXT_ONLY, labels=weak), REPEAT) == [[2, 3]]
    lines = [rec(2, 0, FEE), rec(3, 40, "跨行转账被收取手续费20元，之前一直免费。", business="支付结算")]
    assert find_groups(lines, TEXT_ONLY, labels={r.key: IssueLabel("定价收费") for r in lines}).groups == []


def test_register_category_column_links_the_same_issue():
    rows = [rec(2, 0, FEE, category="息费"), rec(3, 40, "分期手续费太高，合同里的费率说明看不懂。", category="息费 ")]
    result = find_groups(rows, TEXT_ONLY)
    assert kinds(result, REPEAT) == [[2, 3]]
    assert result.repeats[0].members[1].match.how == "category"


def test_issue_test_is_pluggable():
    rows = [rec(2, 0, FEE), rec(3, 40, LOSS)]
    calls = []

    def always(earlier, later, similarity):
        calls.append((earlier.row, later.row))
        return IssueMatch("label", 1.0, "custom", similarity)

    result = find_groups(rows, TEXT_ONLY, issue_test=always)
    assert calls == [(2, 3)] and kinds(result, REPEAT) == [[2, 3]]


def test_look_alikes_are_not_grouped():
    # The same common name and the same template text on the same day, different people.
    namesakes = [rec(2, 0, FEE, person=1, branch="城东支行"), rec(3, 0, FEE, person=2, branch="城西支行")]
    # A mass incident: six customers, identical words, one day.
    mass = [rec(10 + k, 5, "手机银行转账失败但钱被扣了500元，到现在还没有退回。", person=20 + k, name=f"客户{k}") for k in range(6)]
    # No ID, no phone, no branch: nothing identifies these two, so nothing links them.
    anonymous = [rec(30, 0, LOSS, person=None, branch=None), rec(31, 1, LOSS, person=None, branch=None)]
    result = find_groups(namesakes + mass + anonymous, TEXT_ONLY)
    assert result.groups == []
    assert result.unidentified == 2


def test_history_rows_are_matched_but_only_groups_with_current_rows_reported():
    old = Register("old.xlsx", "台账", 1, [], [rec(2, -60, FEE, source="old.xlsx"), rec(3, -59, FEE, source="old.xlsx"),
                                              rec(4, -50, LOSS, person=9, source="old.xlsx"), rec(5, -49, LOSS, person=9, source="old.xlsx")])
    new = Register("new.xlsx", "台账", 1, [], [rec(2, 0, FEE_RETYPED, source="new.xlsx")])
    result = dedupe([new], TEXT_ONLY, history=[old])
    # old rows 2/3 are one event (a duplicate inside history: not reported); the new row repeats it.
    assert [g.kind for g in result.groups] == [REPEAT]
    chain = result.groups[0]
    assert [(Path(m.record.source).name, m.record.row, m.history) for m in chain.members] == [("old.xlsx", 2, True), ("new.xlsx", 2, False)]
    assert result.rows == 1 and result.history_rows == 4
    plan = dedupe_plan(result, new, "zh")
    repeat_col = plan.columns[1]
    assert list(repeat_col.values) == [2]
    assert repeat_col.values[2].startswith("第2次（共2次），前次: T0002")
    data = result.to_dict()
    assert data["groups"][0]["files"] == ["old.xlsx", "new.xlsx"]
    assert [m["history"] for m in data["groups"][0]["members"]] == [True, False]


def test_a_file_given_as_history_too_does_not_duplicate_itself():
    reg = Register("a.xlsx", "台账", 1, [], [rec(2, 0, FEE)])
    assert dedupe([reg], TEXT_ONLY, history=[reg]).groups == []


def test_a_heavy_customer_is_grouped_by_day_within_the_comparison_cap():
    # 300 complaints from one person: identical text every 5 days is a repeat chain, not duplicates.
    rows = [rec(i + 2, 5 * i, FEE) for i in range(300)]
    policy = TEXT_ONLY.with_overrides({"dedupe": {"limits": {"max_comparisons_per_row": 10}}})
    result = find_groups(rows, policy)
    assert not result.duplicates
    assert [len(g.members) for g in result.repeats] == [300]


@pytest.mark.parametrize("count,gaps,duplicate", [
    ("calendar", (9,), False),   # 2026-09-30 and 10-09: 9 days, a repeat by default
    ("working", (9,), True),     # ... 1 working day after 国庆
    ("working", (4,), False),    # Mon and Fri: 4 working days
    ("calendar", (3,), True),
    ("working", (3, 1), True),   # transitively, each within the window
])
def test_duplicate_entries_may_be_counted_in_working_days(count, gaps, duplicate):
    start = (dt.date(2026, 9, 30) - D0).days if gaps == (9,) else (dt.date(2026, 11, 16) - D0).days
    days = [start]
    for gap in gaps:
        days.append(days[-1] + gap)
    rows = [rec(i + 2, d, FEE) for i, d in enumerate(days)]
    policy = TEXT_ONLY.with_overrides({"dedupe": {"duplicate": {"count": count}}})
    result = find_groups(rows, policy)
    assert bool(result.duplicates) == duplicate
    if duplicate:
        assert [len(g.members) for g in result.duplicates] == [len(days)]


def test_a_wrong_day_count_is_a_policy_error():
    with pytest.raises(PolicyError, match="dedupe.duplicate.count"):
        find_groups([rec(2, 0, FEE)], POLICY.with_overrides({"dedupe": {"duplicate": {"count": "weekdays"}}}))


def test_classifier_result_in_the_pipeline_supplies_labels():
    rows = [rec(2, 0, FEE), rec(3, 40, "信用卡还款晚了一天，被收取违约金和利息共200元，利息计算不透明。")]
    reg = Register("a.xlsx", "台账", 1, [], rows)
    fake = OpResult("classify", {"rows": [{"row": r.row, "sheet": "台账", "id": r.id, "reason": "定价收费", "confidence": 0.8} for r in rows]}, {}, "")
    ctx = OpContext(POLICY, D0, results={"classify": fake})
    result = dedupe_operation([reg], ctx)
    assert [g["kind"] for g in result.data["groups"]] == [REPEAT]
    assert result.data["groups"][0]["members"][1]["same_issue_by"] == "label"
    assert result.warnings == 0  # repeats are links, not findings
    off = OpContext(TEXT_ONLY, D0, results={"classify": fake})
    assert dedupe_operation([reg], off).data["groups"] == []


def test_json_contract_shape():
    rows = [rec(2, 0, FEE), rec(3, 1, FEE_RETYPED), rec(4, 40, FEE)]
    data = find_groups(rows, TEXT_ONLY).to_dict("en")
    assert set(data) == {"groups", "summary"}
    assert set(data["summary"]) >= {"rows", "duplicate_groups", "duplicate_rows", "repeat_groups", "repeat_rows", "unique_rows"}
    dup, rep = data["groups"]
    for group in (dup, rep):
        assert {"kind", "rows", "ids", "sheets", "primary", "score", "reason", "members"} <= set(group)
        assert "files" not in group  # one file
        assert set(group["primary"]) == {"sheet", "row", "id"}
        for member in group["members"]:
            assert {"sheet", "row", "id", "date", "role"} <= set(member)
        assert isinstance(group["score"], float) and 0 <= group["score"] <= 1
    assert dup["kind"] == "duplicate" and dup["rows"] == [2, 3] and dup["ids"] == ["T0002", "T0003"]
    assert dup["primary"] == {"sheet": "台账", "row": 2, "id": "T0002"}
    assert rep["kind"] == "repeat" and rep["days_between"] == [40] and rep["count"] == 2
    json.dumps(data, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# the shipped sample: precision and recall against samples/truth/branches.json


def _pairs(groups) -> set[frozenset]:
    return {frozenset((a.record.key, b.record.key)) for g in groups for a, b in itertools.combinations(g.members, 2)}


@pytest.fixture(scope="module")
def branches():
    registers = load_registers((str(SAMPLES / "branches"),), LoadOptions(POLICY)).registers
    truth = {(t["file"], t["row"]): t for t in json.loads((SAMPLES / "truth" / "branches.json").read_text("utf-8"))["rows"]}
    records = [r for reg in registers for r in reg.records]
    of = {r.key: truth[(Path(r.source).name, r.row)] for r in records}
    return registers, records, of


def _scores(result, records, of):
    """(precision, recall) for duplicate row pairs and for repeat links between events."""
    true_dup = {frozenset((a.key, b.key)) for a, b in itertools.combinations(records, 2) if of[a.key]["event"] == of[b.key]["event"]}
    events = {of[r.key]["event"]: of[r.key] for r in records}
    true_rep = {frozenset((a["event"], b["event"])) for a, b in itertools.combinations(events.values(), 2)
                if a["person"] == b["person"] and a["issue"] == b["issue"]}
    found_dup = _pairs(result.duplicates)
    found_rep = {frozenset(of[k]["event"] for k in pair) for pair in _pairs(result.repeats)}

    def pr(found, true):
        hit = len(found & true)
        return (hit / len(found) if found else 1.0), hit / len(true)

    return pr(found_dup, true_dup), pr(found_rep, true_rep), len(true_dup), len(true_rep)


def test_sample_precision_and_recall_text_only(branches):
    registers, records, of = branches
    result = dedupe(registers, TEXT_ONLY)
    (dup_p, dup_r), (rep_p, rep_r), n_dup, n_rep = _scores(result, records, of)
    assert (n_dup, n_rep) == (12, 31)
    assert dup_p >= 0.95 and dup_r >= 0.9, (dup_p, dup_r)
    assert rep_p >= 0.95, rep_p
    # The sample's repeat chains retell the issue in other words (another template): text alone
    # finds only the links whose wording is close (measured 12 of 31); labels find the rest.
    assert rep_r >= 0.35, rep_r


def test_sample_precision_and_recall_with_reason_labels(branches):
    registers, records, of = branches
    labels = {r.key: IssueLabel(of[r.key]["reason"]) for r in records}  # a perfect classifier
    result = dedupe(registers, TEXT_ONLY, labels=labels)
    (dup_p, dup_r), (rep_p, rep_r), _, _ = _scores(result, records, of)
    assert dup_p >= 0.95 and dup_r >= 0.9
    assert rep_p >= 0.95 and rep_r >= 0.9, (rep_p, rep_r)


def test_sample_look_alikes_and_other_people_are_never_grouped(branches):
    registers, records, of = branches
    labels = {r.key: IssueLabel(of[r.key]["reason"]) for r in records}
    for result in (dedupe(registers, TEXT_ONLY), dedupe(registers, TEXT_ONLY, labels=labels)):
        for group in result.groups:
            people = {of[m.record.key]["person"] for m in group.members}
            assert len(people) == 1
            assert not any(s.startswith("lookalike") for m in group.members for s in of[m.record.key]["scenario"])


# --------------------------------------------------------------------------------------------
# the command line and the workbooks it writes


def _branch_rows() -> list[list]:
    """A small register: a duplicate pair (retyped, other ID), a repeat, a namesake, a formula-like text."""
    return [
        good_row(1, 受理日期=D0, 投诉内容=FEE, 处理状态="处理中", 办结日期=None, 回访日期=None, 回访结果=None),
        good_row(2, 投诉编号="HL-0002", 受理日期=D0 + dt.timedelta(days=1), 投诉内容=FEE_RETYPED, 证件号码=None,
                 处理状态="处理中", 办结日期=None, 回访日期=None, 回访结果=None),
        good_row(3, 受理日期=D0 + dt.timedelta(days=3), 客户姓名="王芳", 证件号码=make_id(5), 联系电话="13900000005", 投诉内容=LOSS),
        good_row(4, 受理日期=D0 + dt.timedelta(days=45), 投诉内容=FEE),
        good_row(5, 受理日期=D0, 证件号码=make_id(6), 联系电话="13900000006", 投诉内容=FEE),  # 王小明 too: a namesake
        good_row(6, 受理日期=D0 + dt.timedelta(days=2), 客户姓名="李娜", 证件号码=make_id(7), 联系电话="13900000007",
                 投诉内容="=HYPERLINK(\"x\")余额不对"),
        good_row(7, 受理日期=D0 + dt.timedelta(days=3), 客户姓名="李娜", 证件号码=make_id(7), 联系电话="13900000007",
                 投诉内容="=HYPERLINK(\"x\")余额不对。"),
    ]


def _book(path: Path, rows: list[list], **kw) -> Path:
    """write_xlsx, then cells typed as text that start with "=" (openpyxl would store a formula)."""
    write_xlsx(path, rows, **kw)
    wb = load_workbook(path)
    for row in wb.active.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    wb.save(path)
    return path


def _config(tmp_path: Path) -> str:
    path = tmp_path / "policy.toml"
    path.write_text("[dedupe.repeat]\nuse_classifier = false\n", encoding="utf-8")
    return str(path)


def test_cli_json_and_exit_codes(runner, tmp_path):
    book = _book(tmp_path / "branch.xlsx", _branch_rows(), title="城南支行投诉登记台账")
    cfg = _config(tmp_path)
    result = runner.invoke(cli, ["dedupe", str(book), "--config", cfg, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    dups = [g for g in data["groups"] if g["kind"] == "duplicate"]
    reps = [g for g in data["groups"] if g["kind"] == "repeat"]
    assert sorted(g["rows"] for g in dups) == [[3, 4], [8, 9]]
    assert [g["rows"] for g in reps] == [[3, 6]]
    assert reps[0]["days_between"] == [45]
    assert data["summary"]["rows"] == 7 and data["summary"]["duplicate_rows"] == 2
    # Duplicates are warnings: --fail-on warning exits 1; repeats alone would not.
    assert runner.invoke(cli, ["dedupe", str(book), "--config", cfg, "--format", "json", "--fail-on", "warning"]).exit_code == 1
    single = write_xlsx(tmp_path / "one.xlsx", [good_row(1, 投诉内容=FEE), good_row(2, 受理日期=D0 + dt.timedelta(days=40), 投诉内容=FEE)])
    assert runner.invoke(cli, ["dedupe", str(single), "--config", cfg, "--format", "json", "--fail-on", "warning"]).exit_code == 0
    assert runner.invoke(cli, ["dedupe", str(single), "--config", cfg, "--window-days", "30", "--format", "json"]).stdout.count('"repeat"') == 0


def test_cli_table_csv_and_usage_errors(runner, tmp_path):
    book = _book(tmp_path / "branch.xlsx", _branch_rows())
    cfg = _config(tmp_path)
    table = runner.invoke(cli, ["dedupe", str(book), "--config", cfg, "--format", "table"])
    assert table.exit_code == 0 and "重复录入" in table.output and "重复投诉" in table.output and "共 7 行" in table.output
    csv_out = runner.invoke(cli, ["dedupe", str(book), "--config", cfg, "--format", "csv", "--lang", "en"])
    lines = csv_out.output.strip().splitlines()
    assert lines[0].startswith("group,kind,sheet,row,complaint ID")
    assert len(lines) == 1 + 6  # two duplicate pairs and one chain of two
    bad = runner.invoke(cli, ["dedupe", str(book), "--merge"])
    assert bad.exit_code == 2 and "--merge 需要 -o" in bad.output
    assert runner.invoke(cli, ["dedupe", str(tmp_path / "missing.xlsx")]).exit_code == 2


def test_cli_annotated_copy(runner, tmp_path):
    book = _book(tmp_path / "branch.xlsx", _branch_rows(), title="城南支行投诉登记台账")
    before = sha256(book)
    out = tmp_path / "checked.xlsx"
    result = runner.invoke(cli, ["dedupe", str(book), "--config", _config(tmp_path), "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sha256(book) == before
    wb = load_workbook(out)
    ws = wb.active
    headers = [c.value for c in ws[2]]
    dup_col, rep_col = headers.index("CK-重复录入") + 1, headers.index("CK-重复投诉") + 1
    assert ws.cell(row=4, column=dup_col).value == "重复录入：同 T0001（第3行）"
    assert ws.cell(row=3, column=dup_col).value.startswith("主记录，另有 1 条重复录入")
    assert ws.cell(row=6, column=rep_col).value == "第2次（共2次），前次: T0001（2026-03-02）"
    assert ws.cell(row=5, column=dup_col).value is None  # 王芳: nothing to say
    # Groups alternate colours; the complaint-ID cell of duplicate rows carries the reason as a note.
    fills = {ws.cell(row=r, column=dup_col).fill.start_color.rgb[-6:] for r in (3, 8)}
    assert fills == set(PALETTE[DUPLICATE])
    assert "投诉内容相似度" in ws.cell(row=4, column=1).comment.text
    assert ws.cell(row=8, column=9).value.startswith("=HYPERLINK") and ws.cell(row=8, column=9).data_type == "s"
    assert "CK-重复与重复投诉" in wb.sheetnames
    # Re-running on the annotated copy refreshes the own columns in place (no second column).
    again = tmp_path / "again.xlsx"
    assert runner.invoke(cli, ["dedupe", str(out), "--config", _config(tmp_path), "--format", "json", "-o", str(again)]).exit_code == 0
    assert [c.value for c in load_workbook(again).active[2]].count("CK-重复录入") == 1
    # Merging an annotated copy leaves the previous run's result columns out of the data.
    merged = tmp_path / "merged.xlsx"
    assert runner.invoke(cli, ["dedupe", str(out), "--config", _config(tmp_path), "--merge", "-o", str(merged)]).exit_code == 0
    head = [c.value for c in load_workbook(merged).active[1]]
    assert "CK-重复录入" not in head and head.count("CK-重复投诉") == 1


def test_merge_keeps_a_clerks_own_ck_column_and_a_merged_register_merges_again(runner, tmp_path):
    rows = _branch_rows()
    book = _book(tmp_path / "branch.xlsx", [r + [f"经办{i}"] for i, r in enumerate(rows)],
                 headers=[*HEADERS, "CK-负责人"])
    merged = tmp_path / "merged.xlsx"
    assert runner.invoke(cli, ["dedupe", str(book), "--config", _config(tmp_path), "--merge", "-o", str(merged)]).exit_code == 0
    head = [c.value for c in load_workbook(merged).active[1]]
    assert "CK-负责人" in head  # the clerk's data, not a result
    again = tmp_path / "again.xlsx"
    result = runner.invoke(cli, ["dedupe", str(merged), "--config", _config(tmp_path), "--merge", "-o", str(again)])
    assert result.exit_code == 0, result.output
    head2 = [c.value for c in load_workbook(again).active[1]]
    # The first merge's provenance columns are written anew, not carried as data beside new ones.
    assert head2.count("CK-来源文件") == 1 and head2.count("CK-合并记录") == 1 and "CK-负责人" in head2


def test_cli_merge_of_a_folder_keeps_every_row_traceable(runner, tmp_path):
    folder = tmp_path / "branches"
    folder.mkdir()
    rows = _branch_rows()
    _book(folder / "a.xlsx", rows[:3])
    # The second branch names its columns differently and adds one of its own.
    other = ["工单编号", "受理时间", "来源渠道", "经办网点", "客户姓名", "身份证号", "客户联系电话", "业务种类", "投诉事由", "办理状态", "录入人"]
    keep = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    _book(folder / "b.xlsx", [[r[i] for i in keep] + ["小李"] for r in rows[3:]], headers=other)
    hashes = {p.name: sha256(p) for p in folder.iterdir()}
    out = tmp_path / "merged.xlsx"
    result = runner.invoke(cli, ["dedupe", str(folder), "--config", _config(tmp_path), "--merge", "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {p.name: sha256(p) for p in folder.iterdir()} == hashes
    wb = load_workbook(out)
    assert wb.sheetnames == ["投诉登记台账", "CK-已合并", "CK-合并说明"]
    main, removed, summary = wb["投诉登记台账"], wb["CK-已合并"], wb["CK-合并说明"]
    head = [c.value for c in main[1]]
    assert head[:9] == ["投诉编号", "受理日期", "投诉渠道", "受理机构", "客户姓名", "证件号码", "联系电话", "业务类型", "投诉内容"]
    assert "录入人" in head and "CK-来源文件" in head and "CK-来源行" in head
    kept = [dict(zip(head, r)) for r in main.iter_rows(min_row=2, values_only=True)]
    gone_head = [c.value for c in removed[1]]
    gone = [dict(zip(gone_head, r)) for r in removed.iter_rows(min_row=2, values_only=True)]
    assert len(kept) + len(gone) == 7
    assert sorted((r["CK-来源文件"], r["CK-来源行"]) for r in gone) == [("a.xlsx", 3), ("b.xlsx", 5)]
    by_source = {(r["CK-来源文件"], r["CK-来源行"]) for r in kept}
    assert by_source == {("a.xlsx", 2), ("a.xlsx", 4), ("b.xlsx", 2), ("b.xlsx", 3), ("b.xlsx", 4)}
    first = next(r for r in gone if r["CK-来源文件"] == "a.xlsx")
    assert first["投诉编号"] == "HL-0002" and first["CK-并入投诉编号"] == "T0001"
    assert main.cell(row=first["CK-并入合并表行"], column=1).value == "T0001"
    assert "合并了 1 行" in next(r for r in kept if r["投诉编号"] == "T0001")["CK-合并记录"]
    assert next(r for r in kept if r["投诉编号"] == "T0004")["CK-重复投诉"].startswith("第2次")
    assert next(r for r in kept if r["投诉编号"] == "T0006")["录入人"] == "小李"
    formula = next(r for r in kept if r["投诉编号"] == "T0006")
    assert formula["投诉内容"].startswith("=HYPERLINK")
    assert all(c.data_type != "f" for row in main.iter_rows() for c in row)
    totals = [r for r in summary.iter_rows(min_row=2, values_only=True) if r and r[0] == "合计"][0]
    assert totals[2:5] == (7, 5, 2)
    # The merged file is not overwritten without --force, and never over an input.
    again = runner.invoke(cli, ["dedupe", str(folder), "--merge", "-o", str(out)])
    assert again.exit_code == 2 and "文件已存在" in again.output


def test_the_merged_register_keeps_every_column_that_shares_a_header(runner, tmp_path):
    """A second 联系电话 (not read: validate warns) and two 附件 columns: the merged workbook keeps
    each column's own cells, where the last one's used to fill them all."""
    headers = list(HEADERS) + ["联系电话", "附件", "附件"]
    rows = [good_row(i, 投诉编号=f"T{i:04d}", 客户姓名=f"客户{i}", 证件号码=None, 联系电话=f"1390000000{i}") + [f"1380000000{i}", f"a{i}.jpg", f"b{i}.pdf"]
            for i in (1, 2)]
    path = write_xlsx(tmp_path / "r.xlsx", rows, headers=headers)
    out = tmp_path / "merged.xlsx"
    result = runner.invoke(cli, ["dedupe", str(path), "--merge", "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    main = load_workbook(out).worksheets[0]
    head = [c.value for c in main[1]]
    assert head[:len(headers)] == headers
    first = [c.value for c in main[2]][:len(headers)]
    assert first[HEADERS.index("联系电话")] == "13900000001"
    assert first[-3:] == ["13800000001", "a1.jpg", "b1.pdf"]


def test_cli_merge_of_the_shipped_branches(runner, tmp_path, samples):
    out = tmp_path / "all.xlsx"
    result = runner.invoke(cli, ["dedupe", str(samples / "branches"), "--config", _config(tmp_path), "--merge", "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    wb = load_workbook(out, read_only=True)
    kept = wb["投诉登记台账"].max_row - 1
    removed = wb["CK-已合并"].max_row - 1
    assert kept + removed == data["summary"]["rows"] == 479
    assert removed == data["summary"]["duplicate_rows"] == 12


def test_cli_history_option(runner, tmp_path):
    old = write_xlsx(tmp_path / "2025.xlsx", [good_row(1, 投诉编号="OLD-1", 受理日期=D0 - dt.timedelta(days=90), 投诉内容=FEE)])
    new = write_xlsx(tmp_path / "2026.xlsx", [good_row(1, 投诉编号="NEW-1", 投诉内容=FEE_RETYPED)])
    result = runner.invoke(cli, ["dedupe", str(new), "--history", str(old), "--config", _config(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["rows"] == 1 and data["summary"]["history_rows"] == 1
    [group] = data["groups"]
    assert group["kind"] == "repeat" and group["ids"] == ["OLD-1", "NEW-1"] and group["days_between"] == [90]
    assert group["files"] == [str(old), str(new)]


def test_classifier_rows_are_matched_by_file_sheet_and_row():
    from complaintkit.dedupe import labels_from_classify

    a, b = rec(2, 0, FEE, source="a.xlsx"), rec(2, 0, FEE, source="b.xlsx")
    with_file = OpResult("classify", {"rows": [{"file": "x/a.xlsx", "sheet": "台账", "row": 2, "reason": "定价收费"},
                                               {"file": "x/b.xlsx", "sheet": "台账", "row": 2, "reason": "合同条款", "confidence": 0.7}]}, {}, "")
    labels = labels_from_classify(with_file, [a, b])
    assert labels[a.key] == IssueLabel("定价收费", 1.0) and labels[b.key] == IssueLabel("合同条款", 0.7)
    # Without "file", row 2 of two files is ambiguous: no label rather than the wrong one.
    no_file = OpResult("classify", {"rows": [{"sheet": "台账", "row": 2, "reason": "定价收费"},
                                             {"sheet": "台账", "row": 2, "reason": "合同条款"}]}, {}, "")
    assert labels_from_classify(no_file, [a, b]) == {}
    # A label the classifier sends to review links nothing.
    review = OpResult("classify", {"rows": [{"file": "a.xlsx", "sheet": "台账", "row": 2, "reason": "定价收费", "review": True}]}, {}, "")
    assert labels_from_classify(review, [a, b]) == {}
    # A row under review keeps its place: it does not take the label of another file's row 2.
    one_each = OpResult("classify", {"rows": [{"file": "a.xlsx", "sheet": "台账", "row": 2, "reason": "定价收费", "review": True},
                                              {"file": "b.xlsx", "sheet": "台账", "row": 2, "reason": "合同条款"}]}, {}, "")
    assert labels_from_classify(one_each, [a, b]) == {b.key: IssueLabel("合同条款", 1.0)}


def test_the_garbage_collector_is_restored_after_matching():
    import gc

    rows = [rec(2, 0, FEE), rec(3, 1, FEE_RETYPED)]
    assert gc.isenabled()
    find_groups(rows, TEXT_ONLY)
    assert gc.isenabled()
    gc.disable()
    try:
        find_groups(rows, TEXT_ONLY)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_sample_with_the_installed_classifier_links_only_one_persons_complaints(branches):
    from complaintkit.operations import available

    if "classify" not in available():
        pytest.skip("no classify operation installed")
    registers, records, of = branches
    result = dedupe_operation(registers, OpContext(POLICY, dt.date(2026, 11, 20))).detail
    (dup_p, dup_r), (rep_p, _rep_r), _, _ = _scores(result, records, of)
    assert dup_p >= 0.95 and dup_r >= 0.9 and rep_p >= 0.95
    for group in result.groups:
        assert len({of[m.record.key]["person"] for m in group.members}) == 1


def test_a_phone_in_a_second_column_links_a_duplicate_and_the_reason_names_the_columns(runner, tmp_path):
    headers = ["投诉编号", "受理日期", "受理机构", "客户姓名", "证件号码", "联系电话", "备用电话", "业务类型", "投诉内容"]
    rows = [["T1", D0, "城东支行", "张伟", None, "13800138000", None, "信用卡", FEE],
            # Typed again at another branch with another number first: the spare one is the customer's.
            ["T2", D0 + dt.timedelta(days=1), "城西支行", "张伟", None, "13900139000", "13800138000", "信用卡", FEE_RETYPED],
            ["T3", D0, "城东支行", "李娜", None, "13700137000", None, "信用卡", FEE]]
    book = write_xlsx(tmp_path / "r.xlsx", rows, headers=headers)
    for lang, reason in (("zh", "同一客户（联系电话与备用电话相同）"), ("en", "same customer (same number in 联系电话 and 备用电话)")):
        result = runner.invoke(cli, ["dedupe", str(book), "--config", _config(tmp_path), "--format", "json", "--lang", lang])
        assert result.exit_code == 0, result.output
        [group] = json.loads(result.stdout)["groups"]
        assert group["kind"] == "duplicate" and group["ids"] == ["T1", "T2"]
        assert group["reason"].startswith(reason)
        copy = group["members"][1]
        assert copy["keys"] == ["other_phone"] and copy["phone_columns"] == ["联系电话", "备用电话"]


def test_history_rows_are_classified_as_the_current_ones_and_link_a_repeat(runner, tmp_path):
    """The old row has no 投诉类别 and other words: the classifier's reason (the pipeline's, run on
    the history rows too) is what says that the new complaint is about the same issue."""
    annual_fee = "信用卡年费被多收了，办卡时说首年免年费，要求退还年费。"
    instalment_fee = "又扣了我两百块的分期手续费，收费标准根本没告知，乱收费。"
    old = write_xlsx(tmp_path / "2025.xlsx", [good_row(1, 投诉编号="OLD-1", 受理日期=D0 - dt.timedelta(days=60), 投诉内容=annual_fee)])
    new = write_xlsx(tmp_path / "2026.xlsx", [good_row(1, 投诉编号="NEW-1", 投诉内容=instalment_fee)])
    result = runner.invoke(cli, ["dedupe", str(new), "--history", str(old), "--format", "json"])
    assert result.exit_code == 0, result.output
    [group] = json.loads(result.stdout)["groups"]
    assert group["kind"] == "repeat" and group["ids"] == ["OLD-1", "NEW-1"]
    assert group["members"][1]["same_issue_by"] == "label" and group["members"][1]["label"] == "定价收费"
    assert "分类原因均为“定价收费”" in group["reason"]


def test_history_labels_come_from_the_pipelines_classifier():
    from complaintkit.dedupe import pipeline_labels

    old = Register("old.xlsx", "台账", 1, [], [rec(2, -60, "信用卡年费被多收了，办卡时说首年免年费，要求退还年费。", source="old.xlsx"),
                                              rec(3, -50, LOSS, person=2, source="old.xlsx")])
    new = Register("new.xlsx", "台账", 1, [], [rec(2, 0, "又扣了我两百块的分期手续费，收费标准根本没告知，乱收费。", source="new.xlsx")])
    ctx = OpContext(POLICY, dt.date(2026, 11, 20), history=[old])
    labels = pipeline_labels([new], ctx)
    # The history rows are classified as a current row is: the annual fee a pricing complaint, the
    # product sold as guaranteed a sales-practice one.
    assert [labels[r.key].label for r in old.records] == ["定价收费", "营销方式和手段"]
    assert labels[new.records[0].key].label == "定价收费"
    assert "classify" in ctx.results  # run once, for the current rows; the history rows by its classifier


def test_history_labels_follow_the_classifier_the_pipeline_ran_with_not_the_policys(tmp_path):
    """A classify result the pipeline holds was made by a bank's own taxonomy: the history rows are
    labelled by that classifier, not by a new one built from the run's policy."""
    from complaintkit.dedupe import pipeline_labels

    own = tmp_path / "bank.toml"
    own.write_text('[classify]\nreasons = ["年费问题", "其他问题"]\ntags = []\nthreshold = 0.1\n'
                   '[classify.rules.reason."年费问题"]\nkeywords."年费" = 5\n'
                   '[classify.rules.reason."其他问题"]\nkeywords."咨询" = 2\n', encoding="utf-8")
    old = Register("old.xlsx", "台账", 1, [], [rec(2, -60, "信用卡年费被多收了，要求退还年费。", source="old.xlsx")])
    new = Register("new.xlsx", "台账", 1, [], [rec(2, 0, "年费又被扣了。", source="new.xlsx")])
    ctx = OpContext(POLICY, dt.date(2026, 11, 20), history=[old])
    ctx.results["classify"] = run_operation("classify", [new], OpContext(load_policy(own), dt.date(2026, 11, 20)))
    labels = pipeline_labels([new], ctx)
    assert labels[old.records[0].key].label == labels[new.records[0].key].label == "年费问题"
