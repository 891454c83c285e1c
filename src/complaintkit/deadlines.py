"""Decision deadlines (办理时限) and follow-up calls (回访) on China's working-day calendar.

Pure: records, policy and an as-of date in; a ``FollowupReport`` out. Every number is a policy
setting (``[deadlines]``); every date carries the steps that produced it, so a branch can check it
by hand (``--explain``). ``due_date``, ``days_left`` and ``working_days_between`` are the add-in's
worksheet functions.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import PolicyError
from .fields import field_label
from .messages import ENUMERATION, Joined, Text, register_messages, t
from .normalize import EARLIEST_DATE, clean_text, value_key
from .operations import OpContext, OpResult, operation
from .policy import Policy, load_policy
from .register import Record, Register
from .sheetplan import AMBER, GREY, RED, PlanColumn, PlanTable, SheetPlan
from .workcalendar import (
    WORKDAY, CalendarWarning, DayInfo, WorkCalendar, as_date, day_count, warn_uncovered, working_days_between,
)

__all__ = [
    "DeadlineCalculator", "DeadlineRule", "DeadlineSettings", "FollowupReport", "RowDeadline", "check_deadlines",
    "days_left", "deadline_plan", "due_date", "evaluate_record", "working_days_between",
]

STATUSES = ("overdue", "due_soon", "on_track", "closed_on_time", "closed_late", "paused", "cancelled", "unknown")
FOLLOWUP_STATUSES = ("overdue", "pending", "done")
#: Decision statuses whose clock is running: the row still has to be decided.
RUNNING = ("overdue", "due_soon", "on_track")
OVERRIDE_FIELDS = ("customer_tier", "channel", "business_line")

register_messages({
    # statuses, short (table and CSV)
    "dl_overdue": ("已超期", "overdue"),
    "dl_due_soon": ("即将到期", "due soon"),
    "dl_on_track": ("未到期", "on track"),
    "dl_closed_on_time": ("按时办结", "closed on time"),
    "dl_closed_late": ("超期办结", "closed late"),
    "dl_paused": ("暂停计时", "paused"),
    "dl_cancelled": ("已撤销", "cancelled"),
    "dl_unknown": ("无法计算", "unknown"),
    "fu_done": ("已回访", "done"),
    "fu_overdue": ("回访超期", "overdue"),
    "fu_pending": ("待回访", "pending"),
    # statuses with their numbers (workbook cells, table)
    "dlx_overdue": ("已超期 {n} 天", "overdue by {n} days"),
    "dlx_due_today": ("今天到期", "due today"),
    "dlx_due_soon": ("即将到期（剩 {n} 天）", "due soon ({n} days left)"),
    "dlx_on_track": ("未到期（剩 {n} 天）", "on track ({n} days left)"),
    "dlx_closed_on_time": ("按时办结", "closed on time"),
    "dlx_closed_late": ("超期办结（晚 {n} 天）", "closed late (by {n} days)"),
    "dlx_paused": ("暂停计时（原定时限 {due}，请人工核对）", "paused (nominal deadline {due}; check by hand)"),
    "dlx_cancelled": ("已撤销，不计时限", "cancelled: no deadline"),
    "dlx_unknown": ("无法计算：{reason}", "cannot compute: {reason}"),
    "dlx_uncovered": ("（{years}年无节假日数据，仅按周末推算）", " ({years}: no holiday data, weekends only)"),
    "fux_done": ("已回访（{date}）", "done ({date})"),
    "fux_overdue": ("回访超期 {n} 天", "overdue by {n} days"),
    "fux_due_today": ("今天应回访", "due today"),
    "fux_pending": ("待回访（剩 {n} 天）", "pending ({n} days left)"),
    # why a deadline cannot be computed
    "reason_no_received": ("缺少受理日期", "no received date"),
    "reason_bad_received": ("受理日期无法识别（{value}）", "the received date is not readable ({value})"),
    "reason_too_early": ("受理日期 {date} 早于 {earliest}，不是真实的受理日", "the received date {date} is before {earliest}: not a real receipt date"),
    "reason_closed_no_date": ("状态为“{status}”但没有办结日期，无法判断是否按时办结", "status is '{status}' but there is no closed date, so timeliness cannot be judged"),
    # explanation steps (--explain)
    "ex_received": ("受理日期 {date}（{day}）", "received {date} ({day})"),
    "ex_limit": ("时限 {total} 个{unit}（{detail}；{source}），受理当日不计", "time limit {total} {unit} ({detail}; {source}); the day of receipt is not counted"),
    "ex_limit_plain": ("基本时限", "basic limit"),
    "ex_limit_extended": ("已延期：基本 {days} + 延期 {ext}", "extended: basic {days} + extension {ext}"),
    "ex_source_default": ("默认策略", "default policy"),
    "ex_source_override": ("{label}为“{value}”的规则", "rule for {label} = {value}"),
    "ex_rules_compared": ("适用多条规则，取最早的时限：{choices}", "several rules apply, the earliest deadline is used: {choices}"),
    "ex_rule_choice": ("{source} → {due}", "{source} → {due}"),
    "unit_calendar": ("自然日", "calendar days"),
    "unit_working": ("工作日", "working days"),
    "ex_count_calendar": ("{start} 加 {n} 天 → {end}（{day}）", "{start} + {n} days → {end} ({day})"),
    "ex_count_working": ("{start} 之后第 {n} 个工作日 → {end}（{day}）{notes}", "working day {n} after {start} → {end} ({day}){notes}"),
    "ex_skipped": ("；跳过 {days}", "; skipped {days}"),
    "ex_counted": ("；计入 {days}", "; counted {days}"),
    "ex_roll": ("{date} 不是工作日，顺延至下一个工作日 {due}（{day}）", "{date} is not a working day: moved to the next working day {due} ({day})"),
    "ex_no_roll": ("{date} 不是工作日，但策略 roll_forward = false，不顺延", "{date} is not a working day, but the policy has roll_forward = false"),
    "ex_workday_end": ("{date} 是{kind}，算工作日，不顺延", "{date} is a {kind}: a working day, not moved"),
    "ex_due": ("办理时限 {due}", "decision due {due}"),
    "ex_open_overdue": ("状态“{status}”未办结；检查日 {as_of} 已超过时限 {n} 天 → 已超期", "status '{status}' is open; as of {as_of} the deadline passed {n} days ago → overdue"),
    "ex_open_due_soon": ("状态“{status}”未办结；检查日 {as_of} 距时限 {n} 天（提醒窗口 {window}）→ 即将到期", "status '{status}' is open; as of {as_of} {n} days are left (warning window {window}) → due soon"),
    "ex_window_calendar": ("{n} 天", "{n} days"),
    "ex_window_working": ("{n} 个工作日，还剩 {left} 个", "{n} working days, {left} left"),
    "ex_open_on_track": ("状态“{status}”未办结；检查日 {as_of} 距时限 {n} 天 → 未到期", "status '{status}' is open; as of {as_of} {n} days are left → on track"),
    "ex_closed_on_time": ("办结日期 {closed} 不晚于时限 {due} → 按时办结", "closed {closed}, not after the deadline {due} → closed on time"),
    "ex_closed_late": ("办结日期 {closed} 晚于时限 {due} {n} 天 → 超期办结", "closed {closed}, {n} days after the deadline {due} → closed late"),
    "ex_paused": ("状态“{status}”在策略的暂停计时状态中（paused_statuses）：不判断超期，请人工核对暂停天数", "status '{status}' is in the policy's paused_statuses: not judged overdue; check the paused days by hand"),
    "ex_cancelled": ("状态“{status}”：已撤销，不计时限", "status '{status}': cancelled, no deadline"),
    "ex_status_guess": ("处理状态“{status}”不在策略的状态分组中，{guess}", "status '{status}' is in none of the policy's status groups: {guess}"),
    "ex_status_blank": ("处理状态为空，{guess}", "the status is blank: {guess}"),
    "ex_guess_closed": ("有办结日期，按已办结处理", "there is a closed date, so taken as closed"),
    "ex_guess_open": ("没有办结日期，按未办结处理", "there is no closed date, so taken as open"),
    "ex_closed_date_ignored": ("状态“{status}”表示未办结，办结日期 {closed} 不作依据", "status '{status}' means open, so the closed date {closed} is not used"),
    "ex_unknown": ("无法计算办理时限：{reason}", "the decision deadline cannot be computed: {reason}"),
    "ex_undecidable": ("无法判断时限状态：{reason}", "the deadline status cannot be judged: {reason}"),
    "ex_followup": ("回访：办结日期 {closed}（{day}），期限 {n} 个{unit}，办结当日不计", "follow-up: closed {closed} ({day}), {n} {unit} allowed, the closing day not counted"),
    "ex_followup_due": ("回访期限 {due}", "follow-up due {due}"),
    "ex_followup_done": ("回访日期 {date} → 已回访", "followed up on {date} → done"),
    "ex_followup_overdue": ("没有回访日期；检查日 {as_of} 已超过回访期限 {n} 天 → 回访超期", "no follow-up date; as of {as_of} the follow-up deadline passed {n} days ago → overdue"),
    "ex_followup_pending": ("没有回访日期；距回访期限 {n} 天 → 待回访", "no follow-up date; {n} days left → pending"),
    "ex_followup_result_no_date": ("回访结果“{result}”已填但没有回访日期，按未回访计", "follow-up result '{result}' is filled in but there is no follow-up date: counted as not done"),
    # workbook and summary
    "col_dl_due": ("CK-办理时限", "CK-decision due"),
    "col_dl_status": ("CK-时限状态", "CK-deadline status"),
    "col_fu_due": ("CK-回访期限", "CK-follow-up due"),
    "col_fu_status": ("CK-回访状态", "CK-follow-up status"),
    "sheet_deadlines": ("CK-时限提醒", "CK-deadlines"),
    "hdr_where": ("位置", "cell"),
    "hdr_branch": ("受理机构", "branch"),
    "hdr_handler": ("处理人", "handler"),
    "hdr_received": ("受理日期", "received"),
    "hdr_due": ("办理时限", "decision due"),
    "hdr_days_left": ("剩余天数", "days left"),
    "hdr_status": ("时限状态", "status"),
    "hdr_fu_due": ("回访期限", "follow-up due"),
    "hdr_fu_status": ("回访状态", "follow-up"),
    "hdr_explain": ("计算过程", "how computed"),
    "summary_followups": (
        "共 {rows} 行（检查日 {as_of}）：超期 {overdue}，即将到期 {due_soon}，回访超期 {followup_overdue}，待回访 {followup_pending}，无法计算 {unknown}",
        "{rows} rows (as of {as_of}): {overdue} overdue, {due_soon} due soon, {followup_overdue} follow-ups overdue, {followup_pending} pending, {unknown} unknown",
    ),
})


# --- explanations ------------------------------------------------------------------------------

# An explanation is a list of Text lines (a code and its parameters, rendered at output time so
# the same result reads in Chinese or English); these are the parameters that render themselves.

@dataclass(frozen=True, slots=True)
class _Label:
    """A canonical field name, shown as its header in the output language."""

    name: str

    def render(self, lang: str) -> str:
        return field_label(self.name, lang)


@dataclass(frozen=True, slots=True)
class _Day:
    """A day with its weekday and kind ('周二，法定节假日（春节）')."""

    info: DayInfo

    def render(self, lang: str) -> str:
        return self.info.describe(lang)


@dataclass(frozen=True, slots=True)
class _Kind:
    """A day's kind without its weekday ('调休上班日（春节）')."""

    info: DayInfo

    def render(self, lang: str) -> str:
        return self.info.kind_label(lang)


@dataclass(frozen=True, slots=True)
class _Range:
    """Consecutive days of one kind: '2025-01-28至2025-02-04 法定节假日（春节）'."""

    first: DayInfo
    last: DayInfo

    def render(self, lang: str) -> str:
        what = self.first.kind_label(lang)
        if self.first.date == self.last.date:
            return f"{self.first.date.isoformat()} {what}"
        joint = " to " if lang == "en" else "至"
        return f"{self.first.date.isoformat()}{joint}{self.last.date.isoformat()} {what}"


def _ranges(days: Iterable[DayInfo]) -> Joined:
    """``days`` as runs of consecutive days of one kind, listed."""
    out: list[_Range] = []
    for info in days:
        last = out[-1].last if out else None
        if last and (info.date - last.date).days == 1 and (info.kind, info.name, info.covered) == (last.kind, last.name, last.covered):
            out[-1] = _Range(out[-1].first, info)
        else:
            out.append(_Range(info, info))
    return Joined(tuple(out), ENUMERATION)


# --- settings ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeadlineRule:
    """How many days a decision may take and how they are counted; ``field``/``value`` name the
    override it comes from (empty for the default rule)."""

    days: int
    extension_days: int
    count: str = "calendar"
    field: str = ""
    value: str = ""

    @property
    def name(self) -> str:
        """'default' or 'customer_tier=私人银行' (JSON)."""
        return f"{self.field}={self.value}" if self.field else "default"

    def source(self) -> Text:
        if not self.field:
            return Text("ex_source_default")
        return Text("ex_source_override", {"label": _Label(self.field), "value": self.value})


register_messages({
    "dl_pol_whole": ("{where}.{key} 应为不小于 0 的整数，而不是 {value!r}", "{where}.{key} must be a whole number of 0 or more, not {value!r}"),
    "dl_pol_words": ("{where} 应为词语列表，而不是 {value!r}", "{where} must be a list of words, not {value!r}"),
    "dl_pol_override_field": ("deadlines.overrides.{name}：只能按 {fields} 设置例外", "deadlines.overrides.{name}: overrides are by {fields}"),
    "dl_pol_override_table": ("{where} 应为表，如 {{ days = 10 }}", "{where} must be a table such as {{ days = 10 }}"),
    "dl_pol_override_keys": ("{where}：未知的键 {unknown}（可用：days, extension_days, count）",
                             "{where}: unknown keys {unknown} (allowed: days, extension_days, count)"),
    "dl_pol_roll_forward": ("deadlines.roll_forward 应为 true 或 false，而不是 {value!r}", "deadlines.roll_forward must be true or false, not {value!r}"),
})


def _whole(spec: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = spec.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolicyError("dl_pol_whole", where=where, key=key, value=value)
    return value


def _words(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError("dl_pol_words", where=where, value=value)
    return frozenset(value)


@dataclass(frozen=True)
class DeadlineSettings:
    """``[deadlines]`` and ``[status]`` of the policy, checked and typed."""

    rule: DeadlineRule
    overrides: tuple[DeadlineRule, ...]
    roll_forward: bool
    warning_days: int
    followup_days: int
    followup_count: str
    extended_values: frozenset[str]
    open_statuses: frozenset[str]
    closed_statuses: frozenset[str]
    cancelled_statuses: frozenset[str]
    paused_statuses: frozenset[str]
    #: the policy's spellings of 是/否 (values.aliases.extended), for worksheet arguments.
    extended_aliases: Mapping[str, str] = field(default_factory=dict)
    #: how the due-soon window counts: "working" days (a case due after 国庆 is due soon on 9-30)
    #: or "calendar" days.
    warning_count: str = "working"

    @classmethod
    def from_policy(cls, policy: Policy) -> "DeadlineSettings":
        """Read and check the settings: a wrong value is a PolicyError (exit 2), never an odd date."""
        spec = policy.section("deadlines")
        base = DeadlineRule(_whole(spec, "days", 15, "deadlines"), _whole(spec, "extension_days", 30, "deadlines"),
                            day_count(spec, "count", "calendar", "deadlines"))
        overrides = []
        for name, table in (spec.get("overrides") or {}).items():
            if name not in OVERRIDE_FIELDS:
                raise PolicyError("dl_pol_override_field", name=name, fields=", ".join(OVERRIDE_FIELDS))
            for value, entry in (table or {}).items():
                here = f"deadlines.overrides.{name}.{value}"
                if not isinstance(entry, dict):
                    raise PolicyError("dl_pol_override_table", where=here)
                unknown = set(entry) - {"days", "extension_days", "count"}
                if unknown:
                    raise PolicyError("dl_pol_override_keys", where=here, unknown=", ".join(sorted(unknown)))
                overrides.append(DeadlineRule(
                    _whole(entry, "days", base.days, here), _whole(entry, "extension_days", base.extension_days, here),
                    day_count(entry, "count", base.count, here), name, str(value),
                ))
        roll = spec.get("roll_forward", True)
        if not isinstance(roll, bool):
            raise PolicyError("dl_pol_roll_forward", value=roll)
        return cls(
            base, tuple(overrides), roll,
            _whole(spec, "warning_days", 3, "deadlines"), _whole(spec, "followup_days", 3, "deadlines"),
            day_count(spec, "followup_count", "working", "deadlines"),
            _words(spec.get("extended_values", ["是"]), "deadlines.extended_values"),
            _words(policy.get("status.open", ["待处理", "处理中"]), "status.open"),
            _words(policy.get("status.closed", ["已办结"]), "status.closed"),
            _words(policy.get("status.cancelled", ["已撤销"]), "status.cancelled"),
            _words(spec.get("paused_statuses", []), "deadlines.paused_statuses"),
            {value_key(k): v for k, v in (policy.get("values.aliases.extended", {}) or {}).items()},
            day_count(spec, "warning_count", "working", "deadlines"),
        )

    def rules_for(self, values: Mapping[str, Any]) -> list[DeadlineRule]:
        """The default rule and every override that matches the record's values."""
        return [self.rule] + [r for r in self.overrides if values.get(r.field) == r.value]

    def is_extended(self, value: Any) -> bool:
        """是否延期: True/False, or text that is (or is an alias of) one of extended_values."""
        if isinstance(value, bool):
            return value
        text = clean_text(value)
        if text is None:
            return False
        return text in self.extended_values or self.extended_aliases.get(value_key(text)) in self.extended_values


# --- counting ----------------------------------------------------------------------------------

def _count(cal: WorkCalendar, start: dt.date, n: int, count: str, roll_forward: bool) -> tuple[dt.date, list[Text]]:
    """The day ``n`` days after ``start`` (``start`` not counted) by calendar or working days,
    rolled forward off non-working days when asked, with the steps that say how."""
    if count == "working":
        end = cal.add_working_days(start, n)
        odd = cal.skipped(start, end)
        notes = []
        skipped, counted = _ranges(d for d in odd if not d.working), _ranges(d for d in odd if d.working)
        if skipped.items:
            notes.append(Text("ex_skipped", {"days": skipped}))
        if counted.items:
            notes.append(Text("ex_counted", {"days": counted}))
        return end, [Text("ex_count_working", {"start": start, "n": n, "end": end, "day": _Day(cal.day(end)), "notes": Joined(tuple(notes))})]
    plain = start + dt.timedelta(days=n)
    info = cal.day(plain)
    steps = [Text("ex_count_calendar", {"start": start, "n": n, "end": plain, "day": _Day(info)})]
    if info.working:
        if info.kind != WORKDAY:  # a 调休 Saturday/Sunday: say why the deadline stays there
            steps.append(Text("ex_workday_end", {"date": plain, "kind": _Kind(info)}))
        return plain, steps
    if not roll_forward:
        steps.append(Text("ex_no_roll", {"date": plain}))
        return plain, steps
    due = cal.next_working_day(plain)
    steps.append(Text("ex_roll", {"date": plain, "due": due, "day": _Day(cal.day(due))}))
    return due, steps


def decision_deadline(received: dt.date, extended: bool, rules: Sequence[DeadlineRule], settings: DeadlineSettings,
                      cal: WorkCalendar) -> tuple[dt.date, DeadlineRule, list[Text]]:
    """The decision deadline under the strictest of ``rules`` (earliest date), with its steps."""
    options = []
    for rule in rules:
        total = rule.days + (rule.extension_days if extended else 0)
        due, counting = _count(cal, received, total, rule.count, settings.roll_forward)
        detail = Text("ex_limit_extended", {"days": rule.days, "ext": rule.extension_days}) if extended else Text("ex_limit_plain")
        limit = Text("ex_limit", {"total": total, "unit": Text(f"unit_{rule.count}"), "detail": detail, "source": rule.source()})
        options.append((due, rule, [limit] + counting))
    due, rule, steps = min(options, key=lambda o: o[0])  # ties keep the first: the default rule
    if len(options) > 1:
        choices = tuple(Text("ex_rule_choice", {"source": r.source(), "due": d}) for d, r, _ in options)
        steps = [Text("ex_rules_compared", {"choices": Joined(choices, ENUMERATION)})] + steps
    return due, rule, steps


def followup_deadline(closed: dt.date, settings: DeadlineSettings, cal: WorkCalendar) -> tuple[dt.date, list[Text]]:
    """The follow-up deadline: ``followup_days`` after the closing day (not counted)."""
    due, counting = _count(cal, closed, settings.followup_days, settings.followup_count, settings.roll_forward)
    head = Text("ex_followup", {"closed": closed, "day": _Day(cal.day(closed)), "n": settings.followup_days,
                                "unit": Text(f"unit_{settings.followup_count}")})
    return due, [head] + counting + [Text("ex_followup_due", {"due": due})]


@dataclass
class DeadlineCalculator:
    """The settings and calendar of one run, with memory: a register of 100,000 rows has a few
    hundred distinct dates, so each (date, rule) is worked out once. A remembered answer still
    reports the uncovered years it touched, so coverage warnings stay exact."""

    settings: DeadlineSettings
    calendar: WorkCalendar
    _memo: dict[tuple, tuple[Any, frozenset[int]]] = field(default_factory=dict, repr=False)
    _extended: dict[tuple[type, Any], bool] = field(default_factory=dict, repr=False)

    @classmethod
    def from_policy(cls, policy: Policy) -> "DeadlineCalculator":
        return cls(DeadlineSettings.from_policy(policy), WorkCalendar.from_policy(policy))

    def _remember(self, key: tuple, compute: Any) -> Any:
        hit = self._memo.get(key)
        if hit is None:
            with self.calendar.track() as years:
                value = compute()
            hit = self._memo[key] = (value, frozenset(years))
        else:
            self.calendar.note(hit[1])
        return hit[0]

    def decision(self, received: dt.date, extended: bool, rules: Sequence[DeadlineRule]) -> tuple[dt.date, DeadlineRule, list[Text]]:
        """``decision_deadline`` under this run's settings (steps are shared: never mutate them)."""
        return self._remember(("decision", received, extended, tuple(rules)),
                              lambda: decision_deadline(received, extended, rules, self.settings, self.calendar))

    def extended(self, value: Any) -> bool:
        """``settings.is_extended``, once per distinct 是否延期 value (a register has a few)."""
        key = (value.__class__, value)  # True and 1 read differently
        found = self._extended.get(key)
        if found is None:
            found = self._extended[key] = self.settings.is_extended(value)
        return found

    def followup(self, closed: dt.date) -> tuple[dt.date, list[Text]]:
        """``followup_deadline`` under this run's settings."""
        return self._remember(("followup", closed), lambda: followup_deadline(closed, self.settings, self.calendar))


# --- one row -----------------------------------------------------------------------------------

@dataclass(slots=True)
class RowDeadline:
    """The deadlines of one complaint row at the as-of date."""

    source: str
    sheet: str
    row: int
    id: str
    branch: str
    handler: str
    received: dt.date | None
    closed: dt.date | None
    decision_due: dt.date | None
    status: str
    days_overdue: int | None
    days_left: int | None
    followup_due: dt.date | None = None
    followup_status: str | None = None
    followup_days_left: int | None = None
    rule: str = ""
    reason: Text | None = None
    #: how to compute the row again, for its explanation: the record, the as-of date and the
    #: calculator (a large register's explanations would weigh more than its rows).
    recipe: tuple[Record, dt.date, "DeadlineCalculator"] | None = field(default=None, repr=False, compare=False)
    #: years the calendar had to guess for while computing this row.
    uncovered: frozenset[int] = frozenset()
    followup_date: dt.date | None = None
    warning_days: int = 3
    #: the follow-up's days left as the warning window counts them (working days by default).
    followup_window_left: int | None = None
    #: the column letter of the complaint ID (links from the reminder sheet).
    id_column: str = ""

    @property
    def followup_due_soon(self) -> bool:
        """A pending follow-up inside the warning window."""
        left = self.followup_days_left if self.followup_window_left is None else self.followup_window_left
        return self.followup_status == "pending" and left is not None and left <= self.warning_days

    @property
    def level(self) -> str | None:
        """'error' when something is overdue now, 'warning' when due soon or not computable.

        A decision closed late is history, not something to act on: it has no level, so a nightly
        ``--fail-on error`` run does not fail forever on last year's rows.
        """
        if self.status == "overdue" or self.followup_status == "overdue":
            return "error"
        if self.status in ("due_soon", "unknown") or self.followup_due_soon:
            return "warning"
        return None

    def urgency(self) -> tuple[int, int]:
        """Sort key: running items by days left (most overdue first), then unknown, paused, the rest."""
        lefts = [self.days_left] if self.status in RUNNING else []
        if self.followup_status in ("overdue", "pending"):
            lefts.append(self.followup_days_left)
        lefts = [d for d in lefts if d is not None]
        if lefts:
            return (0, min(lefts))
        return ({"unknown": 1, "paused": 2}.get(self.status, 3), 0)

    def matches(self, statuses: Iterable[str]) -> bool:
        """For ``--status``: the decision or the follow-up status is one of ``statuses``;
        ``due_soon`` also takes a pending follow-up inside the warning window."""
        wanted = set(statuses)
        return self.status in wanted or self.followup_status in wanted or ("due_soon" in wanted and self.followup_due_soon)

    @property
    def branch_or_file(self) -> str:
        """The branch, or the file's name when the register has no branch column (one file per branch)."""
        return self.branch or Path(self.source).stem

    def status_text(self, lang: str = "zh") -> str:
        """The decision status as a cell shows it: '已超期 5 天', '即将到期（剩 2 天）', ...; a row
        whose dates reach into a year without holiday data says so in the cell itself."""
        text = self._status_text(lang)
        if self.uncovered:
            text += t("dlx_uncovered", lang, years="、".join(str(y) for y in sorted(self.uncovered)))
        return text

    def _status_text(self, lang: str) -> str:
        s = self.status
        if s == "overdue":
            return t("dlx_overdue", lang, n=self.days_overdue)
        if s in ("due_soon", "on_track"):
            return t("dlx_due_today", lang) if self.days_left == 0 else t(f"dlx_{s}", lang, n=self.days_left)
        if s == "closed_late":
            return t("dlx_closed_late", lang, n=self.days_overdue)
        if s == "paused":
            return t("dlx_paused", lang, due=_iso(self.decision_due))
        if s == "unknown":
            return t("dlx_unknown", lang, reason=self.reason.render(lang) if self.reason else "")
        return t(f"dlx_{s}", lang)

    def followup_text(self, lang: str = "zh") -> str:
        """The follow-up status as a cell shows it ('' when there is no follow-up to make)."""
        s = self.followup_status
        if s == "done":
            return t("fux_done", lang, date=_iso(self.followup_date))
        if s == "overdue":
            return t("fux_overdue", lang, n=-(self.followup_days_left or 0))
        if s == "pending":
            return t("fux_due_today", lang) if self.followup_days_left == 0 else t("fux_pending", lang, n=self.followup_days_left)
        return ""

    @property
    def steps(self) -> list[Text]:
        """The steps that produced the dates (computed again: only ``--explain`` reads them)."""
        return _evaluate(*self.recipe)[1] if self.recipe is not None else []

    def explanation(self, lang: str = "zh") -> list[str]:
        return [s.render(lang) for s in self.steps]

    def to_dict(self, lang: str = "zh", explain: bool = False) -> dict[str, Any]:
        """The JSON-contract form of the row (dates ISO 8601)."""
        out = {
            "file": self.source, "sheet": self.sheet, "row": self.row, "id": self.id,
            "branch": self.branch, "handler": self.handler,
            "received_date": _iso(self.received), "closed_date": _iso(self.closed),
            "decision_due": _iso(self.decision_due), "status": self.status,
            "days_overdue": self.days_overdue, "days_left": self.days_left,
            "followup_due": _iso(self.followup_due), "followup_status": self.followup_status,
            "followup_days_left": self.followup_days_left,
            "level": self.level, "rule": self.rule,
            "reason": self.reason.render(lang) if self.reason else None,
        }
        if explain:
            out["explanation"] = self.explanation(lang)
        return out


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _status_group(status: str | None, closed: dt.date | None, settings: DeadlineSettings) -> tuple[str, list[Text]]:
    """open / closed / paused / cancelled for a status; a blank or unlisted status is judged by the
    closed date, and the explanation says so."""
    for group, members in (("cancelled", settings.cancelled_statuses), ("paused", settings.paused_statuses),
                           ("closed", settings.closed_statuses), ("open", settings.open_statuses)):
        if status in members:
            return group, []
    group = "closed" if closed else "open"
    guess = Text("ex_guess_closed" if closed else "ex_guess_open")
    if status is None:
        return group, [Text("ex_status_blank", {"guess": guess})]
    return group, [Text("ex_status_guess", {"status": status, "guess": guess})]


def evaluate_record(rec: Record, as_of: dt.date, calc: DeadlineCalculator) -> RowDeadline:
    """Decision deadline, status, follow-up deadline and follow-up status of one record."""
    with calc.calendar.track() as years:
        row = _evaluate(rec, as_of, calc, explain=False)[0]
    row.uncovered = frozenset(years)
    row.recipe = (rec, as_of, calc)
    return row


def _window_left(settings: DeadlineSettings, cal: WorkCalendar, as_of: dt.date, due: dt.date, exact: bool = False) -> int:
    """Days left to ``due`` (not before ``as_of``) as the warning window counts them: on 9-30 a
    case due 10-09 has 9 calendar days but 1 working day left, and the branch is closed for the 7
    between. Unless ``exact``, working days are counted only as far as the window needs: a larger
    count comes back as ``warning_days + 1``."""
    calendar_left = (due - as_of).days
    if settings.warning_count == "calendar" or (calendar_left <= settings.warning_days and not exact):
        return calendar_left  # working days are never more than calendar days
    if exact:
        return cal.working_days_between(as_of, due)
    left, day = 0, as_of
    while day < due and left <= settings.warning_days:
        day = cal.next_working_day(day)
        if day <= due:
            left += 1
    return left


def _evaluate(rec: Record, as_of: dt.date, calc: DeadlineCalculator, explain: bool = True) -> tuple[RowDeadline, list[Text]]:
    """The row and, with ``explain``, the steps that produced it (only ``--explain`` reads them:
    without it a row with a listed status and a received date builds none; the few others keep
    their one or two steps, which say why the row is judged as it is)."""
    settings, cal, v = calc.settings, calc.calendar, rec.values
    received, closed, status = v.get("received_date"), v.get("closed_date"), v.get("status")
    row = RowDeadline(rec.source, rec.sheet, rec.row, rec.id, v.get("branch") or "", v.get("handler") or "",
                      received, closed, None, "unknown", None, None, followup_date=v.get("followup_date"),
                      warning_days=settings.warning_days, id_column=rec.column_of("complaint_id"))
    group, steps = _status_group(status, closed, settings)
    if group == "cancelled":
        row.status = "cancelled"
        return row, [Text("ex_cancelled", {"status": status})]

    if received is None or received < EARLIEST_DATE:
        problem = rec.problems.get("received_date")
        if received is not None:
            row.reason = Text("reason_too_early", {"date": received, "earliest": EARLIEST_DATE})
        elif problem:
            row.reason = Text("reason_bad_received", {"value": clean_text(rec.cell("received_date")) or problem.detail})
        else:
            row.reason = Text("reason_no_received")
        steps.append(Text("ex_unknown", {"reason": row.reason}))
    else:
        extended = calc.extended(v.get("extended"))
        due, rule, counting = calc.decision(received, extended, settings.rules_for(v))
        row.decision_due, row.rule = due, rule.name
        day = cal.day(received)  # looked up either way: it reports the year if uncovered
        if explain:
            steps = [Text("ex_received", {"date": received, "day": _Day(day)})] + counting + [Text("ex_due", {"due": due})] + steps
        label = status or ""
        if group == "paused":
            row.status, row.days_left = "paused", (due - as_of).days
            if explain:
                steps.append(Text("ex_paused", {"status": label}))
        elif group == "closed" and closed is None:
            row.reason = Text("reason_closed_no_date", {"status": label})
            steps.append(Text("ex_undecidable", {"reason": row.reason}))
        elif group == "closed":
            late = (closed - due).days
            row.status, row.days_overdue = ("closed_late", late) if late > 0 else ("closed_on_time", 0)
            if explain:
                steps.append(Text("ex_closed_late", {"closed": closed, "due": due, "n": late}) if late > 0
                             else Text("ex_closed_on_time", {"closed": closed, "due": due}))
        else:
            if explain and closed is not None and status in settings.open_statuses:
                steps.append(Text("ex_closed_date_ignored", {"status": status, "closed": closed}))
            left = (due - as_of).days
            row.days_left = left
            if left < 0:
                row.status, row.days_overdue = "overdue", -left
                if explain:
                    steps.append(Text("ex_open_overdue", {"status": label, "as_of": as_of, "n": -left}))
            else:
                window_left = _window_left(settings, cal, as_of, due, explain)
                row.status, row.days_overdue = ("due_soon" if window_left <= settings.warning_days else "on_track"), 0
                if explain:
                    code = "ex_open_due_soon" if row.status == "due_soon" else "ex_open_on_track"
                    window = (Text("ex_window_working", {"n": settings.warning_days, "left": window_left}) if settings.warning_count == "working"
                              else Text("ex_window_calendar", {"n": settings.warning_days}))
                    steps.append(Text(code, {"status": label, "as_of": as_of, "n": left, "window": window}))

    if group == "closed" and closed is not None:
        fu_due, fu_steps = calc.followup(closed)
        row.followup_due, row.followup_days_left = fu_due, (fu_due - as_of).days
        if row.followup_date is None and row.followup_days_left >= 0:
            row.followup_window_left = _window_left(settings, cal, as_of, fu_due)
        if explain:
            steps += fu_steps
        if row.followup_date is not None:
            row.followup_status = "done"
            if explain:
                steps.append(Text("ex_followup_done", {"date": row.followup_date}))
        else:
            if explain and v.get("followup_result"):
                steps.append(Text("ex_followup_result_no_date", {"result": v.get("followup_result")}))
            overdue = row.followup_days_left < 0
            row.followup_status = "overdue" if overdue else "pending"
            if explain:
                steps.append(Text("ex_followup_overdue", {"as_of": as_of, "n": -row.followup_days_left}) if overdue
                             else Text("ex_followup_pending", {"n": row.followup_days_left}))
    return row, steps


# --- the batch ---------------------------------------------------------------------------------

@dataclass
class FollowupReport:
    """Every row's deadlines at ``as_of``, most urgent first, and the calendar's coverage warnings."""

    as_of: dt.date
    rows: list[RowDeadline]
    calendar_warnings: list[CalendarWarning] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Rows with an overdue decision or follow-up."""
        return sum(1 for r in self.rows if r.level == "error")

    @property
    def warnings(self) -> int:
        """Rows due soon or not computable, plus one per calendar year that had to be guessed."""
        return sum(1 for r in self.rows if r.level == "warning") + len(self.calendar_warnings)

    def summary(self) -> dict[str, int]:
        """Counts by decision status and follow-up status."""
        # One pass per count kind, not one per status: a large register has a million rows.
        statuses = Counter(r.status for r in self.rows)
        followups = Counter(r.followup_status for r in self.rows)
        levels = Counter(r.level for r in self.rows)
        out = {"rows": len(self.rows)}
        out.update({s: statuses[s] for s in STATUSES})
        out.update({f"followup_{s}": followups[s] for s in FOLLOWUP_STATUSES})
        out["errors"], out["warnings"] = levels["error"], levels["warning"] + len(self.calendar_warnings)
        return out

    def summary_text(self, lang: str = "zh") -> str:
        return t("summary_followups", lang, as_of=self.as_of.isoformat(), **self.summary())

    def filtered(self, statuses: Iterable[str] = (), branches: Iterable[str] = ()) -> "FollowupReport":
        """The rows matching ``--status`` (any of) and ``--branch`` (any of; a name matches a branch
        that contains it, so 城东 finds 城东支行). Calendar warnings are kept only for the years
        the remaining rows reach into."""
        statuses, branches = list(statuses), [value_key(b) for b in branches]
        rows = [r for r in self.rows
                if (not statuses or r.matches(statuses))
                and (not branches or any(b in value_key(r.branch_or_file) for b in branches))]
        return FollowupReport(self.as_of, rows, _coverage(rows))

    def unknown_branches(self, branches: Iterable[str]) -> list[str]:
        """The ``--branch`` names no row matches (as ``filtered`` matches them): a misspelt branch,
        not a branch with nothing due."""
        return [b for b in branches if not self.filtered((), [b]).rows]

    @property
    def branches(self) -> list[str]:
        """The branches the rows belong to (a row without one: its file's name), sorted."""
        return sorted({r.branch_or_file for r in self.rows})

    def to_dict(self, lang: str = "zh", mask: bool = False, explain: bool = False) -> dict[str, Any]:
        """The JSON contract: as_of, summary, rows (most urgent first), warnings.

        ``mask`` is accepted like every check's, but these rows carry no personal data.
        """
        return {
            "as_of": self.as_of.isoformat(),
            "summary": self.summary(),
            "rows": [r.to_dict(lang, explain) for r in self.rows],
            "warnings": [w.to_dict(lang) for w in self.calendar_warnings],
        }


def _coverage(rows: Iterable[RowDeadline]) -> list[CalendarWarning]:
    counts: dict[int, int] = {}
    for r in rows:
        for year in r.uncovered:
            counts[year] = counts.get(year, 0) + 1
    return [CalendarWarning(y, n) for y, n in sorted(counts.items())]


def sort_by_urgency(rows: Iterable[RowDeadline]) -> list[RowDeadline]:
    """Most overdue first, then due soonest; unknown, paused and finished rows after, in file order."""
    return sorted(rows, key=lambda r: (r.urgency(), r.source, r.sheet, r.row))


def check_deadlines(registers: Sequence[Register], policy: Policy, as_of: dt.date,
                    calendar: WorkCalendar | None = None) -> FollowupReport:
    """Deadlines of every row of ``registers`` at ``as_of``."""
    calc = DeadlineCalculator(DeadlineSettings.from_policy(policy), calendar or WorkCalendar.from_policy(policy))
    rows = [evaluate_record(rec, as_of, calc) for reg in registers for rec in reg.records]
    return FollowupReport(as_of, sort_by_urgency(rows), _coverage(rows))


# --- workbook ----------------------------------------------------------------------------------

_FILLS = {"error": RED, "warning": AMBER}


_DECISION_FILLS = {"overdue": RED, "due_soon": AMBER, "unknown": GREY}


def _decision_fill(row: RowDeadline) -> str | None:
    return _DECISION_FILLS.get(row.status)


def _followup_fill(row: RowDeadline) -> str | None:
    if row.followup_status == "overdue":
        return RED
    return AMBER if row.followup_due_soon else None


def deadline_plan(report: FollowupReport, register: Register, lang: str = "zh") -> SheetPlan:
    """The SheetPlan for one register: four own columns (due date, status, follow-up due,
    follow-up status; red when overdue, amber when due soon) and a reminder sheet listing the rows
    to act on, most urgent first, each linked to its row."""
    mine = [r for r in report.rows if r.source == register.source and r.sheet == register.sheet]
    columns = [PlanColumn(t("col_dl_due", lang), {}, {}, width=14), PlanColumn(t("col_dl_status", lang), {}, {}, width=26),
               PlanColumn(t("col_fu_due", lang), {}, {}, width=14), PlanColumn(t("col_fu_status", lang), {}, {}, width=22)]
    due_col, status_col, fu_due_col, fu_status_col = columns
    for r in mine:
        due_col.values[r.row], status_col.values[r.row] = r.decision_due, r.status_text(lang)
        fu_due_col.values[r.row], fu_status_col.values[r.row] = r.followup_due, r.followup_text(lang) or None
        fill = _decision_fill(r)
        if fill:
            due_col.fills[r.row] = status_col.fills[r.row] = fill
        fill = _followup_fill(r)
        if fill:
            fu_due_col.fills[r.row] = fu_status_col.fills[r.row] = fill
    headers = [t(h, lang) for h in ("hdr_where", "hdr_id", "hdr_branch", "hdr_handler", "hdr_received", "hdr_due",
                                      "hdr_status", "hdr_fu_due", "hdr_fu_status")]
    act = [r for r in mine if r.level]
    rows, links, fills = [], {}, {}
    for i, r in enumerate(act):
        ref = f"{register.sheet}!{r.id_column or 'A'}{r.row}"
        rows.append([ref, r.id, r.branch, r.handler, r.received, r.decision_due, r.status_text(lang), r.followup_due, r.followup_text(lang)])
        links[i], fills[i] = ref, _FILLS[r.level]
    table = PlanTable(t("sheet_deadlines", lang), headers, rows, links, fills, [16, 16, 14, 10, 12, 12, 26, 12, 22])
    part = FollowupReport(report.as_of, mine, _coverage(mine))
    summary = ("; " if lang == "en" else "；").join([part.summary_text(lang)] + [w.message(lang) for w in part.calendar_warnings])
    last = max([r.row for r in register.records], default=register.header_row)
    return SheetPlan("followups", register.sheet, register.header_row, last, columns, [], [table], summary)


@operation("followups", reads_policy=DeadlineCalculator.from_policy)
def followups_operation(registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """The followups operation for every door: deadlines, JSON, plans, summary, exit counts."""
    report = check_deadlines(registers, ctx.policy, ctx.as_of)
    return OpResult("followups", lambda: report.to_dict(ctx.lang, ctx.mask), lambda reg: [deadline_plan(report, reg, ctx.lang)],
                    report.summary_text(ctx.lang), report.errors, report.warnings, report,
                    items=lambda: (r.to_dict(ctx.lang) for r in report.rows))


# --- worksheet functions -----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _default_calculator() -> DeadlineCalculator:
    # A worksheet function runs once per cell: read the default policy once, not per call.
    return DeadlineCalculator.from_policy(load_policy())


def _single(received: Any, extended: Any, policy: Policy | None, values: Mapping[str, Any]) -> dt.date:
    calc = _default_calculator() if policy is None else DeadlineCalculator.from_policy(policy)
    with calc.calendar.track() as years:
        due, _, _ = calc.decision(as_date(received), calc.settings.is_extended(extended),
                                  calc.settings.rules_for({k: clean_text(v) for k, v in values.items()}))
    warn_uncovered(years)
    return due


def due_date(received: Any, extended: Any = False, policy: Policy | None = None, *, channel: str | None = None,
             business_line: str | None = None, customer_tier: str | None = None) -> dt.date:
    """The decision deadline for a received date (worksheet function).

    ``received`` may be a date, an Excel serial or date text; ``extended`` True/False or 是/否;
    the optional fields pick the policy's overrides. A date in a year the calendar does not cover
    is computed by weekends only and raises a ``CalendarCoverageWarning`` (a Python warning).
    """
    return _single(received, extended, policy, {"channel": channel, "business_line": business_line, "customer_tier": customer_tier})


def days_left(received: Any, as_of: Any = None, extended: Any = False, policy: Policy | None = None, *,
              channel: str | None = None, business_line: str | None = None, customer_tier: str | None = None) -> int:
    """Calendar days from ``as_of`` (default today) to the decision deadline; negative when overdue."""
    due = due_date(received, extended, policy, channel=channel, business_line=business_line, customer_tier=customer_tier)
    return (due - (as_date(as_of) if as_of is not None else dt.date.today())).days
