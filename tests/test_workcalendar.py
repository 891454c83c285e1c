"""The working-day calendar against the State Council's 2025 and 2026 holiday notices.

Expected facts are written out by hand from 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
and 关于2026年部分节假日安排的通知, and match the chinesecalendar data; working-day counts were
worked out on a paper calendar.
"""

from __future__ import annotations

import datetime as dt
import warnings

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintkit.errors import PolicyError
from complaintkit.policy import load_policy
from complaintkit.workcalendar import (
    CalendarCoverageWarning, CalendarWarning, WorkCalendar, day_count, is_working_day, working_days_between,
)

D = dt.date.fromisoformat

# Every 调休 make-up workday of 2025 and 2026 (a Saturday or Sunday that is a working day).
MAKEUP_DAYS = [
    ("2025-01-26", "Spring Festival"), ("2025-02-08", "Spring Festival"), ("2025-04-27", "Labour Day"),
    ("2025-09-28", "National Day"), ("2025-10-11", "National Day"),
    ("2026-01-04", "New Year's Day"), ("2026-02-14", "Spring Festival"), ("2026-02-28", "Spring Festival"),
    ("2026-05-09", "Labour Day"), ("2026-09-20", "National Day"), ("2026-10-10", "National Day"),
]

# Every holiday period of 2025 and 2026: first day, last day (inclusive).
HOLIDAYS = [
    ("2025-01-01", "2025-01-01"),  # 元旦
    ("2025-01-28", "2025-02-04"),  # 春节 (除夕 to 初七)
    ("2025-04-04", "2025-04-06"),  # 清明
    ("2025-05-01", "2025-05-05"),  # 劳动节
    ("2025-05-31", "2025-06-02"),  # 端午
    ("2025-10-01", "2025-10-08"),  # 国庆 + 中秋
    ("2026-01-01", "2026-01-03"),  # 元旦
    ("2026-02-15", "2026-02-23"),  # 春节 (腊月二十八 to 初七)
    ("2026-04-04", "2026-04-06"),  # 清明
    ("2026-05-01", "2026-05-05"),  # 劳动节
    ("2026-06-19", "2026-06-21"),  # 端午
    ("2026-09-25", "2026-09-27"),  # 中秋
    ("2026-10-01", "2026-10-07"),  # 国庆
]

# The 3rd working day after a day (the day itself not counted): the default 回访 deadline.
THIRD_WORKING_DAY_AFTER = [
    ("2025-01-24", "2025-02-05"),  # Fri: Sun 01-26 (调休) and Mon 01-27 count, then Spring Festival, Wed 02-05
    ("2025-01-25", "2025-02-05"),  # Sat: same three days
    ("2025-02-05", "2025-02-08"),  # Thu, Fri, then Sat 02-08 (调休)
    ("2025-04-03", "2025-04-09"),  # Qingming 04-04..06 skipped
    ("2025-04-24", "2025-04-28"),  # Fri 04-25, Sun 04-27 (调休), Mon 04-28
    ("2025-04-29", "2025-05-07"),  # Wed 04-30, Labour Day 05-01..05, Tue 05-06, Wed 05-07
    ("2025-05-29", "2025-06-04"),  # Fri 05-30, Dragon Boat 05-31..06-02, 06-03, 06-04
    ("2025-09-26", "2025-09-30"),  # Sun 09-28 (调休), Mon 09-29, Tue 09-30
    ("2025-09-30", "2025-10-11"),  # National Day 10-01..08, Thu 10-09, Fri 10-10, Sat 10-11 (调休)
    ("2025-12-31", "2026-01-06"),  # New Year 01-01..03, Sun 01-04 (调休), 01-05, 01-06
    ("2026-02-12", "2026-02-24"),  # Fri 02-13, Sat 02-14 (调休), Spring Festival 02-15..23, Tue 02-24
    ("2026-02-25", "2026-02-28"),  # Thu, Fri, Sat 02-28 (调休)
    ("2026-04-02", "2026-04-08"),  # Fri 04-03, Qingming 04-04..06, 04-07, 04-08
    ("2026-04-29", "2026-05-07"),  # Thu 04-30, Labour Day 05-01..05, 05-06, 05-07
    ("2026-05-07", "2026-05-11"),  # Fri 05-08, Sat 05-09 (调休), Mon 05-11
    ("2026-06-17", "2026-06-23"),  # Thu 06-18, Dragon Boat 06-19..21, 06-22, 06-23
    ("2026-09-17", "2026-09-21"),  # Fri 09-18, Sun 09-20 (调休), Mon 09-21
    ("2026-09-23", "2026-09-29"),  # Thu 09-24, Mid-Autumn 09-25..27, 09-28, 09-29
    ("2026-09-30", "2026-10-10"),  # National Day 10-01..07, Thu 10-08, Fri 10-09, Sat 10-10 (调休)
]


def _days(first: str, last: str):
    d = D(first)
    while d <= D(last):
        yield d
        d += dt.timedelta(days=1)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize("day,name", MAKEUP_DAYS)
def test_every_makeup_workday_is_a_working_weekend_day(cal, day, name):
    info = cal.day(D(day))
    assert D(day).weekday() >= 5
    assert info.working and info.kind == "makeup_workday" and info.name == name
    assert cal.uncovered == set()


@pytest.mark.parametrize("first,last", HOLIDAYS)
def test_every_holiday_day_is_not_working(cal, first, last):
    assert not any(cal.is_working_day(d) for d in _days(first, last))
    assert all(cal.day(d).kind == "holiday" for d in _days(first, last))


def test_first_working_day_after_each_holiday(cal):
    # written from the notices: the day work resumes
    resume = {"2025-01-01": "2025-01-02", "2025-02-04": "2025-02-05", "2025-04-06": "2025-04-07", "2025-05-05": "2025-05-06",
              "2025-06-02": "2025-06-03", "2025-10-08": "2025-10-09", "2026-01-03": "2026-01-04", "2026-02-23": "2026-02-24",
              "2026-04-06": "2026-04-07", "2026-05-05": "2026-05-06", "2026-06-21": "2026-06-22", "2026-09-27": "2026-09-28",
              "2026-10-07": "2026-10-08"}
    assert {last: cal.next_working_day(D(last)).isoformat() for last in resume} == resume


@pytest.mark.parametrize("start,expected", THIRD_WORKING_DAY_AFTER)
def test_third_working_day_after(cal, start, expected):
    assert cal.add_working_days(D(start), 3) == D(expected)


def test_roll_forward_and_next_working_day(cal):
    assert cal.roll_forward(D("2025-02-04")) == D("2025-02-05")   # last day of Spring Festival
    assert cal.roll_forward(D("2025-01-26")) == D("2025-01-26")   # 调休 Sunday stays
    assert cal.roll_forward(D("2026-01-01")) == D("2026-01-04")   # New Year rolls onto the 调休 Sunday
    assert cal.next_working_day(D("2026-02-13")) == D("2026-02-14")
    assert cal.next_working_day(D("2026-02-14")) == D("2026-02-24")
    assert cal.add_working_days(D("2025-01-20"), 0) == D("2025-01-20")


def test_working_days_between(cal):
    # 01-26 (调休), 01-27, 02-05, 02-06, 02-07, 02-08 (调休)
    assert cal.working_days_between(D("2025-01-24"), D("2025-02-08")) == 6
    assert cal.working_days_between(D("2025-02-08"), D("2025-01-24")) == -6
    assert cal.working_days_between(D("2026-09-30"), D("2026-10-10")) == 3
    assert cal.working_days_between(D("2026-10-01"), D("2026-10-01")) == 0
    # the worksheet form takes text and Excel serials (45681 = 2025-01-24)
    assert working_days_between("2025-01-24", "2025年2月8日") == 6
    assert working_days_between(45681, D("2025-02-08")) == 6


def test_describe_in_both_languages(cal):
    assert cal.day(D("2025-01-26")).describe() == "周日，调休上班日（春节）"
    assert cal.day(D("2025-01-29")).describe("en") == "Wed, statutory holiday (Spring Festival)"
    assert cal.day(D("2026-04-05")).describe() == "周日，法定节假日（清明）"


# --- years the data does not cover -------------------------------------------------------------

def test_uncovered_year_falls_back_to_weekends_and_records_the_year(cal):
    assert cal.is_working_day(D("2027-01-01"))  # a Friday: without data it cannot know it is New Year
    assert not cal.is_working_day(D("2027-01-02"))
    assert cal.uncovered == {2027}
    assert not cal.day(D("2027-01-01")).covered
    assert "2027年不在节假日数据范围内" in cal.day(D("2027-01-01")).describe()


def test_years_before_the_data_are_uncovered_too(cal):
    cal.is_working_day(D("2003-05-01"))
    assert cal.uncovered == {2003}


def test_track_collects_only_inside_the_block(cal):
    cal.is_working_day(D("2028-03-01"))
    with cal.track() as years:
        cal.add_working_days(D("2026-12-30"), 3)
        with cal.track() as inner:  # nested blocks with equal contents
            cal.is_working_day(D("2027-02-01"))
        assert inner == {2027}
    assert years == {2027}
    assert cal.uncovered == {2027, 2028}
    assert cal._trackers == []


def test_module_helpers_warn_for_uncovered_years():
    with pytest.warns(CalendarCoverageWarning, match="2027"):
        assert is_working_day(D("2027-03-03"))
    with pytest.warns(CalendarCoverageWarning, match="complete_years"):
        working_days_between("2026-12-30", "2027-01-05")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert is_working_day(D("2026-02-14"))  # covered: no warning


def test_policy_extras_fill_an_uncovered_year_and_silence_the_warning():
    policy = load_policy().with_overrides({"deadlines": {"calendar": {
        "extra_holidays": [D("2027-01-01")], "extra_workdays": ["2027-01-09"], "complete_years": [2027]}}})
    cal = WorkCalendar.from_policy(policy)
    assert not cal.is_working_day(D("2027-01-01"))
    assert cal.day(D("2027-01-01")).kind == "extra_holiday"
    assert cal.is_working_day(D("2027-01-09"))  # a Saturday made a workday
    assert cal.roll_forward(D("2027-01-01")) == D("2027-01-04")
    assert cal.uncovered == set()


def test_extras_override_the_package_inside_covered_years():
    cal = WorkCalendar(extra_holidays=frozenset({D("2025-03-03")}), extra_workdays=frozenset({D("2025-05-03")}))
    assert not cal.is_working_day(D("2025-03-03"))
    assert cal.is_working_day(D("2025-05-03"))


@pytest.mark.parametrize("section,message", [
    ({"extra_holidays": ["2027-13-01"]}, "not a date"),
    ({"extra_holidays": ["2027-01-01"], "extra_workdays": ["2027-01-01"]}, "both"),
    ({"complete_years": ["2027"]}, "complete_years"),
])
def test_bad_calendar_policy_is_a_policy_error(section, message):
    with pytest.raises(PolicyError, match=message):
        WorkCalendar.from_policy(load_policy().with_overrides({"deadlines": {"calendar": section}}))


def test_warning_text_names_the_year_the_rows_and_the_fix():
    text = CalendarWarning(2027, 4).message()
    assert "2027" in text and "4 行" in text and "extra_holidays" in text and "complete_years" in text
    assert "2027" in CalendarWarning(2027, 4).message("en") and "4 rows" in CalendarWarning(2027, 4).message("en")


# --- properties, checked against the package's own answer ---------------------------------------

covered_days = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 11, 30))


@settings(max_examples=200, deadline=None)
@given(covered_days, st.integers(min_value=0, max_value=20))
def test_add_working_days_lands_on_a_working_day_and_counts_back(start, n):
    cal = WorkCalendar()
    end = cal.add_working_days(start, n)
    if n:
        assert chinese_calendar.is_workday(end)
    counted = sum(chinese_calendar.is_workday(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1))
    assert counted == n
    assert cal.working_days_between(start, end) == n


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), covered_days), min_size=1, max_size=12))
def test_working_day_numbers_differ_by_the_working_days_between(days):
    """dedupe compares duplicate entries by these numbers: each difference is the package's count
    of working days after the earlier date up to the later one."""
    cal = WorkCalendar()
    numbers = cal.working_day_numbers([d.toordinal() if d else None for d in days])
    assert [n is None for n in numbers] == [d is None for d in days]
    dated = [(d, n) for d, n in zip(days, numbers) if d is not None]
    for (a, na), (b, nb) in zip(dated, dated[1:]):
        first, last = min(a, b), max(a, b)
        counted = sum(chinese_calendar.is_workday(first + dt.timedelta(days=i)) for i in range(1, (last - first).days + 1))
        assert abs(nb - na) == counted


def test_a_day_count_is_calendar_or_working():
    assert day_count({"count": "working"}, "count", "calendar", "dedupe.duplicate") == "working"
    assert day_count({}, "count", "calendar", "dedupe.duplicate") == "calendar"
    with pytest.raises(PolicyError) as caught:
        day_count({"count": "weekdays"}, "count", "calendar", "dedupe.duplicate")
    assert str(caught.value) == "dedupe.duplicate.count must be \"calendar\" or \"working\", not 'weekdays'"


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(2027, 1, 1), max_value=dt.date(2040, 12, 31)))
def test_any_uncovered_day_is_recorded(day):
    cal = WorkCalendar()
    assert cal.is_working_day(day) == (day.weekday() < 5)
    assert cal.uncovered == {day.year}
