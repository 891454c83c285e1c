"""Decision deadlines and follow-ups: hand-checked dates around every 2025/2026 holiday and 调休 day,
the policy settings, row statuses, urgency order, the JSON contract, the CLI and the annotated copy.

Every expected date below was worked out by hand on a calendar from the State Council notices
(receipt day not counted, 15 calendar days, a non-working end day moves to the next working day).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from complaintkit.cli import cli
from complaintkit.deadlines import (DeadlineCalculator, DeadlineSettings, check_deadlines, days_left, decision_deadline, due_date,
                                   evaluate_record)
from complaintkit.errors import PolicyError
from complaintkit.loader import LoadOptions, load_register
from complaintkit.policy import load_policy
from complaintkit.register import Record, Register
from complaintkit.sheetplan import AMBER, RED
from complaintkit.workcalendar import CalendarCoverageWarning, WorkCalendar

from conftest import good_row, sha256, write_xlsx

D = dt.date.fromisoformat
AS_OF = "2026-11-20"  # a Friday

# received -> decision due, default policy (15 calendar days, roll forward)
DECISION_CASES = [
    # 2025 Spring Festival (01-28..02-04; 调休 Sun 01-26, Sat 02-08)
    ("2025-01-11", "2025-01-26"),  # ends on the 调休 Sunday: a working day, stays
    ("2025-01-12", "2025-01-27"),  # Monday before the holiday
    ("2025-01-13", "2025-02-05"),  # ends on 除夕 01-28 -> after the holiday
    ("2025-01-20", "2025-02-05"),  # ends on 02-04, the last holiday day -> Wed 02-05
    ("2025-01-24", "2025-02-08"),  # ends on the 调休 Saturday: stays
    ("2025-01-25", "2025-02-10"),  # ends on Sun 02-09 -> Mon
    # 2025 Qingming (04-04..06), Labour Day (05-01..05; 调休 Sun 04-27), Dragon Boat (05-31..06-02)
    ("2025-03-20", "2025-04-07"),
    ("2025-04-12", "2025-04-27"),  # ends on the 调休 Sunday
    ("2025-04-16", "2025-05-06"),
    ("2025-05-16", "2025-06-03"),
    ("2025-05-17", "2025-06-03"),
    # 2025 National Day + Mid-Autumn (10-01..08; 调休 Sun 09-28, Sat 10-11)
    ("2025-09-13", "2025-09-28"),  # ends on the 调休 Sunday
    ("2025-09-16", "2025-10-09"),
    ("2025-09-26", "2025-10-11"),  # ends on the 调休 Saturday
    ("2025-09-27", "2025-10-13"),  # ends on Sun 10-12 -> Mon
    # 2026 New Year (01-01..03; 调休 Sun 01-04)
    ("2025-12-17", "2026-01-04"),  # ends on New Year's Day, rolls onto the 调休 Sunday
    ("2025-12-20", "2026-01-04"),  # ends on the 调休 Sunday
    # 2026 Spring Festival (02-15..23; 调休 Sat 02-14, Sat 02-28)
    ("2026-01-30", "2026-02-14"),  # ends on the 调休 Saturday
    ("2026-02-01", "2026-02-24"),  # ends on 02-16 -> after the nine-day holiday
    ("2026-02-13", "2026-02-28"),  # ends on the 调休 Saturday
    ("2026-02-14", "2026-03-02"),  # ends on Sun 03-01 -> Mon
    # 2026 Qingming (04-04..06), Labour Day (05-01..05; 调休 Sat 05-09), Dragon Boat (06-19..21)
    ("2026-03-21", "2026-04-07"),
    ("2026-04-16", "2026-05-06"),
    ("2026-04-24", "2026-05-09"),  # ends on the 调休 Saturday
    ("2026-06-04", "2026-06-22"),
    # 2026 Mid-Autumn (09-25..27), National Day (10-01..07; 调休 Sun 09-20, Sat 10-10)
    ("2026-09-05", "2026-09-20"),  # ends on the 调休 Sunday
    ("2026-09-10", "2026-09-28"),
    ("2026-09-16", "2026-10-08"),
    ("2026-09-25", "2026-10-10"),  # ends on the 调休 Saturday
    # plain weekend
    ("2026-11-20", "2026-12-07"),  # ends on Sat 12-05 -> Mon
]

# received -> due when 是否延期 = 是 (15 + 30 = 45 calendar days)
EXTENDED_CASES = [
    ("2025-08-23", "2025-10-09"),  # ends on 10-07, inside National Day
    ("2026-01-03", "2026-02-24"),  # ends on 02-17, inside Spring Festival
    ("2025-12-05", "2026-01-19"),  # a plain Monday
]


@pytest.mark.parametrize("received,expected", DECISION_CASES)
def test_decision_due_hand_checked(received, expected):
    assert due_date(received) == D(expected)


@pytest.mark.parametrize("received,expected", EXTENDED_CASES)
def test_extended_due_hand_checked(received, expected):
    assert due_date(received, "是") == D(expected)
    assert due_date(received, True) == D(expected)


def test_worksheet_arguments():
    assert due_date(45677) == D("2025-02-05")             # Excel serial of 2025-01-20
    assert due_date("2025年1月20日", "否") == D("2025-02-05")
    assert due_date(dt.datetime(2025, 1, 20, 9, 30)) == D("2025-02-05")
    assert due_date("2025-08-23", "yes") == D("2025-10-09")  # policy alias of 是
    assert days_left("2026-11-20", as_of="2026-11-22") == 15   # due 2026-12-07
    assert days_left("2026-10-23", as_of=AS_OF) == -11          # due 2026-11-09
    with pytest.raises(ValueError):
        due_date("soon")


_BASE = load_policy()


def _policy(**deadlines: Any):
    return _BASE.with_overrides({"deadlines": deadlines})


def test_working_day_count():
    # 15 working days after Mon 2025-01-20: 01-21..24 (4), Sun 01-26 调休 (5), 01-27 (6), holiday,
    # 02-05..07 (9), Sat 02-08 调休 (10), 02-10..14 (15)
    assert due_date("2025-01-20", policy=_policy(count="working")) == D("2025-02-14")


def test_no_roll_forward_keeps_the_plain_count():
    assert due_date("2025-01-20", policy=_policy(roll_forward=False)) == D("2025-02-04")


def test_other_day_counts():
    assert due_date("2025-01-20", policy=_policy(days=7)) == D("2025-01-27")   # Mon before the holiday
    assert due_date("2025-01-20", policy=_policy(days=8)) == D("2025-02-05")   # 01-28 除夕 -> after the holiday
    assert due_date("2025-01-20", True, policy=_policy(extension_days=15)) == D("2025-02-19")


def test_override_by_tier_is_shorter_and_the_strictest_rule_wins():
    policy = _policy(overrides={"customer_tier": {"私人银行": {"days": 10}}, "channel": {"信函": {"days": 20}}})
    # 10 days after Tue 2026-09-15 is Fri 09-25, Mid-Autumn -> Mon 09-28; the default gives Wed 09-30
    assert due_date("2026-09-15", policy=policy) == D("2026-09-30")
    assert due_date("2026-09-15", policy=policy, customer_tier="私人银行") == D("2026-09-28")
    # a longer rule for the channel never lengthens the deadline
    assert due_date("2026-09-15", policy=policy, channel="信函") == D("2026-09-30")
    assert due_date("2026-09-15", policy=policy, channel="信函", customer_tier="私人银行") == D("2026-09-28")


@pytest.mark.parametrize("deadlines,message", [
    ({"count": "weekly"}, "calendar"),
    ({"days": -1}, "whole number"),
    ({"roll_forward": "yes"}, "true or false"),
    ({"overrides": {"customer_tier": {"私人银行": {"dayz": 10}}}}, "unknown keys"),
    ({"overrides": {"handler": {"张三": {"days": 10}}}}, "overrides are by"),
    ({"paused_statuses": "鉴定中"}, "list"),
])
def test_bad_deadline_policy_is_a_policy_error(deadlines, message):
    with pytest.raises(PolicyError, match=message):
        DeadlineSettings.from_policy(_policy(**deadlines))


def test_uncovered_year_warns_and_uses_weekends():
    with pytest.warns(CalendarCoverageWarning, match="2027"):
        # 2027-01-01 is really New Year's Day, but no data: a Friday is taken as a working day
        assert due_date("2026-12-17") == D("2027-01-01")
    policy = load_policy().with_overrides({"deadlines": {"calendar": {"extra_holidays": [D("2027-01-01")], "complete_years": [2027]}}})
    assert due_date("2026-12-17", policy=policy) == D("2027-01-04")


# --- properties ----------------------------------------------------------------------------------

received_days = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 10, 1))
_CAL = WorkCalendar()


@settings(max_examples=150, deadline=None)
@given(received_days, st.booleans(), st.sampled_from(["calendar", "working"]), st.integers(min_value=1, max_value=20))
def test_due_is_a_working_day_and_never_before_the_plain_count(received, extended, count, days):
    policy = _policy(count=count, days=days, extension_days=30)
    due = due_date(received, extended, policy)
    plain = received + dt.timedelta(days=days + (30 if extended else 0))
    assert due >= plain
    assert chinese_calendar.is_workday(due)
    if count == "calendar":  # and it is the first working day from the plain count on
        assert not any(chinese_calendar.is_workday(plain + dt.timedelta(days=i)) for i in range((due - plain).days))


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 12, 20)))
def test_followup_due_is_the_third_working_day(closed):
    reg = _memory(received_date=closed - dt.timedelta(days=3), status="已办结", closed_date=closed)
    report = check_deadlines([reg], _BASE, D("2026-12-31"))
    due = report.rows[0].followup_due
    assert chinese_calendar.is_workday(due)
    assert sum(chinese_calendar.is_workday(closed + dt.timedelta(days=i)) for i in range(1, (due - closed).days + 1)) == 3


@settings(max_examples=50, deadline=None)
@given(st.dates(min_value=dt.date(2026, 12, 17), max_value=dt.date(2035, 12, 31)))
def test_uncovered_year_always_gives_a_warning(received):
    # from 2026-12-17 on, 15 days reach into 2027, which the data does not cover
    report = check_deadlines([_memory(received_date=received, status="处理中")], _BASE, received)
    assert [w.year for w in report.calendar_warnings] and all(w.year >= 2027 for w in report.calendar_warnings)
    assert report.to_dict()["warnings"][0]["code"] == "calendar_not_covered"


# --- registers -------------------------------------------------------------------------------

HEADERS = ["投诉编号", "受理日期", "投诉渠道", "受理机构", "客户姓名", "客户等级", "业务类型", "投诉内容", "处理人",
           "处理状态", "是否延期", "办结日期", "回访日期", "回访结果"]


def _row(cid: str, received: Any = None, status: str = "处理中", closed: Any = None, followup: Any = None,
         result: str | None = None, branch: str = "城东支行", tier: str = "普通", extended: str = "否", handler: str = "张敏") -> list[Any]:
    day = lambda v: D(v) if isinstance(v, str) else v  # noqa: E731
    return [cid, day(received), "柜面", branch, "王小明", tier, "信用卡", "年费被多收", handler, status, extended,
            day(closed), day(followup), result]


def _write(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(["投诉登记台账（2026年）"])
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def _memory(**values: Any) -> Register:
    """A one-row register in memory (property tests run hundreds of rows: no files)."""
    rec = Record("mem.xlsx", "台账", 3, {"complaint_id": "M1", **values}, {})
    return Register("mem.xlsx", "台账", 2, [], [rec])


# Excel rows 3.. (title in row 1, header in row 2); as of Fri 2026-11-20.
MORNING = [
    _row("A01", "2026-10-23"),                                                        # 3: due 11-09 -> overdue 11
    _row("A02", "2026-11-05"),                                                        # 4: due 11-20 -> due today
    _row("A03", "2026-11-07", status="待处理"),                                       # 5: due Sun 11-22 -> Mon 11-23, 3 left
    _row("A04", "2026-11-11"),                                   # 6: due 11-26 -> on track, 6 left (4 working days)
    _row("A05", "2026-10-12", "已办结", "2026-10-20", "2026-10-22", "满意"),          # 7: closed on time, followed up
    _row("A06", "2026-09-16", "已办结", "2026-10-09", "2026-10-12", "满意"),          # 8: due 10-08, closed 10-09 -> late 1;
                                                                                      #    follow-up due 10-13 (Sat 10-10 调休 counts)
    _row("A07", "2026-11-02", "已办结", "2026-11-10"),                                # 9: follow-up due 11-13 -> overdue 7
    _row("A08", "2026-11-10", "已办结", "2026-11-18"),                                # 10: follow-up due Mon 11-23 -> pending, 3 left
    _row("A09", "2026-10-01", "已撤销"),                                              # 11: cancelled: no deadline
    _row("A10", None),                                                                # 12: no received date
    _row("A11", "2026-10-01", extended="是", branch="城西支行"),                      # 13: 45 days -> Sun 11-15 -> Mon 11-16, overdue 4
    _row("A12", "2026-11-06", tier="私人银行", branch="城西支行"),                    # 14: due Sat 11-21 -> Mon 11-23 (10 days with the override)
    _row("A13", "2026-11-01", "已办结", result="满意"),                               # 15: closed without a date -> unknown
    _row("A14", "2026-11-01", "处理中", closed="2026-11-03"),                         # 16: status says open: due 11-16 -> overdue 4
]


@pytest.fixture
def morning(tmp_path) -> Path:
    return _write(tmp_path / "台账.xlsx", MORNING)


def run(runner, *args: str):
    return runner.invoke(cli, ["followups", *args])


def run_json(runner, *args: str) -> tuple[Any, dict]:
    result = run(runner, *args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(result.stdout)


def test_every_row_status_at_the_as_of_date(runner, morning):
    _, data = run_json(runner, str(morning), "--as-of", AS_OF)
    got = {r["id"]: (r["decision_due"], r["status"], r["days_overdue"], r["followup_due"], r["followup_status"]) for r in data["rows"]}
    assert got == {
        "A01": ("2026-11-09", "overdue", 11, None, None),
        "A02": ("2026-11-20", "due_soon", 0, None, None),
        "A03": ("2026-11-23", "due_soon", 0, None, None),
        "A04": ("2026-11-26", "on_track", 0, None, None),
        "A05": ("2026-10-27", "closed_on_time", 0, "2026-10-23", "done"),
        "A06": ("2026-10-08", "closed_late", 1, "2026-10-13", "done"),
        "A07": ("2026-11-17", "closed_on_time", 0, "2026-11-13", "overdue"),
        "A08": ("2026-11-25", "closed_on_time", 0, "2026-11-23", "pending"),
        "A09": (None, "cancelled", None, None, None),
        "A10": (None, "unknown", None, None, None),
        "A11": ("2026-11-16", "overdue", 4, None, None),
        "A12": ("2026-11-23", "due_soon", 0, None, None),
        "A13": ("2026-11-16", "unknown", None, None, None),
        "A14": ("2026-11-16", "overdue", 4, None, None),
    }
    by_id = {r["id"]: r for r in data["rows"]}
    assert by_id["A10"]["reason"] == "缺少受理日期"
    assert "没有办结日期" in by_id["A13"]["reason"]
    assert by_id["A02"]["days_left"] == 0 and by_id["A03"]["days_left"] == 3 and by_id["A07"]["followup_days_left"] == -7


def test_table_is_sorted_by_urgency(runner, morning):
    _, data = run_json(runner, str(morning), "--as-of", AS_OF)
    order = [r["id"] for r in data["rows"]]
    # most overdue first (A01 by 11, the follow-up of A07 by 7, A11 and A14 by 4), then due soonest,
    # then the rows that cannot be computed, then the finished ones in row order
    assert order == ["A01", "A07", "A11", "A14", "A02", "A03", "A08", "A12", "A04", "A10", "A13", "A05", "A06", "A09"]
    table = run(runner, str(morning), "--as-of", AS_OF, "--format", "table").stdout
    lines = [line for line in table.splitlines() if line[:1].isdigit()]
    assert [line.split()[1] for line in lines] == order
    assert "已超期 11 天" in lines[0] and "回访超期 7 天" in lines[1] and "今天到期" in lines[4]


def test_json_contract(runner, morning):
    _, data = run_json(runner, str(morning), "--as-of", AS_OF)
    assert set(data) == {"as_of", "summary", "rows", "warnings"}
    assert data["as_of"] == AS_OF and data["warnings"] == []
    for r in data["rows"]:
        assert {"row", "sheet", "id", "decision_due", "status", "days_overdue", "followup_due", "followup_status"} <= set(r)
        assert r["sheet"] == "台账" and isinstance(r["row"], int) and "explanation" not in r
    assert {r["id"]: r["row"] for r in data["rows"]}["A01"] == 3
    s = data["summary"]
    assert (s["rows"], s["overdue"], s["due_soon"], s["on_track"], s["closed_on_time"], s["closed_late"], s["cancelled"], s["unknown"]) == (14, 3, 3, 1, 3, 1, 1, 2)
    assert (s["followup_overdue"], s["followup_pending"], s["followup_done"]) == (1, 1, 2)
    assert (s["errors"], s["warnings"]) == (4, 6)  # A01 A07 A11 A14; A02 A03 A08 A12 A10 A13


def test_status_and_branch_filters(runner, morning):
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--status", "overdue")
    assert [r["id"] for r in data["rows"]] == ["A01", "A07", "A11", "A14"]  # A07: its follow-up is overdue
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--status", "overdue,due_soon", "--branch", "城西")
    assert [r["id"] for r in data["rows"]] == ["A11", "A12"]
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--status", "due_soon")
    assert [r["id"] for r in data["rows"]] == ["A02", "A03", "A08", "A12"]  # A08: follow-up due in 3 days
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--status", "closed_late", "--status", "cancelled")
    assert [r["id"] for r in data["rows"]] == ["A06", "A09"]
    bad = run(runner, str(morning), "--as-of", AS_OF, "--status", "late")
    assert bad.exit_code == 2 and "late" in bad.output


def test_exit_codes(runner, morning):
    assert run(runner, str(morning), "--as-of", AS_OF, "--format", "json").exit_code == 1
    assert run(runner, str(morning), "--as-of", AS_OF, "--format", "json", "--fail-on", "none").exit_code == 0
    # the filter applies to the exit code: only due-soon rows are not errors ...
    assert run(runner, str(morning), "--as-of", AS_OF, "--format", "json", "--status", "due_soon").exit_code == 0
    # ... but they are warnings
    assert run(runner, str(morning), "--as-of", AS_OF, "--format", "json", "--status", "due_soon", "--fail-on", "warning").exit_code == 1
    # a month earlier nothing is due yet in the on-track row alone
    assert run(runner, str(morning), "--as-of", "2026-11-01", "--format", "json", "--status", "on_track", "--fail-on", "warning").exit_code == 0
    missing = run(runner, "no-such-file.xlsx", "--as-of", AS_OF)
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_explain_says_how_each_date_was_made(runner, morning):
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--explain")
    steps = {r["id"]: r["explanation"] for r in data["rows"]}
    a06 = "\n".join(steps["A06"])
    assert "2026-09-16 加 15 天 → 2026-10-01（周四，法定节假日（国庆节））" in a06
    assert "顺延至下一个工作日 2026-10-08" in a06
    assert "计入 2026-10-10 调休上班日（国庆节）" in a06 and "回访期限 2026-10-13" in a06
    assert any("已延期" in s for s in steps["A11"])
    assert any("不作依据" in s for s in steps["A14"])
    table = run(runner, str(morning), "--as-of", AS_OF, "--format", "table", "--explain", "--lang", "en").stdout
    assert "row 3 A01" in table and "moved to the next working day 2026-11-09" in table
    csv_text = run(runner, str(morning), "--as-of", AS_OF, "--format", "csv", "--explain").stdout
    assert "计算过程" in csv_text.splitlines()[0]


def test_private_banking_override_from_a_config_file(runner, morning, tmp_path):
    config = tmp_path / "bank.toml"
    config.write_text('[deadlines.overrides.customer_tier]\n"私人银行" = { days = 10 }\n', "utf-8")
    _, data = run_json(runner, str(morning), "--as-of", AS_OF, "--config", str(config), "--explain")
    a12 = {r["id"]: r for r in data["rows"]}["A12"]
    # 10 days after 2026-11-06 is Mon 11-16: overdue by 4
    assert (a12["decision_due"], a12["status"], a12["days_overdue"], a12["rule"]) == ("2026-11-16", "overdue", 4, "customer_tier=私人银行")
    assert any("客户等级为“私人银行”的规则" in s for s in a12["explanation"])


def test_explanation_lists_the_rules_compared_and_the_days_skipped_in_either_language():
    """Messages inside a list inside a message (the rules compared, each naming its source; the
    runs of days skipped), each rendered in the explanation's language."""
    policy = load_policy().with_overrides({"deadlines": {"overrides": {"channel": {"柜面": {"days": 4, "count": "working"}}}}})
    calc = DeadlineCalculator.from_policy(policy)
    due, rule, steps = decision_deadline(D("2026-09-24"), False, calc.settings.rules_for({"channel": "柜面"}), calc.settings, calc.calendar)
    assert (due, rule.name) == (D("2026-10-08"), "channel=柜面")
    assert [s.render() for s in steps] == [
        "适用多条规则，取最早的时限：默认策略 → 2026-10-09、投诉渠道为“柜面”的规则 → 2026-10-08",
        "时限 4 个工作日（基本时限；投诉渠道为“柜面”的规则），受理当日不计",
        "2026-09-24 之后第 4 个工作日 → 2026-10-08（周四，工作日）；跳过 2026-09-25至2026-09-27 法定节假日（中秋）、2026-10-01至2026-10-07 法定节假日（国庆节）",
    ]
    assert [s.render("en") for s in steps] == [
        "several rules apply, the earliest deadline is used: default policy → 2026-10-09, rule for channel = 柜面 → 2026-10-08",
        "time limit 4 working days (basic limit; rule for channel = 柜面); the day of receipt is not counted",
        "working day 4 after 2026-09-24 → 2026-10-08 (Thu, working day); skipped 2026-09-25 to 2026-09-27 statutory holiday"
        " (Mid-autumn Festival), 2026-10-01 to 2026-10-07 statutory holiday (National Day)",
    ]


def test_paused_status(runner, tmp_path):
    path = _write(tmp_path / "p.xlsx", [_row("P1", "2026-09-01", status="鉴定中")])
    config = tmp_path / "p.toml"
    config.write_text('[deadlines]\npaused_statuses = ["鉴定中"]\n', "utf-8")
    result, data = run_json(runner, str(path), "--as-of", AS_OF, "--config", str(config))
    assert data["rows"][0]["status"] == "paused" and data["rows"][0]["decision_due"] == "2026-09-16"
    assert result.exit_code == 0
    # without the setting an unknown status is taken by its closing date: none, so open, and overdue
    _, data = run_json(runner, str(path), "--as-of", AS_OF)
    assert data["rows"][0]["status"] == "overdue"


def test_uncovered_year_warning_on_stderr_and_in_json(runner, tmp_path):
    path = _write(tmp_path / "late.xlsx", [_row("L1", "2026-12-20"), _row("L2", "2026-11-02")])
    result = run(runner, str(path), "--as-of", "2027-01-10", "--format", "json")
    data = json.loads(result.stdout)
    assert data["warnings"] == [{"code": "calendar_not_covered", "year": 2027, "rows": 1, "message": data["warnings"][0]["message"]}]
    assert "2027年不在节假日数据范围内" in result.stderr and "complete_years" in result.stderr
    # 2026-12-20 + 15 = Mon 2027-01-04, judged by weekends only
    assert {r["id"]: r["decision_due"] for r in data["rows"]}["L1"] == "2027-01-04"
    # a coverage warning is a warning for the exit code: on 2026-12-21 L1 is on track (due in 14 days)
    on_track = ["--as-of", "2026-12-21", "--format", "json", "--status", "on_track"]
    assert run(runner, str(path), *on_track, "--fail-on", "warning").exit_code == 1
    assert run(runner, str(path), *on_track, "--fail-on", "error").exit_code == 0
    table = run(runner, str(path), *on_track[:2], "--format", "table").stdout
    assert "未到期（剩 14 天）（2027年无节假日数据，仅按周末推算）" in table
    # and a filter that leaves out the 2027 rows leaves out their warning
    assert json.loads(run(runner, str(path), "--as-of", "2026-12-21", "--format", "json", "--status", "overdue").stdout)["warnings"] == []


def test_annotated_copy(runner, morning, tmp_path):
    before = sha256(morning)
    out = tmp_path / "annotated.xlsx"
    result = run(runner, str(morning), "--as-of", AS_OF, "--format", "json", "-o", str(out))
    assert result.exit_code == 1 and sha256(morning) == before
    wb = load_workbook(out)
    ws = wb["台账"]
    headers = {c.value: c.column for c in ws[2] if c.value}
    for name in ("CK-办理时限", "CK-时限状态", "CK-回访期限", "CK-回访状态"):
        assert name in headers
    due, status, fu_due, fu_status = (headers[n] for n in ("CK-办理时限", "CK-时限状态", "CK-回访期限", "CK-回访状态"))

    def cell(row: int, col: int):
        return ws.cell(row=row, column=col)

    def fill(row: int, col: int) -> str | None:
        c = cell(row, col)
        return c.fill.start_color.rgb[-6:] if c.fill.fill_type == "solid" else None

    assert cell(3, due).value.date() == D("2026-11-09") and cell(3, status).value == "已超期 11 天"
    assert fill(3, status) == RED and fill(3, due) == RED
    assert cell(4, status).value == "今天到期" and fill(4, status) == AMBER
    assert cell(6, status).value == "未到期（剩 6 天）" and fill(6, status) is None
    assert cell(9, fu_status).value == "回访超期 7 天" and fill(9, fu_status) == RED
    assert cell(10, fu_status).value == "待回访（剩 3 天）" and fill(10, fu_status) == AMBER
    assert cell(8, fu_due).value.date() == D("2026-10-13") and cell(8, status).value == "超期办结（晚 1 天）"
    assert cell(11, status).value == "已撤销，不计时限" and cell(11, due).value is None
    assert cell(12, status).value == "无法计算：缺少受理日期"
    # the reminder sheet: rows to act on, most urgent first, linked to their row
    remind = wb["CK-时限提醒"]
    ids = [r[1] for r in remind.iter_rows(min_row=2, values_only=True)]
    assert ids == ["A01", "A07", "A11", "A14", "A02", "A03", "A08", "A12", "A10", "A13"]
    assert remind.cell(row=2, column=1).hyperlink.location == "'台账'!A3"
    # user data untouched, and a second run on the copy refreshes the same columns
    assert [c.value for c in ws[3]][:3] == ["A01", dt.datetime(2026, 10, 23), "柜面"]
    again = tmp_path / "again.xlsx"
    assert run(runner, str(out), "--as-of", "2026-11-23", "--format", "json", "-o", str(again)).exit_code == 1
    ws2 = load_workbook(again)["台账"]
    assert [c.value for c in ws2[2]].count("CK-时限状态") == 1
    assert ws2.cell(row=4, column=status).value == "已超期 3 天"


def test_english_workbook_columns(runner, morning, tmp_path):
    out = tmp_path / "en.xlsx"
    run(runner, str(morning), "--as-of", AS_OF, "--format", "json", "--lang", "en", "-o", str(out))
    ws = load_workbook(out)["台账"]
    assert {"CK-decision due", "CK-deadline status", "CK-follow-up due", "CK-follow-up status"} <= {c.value for c in ws[2]}


def test_the_operation_is_the_cli_result(morning):
    from complaintkit.operations import OpContext, run_operation

    reg = load_register(morning, LoadOptions(load_policy()))
    result = run_operation("followups", [reg], OpContext(load_policy(), D(AS_OF)))
    assert (result.errors, result.warnings) == (4, 6)
    assert result.data["rows"][0]["id"] == "A01"
    assert [p.op for p in result.plans_for(reg)] == ["followups"]


def test_remembered_dates_still_count_their_uncovered_year():
    # the second row reuses the first one's arithmetic; it must still be counted in the warning
    recs = [Record("m.xlsx", "台账", r, {"complaint_id": f"M{r}", "received_date": D("2026-12-20"), "status": "处理中"}, {})
            for r in (3, 4)]
    report = check_deadlines([Register("m.xlsx", "台账", 2, [], recs)], _BASE, D("2026-12-21"))
    assert [(w.year, w.rows) for w in report.calendar_warnings] == [(2027, 2)]
    assert all(r.uncovered == {2027} for r in report.rows)


def test_extended_values_are_read_once_each_and_true_is_not_one(monkeypatch):
    """是否延期 as typed: 是, Yes, True count as extended; 1 is a number, not True, even though
    True == 1 in Python (each distinct value is remembered by its type too)."""
    from complaintkit.deadlines import DeadlineCalculator, DeadlineSettings

    read: list = []
    real = DeadlineSettings.is_extended
    monkeypatch.setattr(DeadlineSettings, "is_extended", lambda self, value: read.append(value) or real(self, value))
    calc = DeadlineCalculator.from_policy(load_policy())
    assert calc.extended(True) is True and calc.extended(1) is False
    assert calc.extended("是") is True and calc.extended("否") is False and calc.extended(None) is False
    assert calc.extended(True) is True and calc.extended(1) is False and calc.extended("是") is True  # remembered
    assert read == [True, 1, "是", "否", None]  # each distinct value read once


@pytest.mark.parametrize("as_of,due,count,status", [
    ("2026-09-30", "2026-10-09", "working", "due_soon"),   # 国庆: 9 calendar days, 1 working day
    ("2026-09-30", "2026-10-09", "calendar", "on_track"),
    ("2026-11-20", "2026-11-24", "working", "due_soon"),   # Friday: Tuesday is 2 working days away
    ("2026-11-20", "2026-11-24", "calendar", "on_track"),  # ... and 4 calendar days
    ("2026-11-20", "2026-11-26", "working", "on_track"),   # 4 working days
    ("2026-11-20", "2026-11-23", "calendar", "due_soon"),
])
def test_the_due_soon_window_counts_working_days_by_default(tmp_path, as_of, due, count, status):
    """A branch closed for a holiday still has the deadline after it: on 9-30 a case due 10-09 is
    due soon. deadlines.warning_count = "calendar" counts every day instead."""
    policy = load_policy() if count == "working" else load_policy().with_overrides({"deadlines": {"warning_count": "calendar"}})
    received = D(due) - dt.timedelta(days=15)  # the 15 days of the default rule, so the deadline is `due`
    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1, 受理日期=received, 处理状态="处理中", 办结日期=None, 回访日期=None, 回访结果=None)])
    reg = load_register(path, LoadOptions(policy))
    calc = DeadlineCalculator.from_policy(policy)
    row = evaluate_record(reg.records[0], D(as_of), calc)
    assert (row.decision_due, row.status) == (D(due), status)
    explained = row.explanation()
    if status == "due_soon" and count == "working":
        assert "个工作日，还剩" in explained[-1], explained
