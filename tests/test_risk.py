"""`complaintkit risk`: escalation-risk levels with reasons. Each factor on registers built here,
word matching (negations, look-alikes, numbers inside numbers), history across registers (files
and the store), the JSON contract, the CLI and its exit codes, the annotated workbook, `risk
evaluate` with a known AUC and no leakage, one pipeline; and the planted scenarios of the shipped
branch sample at the levels the policy promises."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import load_workbook

from complaintkit import risk as risk_module
from complaintkit.cli import cli
from complaintkit.errors import PolicyError
from complaintkit.history import HistoryStore
from complaintkit.loader import LoadOptions, load_registers, register_from_rows
from complaintkit.messages import t
from complaintkit.operations import OPERATIONS, OpContext, run_operation, run_pipeline
from complaintkit.policy import load_policy
from complaintkit.risk import RiskSettings, _escalated_in_top, evaluate, roc_auc
from complaintkit.sheetplan import AMBER, RED, YELLOW
from complaintkit.xlsx_applier import _fill_hex

from conftest import AS_OF, SAMPLES, sha256, write_xlsx

POLICY = load_policy()
ASOF = dt.date.fromisoformat(AS_OF)  # 2026-11-20, a Friday
HEADERS = ["投诉编号", "受理日期", "投诉渠道", "受理机构", "客户姓名", "联系电话", "业务类型", "投诉内容", "客户诉求", "流转次数",
           "处理状态", "办结日期", "回访日期", "回访结果", "是否升级", "备注"]
FEE = "我的信用卡账单被收取了年费120元，办卡时说首年免年费，要求退还。"
ATM = "ATM取款时机器吞卡了，卡里的钱取不出来，打电话也没人处理。"
RUDE = "今天在网点办理业务，柜员态度恶劣，不耐烦，还和我争吵。"
LOAN = "房贷提前还款要收取违约金，签合同时没有人说明这一条。"


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def row(cid: str, received: str, text: str = FEE, person: int = 1, **over: Any) -> list[Any]:
    """A quiet complaint: closed four days after receipt, followed up, satisfied. ``person`` picks
    the customer (one phone per person)."""
    got = day(received)
    values: dict[str, Any] = {
        "投诉编号": cid, "受理日期": got, "投诉渠道": "柜面", "受理机构": "城南支行", "客户姓名": f"客户{person}",
        "联系电话": f"139{person:08d}", "业务类型": "信用卡", "投诉内容": text, "客户诉求": "要求处理", "流转次数": 0,
        "处理状态": "已办结", "办结日期": got + dt.timedelta(days=4), "回访日期": got + dt.timedelta(days=5), "回访结果": "满意",
        "是否升级": "否", "备注": None,
    }
    values.update(over)
    return [values[h] for h in HEADERS]


def open_row(cid: str, received: str, text: str = FEE, person: int = 1, **over: Any) -> list[Any]:
    """An open complaint (处理中, no closing date, no follow-up)."""
    return row(cid, received, text, person, **{"处理状态": "处理中", "办结日期": None, "回访日期": None, "回访结果": None, **over})


def register(rows: list[list[Any]], source: str = "台账.xlsx"):
    return register_from_rows([HEADERS] + rows, "台账", LoadOptions(POLICY), source)


def assess(rows: list[list[Any]], *, history: list[list[Any]] | None = None, policy=POLICY, as_of: dt.date = ASOF):
    """Every row's RowRisk by complaint ID, through the operation (as `run` and the add-in do)."""
    hist = [register(history, "上年台账.xlsx")] if history else []
    regs = [register_from_rows([HEADERS] + rows, "台账", LoadOptions(policy), "台账.xlsx")]
    report = run_operation("risk", regs, OpContext(policy, as_of, history=hist)).detail
    return {r.id: r for r in report.rows}


def codes(r) -> list[str]:
    return [x.code for x in r.reasons]


def reason(r, code: str) -> str:
    return next(m for x, m in zip(r.reasons, r.messages()) if x.code == code)


# --------------------------------------------------------------------------------------------
# quiet complaints and each factor on its own


def test_a_quiet_first_complaint_is_none_with_no_reasons():
    got = assess([row("T1", "2026-10-08")])["T1"]
    assert (got.level, got.score, got.reasons) == ("none", 0, [])


def test_repeat_complaints_grade_by_count_and_name_the_earlier_ones():
    rows = [row("T1", "2026-03-02"), row("T2", "2026-05-04"), row("T3", "2026-08-03")]
    got = assess(rows)
    assert got["T1"].level == "none"
    assert got["T2"].level == "medium" and codes(got["T2"]) == ["repeat"]
    assert "第2次就同一问题" in reason(got["T2"], "repeat") and "前次: T1 (2026-03-02)" in reason(got["T2"], "repeat")
    assert got["T3"].level == "high"
    assert "第3次就同一问题" in reason(got["T3"], "repeat")
    assert reason(got["T3"], "repeat").endswith("前两次: T1 (2026-03-02), T2 (2026-05-04)")
    assert got["T3"].score == 75  # first 45 + further 30


def test_the_issue_a_reason_names_is_in_the_output_language():
    got = assess([row("T1", "2026-03-02"), row("T2", "2026-05-04")])
    repeat = next(x for x in got["T2"].reasons if x.code == "repeat")
    assert "（定价收费）" in repeat.message("zh")
    assert "(pricing and fees)" in repeat.message("en") and "定价收费" not in repeat.message("en")


def test_a_recent_repeat_and_a_repeat_after_an_unsatisfied_follow_up_weigh_more():
    got = assess([row("T1", "2026-09-01", 回访结果="不满意"), row("T2", "2026-09-21")])["T2"]
    assert codes(got) == ["repeat", "repeat_recent", "repeat_after_unsatisfied"]
    assert reason(got, "repeat_recent") == "距上次就同一问题投诉仅 20 天"
    assert "T1 (2026-09-01)" in reason(got, "repeat_after_unsatisfied")
    assert got.score == 65 and got.level == "medium"


def test_the_same_issue_weighs_more_than_another_issue():
    same = assess([row("T1", "2026-03-02"), row("T2", "2026-06-01")])["T2"]
    other = assess([row("T1", "2026-03-02", ATM), row("T2", "2026-06-01")])["T2"]
    assert codes(other) == ["earlier_other"] and other.level == "none"
    assert "近12个月另有 1 次投诉（未认定为同一问题）: T1 (2026-03-02)" == reason(other, "earlier_other")
    assert same.score > other.score and same.level == "medium"


def test_other_customers_and_later_complaints_are_not_looked_at():
    got = assess([row("T1", "2026-03-02", person=1), row("T2", "2026-06-01", person=2), row("T3", "2026-09-01", person=2)])
    assert got["T1"].reasons == [] and got["T2"].reasons == []  # T2 never sees its own future repeat


def test_an_earlier_escalation_by_the_customer():
    got = assess([row("T1", "2026-01-05", RUDE, 是否升级="是"), row("T2", "2026-06-01")])
    assert got["T1"].level == "high"  # already escalated itself
    later = got["T2"]
    assert "earlier_escalation" in codes(later) and later.level == "medium"
    assert reason(later, "earlier_escalation") == "该客户此前曾升级投诉: T1 (2026-01-05)"


def test_an_earlier_complaint_through_the_regulator_is_an_earlier_escalation_too():
    later = assess([row("T1", "2026-01-05", RUDE, 投诉渠道="监管转办"), row("T2", "2026-06-01")])["T2"]
    assert reason(later, "earlier_escalation") == "该客户此前曾升级投诉: T1 (2026-01-05, 监管转办)"


def test_high_frequency_within_twelve_months():
    texts = [FEE, ATM, RUDE, LOAN]
    got = assess([row(f"T{i}", d, text) for i, (d, text) in enumerate(zip(["2026-01-10", "2026-04-10", "2026-07-10", "2026-10-10"], texts), 1)])
    assert "frequency" not in codes(got["T3"])
    assert reason(got["T4"], "frequency") == "近12个月内第 4 次投诉（频繁投诉）"
    # 12 months back from 2026-10-10: a complaint of 2025-10-01 is outside the window.
    old = assess([row("T1", "2025-10-01", FEE), row("T2", "2026-04-10", ATM), row("T3", "2026-07-10", RUDE), row("T4", "2026-10-10", LOAN)])
    assert "frequency" not in codes(old["T4"])


@pytest.mark.parametrize("received,overdue,points", [
    ("2026-11-02", 3, 25),   # due 2026-11-17 (Tue)
    ("2026-10-22", 14, 35),  # due 2026-11-06: 25 + 2 full weeks x 5
    ("2026-10-13", 23, 35),  # due 2026-10-28: capped at 35
])
def test_overdue_by_how_much(received, overdue, points):
    got = assess([open_row("T1", received)])["T1"]
    assert codes(got) == ["overdue"] and got.score == points and got.level == "low"
    assert reason(got, "overdue").startswith(f"已超期 {overdue} 天（办理时限 ")


def test_closed_late_counts_a_little():
    got = assess([row("T1", "2026-09-01", 办结日期=day("2026-10-09"), 回访日期=day("2026-10-10"))])["T1"]
    assert codes(got) == ["closed_late"] and got.score == 10 and got.level == "none"
    assert reason(got, "closed_late").startswith("超期办结（晚 ")


def test_transfers_between_departments():
    got = assess([row("T1", "2026-10-08", 流转次数=4)])["T1"]
    assert (codes(got), got.score) == (["transfers"], 21)  # 3 transfers after the first, 7 each
    assert reason(got, "transfers") == "已在部门间流转 4 次"
    assert assess([row("T1", "2026-10-08", 流转次数=1)])["T1"].reasons == []


def test_an_unsatisfied_follow_up_on_a_closed_complaint_still_matters():
    got = assess([row("T1", "2026-10-08", 回访结果="不满意")])["T1"]
    assert got.level == "low" and reason(got, "unsatisfied") == "回访不满意（回访日期 2026-10-13）"


def test_a_disputed_outcome_in_the_remarks():
    got = assess([row("T1", "2026-10-08", 备注="客户不认可处理结果，要求重新处理")])["T1"]
    assert got.level == "low" and reason(got, "disputed") == "备注提到“不认可处理结果”（对处理结果有异议）"


def test_escalation_words_are_medium_and_quoted():
    got = assess([row("T1", "2026-10-08", FEE + "如果不解决我就打12378。")])["T1"]
    assert got.level == "medium" and reason(got, "escalation_words") == "投诉内容提到“12378”"


def test_hard_demands_add_up_to_their_cap():
    got = assess([row("T1", "2026-10-08", 客户诉求="要求赔偿精神损失并书面道歉")])["T1"]
    assert reason(got, "hard_demands") == "客户诉求提到“赔偿”、“精神损失”、“书面道歉”（难以满足的诉求）"
    assert got.score == 50 and got.level == "medium"  # 25 + 20 + 10 = 55, capped at 50
    single = assess([row("T1", "2026-10-08", 客户诉求="要求赔偿损失")])["T1"]
    assert single.score == 10 and single.level == "none"  # a plain 赔偿 is common


@pytest.mark.parametrize("remembered", [4096, 1])
def test_a_repeated_text_reads_alike_in_every_row_and_field(monkeypatch, remembered):
    """Each distinct text is prepared and screened once per assessment (demands and remarks
    repeat); a row repeating another's text, in the same field or another, finds the same words,
    also when the memory of texts is full and starts again."""
    monkeypatch.setattr(risk_module.TextRules, "MEMO", remembered)
    demand = "要求赔偿精神损失并书面道歉"
    got = assess([row("T1", "2026-10-08", 客户诉求=demand, person=1), row("T2", "2026-10-09", 客户诉求=demand, person=2),
                  row("T3", "2026-10-10", 客户诉求="要求处理", person=3), row("T4", "2026-10-11", 客户诉求="要求处理", 备注=demand, person=4)])
    for cid in ("T1", "T2"):
        assert reason(got[cid], "hard_demands") == "客户诉求提到“赔偿”、“精神损失”、“书面道歉”（难以满足的诉求）", cid
    assert "hard_demands" not in codes(got["T3"])
    assert reason(got["T4"], "hard_demands") == "备注提到“赔偿”、“精神损失”、“书面道歉”（难以满足的诉求）"


def test_a_channel_over_the_branchs_head_adds_points():
    got = assess([row("T1", "2026-10-08", 投诉渠道="上级转办")])["T1"]
    assert (codes(got), got.score) == (["channel"], 15)


def test_points_by_classified_reason():
    rows = [row("T1", "2026-10-08")]
    label = run_operation("classify", [register(rows)], OpContext(POLICY, ASOF)).data["rows"][0]["reason"]
    assert assess(rows)["T1"].reasons == []  # none by default
    got = assess(rows, policy=POLICY.with_overrides({"risk": {"reasons": {label: 10}}}))["T1"]
    assert (codes(got), got.score, reason(got, "reason")) == (["reason"], 10, f"投诉原因为“{label}”")


@pytest.mark.parametrize("over", [{"投诉渠道": "监管转办"}, {"投诉渠道": "媒体"}, {"是否升级": "是"}, {"投诉渠道": "12378转办"}])
def test_already_escalated_is_high_and_says_it_is_a_fact(over):
    got = assess([row("T1", "2026-11-10", **over)])["T1"]
    assert got.level == "high"
    assert got.reasons[0].code in ("already_channel", "already_flag")
    assert "已升级" in got.messages()[0] and "不是预测" in got.messages()[0]


def test_already_escalated_stays_high_even_with_zero_points():
    policy = POLICY.with_overrides({"risk": {"already_escalated": {"points": 0}}})
    got = assess([row("T1", "2026-11-10", 投诉渠道="监管转办")], policy=policy)["T1"]
    assert got.level == "high" and got.score == 0


def test_a_cancelled_complaint_is_none_whatever_it_says():
    got = assess([open_row("T1", "2026-09-01", FEE + "我要找媒体曝光", 投诉渠道="监管转办", 处理状态="已撤销", 流转次数=5)])["T1"]
    assert (got.level, got.score, codes(got)) == ("none", 0, ["cancelled"])
    assert got.messages() == ["已撤销，不评估升级风险"]


def test_stacked_signals_are_high():
    got = assess([open_row("T1", "2026-10-13", FEE + "再不处理就去人民银行12363投诉", 流转次数=3)])["T1"]
    assert codes(got) == ["overdue", "transfers", "escalation_words"] and got.level == "high"


def test_a_duplicate_entry_looks_back_as_its_primary_does():
    rows = [row("T1", "2026-03-02"), row("T2", "2026-06-01"), row("T3", "2026-06-02", "客户来电反映：" + FEE)]
    got = assess(rows)
    assert got["T2"].level == got["T3"].level == "medium"
    assert reason(got["T3"], "repeat") == reason(got["T2"], "repeat")


def test_what_a_duplicate_entry_records_counts_for_its_primary_and_later_repeats():
    """One event typed in twice: the follow-up or escalation recorded on the second entry is the
    event's, so the primary shows it (saying where it was found) and a later repeat sees it."""
    rows = [row("T1", "2026-03-02", 回访结果=None, 回访日期=None), row("T2", "2026-03-03", "客户来电反映：" + FEE, 回访结果="不满意"),
            row("T3", "2026-05-04")]
    got = assess(rows)
    assert "unsatisfied" in codes(got["T1"]) and reason(got["T1"], "unsatisfied").endswith("（记于同一投诉的重复录入 T2）")
    assert "记于" not in reason(got["T2"], "unsatisfied")
    assert "repeat_after_unsatisfied" in codes(got["T3"]) and "T1 (2026-03-02)" in reason(got["T3"], "repeat_after_unsatisfied")
    flagged = assess([row("T1", "2026-03-02"), row("T2", "2026-03-03", "客户来电反映：" + FEE, 是否升级="是")])
    assert flagged["T1"].level == "high" and "（记于同一投诉的重复录入 T2）" in reason(flagged["T1"], "already_flag")
    # Without the copy, the primary alone is quiet: the copy's facts are what changed it.
    assert assess([row("T1", "2026-03-02", 回访结果=None, 回访日期=None)])["T1"].level == "none"


@pytest.mark.parametrize("text,said", [
    ("上次投诉的年费问题到现在还没解决，" + FEE, True),
    ("这是我第三次反映了，" + FEE, True),
    ("已经投诉过好几次，" + FEE, True),
    ("我再次投诉：" + FEE, True),
    ("我没有再次投诉的打算，" + FEE, False),  # negated
    (FEE, False),
])
def test_the_customers_own_word_that_it_is_a_repeat_counts_when_the_register_holds_no_earlier_one(text, said):
    got = assess([row("T1", "2026-09-01", text)])["T1"]
    assert ("said_repeat" in codes(got)) == said
    if said:
        assert got.level == "low" and reason(got, "said_repeat").endswith("（客户称此前已投诉过，台账中未找到前次投诉）")


def test_a_repeat_the_register_shows_is_not_counted_again_for_the_customers_word():
    got = assess([row("T1", "2026-03-02"), row("T2", "2026-05-04", "上次投诉还没解决，" + FEE)])["T2"]
    assert "repeat" in codes(got) and "said_repeat" not in codes(got)


def test_english_messages():
    report = run_operation("risk", [register([row("T1", "2026-03-02"), row("T2", "2026-05-04")])], OpContext(POLICY, ASOF, "en")).detail
    got = {r.id: r for r in report.rows}["T2"]
    message = got.messages("en")[0]
    assert message.startswith("complaint no. 2 about the same issue") and message.endswith("; earlier: T1 (2026-03-02)")
    assert got.level_text("en") == "medium (orange)"


# --------------------------------------------------------------------------------------------
# word matching


SETTINGS = RiskSettings.from_policy(POLICY)


def words(text: str, field: str = "description") -> list[str]:
    texts = SETTINGS.text.prepare({field: text}, [field])
    return sorted(h.text for wl in (SETTINGS.escalation_words, SETTINGS.hard_demands) for h in wl.find(texts))


@pytest.mark.parametrize("text,found", [
    ("如果不解决我就打12378投诉到金融监管总局", ["12378", "金融监管"]),  # 金融监管 whole, not also 监管
    ("卡号6212378001234被冻结", []),  # 12378 inside a longer number
    ("拨打123789查询", []),
    ("转账12378元一直没到账", []),  # an amount
    ("卡号尾号12363的信用卡", []),  # a card number
    ("订单号：12345，尾号为12378", []),  # an order number, a card number
    ("已拨打12345热线反映", ["12345"]),
    ("打１２３７８", ["12378"]),  # full-width digits
    ("12378。", ["12378"]),
    ("客户表示不会投诉到监管部门", []),
    ("客户说没有报警", []),
    ("我不会找媒体曝光", []),  # the negation covers the run of words
    ("我不会去找媒体和记者", []),
    ("不去找媒体，但要起诉", ["起诉"]),  # a new clause is not negated
    ("不解决的话我会请律师起诉到法院", ["律师", "法院", "起诉"]),  # 不 far back negates nothing
    ("催收人员冒充律师打电话", []),
    ("催收人员打电话威胁要起诉我", []),  # the collector threatens, not the customer
    ("我的卡被公安机关涉诈协查冻结了", []),
    ("理财经理说产品经过监管部门审批", []),
    ("法院路网点的柜员态度差", []),
    ("在抖音上看到你们的广告", []),
    ("我看到媒体报道你们银行乱收费", []),  # citing the news is not going to the media
    ("据媒体报道，你行多次违规收费", []),
    ("媒体曝光过你们的问题", []),
    ("你们再不解决，我就让媒体报道你们", ["媒体"]),
    ("我要向监管部门投诉", ["监管"]),
    ("我要起诉你们", ["起诉"]),
    ("人民银行征信报告上有逾期", []),
    ("账户被法院冻结了", []),
    ("我已经报警了", ["报警"]),
    ("我要找你们行长，马上到现场处理", ["找你们行长", "马上到现场"]),
    ("不要求赔偿，只要道歉", []),
    ("", []),
])
def test_word_matching(text, found):
    assert words(text) == sorted(found)


def test_a_word_switched_off_or_added_in_the_policy():
    policy = POLICY.with_overrides({"risk": {"escalation_words": {"words": {"微博": 0, "reporter": 45}}}})
    s = RiskSettings.from_policy(policy)
    texts = s.text.prepare({"description": "发到微博上, I will call a Reporter; the issue is old"}, ["description"])
    assert [h.term for h in s.escalation_words.find(texts)] == ["reporter"]


@pytest.mark.parametrize("override,match", [
    ({"levels": {"high": 30, "medium": 40, "low": 20}}, "high >= medium >= low"),
    ({"hard_demands": {"patterns": {"(未闭合": 10}}}, "regular expression"),
    ({"overdue": {"points": -1}}, "number of 0 or more"),
    ({"text_fields": "description"}, "list of words"),
    ({"repeat": {"frist": 50}}, "unknown keys frist"),
    ({"level": {"high": 80}}, "unknown keys level"),
])
def test_policy_mistakes_are_one_clear_error(override, match):
    with pytest.raises(PolicyError, match=match):
        RiskSettings.from_policy(POLICY.with_overrides({"risk": override}))


# --------------------------------------------------------------------------------------------
# history beyond the current file


DECEMBER = [row("C-1201", "2025-12-10")]
JANUARY = [row("C-0103", "2026-01-20")]


def test_a_january_register_sees_decembers_complaint_through_history():
    alone = assess(JANUARY, as_of=day("2026-01-31"))["C-0103"]
    seen = assess(JANUARY, history=DECEMBER, as_of=day("2026-01-31"))["C-0103"]
    assert alone.level == "none"
    assert seen.level == "medium" and reason(seen, "repeat").endswith("前次: C-1201 (2025-12-10, 历史)")


def _risk_by_file_and_by_store(runner, tmp_path, old, new):
    """`risk` on ``new`` looking back on ``old`` as a --history file, then through a store holding it."""
    by_file = runner.invoke(cli, ["risk", str(new), "--history", str(old), "--as-of", "2026-01-31", "--format", "json"])
    store = tmp_path / "history.sqlite"
    with HistoryStore(store) as s:
        s.add(load_registers((str(old),), LoadOptions(POLICY)).registers)
    by_store = runner.invoke(cli, ["risk", str(new), "--store", str(store), "--as-of", "2026-01-31", "--format", "json"])
    return by_file, by_store


def test_history_through_the_cli_and_through_the_store(runner, tmp_path):
    dec = write_xlsx(tmp_path / "2025-12.xlsx", DECEMBER, HEADERS)
    jan = write_xlsx(tmp_path / "2026-01.xlsx", JANUARY, HEADERS)
    for result in _risk_by_file_and_by_store(runner, tmp_path, dec, jan):
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert [r["id"] for r in data["rows"]] == ["C-0103"]
        assert data["rows"][0]["level"] == "medium" and "C-1201 (2025-12-10, 历史)" in data["rows"][0]["reasons"][0]["message"]
    # The store never makes a register its own history.
    store = tmp_path / "history.sqlite"
    with HistoryStore(store) as s:
        s.add(load_registers((str(jan),), LoadOptions(POLICY)).registers)
    again = runner.invoke(cli, ["risk", str(jan), "--store", str(store), "--as-of", "2026-01-31", "--format", "json"])
    assert json.loads(again.output)["rows"][0]["score"] == 45


# --------------------------------------------------------------------------------------------
# the JSON contract, the CLI, the annotated workbook


MIXED = [
    row("T1", "2026-03-02"), row("T2", "2026-05-04"), row("T3", "2026-08-03"),            # a chain: T3 high, T2 medium
    row("T4", "2026-11-10", RUDE, person=4, 投诉渠道="监管转办"),                            # already escalated
    row("T5", "2026-10-08", ATM, person=5, 回访结果="不满意"),                              # low
    row("T6", "2026-10-08", LOAN, person=6),                                              # none
]


def test_json_contract_highest_first(runner, tmp_path):
    src = write_xlsx(tmp_path / "台账.xlsx", MIXED, HEADERS)
    result = runner.invoke(cli, ["risk", str(src), "--as-of", AS_OF, "--format", "json", "--level", "all"])
    assert result.exit_code == 1  # high rows: error level
    data = json.loads(result.output)
    assert data["as_of"] == AS_OF and set(data) >= {"as_of", "rows", "summary"}
    assert data["summary"] == {"rows": 6, "high": 2, "medium": 1, "low": 1, "none": 2, "history_rows": 0}
    assert [r["id"] for r in data["rows"]] == ["T4", "T3", "T2", "T5", "T1", "T6"]
    for item in data["rows"]:
        assert set(item) >= {"row", "sheet", "id", "file", "level", "score", "reasons"}
        assert item["level"] in ("high", "medium", "low", "none") and item["sheet"] == "台账"
        assert all(set(r) >= {"code", "message"} for r in item["reasons"])
        assert item["score"] == sum(r["points"] for r in item["reasons"])
        if item["level"] != "none":
            assert item["reasons"], "every flag carries its reasons"
    assert {r["id"]: r["row"] for r in data["rows"]}["T1"] == 2


def test_level_filter_and_exit_codes(runner, tmp_path):
    src = write_xlsx(tmp_path / "台账.xlsx", MIXED, HEADERS)

    def run(*args):
        result = runner.invoke(cli, ["risk", str(src), "--as-of", AS_OF, "--format", "json", *args])
        return result.exit_code, [r["id"] for r in json.loads(result.output)["rows"]] if result.exit_code < 2 else result.output

    assert run() == (1, ["T4", "T3", "T2", "T5"])  # default: every flagged level
    assert run("--level", "medium,low") == (0, ["T2", "T5"])  # no high row shown: nothing at error level
    assert run("--level", "medium", "--fail-on", "warning") == (1, ["T2"])
    assert run("--level", "low", "--fail-on", "warning") == (0, ["T5"])
    assert run("--fail-on", "none")[0] == 0
    bad = runner.invoke(cli, ["risk", str(src), "--level", "red"])
    assert bad.exit_code == 2 and "未知的值 red" in bad.output


def test_table_and_csv(runner, tmp_path):
    src = write_xlsx(tmp_path / "台账.xlsx", MIXED, HEADERS)
    table = runner.invoke(cli, ["risk", str(src), "--as-of", AS_OF, "--format", "table"])
    lines = table.output.splitlines()
    assert "投诉编号" in lines[0] and "T4" in lines[2] and "高（红）" in lines[2]
    assert lines[-1].startswith("共 6 行（检查日 2026-11-20）：红色预警 2，橙色 1，黄色 1，无 2")
    csv = runner.invoke(cli, ["risk", str(src), "--as-of", AS_OF, "--format", "csv", "--lang", "en"])
    assert csv.output.splitlines()[0] == "row,complaint ID,level,score,reasons"
    assert csv.output.splitlines()[1].startswith('5,T4,high (red),100,"already escalated: received through \'监管转办\'')


def test_annotated_workbook(runner, tmp_path):
    src = write_xlsx(tmp_path / "台账.xlsx", MIXED, HEADERS, title="城南支行投诉登记台账")
    before = sha256(src)
    out = tmp_path / "台账.风险.xlsx"
    result = runner.invoke(cli, ["risk", str(src), "--as-of", AS_OF, "-o", str(out), "--format", "json"])
    assert result.exit_code == 1 and sha256(src) == before
    ws = load_workbook(out)["台账"]
    headers = [c.value for c in ws[2]]
    assert headers[:len(HEADERS)] == HEADERS
    level, score, why = (headers.index(h) + 1 for h in ("CK-升级风险", "CK-风险分", "CK-风险原因"))
    shown = {ws.cell(r, 1).value: (ws.cell(r, level).value, ws.cell(r, score).value, ws.cell(r, why).value, _fill_hex(ws.cell(r, level)))
             for r in range(3, 9)}
    assert shown["T4"][:2] == ("红", 100) and shown["T4"][3] == RED
    assert shown["T2"][:2] == ("橙", 45) and shown["T2"][3] == AMBER and "第2次就同一问题" in shown["T2"][2]
    assert shown["T5"][0] == "黄" and shown["T5"][3] == YELLOW
    assert shown["T6"] == ("无", 0, None, None)
    t4 = next(r for r in range(3, 9) if ws.cell(r, 1).value == "T4")
    assert _fill_hex(ws.cell(t4, 1)) == RED and "已升级" in ws.cell(t4, 1).comment.text
    assert ws.cell(t4, 2).fill.fgColor.rgb in (None, "00000000")  # user cells other than the ID keep their format
    sheet = load_workbook(out)["CK-升级预警"]
    assert [c.value for c in sheet[1]][:3] == ["位置", "投诉编号", "受理机构"]
    assert [sheet.cell(r, 2).value for r in range(2, sheet.max_row + 1)] == ["T4", "T3", "T2", "T5"]


def test_bad_input_is_one_line_exit_2(runner, tmp_path):
    result = runner.invoke(cli, ["risk", str(tmp_path / "missing.xlsx")])
    assert result.exit_code == 2 and "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# evaluate


def marked_register() -> list[list[Any]]:
    """Four complaints and a known AUC: the escalated ones score 60 and 0, the others 25 and 0.
    Pairs: 60>25, 60>0, 0<25, 0=0 (half) -> 2.5 / 4 = 0.625."""
    return [
        row("E1", "2026-10-08", FEE + "我要打12378", person=1, 是否升级="是"),
        row("E2", "2026-10-08", ATM, person=2, 是否升级="是"),
        row("N1", "2026-10-08", RUDE, person=3, 回访结果="不满意"),
        row("N2", "2026-10-08", LOAN, person=4),
    ]


def test_evaluate_known_auc_and_precision(runner, tmp_path):
    src = write_xlsx(tmp_path / "已标注.xlsx", marked_register(), HEADERS)
    result = runner.invoke(cli, ["risk", "evaluate", str(src), "--as-of", AS_OF, "--top", "1", "--top", "50%", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["auc"] == 0.625 and (data["rows"], data["escalated"]) == (4, 2)
    assert data["precision_at"][0] == {"top": "1", "k": 1, "escalated": 1, "precision": 1.0, "recall": 0.5}
    assert data["precision_at"][1]["k"] == 2 and data["precision_at"][1]["precision"] == 0.5
    assert {f["factor"]: f["rate"] for f in data["factors"]} == {"escalation_words": 1.0, "unsatisfied": 0.0}
    table = runner.invoke(cli, ["risk", "evaluate", str(src), "--as-of", AS_OF, "--format", "table"])
    assert "ROC AUC 0.625" in table.output and "扬言升级的字眼 [escalation_words]" in table.output


def test_evaluate_leaves_the_answer_out_of_the_score(runner, tmp_path):
    # E2 arrived through the regulator: the normal check says high, evaluate scores it 0, so the
    # AUC is the same as without the channel (a leak would make it 0.75).
    rows = marked_register()
    rows[1] = row("E2", "2026-10-08", ATM, person=2, 是否升级="是", 投诉渠道="监管转办")
    src = write_xlsx(tmp_path / "已标注.xlsx", rows, HEADERS)
    assert assess(rows)["E2"].level == "high"
    data = json.loads(runner.invoke(cli, ["risk", "evaluate", str(src), "--as-of", AS_OF, "--format", "json"]).output)
    assert data["auc"] == 0.625
    assert set(data["left_out_factors"]) == {"already_channel", "already_flag"}
    assert "监管转办" not in {c["channel"] for c in data["channels"]}


def test_evaluate_needs_the_escalated_column(runner, tmp_path):
    src = write_xlsx(tmp_path / "无标注.xlsx", [row("T1", "2026-10-08")[:-2]], HEADERS[:-2])
    result = runner.invoke(cli, ["risk", "evaluate", str(src), "--as-of", AS_OF])
    assert result.exit_code == 2 and "是否升级" in result.output


def test_evaluate_blank_marks_count_as_not_escalated():
    rows = marked_register()
    rows[3] = row("N2", "2026-10-08", LOAN, person=4, 是否升级=None)
    report = risk_module.assess([register(rows)], POLICY, ASOF, leak_free=True)
    ev = evaluate(report, ["2"])
    assert (ev.positives, ev.unmarked, ev.auc) == (2, 1, 0.625)


def test_roc_auc_known_values():
    assert roc_auc([3, 2, 2, 1], [True, False, True, False]) == 0.875
    assert roc_auc([1, 2], [True, False]) == 0.0
    assert roc_auc([5, 5, 5], [True, False, False]) == 0.5
    assert roc_auc([1, 2], [False, False]) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=30))
def test_roc_auc_is_the_share_of_correctly_ordered_pairs(items):
    scores, marked = [float(s) for s, _ in items], [m for _, m in items]
    pos = [s for s, m in zip(scores, marked) if m]
    neg = [s for s, m in zip(scores, marked) if not m]
    got = roc_auc(scores, marked)
    if not pos or not neg:
        assert got is None
    else:
        pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
        assert got == pytest.approx(pairs / (len(pos) * len(neg)))


def test_precision_at_k_shares_ties_at_the_cut():
    # Top 2 of [5, 3, 3, 3, 1]: the 5 (not escalated), then one of three tied 3s, one of which is.
    assert _escalated_in_top([5, 3, 3, 3, 1], [False, True, False, False, True], 2) == pytest.approx(1 / 3)
    assert _escalated_in_top([5, 3, 1], [True, True, False], 2) == 2


# --------------------------------------------------------------------------------------------
# one pipeline


def test_risk_reuses_dedupe_followups_and_classify_from_the_pipeline(monkeypatch):
    calls: Counter = Counter()
    for name in ("dedupe", "followups", "classify"):
        if name in OPERATIONS:
            original = OPERATIONS[name]
            monkeypatch.setitem(OPERATIONS, name, lambda regs, ctx, _o=original, _n=name: calls.update([_n]) or _o(regs, ctx))
    ctx = OpContext(POLICY, ASOF)
    results = run_pipeline([register(MIXED)], ctx)
    assert [r.name for r in results][-1] == "risk"
    assert all(n == 1 for n in calls.values()) and calls["dedupe"] == calls["followups"] == 1


def test_risk_works_without_a_classifier(monkeypatch):
    monkeypatch.setattr("complaintkit.dedupe.available", lambda: ["validate", "dedupe", "followups", "risk"])
    got = assess([row("T1", "2026-03-02"), row("T2", "2026-05-04")])["T2"]
    assert got.level == "medium" and reason(got, "repeat") == "第2次就同一问题投诉，前次: T1 (2026-03-02)"


def test_run_report_lists_the_high_risk_rows(runner, tmp_path):
    src = write_xlsx(tmp_path / "台账.xlsx", MIXED, HEADERS)
    out = tmp_path / "报告.xlsx"
    result = runner.invoke(cli, ["run", str(src), "--as-of", AS_OF, "--report", str(out), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["risk"]["summary"]["high"] == 2
    ws = load_workbook(out)[t("rpt_high_risk")]
    ids = [c.value for c in next(ws.iter_cols(min_col=4, max_col=4, min_row=2))]
    assert ids == ["T4", "T3"]


# --------------------------------------------------------------------------------------------
# the shipped sample: planted scenarios at the levels the policy promises


@pytest.fixture(scope="module")
def branches():
    truth = json.loads((SAMPLES / "truth" / "branches.json").read_text("utf-8"))
    regs = load_registers((str(SAMPLES / "branches"),), LoadOptions(POLICY)).registers
    report = run_operation("risk", regs, OpContext(POLICY, day(truth["as_of"]))).detail
    by_place = {(Path(r.source).name, r.row): r for r in report.rows}
    return truth["rows"], by_place


def test_planted_scenarios_get_the_expected_level(branches):
    truth, got = branches
    planted = [(t["scenario"][0], t["expected_risk"], got[(t["file"], t["row"])].level) for t in truth if t["expected_risk"]]
    assert len(planted) == 24
    wrong = [p for p in planted if p[1] != p[2]]
    assert not wrong, wrong


def test_quiet_complaints_in_the_sample_are_none(branches):
    truth, got = branches
    quiet = [got[(t["file"], t["row"])] for t in truth if not t["scenario"]]
    levels = Counter(r.level for r in quiet)
    assert levels["none"] / len(quiet) >= 0.97, levels
    # The few that are flagged are open and overdue: a real signal, at the lowest level.
    assert all(r.level == "low" and "overdue" in codes(r) for r in quiet if r.level != "none")
    flagged = [got[(t["file"], t["row"])] for t in truth if t["scenario"] and t["scenario"][0].startswith(("duplicate", "lookalike"))]
    assert all(r.level == "none" for r in flagged)


def test_every_flag_in_the_sample_carries_its_reasons(branches):
    _, got = branches
    assert all(r.reasons and r.score > 0 for r in got.values() if r.level != "none")


def test_evaluate_on_the_escalation_history_sample(runner, samples):
    """The shipped register with later escalations marked: the score ranks them well above chance."""
    result = runner.invoke(cli, ["risk", "evaluate", str(samples / "escalation_history.xlsx"), "--as-of", "2026-11-20", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["rows"], data["escalated"]) == (297, 30)
    assert data["auc"] > 0.75


TEXTS = ["客户称将向12378投诉并找媒体曝光", "不会找媒体曝光，只要求退还手续费", "要求全额赔偿并赔礼道歉", "对处理结果不认可",
         "No problem at all", "the reporter called", "咨询信用卡还款", "", "12378"]


@pytest.mark.parametrize("words", [{}, {"patterns": {r"(投诉).{0,3}\1": 30}}, {"patterns": {r"(?i:sue)": 30}}])
def test_one_screen_search_finds_every_text_a_word_list_finds_something_in(words):
    # The screen only skips texts none of the lists matches in (each pattern is searched on its
    # own, so a back-reference keeps its meaning).
    settings = RiskSettings.from_policy(POLICY.with_overrides({"risk": {"hard_demands": words}}) if words else POLICY)
    lists = settings.word_lists
    kept = set()
    for text in TEXTS + ["I will SUE you"]:
        texts = settings.text.prepare({"description": text}, ("description",))
        screened = settings.text.prepare({"description": text}, ("description",), settings.screen)
        if screened:
            kept.add(text)
        assert [wl.find(texts) for wl in lists] == [wl.find(screened) for wl in lists], text
    # Texts holding a listed word pass the screen (a negated one too: the lists judge negation);
    # texts holding none are not searched again.
    expected = {"客户称将向12378投诉并找媒体曝光", "不会找媒体曝光，只要求退还手续费", "要求全额赔偿并赔礼道歉", "12378"}
    if "sue" in str(words):
        expected.add("I will SUE you")
    assert kept == expected


def test_a_pattern_with_a_global_flag_is_a_policy_error_not_a_crash():
    with pytest.raises(PolicyError, match="hard_demands.patterns"):
        RiskSettings.from_policy(POLICY.with_overrides({"risk": {"hard_demands": {"patterns": {"(?i)sue": 30}}}}))


def _demands(patterns: dict[str, float], text: str) -> list[tuple[str, str]]:
    """The hard demands found in ``text`` with these patterns added: (term, words as written)."""
    s = RiskSettings.from_policy(POLICY.with_overrides({"risk": {"hard_demands": {"patterns": patterns}}}))
    texts = s.text.prepare({"description": text}, ("description",))
    found = [(h.term, h.text) for h in s.hard_demands.find(texts)]
    assert s.screen.search(texts[0][1]) or not found, text  # the screen passes what the list finds
    return found


@pytest.mark.parametrize("patterns,text,found", [
    ({r"(还钱)\1": 20}, "快点还钱还钱", [(r"(还钱)\1", "还钱还钱")]),
    ({r"(\S)\1{2}": 20}, "我要投诉！！！", [(r"(\S)\1{2}", "!!!")]),  # \S as written, not folded to \s
    ({r"(\S)\1{2}": 20}, "我要投诉   ", []),
    ({r"(?P<x>退款)(?P=x)": 20}, "退款退款", [(r"(?P<x>退款)(?P=x)", "退款退款")]),
    # the same group name in two patterns, and the name the list's own words went by
    ({r"(?P<x>退款)(?P=x)": 20, r"(?P<x>还钱)(?P=x)": 20, r"(?P<w>催)(?P=w)": 20}, "还钱还钱，退款退款，催催",
     [(r"(?P<x>还钱)(?P=x)", "还钱还钱"), (r"(?P<x>退款)(?P=x)", "退款退款"), (r"(?P<w>催)(?P=w)", "催催")]),
    ({r"(?P<x>还钱)(?(x)还钱)": 20}, "还钱还钱", [(r"(?P<x>还钱)(?(x)还钱)", "还钱还钱")]),
    # found in its place among the list's words and other patterns
    ({r"(还钱)\1": 20}, "要求赔偿，快点还钱还钱，找行长", [("赔偿", "赔偿"), (r"(还钱)\1", "还钱还钱"), ("找(你们|贵行|你行)?的?(行长|领导|负责人)", "找行长")]),
])
def test_a_pattern_with_a_back_reference_finds_what_it_says_inside_its_list(patterns, text, found):
    """A pattern is matched as written: its group numbers and names are its own, not the joined
    list's, and folding (full-width forms, case) leaves its escapes alone."""
    assert _demands(patterns, text) == found


@pytest.mark.parametrize("text", ["赔偿赔偿", "不要赔偿赔偿", "还钱还钱赔偿赔偿", "不会找领导，赔偿赔偿赔偿", "快点还钱还钱还钱", "还钱还还钱还钱",
                                  "快快赔偿", "快快快赔偿"])
def test_a_pattern_with_a_back_reference_takes_its_turn_as_the_same_pattern_written_out(text):
    """Words first, then patterns in their order, leftmost match first, none overlapping; a negation
    covers the run of terms after it: as if the back-reference were spelled out."""
    for ref, plain in ((r"(赔偿)\1", "赔偿赔偿"), (r"(还钱)\1", "还钱还钱"), (r"(?P<x>还钱)(?P=x)", "还钱还钱"), (r"(快)\1赔偿", "快快赔偿")):
        spelled = [text_ for _, text_ in _demands({plain: 20}, text)]
        assert [text_ for _, text_ in _demands({ref: 20}, text)] == spelled, (ref, text)


@pytest.mark.parametrize("pattern,detail", [
    (r"(还钱)\2", "invalid group reference 2 at position 5"),
    (r"(?P<x>还钱)(?P=y)", "unknown group name 'y' at position 13"),
])
def test_a_back_reference_to_no_group_is_a_policy_error_at_its_position(pattern, detail):
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(POLICY.with_overrides({"risk": {"hard_demands": {"patterns": {pattern: 20}}}}))
    assert caught.value.code == "risk_pol_bad_regex"
    assert caught.value.text("en") == f"risk.hard_demands.patterns: {pattern!r} is not a valid regular expression ({detail})"


def test_risk_looks_back_on_the_customers_dedupe_found_for_the_same_batch(monkeypatch):
    rows = [row("T1", "2026-03-02"), row("T2", "2026-05-04", text="信用卡年费未经同意扣收"), row("T3", "2026-06-01", person=2)]
    # T2 is T1's customer on another issue: only a customer factor can see it.
    expected = {"T1": [], "T2": ["earlier_other"], "T3": []}
    calls = []
    real = risk_module.customer_keys
    monkeypatch.setattr(risk_module, "customer_keys", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert {cid: codes(r) for cid, r in assess(rows).items()} == expected
    assert calls == []  # dedupe resolved the customers of this batch: risk did not again
    # Given a dedupe result of another batch, risk resolves its own customers.
    other = risk_module.dedupe([register(rows[:1])], POLICY)
    report = risk_module.assess([register(rows)], POLICY, ASOF, duplicates=other)
    assert calls == [1] and {r.id: codes(r) for r in report.rows} == expected


def test_alike_reasons_of_different_rows_are_one_object_rendered_once():
    got = assess([row("T1", "2026-03-02", person=1, 流转次数=3), row("T2", "2026-03-05", person=2, 流转次数=3),
                   row("T3", "2026-03-06", person=3, 流转次数=4)])
    first, second, other = (next(x for x in got[cid].reasons if x.code == "transfers") for cid in ("T1", "T2", "T3"))
    assert first is second and first is not other
    assert reason(got["T1"], "transfers") == reason(got["T2"], "transfers") != reason(got["T3"], "transfers")
    assert "3" in reason(got["T1"], "transfers") and "4" in reason(got["T3"], "transfers")


# The same issue (定价收费, by the classifier) in other words: a history row has no 投诉类别 and its
# text is not like the new one's, so only the classifier links the two.
ANNUAL_FEE = "信用卡年费被多收了，办卡时说首年免年费，要求退还年费。"
INSTALMENT_FEE = "又扣了我两百块的分期手续费，收费标准根本没告知，乱收费。"


def test_a_repeat_across_history_is_linked_by_the_classified_reason(runner, tmp_path):
    """History rows are classified as the current ones are (the pipeline's classifier), through the
    CLI on real files and through the store."""
    old = write_xlsx(tmp_path / "2025-12.xlsx", [row("C-1201", "2025-12-10", ANNUAL_FEE)], HEADERS)
    new = write_xlsx(tmp_path / "2026-01.xlsx", [row("C-0103", "2026-01-20", INSTALMENT_FEE)], HEADERS)
    for result in _risk_by_file_and_by_store(runner, tmp_path, old, new):
        assert result.exit_code == 0, result.output
        [got] = json.loads(result.output)["rows"]
        first = got["reasons"][0]
        assert first["code"] == "repeat" and "（定价收费）" in first["message"] and "C-1201 (2025-12-10, 历史)" in first["message"]
    # Without the classifier nothing says the two are one issue.
    off = tmp_path / "off.toml"
    off.write_text("[dedupe.repeat]\nuse_classifier = false\n", encoding="utf-8")
    alone = runner.invoke(cli, ["risk", str(new), "--history", str(old), "--config", str(off), "--as-of", "2026-01-31", "--format", "json"])
    assert alone.exit_code == 0 and not [r for x in json.loads(alone.output)["rows"] for r in x["reasons"] if r["code"] == "repeat"]
