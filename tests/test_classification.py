"""Classification by the policy's rules: reasons, business lines and hotspots with evidence, review
below the threshold, the register's own values kept and disagreements listed, the CLI and the
annotated workbook."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import load_workbook

from complaintkit.classification import Classifier, classifier_for, classify, classify_text
from complaintkit.cli import cli
from complaintkit.errors import PolicyError
from complaintkit.loader import LoadOptions, load_register
from complaintkit.operations import OpContext, run_operation
from complaintkit.policy import Policy, load_policy

from conftest import sha256, write_xlsx

REVIEW = "待人工复核"
HEADERS = ["投诉编号", "受理日期", "投诉渠道", "客户姓名", "业务类型", "投诉内容", "客户诉求", "投诉类别", "处理状态", "备注"]


def row(i: int, description: str, demand: str = "", category: str = "", business: str = "", remarks: str = "") -> list:
    return [f"C{i:03d}", dt.date(2026, 3, i), "柜面", "张三", business, description, demand, category, "处理中", remarks]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_policy())


def reason_words(result) -> list[str]:
    return [e.text for e in result.evidence if e.dimension == "reason"]


# ------------------------------------------------------------------ rules on hand-written complaints

def test_credit_card_fees(classifier):
    r = classifier.classify_fields({"description": "我的信用卡这个月被收取了年费300元，还多扣了利息。", "demand": "要求退还年费"})
    assert (r.reason, r.business, r.review) == ("定价收费", "信用卡", False)
    assert r.tags == ["息费"]
    assert "年费" in reason_words(r) and "退还年费" in reason_words(r)
    assert r.confidence >= classifier.settings.threshold


def test_collection_calling_relatives(classifier):
    r = classifier.classify_fields({"description": "信用卡逾期后，催收人员每天打电话给我父母和单位同事，还威胁要上门。"})
    assert r.reason == "债务催收方式和手段"
    assert "催收" in r.tags
    # The pattern rule names the words it found: the call to the parents.
    pattern = [e for e in r.evidence if e.dimension == "reason" and e.source == "pattern"]
    assert pattern and "父母" in pattern[0].text and pattern[0].rule
    assert r.confidence > 0.6


def test_credit_record_dispute(classifier):
    r = classifier.classify_fields({"description": "我从来没有逾期，征信报告上却有一条逾期记录，影响了房贷审批。", "demand": "要求更正征信记录"})
    assert r.reason == "消费者信息安全"
    assert r.tags == ["征信"]
    assert "征信" in reason_words(r)


def test_wealth_mis_selling(classifier):
    r = classifier.classify_fields({"description": "理财经理推销时说保本保息，隐瞒了风险，也没有做风险测评就让我买了基金。"})
    assert (r.reason, r.business) == ("营销方式和手段", "理财")
    assert {"保本", "风险测评"} <= set(reason_words(r))


def test_service_attitude(classifier):
    r = classifier.classify_fields({"description": "柜员态度恶劣，不耐烦，还和我争吵。", "demand": "要求道歉"})
    assert r.reason == "服务态度及服务质量"
    assert r.tags == []
    assert "不耐烦" in reason_words(r)


def test_instalment_and_atm(classifier):
    r = classifier.classify_fields({"description": "信用卡账单被自动办理了分期，每期收取分期手续费。"})
    assert set(r.tags) == {"分期", "息费"}
    atm = classifier.classify_fields({"description": "在ATM取款时机器吞卡了。"})
    assert (atm.reason, atm.business) == ("服务设施、设备、业务系统", "借记卡")


def test_full_width_text_is_folded(classifier):
    r = classifier.classify_fields({"description": "ＡＴＭ吞卡"})
    assert "atm" in [e.text for e in r.evidence]


def test_demand_and_remarks_are_read(classifier):
    r = classifier.classify_fields({"description": "客户来电。", "remarks": "客户反映催收人员爆通讯录"})
    assert r.reason == "债务催收方式和手段"
    assert {e.field for e in r.evidence if e.dimension == "reason"} == {"remarks"}


# ------------------------------------------------------------------ confidence and review

def test_no_evidence_needs_review(classifier):
    r = classifier.classify_fields({"description": "客户今天来网点办理业务。"})
    assert (r.reason, r.review, r.guess, r.confidence) == (REVIEW, True, "", 0.0)


def test_weak_evidence_needs_review_and_keeps_the_guess(classifier):
    r = classifier.classify_fields({"description": "客户打了客服电话。"})  # 客服 alone weighs 1
    assert r.review and r.reason == REVIEW
    assert r.guess == "服务态度及服务质量"
    assert r.candidates[0][0] == "服务态度及服务质量"
    assert 0 < r.confidence < classifier.settings.threshold


BASE = load_policy()


def _one_rule_policy(**over) -> Policy:
    classify = {"reasons": ["甲", "乙"], "tags": [], "evidence_half": 1.0, "further_rule_factor": 1.0, "threshold": 0.5,
                "rules": {"reason": {"甲": {"keywords": {"苹果": 3, "香蕉": 1}}, "乙": {"keywords": {"橘子": 1}}}}}
    classify.update(over)
    return BASE.with_overrides({"classify": classify})


def test_confidence_is_strength_times_share():
    c = Classifier(_one_rule_policy())
    alone = c.classify_text("苹果")
    assert alone.confidence == pytest.approx(3 / 4)  # strength 3/(3+1), share 1
    mixed = c.classify_text("苹果和橘子")
    assert mixed.reason == "甲"
    assert mixed.confidence == pytest.approx(3 / 4 * 3 / 4)  # share 3/(3+1)
    tie = c.classify_text("香蕉和橘子")  # 1 vs 1: strength 1/2, share 1/2
    assert tie.review and tie.confidence == pytest.approx(0.25) and tie.guess == "甲"  # ties go to the first listed


def test_further_rules_count_less():
    c = Classifier(_one_rule_policy(further_rule_factor=0.5))
    r = c.classify_text("苹果香蕉")
    assert r.candidates == [("甲", 3 + 0.5 * 1)]


@settings(max_examples=40, deadline=None)
@given(weight=st.floats(min_value=0.1, max_value=50), half=st.floats(min_value=0.1, max_value=10))
def test_single_rule_confidence(weight, half):
    policy = _one_rule_policy(evidence_half=half)
    policy.data["classify"]["rules"]["reason"]["甲"]["keywords"] = {"苹果": weight}
    r = Classifier(policy).classify_text("苹果")
    assert r.confidence == pytest.approx(weight / (weight + half))
    assert r.review == (r.confidence < 0.5)


def test_weight_zero_switches_a_word_off():
    policy = load_policy().with_overrides({"classify": {"rules": {"reason": {"债务催收方式和手段": {"keywords": {"催收": 0}}}}}})
    r = Classifier(policy).classify_text("催收")
    assert r.guess != "债务催收方式和手段"


def test_bad_policy_is_one_clear_error():
    with pytest.raises(PolicyError, match="regular expression"):
        Classifier(load_policy().with_overrides({"classify": {"rules": {"tag": {"催收": {"patterns": {"(未闭合": 2}}}}}}))
    with pytest.raises(PolicyError, match="no \\[classify.rules.reason"):
        Classifier(load_policy().with_overrides({"classify": {"reasons": ["自定义"]}}))
    with pytest.raises(PolicyError, match="weight"):
        Classifier(load_policy().with_overrides({"classify": {"rules": {"tag": {"催收": {"keywords": {"催": "high"}}}}}}))


def test_single_text_door():
    r = classify_text("催收人员爆通讯录，骚扰我的家人")
    assert r.reason == "债务催收方式和手段" and r.tags == ["催收"]
    assert classify_text("").reason == REVIEW
    # With a policy of its own, the classifier is built once and kept for the next cell.
    policy = _one_rule_policy()
    assert classifier_for(policy) is classifier_for(policy)
    assert classify_text("苹果", policy).reason == "甲"


def test_mask_scrubs_digits_a_pattern_caught(register_file):
    policy = load_policy().with_overrides({"classify": {"rules": {"tag": {"催收": {"patterns": {"来电\\d+": 5}}}}}})
    reg = load_register(register_file, LoadOptions(policy))
    reg.records[0].values["remarks"] = "来电13800138000"
    plain = run_operation("classify", [reg], OpContext(policy, dt.date(2026, 11, 20))).data
    masked = run_operation("classify", [reg], OpContext(policy, dt.date(2026, 11, 20), mask=True)).data
    texts = lambda data: [e["text"] for e in data["rows"][0]["evidence"] if e["source"] == "pattern"]  # noqa: E731
    assert "来电13800138000" in texts(plain)
    assert "来电138****8000" in texts(masked) and "来电13800138000" not in texts(masked)


def test_english_names(classifier):
    assert classifier.display(REVIEW, "en") == "needs review"
    assert classifier.display("定价收费", "en") == "pricing and fees"
    assert classifier.display("定价收费", "zh") == "定价收费"


# ------------------------------------------------------------------ registers: keep, compare, report

@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    rows = [
        row(1, "信用卡逾期后催收人员天天打电话骚扰我的家人", category="服务态度", business="信用卡"),   # category disagrees
        row(2, "柜员态度恶劣，不耐烦", category="服务态度及服务质量", business="储蓄"),                 # agrees (full label)
        row(3, "我的信用卡被收了年费，要求退还年费", category="收费", business="储蓄"),                  # business disagrees
        row(4, "因为系统原因自动还款失败，征信有了不良记录", business="信用卡"),                         # register's line stands
        row(5, "客户来网点咨询", category="其他问题"),                                                 # review; category not comparable
    ]
    return write_xlsx(tmp_path / "台账.xlsx", rows, HEADERS, title="2026年投诉登记台账")


def test_register_values_are_kept_and_disagreements_listed(register_file):
    policy = load_policy()
    report = classify([load_register(register_file, LoadOptions(policy))], policy)
    by_row = {r.row: r for r in report.rows}
    assert by_row[3].result.reason == "债务催收方式和手段"
    assert by_row[3].category == "服务态度"  # as typed, never replaced
    assert by_row[6].result.business == "信用卡" and by_row[6].result.business_from == "register"
    assert by_row[7].result.review
    found = {(d.row, d.field, d.register_value, d.classified) for d in report.disagreements}
    assert found == {(3, "category", "服务态度", "债务催收方式和手段"), (5, "business_line", "储蓄", "信用卡")}
    assert {d.column for d in report.disagreements} == {"H", "E"}


def test_json_contract(register_file):
    policy = load_policy()
    reg = load_register(register_file, LoadOptions(policy))
    result = run_operation("classify", [reg], OpContext(policy, dt.date(2026, 11, 20)))
    data = result.data
    assert set(data) >= {"rows", "summary", "disagreements"}
    first = data["rows"][0]
    assert {"row", "sheet", "id", "reason", "business", "tags", "confidence", "evidence"} <= set(first)
    assert (first["row"], first["id"], first["reason"], first["tags"]) == (3, "C001", "债务催收方式和手段", ["催收"])
    assert first["evidence"][0] == {"dimension": "reason", "label": "债务催收方式和手段", "source": "keyword", "text": "催收",
                                    "weight": 5.0, "field": "description"}
    assert data["summary"]["rows"] == 5 and data["summary"]["review"] == 1 and data["summary"]["disagreements"] == 2
    assert data["summary"]["counts"]["tags"] == {"征信": 1, "息费": 1, "催收": 1}
    assert result.warnings == 3 and result.errors == 0
    json.dumps(data, ensure_ascii=False)


def test_cli_json_and_exit_codes(runner, register_file):
    result = runner.invoke(cli, ["classify", str(register_file), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["reason"] for r in data["rows"]][:2] == ["债务催收方式和手段", "服务态度及服务质量"]
    strict = runner.invoke(cli, ["classify", str(register_file), "--format", "json", "--fail-on", "warning"])
    assert strict.exit_code == 1
    english = json.loads(runner.invoke(cli, ["classify", str(register_file), "--format", "json", "--lang", "en"]).stdout)
    review = [r for r in english["rows"] if r["review"]][0]
    assert (review["reason"], review["reason_text"]) == (REVIEW, "needs review")


def test_cli_table_lists_disagreements(runner, register_file):
    result = runner.invoke(cli, ["classify", str(register_file), "--format", "table"])
    assert result.exit_code == 0
    assert "与台账登记不一致" in result.stdout and "台账登记的投诉类别为“服务态度”" in result.stdout


def test_annotated_copy(runner, register_file, tmp_path):
    before = sha256(register_file)
    out = tmp_path / "out.xlsx"
    result = runner.invoke(cli, ["classify", str(register_file), "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert sha256(register_file) == before
    wb = load_workbook(out)
    ws = wb.active
    headers = [c.value for c in ws[2]]
    for name in ("CK-投诉原因", "CK-业务类型", "CK-热点", "CK-分类置信度", "CK-分类依据"):
        assert name in headers
    col = {h: i + 1 for i, h in enumerate(headers)}
    assert ws.cell(3, col["CK-投诉原因"]).value == "债务催收方式和手段"
    assert ws.cell(3, col["CK-热点"]).value == "催收"
    assert "“催收”+5" in ws.cell(3, col["CK-分类依据"]).value
    assert ws.cell(7, col["CK-投诉原因"]).value == REVIEW
    assert ws.cell(7, col["CK-投诉原因"]).fill.start_color.rgb.endswith("FFEB9C")
    # The user's 投诉类别 keeps its value; it only gets a fill and a note.
    category = ws.cell(3, col["投诉类别"])
    assert category.value == "服务态度"
    assert "债务催收方式和手段" in category.comment.text
    assert ws.cell(5, col["业务类型"]).value == "储蓄"
    assert "CK-分类差异" in wb.sheetnames and wb["CK-分类差异"].max_row == 3
    stats = {(r[0], r[1]): r[2] for r in wb["CK-分类统计"].iter_rows(min_row=2, values_only=True)}
    assert stats[("原因", REVIEW)] == 1 and stats[("热点", "催收")] == 1


def test_rerun_refreshes_in_place(runner, register_file, tmp_path):
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert runner.invoke(cli, ["classify", str(register_file), "-o", str(first)]).exit_code == 0
    assert runner.invoke(cli, ["classify", str(first), "-o", str(second)]).exit_code == 0
    headers = [c.value for c in load_workbook(second).active[2]]
    assert headers.count("CK-投诉原因") == 1


def test_own_taxonomy_by_config(runner, register_file, tmp_path):
    config = tmp_path / "bank.toml"
    config.write_text(
        '[classify]\nreasons = ["催收问题", "其他问题"]\ntags = []\nthreshold = 0.1\n'
        '[classify.rules.reason."催收问题"]\nkeywords."催收" = 5\n'
        '[classify.rules.reason."其他问题"]\nkeywords."咨询" = 2\n', encoding="utf-8")
    data = json.loads(runner.invoke(cli, ["classify", str(register_file), "--config", str(config), "--format", "json"]).stdout)
    reasons = [r["reason"] for r in data["rows"]]
    assert reasons[0] == "催收问题" and reasons[-1] == "其他问题"
    # 其他问题 is now a reason, so row 7's category no longer needs an alias to be compared.
    assert not [d for d in data["disagreements"] if d["row"] == 7]


def test_bad_config_exits_2(runner, register_file, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[classify.rules.tag."催收"]\npatterns."[" = 3\n', encoding="utf-8")
    result = runner.invoke(cli, ["classify", str(register_file), "--config", str(config)])
    assert result.exit_code == 2
    assert "不是有效的正则表达式" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(cli, ["classify", str(register_file), "--config", str(config), "--lang", "en"])
    assert result.exit_code == 2
    assert "regular expression" in result.stderr and "Traceback" not in result.output


def test_samples_are_classified(samples):
    """The shipped branch registers: every row gets a label with evidence and nothing needs review."""
    policy = load_policy()
    from complaintkit.loader import load_registers
    regs = load_registers([str(samples / "branches")], LoadOptions(policy)).registers
    report = classify(regs, policy)
    assert report.rows and all(r.result.evidence for r in report.rows)
    truth = json.loads((samples / "truth" / "branches.json").read_text("utf-8"))["rows"]
    want = {(t["file"], t["row"]): t for t in truth}
    collection = [r for r in report.rows if want.get((Path(r.source).name, r.row), {}).get("issue") == "collection"]
    assert collection and all(r.result.reason == "债务催收方式和手段" and "催收" in r.result.tags for r in collection)
