"""Mainland China's working-day calendar: weekends, statutory holidays and 调休 make-up workdays.

The facts come from ``chinesecalendar`` (State Council notices, 2004 to the last year it ships),
plus the bank's own extra holidays and workdays from the policy. For a year the package does not
cover, the calendar never guesses quietly: it falls back to weekends plus the policy's extras and
records the year, so every result built on it can carry a coverage warning.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import chinese_calendar
from chinese_calendar.constants import Holiday

from .errors import PolicyError
from .messages import register_messages, t
from .normalize import parse_date
from .policy import Policy

PACKAGE = "chinesecalendar"
PACKAGE_VERSION = getattr(chinese_calendar, "__version__", "?")
#: The years the package's data spans (its tables hold holidays for each of them).
PACKAGE_YEARS = (min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year)
_HOLIDAY_ZH = {h.value: h.chinese for h in Holiday}
_WEEKDAYS = {"zh": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}

# Kinds of day; a day's kind says why it is (or is not) a working day.
WORKDAY, WEEKEND, HOLIDAY, MAKEUP = "workday", "weekend", "holiday", "makeup_workday"
EXTRA_HOLIDAY, EXTRA_WORKDAY = "extra_holiday", "extra_workday"

register_messages({
    "cal_pol_count": ('{where}.{key} 应为 "calendar" 或 "working"，而不是 {value!r}', '{where}.{key} must be "calendar" or "working", not {value!r}'),
    "day_workday": ("工作日", "working day"),
    "day_weekend": ("周末", "weekend"),
    "day_holiday": ("法定节假日（{name}）", "statutory holiday ({name})"),
    "day_makeup_workday": ("调休上班日（{name}）", "make-up workday ({name})"),
    "day_extra_holiday": ("策略补充的节假日", "extra holiday from the policy"),
    "day_extra_workday": ("策略补充的工作日", "extra workday from the policy"),
    "day_described": ("周{wd}，{kind}", "{wd}, {kind}"),
    "day_uncovered": ("；{year}年不在节假日数据范围内，仅按周末推算", "; {year} is not covered by the holiday data, judged by weekends only"),
    "calendar_not_covered": (
        "{year}年不在节假日数据范围内（{package} {version} 覆盖 {first}–{last} 年）：该年的日期{rows}只按周末和策略补充日期计算，"
        "法定节假日和调休未计入，可能不准。请把国务院办公厅公布的该年安排填入策略 [deadlines.calendar] 的 extra_holidays / extra_workdays "
        "并把 {year} 加入 complete_years，或升级 {package}",
        "{year} is not covered by the holiday data ({package} {version} covers {first}-{last}): its dates{rows} were computed "
        "from weekends and the policy's extra dates only, without statutory holidays or make-up workdays, and may be wrong. "
        "Enter the State Council's schedule for that year in [deadlines.calendar] extra_holidays / extra_workdays and add "
        "{year} to complete_years, or upgrade {package}",
    ),
    "calendar_rows": ("（涉及 {rows} 行）", " ({rows} rows)"),
    # policy errors
    "cal_pol_not_a_date": ("{key}：{value!r} 不是日期（请写成 2027-01-01）", "{key}: {value!r} is not a date (write 2027-01-01)"),
    "cal_pol_both": ("deadlines.calendar：{days} 同时列为补充节假日和补充工作日", "deadlines.calendar: {days} listed both as extra holiday and as extra workday"),
    "cal_pol_years": ("deadlines.calendar.complete_years 应为年份列表，而不是 {value!r}", "deadlines.calendar.complete_years must be a list of years, not {value!r}"),
})

#: How a number of days is counted: every day, or working days only.
COUNTS = ("calendar", "working")


def day_count(spec: Mapping[str, Any], key: str, default: str, where: str) -> str:
    """A policy setting that says how days are counted ("calendar" or "working")."""
    value = spec.get(key, default)
    if value not in COUNTS:
        raise PolicyError("cal_pol_count", where=where, key=key, value=value)
    return value



class CalendarCoverageWarning(UserWarning):
    """Python warning raised by single-date helpers (worksheet functions) for an uncovered year."""


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One date: whether it is a working day, why (``kind``), the holiday's name, and whether the
    calendar data covers its year (False means the answer is a weekend-only fallback)."""

    date: dt.date
    working: bool
    kind: str
    name: str = ""
    covered: bool = True

    def kind_label(self, lang: str = "zh") -> str:
        """Why the day is (not) a working day: '法定节假日（春节）', 'make-up workday (Spring Festival)'."""
        name = self.name if lang == "en" else _HOLIDAY_ZH.get(self.name, self.name)
        text = t(f"day_{self.kind}", lang, name=name)
        if not self.covered:
            text += t("day_uncovered", lang, year=self.date.year)
        return text

    def describe(self, lang: str = "zh") -> str:
        """The weekday and the kind: '周二，法定节假日（春节）', 'Sun, make-up workday (Spring Festival)'."""
        wd = _WEEKDAYS["en" if lang == "en" else "zh"][self.date.weekday()]
        return t("day_described", lang, wd=wd, kind=self.kind_label(lang))


@dataclass
class CalendarWarning:
    """A year the calendar had to guess for, and how many result rows reached into it."""

    year: int
    rows: int = 0
    code: str = "calendar_not_covered"

    def message(self, lang: str = "zh") -> str:
        rows = t("calendar_rows", lang, rows=self.rows) if self.rows else ""
        return t(self.code, lang, year=self.year, rows=rows, package=PACKAGE, version=PACKAGE_VERSION,
                 first=PACKAGE_YEARS[0], last=PACKAGE_YEARS[1])

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"code": self.code, "year": self.year, "rows": self.rows, "message": self.message(lang)}


def _as_dates(values: Iterable[Any], key: str) -> set[dt.date]:
    out: set[dt.date] = set()
    for value in values or ():
        parsed = parse_date(value)
        if parsed.value is None:
            raise PolicyError("cal_pol_not_a_date", key=key, value=value)
        out.add(parsed.value)
    return out


class _Tracking:
    """``WorkCalendar.track``'s context: a plain class, as it wraps every row's deadlines (a
    generator-based context manager cost more than the lookups it watched)."""

    __slots__ = ("trackers", "years")

    def __init__(self, trackers: list[set[int]]) -> None:
        self.trackers = trackers
        self.years: set[int] = set()

    def __enter__(self) -> set[int]:
        self.trackers.append(self.years)
        return self.years

    def __exit__(self, *exc: object) -> None:
        # By identity (an outer tracker may hold the same years: sets compare equal), from the
        # end, where a block's own tracker is.
        trackers = self.trackers
        del trackers[next(i for i in range(len(trackers) - 1, -1, -1) if trackers[i] is self.years)]


@dataclass
class WorkCalendar:
    """The working-day calendar: package data, overridden by the policy's extra dates.

    ``complete_years`` are years whose holidays and make-up workdays the policy lists in full
    (for instance a year published after the installed package): no warning for them.
    """

    extra_holidays: frozenset[dt.date] = frozenset()
    extra_workdays: frozenset[dt.date] = frozenset()
    complete_years: frozenset[int] = frozenset()
    #: every year a lookup had to fall back on, since the calendar was made.
    uncovered: set[int] = field(default_factory=set)
    _trackers: list[set[int]] = field(default_factory=list, repr=False)
    _cache: dict[dt.date, DayInfo] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        both = self.extra_holidays & self.extra_workdays
        if both:
            days = ", ".join(sorted(d.isoformat() for d in both))
            raise PolicyError("cal_pol_both", days=days)

    @classmethod
    def from_policy(cls, policy: Policy | None) -> "WorkCalendar":
        """The calendar with the policy's ``[deadlines.calendar]`` extras."""
        section = (policy.get("deadlines.calendar", {}) if policy else {}) or {}
        years = section.get("complete_years", []) or []
        if not all(isinstance(y, int) and not isinstance(y, bool) for y in years):
            raise PolicyError("cal_pol_years", value=years)
        return cls(
            frozenset(_as_dates(section.get("extra_holidays", []), "deadlines.calendar.extra_holidays")),
            frozenset(_as_dates(section.get("extra_workdays", []), "deadlines.calendar.extra_workdays")),
            frozenset(years),
        )

    def covers(self, year: int) -> bool:
        """True when the package or the policy (complete_years) knows this year's holidays."""
        return PACKAGE_YEARS[0] <= year <= PACKAGE_YEARS[1] or year in self.complete_years

    def day(self, d: dt.date) -> DayInfo:
        """What kind of day ``d`` is. Records the year when it had to fall back on weekends."""
        info = self._cache.get(d)
        if info is None:
            info = self._cache[d] = self._lookup(d)
        if not info.covered:
            self.note((d.year,))
        return info

    def _lookup(self, d: dt.date) -> DayInfo:
        if d in self.extra_holidays:
            return DayInfo(d, False, EXTRA_HOLIDAY)
        if d in self.extra_workdays:
            return DayInfo(d, True, EXTRA_WORKDAY)
        weekend = d.weekday() >= 5
        try:
            working = chinese_calendar.is_workday(d)
        except NotImplementedError:
            covered = d.year in self.complete_years
            return DayInfo(d, not weekend, WEEKEND if weekend else WORKDAY, covered=covered)
        name = chinese_calendar.get_holiday_detail(d)[1] or ""
        if working:
            return DayInfo(d, True, MAKEUP if weekend else WORKDAY, name if weekend else "")
        return DayInfo(d, False, HOLIDAY if name else WEEKEND, name)

    def track(self) -> "_Tracking":
        """Collect the uncovered years that lookups inside the ``with`` block touch."""
        return _Tracking(self._trackers)

    def note(self, years: Iterable[int]) -> None:
        """Record uncovered years found earlier (a remembered result touched them)."""
        for year in years:
            self.uncovered.add(year)
            for tracker in self._trackers:
                tracker.add(year)

    def is_working_day(self, d: dt.date) -> bool:
        """True on weekdays that are not holidays, and on 调休 make-up workdays."""
        return self.day(d).working

    def next_working_day(self, d: dt.date) -> dt.date:
        """The first working day strictly after ``d``."""
        d += dt.timedelta(days=1)
        while not self.is_working_day(d):
            d += dt.timedelta(days=1)
        return d

    def roll_forward(self, d: dt.date) -> dt.date:
        """``d`` itself when it is a working day, else the next working day (民法典 第203条)."""
        return d if self.is_working_day(d) else self.next_working_day(d)

    def add_working_days(self, d: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``d`` (``d`` itself not counted); n = 0 gives ``d``."""
        if n < 0:
            raise ValueError("add_working_days counts forward only")
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

        So ``working_days_between(a, add_working_days(a, n)) == n``.
        """
        if b < a:
            return -self.working_days_between(b, a)
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_working_day(a + dt.timedelta(days=i)))

    def working_day_numbers(self, days: Sequence[int | None]) -> list[int | None]:
        """For each day number (``date.toordinal``), the working days from the earliest one up to
        it, in one walk over the dates between: the difference of two is the working days after
        the first up to the second, as ``working_days_between`` gives it. None stays None."""
        known = sorted({d for d in days if d is not None})
        number: dict[int, int] = {}
        count, ordinal = 0, known[0] if known else 0
        for d in known:
            while ordinal < d:
                ordinal += 1
                if self.is_working_day(dt.date.fromordinal(ordinal)):
                    count += 1
            number[d] = count
        return [None if d is None else number[d] for d in days]

    def skipped(self, start: dt.date, end: dt.date) -> list[DayInfo]:
        """Days after ``start`` up to ``end`` that are not plain weekdays: holidays, weekends,
        make-up workdays and extra dates (what an explanation of a working-day count mentions)."""
        days = (self.day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1))
        return [info for info in days if info.kind != WORKDAY]

    def warnings(self) -> list[CalendarWarning]:
        """One warning per uncovered year seen so far (rows not counted)."""
        return [CalendarWarning(y) for y in sorted(self.uncovered)]


def default_calendar(policy: Policy | None = None) -> WorkCalendar:
    """The calendar for ``policy`` (package data only when None)."""
    return WorkCalendar.from_policy(policy)


def warn_uncovered(years: Iterable[int], lang: str = "zh") -> None:
    """Emit a ``CalendarCoverageWarning`` for each year (single-date helpers cannot return one)."""
    for year in sorted(set(years)):
        warnings.warn(CalendarWarning(year).message(lang), CalendarCoverageWarning, stacklevel=3)


def is_working_day(d: dt.date, policy: Policy | None = None) -> bool:
    """Module-level helper: is ``d`` a working day? Warns for an uncovered year."""
    cal = default_calendar(policy)
    with cal.track() as years:
        result = cal.is_working_day(d)
    warn_uncovered(years)
    return result


def working_days_between(a: Any, b: Any, policy: Policy | None = None) -> int:
    """Working days after ``a`` up to and including ``b`` (worksheet function). Accepts dates,
    Excel serials and date text; warns for an uncovered year."""
    first, last = (as_date(v) for v in (a, b))
    cal = default_calendar(policy)
    with cal.track() as years:
        result = cal.working_days_between(first, last)
    warn_uncovered(years)
    return result


def as_date(value: Any) -> dt.date:
    """A date from a date, datetime, Excel serial or date text (worksheet arguments); ValueError otherwise."""
    parsed = parse_date(value)
    if parsed.value is None:
        raise ValueError(f"{value!r} is not a date")
    return parsed.value
