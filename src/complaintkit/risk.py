"""Escalation risk (升级风险): which complaints are likely to go to the regulator, the media or the
courts, graded high/medium/low/none (红/橙/黄/无), each flag with its reasons and their evidence.

The score is a plain sum of points, one addend per factor found (shared/DOMAIN.md "Escalation and
its early signs"); every number and word list is in the policy's ``[risk]`` section:

- the customer: repeat complaints about the same issue (dedupe's repeat chains: count, recency,
  an earlier 回访不满意), or the customer's own word that this is not the first time (再次投诉,
  上次投诉还没解决) when no earlier complaint is in the registers; other complaints within 12
  months, a high frequency, an earlier escalation;
- the process: overdue and by how much, closed late (followups), passed between departments;
- the outcome: 回访不满意, or a disputed result in the text;
- the words: escalation words (12378, 媒体, 律师 ...) and hard demands (赔偿, 书面道歉, 找领导 ...)
  in the description, demand and remarks, with negations and look-alikes left out;
- the channel and the classified reason (both optional points).

A duplicate entry is the same event as its primary: what either copy records (回访不满意, 是否升级,
the channel) counts for both, and says on which entry it was found.

A complaint that arrived through 监管转办 or 媒体, or that the register marks 是否升级=是, is already
escalated: level high with a reason that says so (a fact, not a prediction). A cancelled complaint
(已撤销) is not assessed. Closed complaints are assessed like open ones (a closed complaint whose
follow-up was 不满意 is the most common road to escalation), except that "overdue" becomes "closed
late".

Nothing is re-implemented: customers come from identity.py, repeat chains from dedupe, deadline
statuses from followups, reasons from classify, each run once per pipeline (operations.py).
``evaluate`` measures how well the score ranks the complaints a register marks as escalated.

Pure: registers, policy and an as-of date in; a ``RiskReport`` out.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import operator
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .classification import reason_names_en
from .deadlines import FollowupReport, RowDeadline, check_deadlines
from .dedupe import DedupeResult, Group, IssueLabel, dedupe, pipeline_labels
from .errors import ComplaintkitError, PolicyError
from .fields import field_label
from .identity import PhoneColumns, RecordKey, SheetKey, customer_keys, phone_columns
from .messages import Joined, Text, register_messages, render, t
from .normalize import nfkc
from .operations import OpContext, OpResult, operation, run_operation
from .policy import Policy
from .register import Record, Register, all_records, earlier_records
from .sheetplan import AMBER, RED, YELLOW, CellMark, PlanColumn, PlanTable, SheetPlan

HIGH, MEDIUM, LOW, NONE = "high", "medium", "low", "none"
LEVELS = (HIGH, MEDIUM, LOW, NONE)
FILLS = {HIGH: RED, MEDIUM: AMBER, LOW: YELLOW}
#: Reason codes that state a fact about the complaint itself: left out when evaluating.
ALREADY_ESCALATED = ("already_channel", "already_flag")

register_messages({
    "risk_level_high": ("红", "red"),
    "risk_level_medium": ("橙", "orange"),
    "risk_level_low": ("黄", "yellow"),
    "risk_level_none": ("无", "none"),
    "risk_levelx_high": ("高（红）", "high (red)"),
    "risk_levelx_medium": ("中（橙）", "medium (orange)"),
    "risk_levelx_low": ("低（黄）", "low (yellow)"),
    "risk_levelx_none": ("无", "none"),
    # reasons
    "risk_already_channel": ("已升级：经“{channel}”渠道受理，本身就是升级投诉（事实，不是预测）{copy}",
                             "already escalated: received through '{channel}' (a fact, not a prediction){copy}"),
    "risk_already_flag": ("已升级：台账标记是否升级为“{value}”（事实，不是预测）{copy}",
                          "already escalated: the register marks it escalated ('{value}'; a fact, not a prediction){copy}"),
    "risk_repeat": ("第{n}次就同一问题{issue}投诉，{earlier}: {refs}", "complaint no. {n} about the same issue{issue}; {earlier}: {refs}"),
    "risk_issue": ("（{label}）", " ({label})"),
    "risk_earlier_1": ("前次", "earlier"),
    "risk_earlier_n": ("前{n}次", "the {n} earlier"),
    "risk_earlier_2": ("前两次", "the 2 earlier"),
    "risk_earlier_more": ("最近{shown}次（共{n}次）", "the last {shown} of {n} earlier"),
    "risk_repeat_recent": ("距上次就同一问题投诉仅 {days} 天", "only {days} days since the last complaint about it"),
    "risk_repeat_after_unsatisfied": ("此前就该问题的投诉回访不满意: {refs}", "unsatisfied at the follow-up of an earlier complaint about it: {refs}"),
    "risk_earlier_other": ("近{period}另有 {n} 次投诉（未认定为同一问题）: {refs}", "{n} other complaints within {period}, not linked as the same issue: {refs}"),
    "risk_frequency": ("近{period}内第 {n} 次投诉（频繁投诉）", "complaint no. {n} within {period} (frequent complainant)"),
    "risk_earlier_escalation": ("该客户此前曾升级投诉: {refs}", "the customer escalated before: {refs}"),
    "risk_overdue": ("已超期 {n} 天（办理时限 {due}）", "overdue by {n} days (decision due {due})"),
    "risk_closed_late": ("超期办结（晚 {n} 天）", "closed late (by {n} days)"),
    "risk_transfers": ("已在部门间流转 {n} 次", "passed between departments {n} times"),
    "risk_unsatisfied": ("回访{result}{date}{copy}", "follow-up result '{result}'{date}{copy}"),
    "risk_unsatisfied_date": ("（回访日期 {date}）", " ({date})"),
    "risk_on_copy": ("（记于同一投诉的重复录入 {id}）", " (recorded on its duplicate entry {id})"),
    "risk_said_repeat": ("{mentions}（客户称此前已投诉过，台账中未找到前次投诉）",
                         "{mentions} (says it complained before; no earlier complaint found in the registers)"),
    "risk_disputed": ("{mentions}（对处理结果有异议）", "{mentions} (disputes the outcome)"),
    "risk_escalation_words": ("{mentions}", "{mentions}"),
    "risk_hard_demands": ("{mentions}（难以满足的诉求）", "{mentions} (a demand that is hard to meet)"),
    "risk_channel": ("经“{channel}”渠道受理", "received through '{channel}'"),
    "risk_reason": ("投诉原因为“{label}”", "reason '{label}'"),
    "risk_cancelled": ("已撤销，不评估升级风险", "cancelled: not assessed"),
    # factor names (evaluate)
    "risk_factor_already_channel": ("已升级渠道", "already-escalated channel"),
    "risk_factor_already_flag": ("已标记升级", "marked escalated"),
    "risk_factor_repeat": ("同一问题重复投诉", "repeat complaint, same issue"),
    "risk_factor_repeat_recent": ("短期内重复", "recent repeat"),
    "risk_factor_said_repeat": ("自称此前已投诉", "says it complained before"),
    "risk_factor_repeat_after_unsatisfied": ("前次回访不满意后重复", "repeat after an unsatisfied follow-up"),
    "risk_factor_earlier_other": ("此前的其他投诉", "other earlier complaints"),
    "risk_factor_frequency": ("频繁投诉", "frequent complainant"),
    "risk_factor_earlier_escalation": ("此前曾升级", "escalated before"),
    "risk_factor_overdue": ("超期未办结", "overdue"),
    "risk_factor_closed_late": ("超期办结", "closed late"),
    "risk_factor_transfers": ("多次流转", "transfers"),
    "risk_factor_unsatisfied": ("回访不满意", "unsatisfied follow-up"),
    "risk_factor_disputed": ("对处理结果有异议", "disputed outcome"),
    "risk_factor_escalation_words": ("扬言升级的字眼", "escalation words"),
    "risk_factor_hard_demands": ("难以满足的诉求", "hard demands"),
    "risk_factor_channel": ("渠道加分", "channel points"),
    "risk_factor_reason": ("投诉原因加分", "reason points"),
    "risk_factor_cancelled": ("已撤销", "cancelled"),
    "risk_mentions": ("{field}提到{words}", "{field} mentions {words}"),
    "risk_history": ("历史", "history"),
    "risk_period_months": ("{n}个月", "{n} months"),
    "risk_period_days": ("{n}天", "{n} days"),
    # workbook, table, summary
    "risk_col_level": ("CK-升级风险", "CK-escalation risk"),
    "risk_col_score": ("CK-风险分", "CK-risk score"),
    "risk_col_reasons": ("CK-风险原因", "CK-risk reasons"),
    "risk_sheet": ("CK-升级预警", "CK-risk"),
    "risk_hdr_where": ("位置", "where"),
    "risk_hdr_file": ("文件", "file"),
    "risk_hdr_row": ("行", "row"),
    "risk_hdr_id": ("投诉编号", "complaint ID"),
    "risk_hdr_branch": ("受理机构", "branch"),
    "risk_hdr_handler": ("处理人", "handler"),
    "risk_hdr_received": ("受理日期", "received"),
    "risk_hdr_status": ("处理状态", "status"),
    "risk_hdr_level": ("预警等级", "level"),
    "risk_hdr_score": ("风险分", "score"),
    "risk_hdr_reasons": ("原因", "reasons"),
    "risk_summary": (
        "共 {rows} 行（检查日 {as_of}）：红色预警 {high}，橙色 {medium}，黄色 {low}，无 {none}",
        "{rows} rows (as of {as_of}): {high} high (red), {medium} medium (orange), {low} low (yellow), {none} none",
    ),
})


# --------------------------------------------------------------------------------------------
# Settings

register_messages({
    "risk_pol_points": ("{where}.{key} 应为不小于 0 的数，而不是 {value!r}", "{where}.{key} must be a number of 0 or more, not {value!r}"),
    "risk_pol_words": ("{where} 应为词语列表，而不是 {value!r}", "{where} must be a list of words, not {value!r}"),
    "risk_pol_table": ("risk.{name} 应为 TOML 表", "risk.{name} must be a table"),
    "risk_pol_unknown_keys": ("risk.{name}：未知的键 {unknown}（可用：{known}）", "risk.{name}: unknown keys {unknown} (known: {known})"),
    "risk_pol_word_table": ("{where}.{kind} 应为“词 = 分数”的表", "{where}.{kind} must be a table of word = points"),
    "risk_pol_bad_regex": ("{where}.patterns：{term!r} 不是有效的正则表达式（{detail}）",
                           "{where}.patterns: {term!r} is not a valid regular expression ({detail})"),
    "risk_pol_regex_together": ("{where}.patterns 无法合在一起搜索（{detail}）：标志只能写给它作用的那一部分，如 (?i:...)",
                                "{where}.patterns cannot be searched together ({detail}): write a flag for its part only, as (?i:...)"),
    "risk_pol_unknown_sections": ("risk：未知的键 {unknown}（可用：{known}）", "risk: unknown keys {unknown} (known: {known})"),
    "risk_pol_levels": ("risk.levels 应满足 high >= medium >= low > 0（现为 {high:g}、{medium:g}、{low:g}）",
                        "risk.levels must satisfy high >= medium >= low > 0 (got {high:g}, {medium:g}, {low:g})"),
    "risk_top_invalid": ("{value!r} 既不是行数（如 10）也不是比例（如 5%）", "{value!r} is not a number of rows (10) or a share (5%)"),
    "risk_no_escalated_column": (
        "没有“{label}”（escalated）列：risk evaluate 需要台账把每条投诉标为 是/否（可用 --map '表头=escalated' 指定该列）",
        "no {label} (escalated) column: risk evaluate needs the complaints marked 是/否 (name the column with --map 'HEADER=escalated')",
    ),
})


class TopError(ComplaintkitError, ValueError):
    """A --top value that is neither a number of rows nor a share (a ValueError as well, for
    callers that catch that)."""


def _points(spec: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PolicyError("risk_pol_points", where=where, key=key, value=value)
    return float(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError("risk_pol_words", where=where, value=value)
    return tuple(v for v in value if v)


def _section(policy: Policy, name: str, known: Iterable[str] | None = None) -> dict[str, Any]:
    """A [risk.NAME] table; with ``known``, a key outside it (a typo such as ``frist``) is an error
    rather than a setting silently ignored."""
    value = policy.get(f"risk.{name}", {}) or {}
    if not isinstance(value, dict):
        raise PolicyError("risk_pol_table", name=name)
    unknown = sorted(set(value) - set(known)) if known is not None else []
    if unknown:
        raise PolicyError("risk_pol_unknown_keys", name=name, unknown=", ".join(unknown), known=", ".join(known))  # type: ignore[arg-type]
    return value


def _fold(text: str) -> str:
    """Text as the word lists see it: NFKC (full-width digits and letters become plain) and lower case."""
    return nfkc(text).casefold()


#: What folding leaves as written in a pattern: escapes (\S is not \s, \N{...} names a character)
#: and the letters of group syntax ((?P<name>...), (?P=name), (?(name)...), flags such as (?L)).
_PATTERN_SYNTAX = re.compile(r"\\N\{[^}]*\}|\\.|\(\?(?:P<[^>]*>|P=[^)]*\)|\([^)]*\)|[aiLmsux]*(?:-[imsx]*)?[:)])", re.S)

#: A pattern that refers to its own groups (\1, (?P=name), (?(1)...)) or names one: joined with
#: the others its group numbers would shift and its names could clash, so it is searched alone.
#: (Cautious: a \1 inside [...] is a character, and such a pattern is searched alone all the same.)
_OWN_GROUPS = re.compile(r"\\[1-9]|\(\?P[<=]|\(\?\(")


def _fold_pattern(pattern: str) -> str:
    """A pattern as the folded texts need it: its letters folded as ``_fold`` folds them, its
    escapes and group syntax as written."""
    text = nfkc(pattern)
    out, at = [], 0
    for m in _PATTERN_SYNTAX.finditer(text):
        out += (text[at:m.start()].casefold(), m.group())
        at = m.end()
    out.append(text[at:].casefold())
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Hit:
    """A term found in a field: ``term`` is the word or pattern (the key it counts under),
    ``text`` the words as written."""

    term: str
    text: str
    field: str
    points: float


class WordList:
    """A policy word list (words and regular expressions, each with its points), matched with
    negations, look-alike phrases and number boundaries taken care of."""

    def __init__(self, spec: Mapping[str, Any], where: str, text: "TextRules", default_max: float) -> None:
        self.max = _points(spec, "max", default_max, where)
        self.text = text
        self.words: dict[str, tuple[str, float]] = {}  # folded word -> (word as in the policy, points)
        self.patterns: list[tuple[str, str, float]] = []  # (pattern as in the policy, folded source, points)
        #: the patterns searched alone (see _OWN_GROUPS), each with its place in ``patterns``.
        self.alone: dict[re.Pattern[str], int] = {}
        for kind in ("words", "patterns"):
            table = spec.get(kind, {}) or {}
            if not isinstance(table, Mapping):
                raise PolicyError("risk_pol_word_table", where=where, kind=kind)
            for term, value in table.items():
                points = _points({"p": value}, "p", 0, f"{where}.{kind}.{term}")
                folded = _fold(str(term)) if kind == "words" else _fold_pattern(str(term))
                if not points or not folded:  # 0 points switches a shipped word off
                    continue
                if kind == "words":
                    self.words[folded] = (str(term), points)
                    continue
                try:
                    compiled = re.compile(folded)
                except re.error as exc:
                    raise PolicyError("risk_pol_bad_regex", where=where, term=term, detail=str(exc)) from None
                if _OWN_GROUPS.search(folded):  # the first of two alike wins, as in an alternation
                    self.alone.setdefault(compiled, len(self.patterns))
                self.patterns.append((str(term), folded, points))
        # One regex: the words as plain literals, longest first (金融监管 is found whole, not as
        # 监管), then each pattern as a group. Boundaries are checked after a match, so the
        # words stay literals the regex engine scans for quickly.
        parts = []
        if self.words:
            parts.append("(?P<w>" + "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True)) + ")")
        parts += [f"(?P<p{i}>{src})" for i, (_, src, _) in enumerate(self.patterns) if not _OWN_GROUPS.search(src)]
        try:
            self.regex = re.compile("|".join(parts)) if parts else None
        except re.error as exc:  # each compiles alone, but e.g. a global (?i) only stands first
            raise PolicyError("risk_pol_regex_together", where=where, detail=str(exc)) from None

    def find(self, texts: Sequence[tuple[str, str]]) -> list[Hit]:
        """Each term found once, in the first field it is found in; negated mentions, numbers
        inside longer numbers (12378 in 6212378...) and numbers that are amounts or card, order
        or ticket numbers (转账12378元, 尾号12363) are skipped. ``texts`` come from
        ``TextRules.prepare``."""
        if self.regex is None and not self.alone:
            return []
        hits: dict[str, Hit] = {}
        rules = self.text
        for name, text in texts:
            negated_until = -1
            for m in self._merged(text) if self.alone else self.regex.finditer(text):  # type: ignore[union-attr]
                start, end = m.span()
                if _inside_word(text, start, end) or _amount_or_reference(text, start, end):
                    continue
                # A negation covers a run of words too: 不会找媒体曝光 negates 曝光 as well.
                if rules.negated(text, start) or (negated_until >= 0 and rules.joins(text, negated_until, start)):
                    negated_until = end
                    continue
                negated_until = -1
                found = m.group(0)
                place = self._place(m)
                if place < 0:
                    term, points = self.words[found]
                else:
                    term, _, points = self.patterns[place]
                if term not in hits:
                    hits[term] = Hit(term, found, name, points)
        return list(hits.values())

    def _place(self, m: re.Match[str]) -> int:
        """The place in ``patterns`` of the pattern that made ``m`` (-1: a word)."""
        if m.re is not self.regex:
            return self.alone[m.re]
        return -1 if m.lastgroup == "w" else int(m.lastgroup[1:])  # type: ignore[index]

    def _merged(self, text: str) -> Iterator[re.Match[str]]:
        """The matches of the joined regex and of the patterns searched alone, left to right and
        none overlapping, as one alternation of them all finds them: of matches that start at
        the same place, the first listed wins (words, then the patterns in order)."""
        regexes = [r for r in (self.regex, *self.alone) if r is not None]
        ahead = [r.search(text) for r in regexes]
        at = 0
        while True:
            best = None
            for i, m in enumerate(ahead):
                if m is not None and m.start() < at:  # overlapped by the last match: look again after it
                    m = ahead[i] = regexes[i].search(text, at)
                if m is not None and (best is None or (m.start(), self._place(m)) < (best.start(), self._place(best))):
                    best = m
            if best is None:
                return
            yield best
            at = best.end() if best.end() > best.start() else best.end() + 1  # an empty match moves on

    def score(self, hits: Sequence[Hit]) -> float:
        return min(self.max, sum(h.points for h in hits))


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _inside_word(text: str, start: int, end: int) -> bool:
    """A match that begins or ends with a digit or Latin letter and continues one: 12378 inside
    6212378001, "sue" inside "issue"."""
    return (start > 0 and _ascii_alnum(text[start]) and _ascii_alnum(text[start - 1])) or (
        end < len(text) and _ascii_alnum(text[end - 1]) and _ascii_alnum(text[end]))


#: After a number, what makes it an amount (转账12378元); before it, what makes it a card, order or
#: ticket number (尾号12363, 订单号：12345), with the separators allowed between.
_AMOUNT_AFTER = frozenset("元块万角")
_REFERENCE_BEFORE = "号"
_REFERENCE_GAP = " :为是"


def _amount_or_reference(text: str, start: int, end: int) -> bool:
    """A number that is an amount or a card, order or ticket number, not a hotline to call."""
    if not text[start:end].isdigit():
        return False
    if text[end:end + 1] in _AMOUNT_AFTER:
        return True
    return text[max(0, start - 3):start].rstrip(_REFERENCE_GAP).endswith(_REFERENCE_BEFORE)


_UNSEEN = object()


@dataclass(frozen=True)
class TextRules:
    """[risk.text]: negations, the fillers allowed between a negation and a word, ignored phrases."""

    negation: re.Pattern[str] | None
    ignore: re.Pattern[str] | None
    gap: re.Pattern[str]

    @classmethod
    def from_policy(cls, spec: Mapping[str, Any]) -> "TextRules":
        negations = sorted({_fold(w) for w in _strings(spec.get("negations", []), "risk.text.negations")}, key=len, reverse=True)
        fillers = sorted({_fold(w) for w in _strings(spec.get("fillers", []), "risk.text.fillers")}, key=len, reverse=True)
        ignore = sorted({_fold(w) for w in _strings(spec.get("ignore", []), "risk.text.ignore")}, key=len, reverse=True)
        negation = None
        if negations:
            filler = "|".join(map(re.escape, fillers)) or "(?!)"
            # A negation, then at most three fillers, right before the word: 不会投诉到|监管, 没有|报警.
            negation = re.compile(f"(?:{'|'.join(map(re.escape, negations))})(?:{filler}){{0,3}}$")
        gap = re.compile(f"(?:{'|'.join(map(re.escape, fillers)) or '(?!)'})*")
        return cls(negation, re.compile("|".join(map(re.escape, ignore))) if ignore else None, gap)

    #: Distinct texts a ``prepare`` memo holds before it starts again.
    MEMO = 4096

    def prepare(self, values: Mapping[str, Any], fields: Sequence[str], screen: "Screen | None" = None,
                memo: dict[str, str | None] | None = None) -> list[tuple[str, str]]:
        """The fields to search, folded and with ignored phrases blanked: done once per record
        for every word list. With ``screen``, only the texts it finds something in (see
        ``RiskSettings.screen``); with ``memo``, each distinct text is prepared and screened once
        (demands and remarks repeat; descriptions pass through)."""
        out = []
        for name in fields:
            value = values.get(name)
            if not (isinstance(value, str) and value):
                continue
            text = memo.get(value, _UNSEEN) if memo is not None else _UNSEEN
            if text is _UNSEEN:
                text = self.mask(_fold(value))
                if screen is not None and not screen.search(text):
                    text = None
                if memo is not None:
                    if len(memo) >= self.MEMO:
                        memo.clear()
                    memo[value] = text
            if text is not None:
                out.append((name, text))
        return out

    def mask(self, text: str) -> str:
        """Blank out ignored phrases (冒充律师, 人民银行征信 ...) keeping every position."""
        if self.ignore is None:
            return text
        return self.ignore.sub(lambda m: "\x00" * len(m.group(0)), text)

    def negated(self, text: str, start: int) -> bool:
        # Only the text just before the word: a negation far back (如果不解决我就打12378) says nothing.
        return bool(self.negation and self.negation.search(text, max(0, start - 12), start))

    def joins(self, text: str, end: int, start: int) -> bool:
        """Only fillers between two words (媒体|曝光, 律师|和|法院): they belong to one phrase."""
        return self.gap.fullmatch(text, end, start) is not None


_SECTIONS = ("levels", "text_fields", "already_escalated", "repeat", "earlier_other", "frequency", "earlier_escalation",
             "overdue", "transfers", "unsatisfied", "disputed", "channels", "reasons", "escalation_words", "hard_demands",
             "said_repeat", "text")
_WORD_LIST = ("max", "words", "patterns")


class Screen:
    """Whether a text holds any word or pattern of the word lists. The words are one regular
    expression of literals, which the engine skips through quickly, and each pattern is searched
    on its own: joined into one alternation with the words, every position of every text tried
    every alternative (twice the time, and more with each pattern a policy adds)."""

    __slots__ = ("words", "patterns")

    def __init__(self, words: Sequence[str], patterns: Sequence[str]) -> None:
        self.words = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))) if words else None
        self.patterns = [re.compile(src) for src in patterns]

    def search(self, text: str) -> bool:
        if self.words is not None and self.words.search(text):
            return True
        return any(p.search(text) for p in self.patterns)


@dataclass(frozen=True)
class RiskSettings:
    """The [risk] policy section, read and checked once."""

    high: float
    medium: float
    low: float
    text_fields: tuple[str, ...]
    already_channels: frozenset[str]
    escalated_values: frozenset[str]
    already_points: float
    repeat: dict[str, float]
    earlier_other: dict[str, float]
    frequency: dict[str, float]
    earlier_escalation: dict[str, float]
    overdue: dict[str, float]
    transfers: dict[str, float]
    unsatisfied_values: frozenset[str]
    unsatisfied_points: float
    disputed: WordList
    channels: dict[str, float]
    reasons: dict[str, float]
    escalation_words: WordList
    hard_demands: WordList
    cancelled_statuses: frozenset[str]
    text: TextRules
    said_repeat: WordList

    @classmethod
    def from_policy(cls, policy: Policy) -> "RiskSettings":
        """Read and check the settings: a wrong value is a PolicyError (exit 2), never an odd score."""
        top = policy.section("risk")
        unknown = sorted(set(top) - set(_SECTIONS))
        if unknown:
            raise PolicyError("risk_pol_unknown_sections", unknown=", ".join(unknown), known=", ".join(_SECTIONS))
        levels = _section(policy, "levels", ("high", "medium", "low"))
        high, medium, low = (_points(levels, k, d, "risk.levels") for k, d in (("high", 70), ("medium", 40), ("low", 20)))
        if not high >= medium >= low > 0:
            raise PolicyError("risk_pol_levels", high=high, medium=medium, low=low)

        def numbers(name: str, defaults: dict[str, float]) -> dict[str, float]:
            spec = _section(policy, name, defaults)
            return {k: _points(spec, k, d, f"risk.{name}") for k, d in defaults.items()}

        already = _section(policy, "already_escalated", ("channels", "escalated_values", "points"))
        text = TextRules.from_policy(_section(policy, "text", ("negations", "fillers", "ignore")))
        disputed_spec = _section(policy, "disputed", ("points", "words"))
        disputed_points = _points(disputed_spec, "points", 25, "risk.disputed")
        # The dispute phrases all weigh the same: the factor counts once.
        disputed = WordList({"max": disputed_points, "words": {w: disputed_points for w in _strings(disputed_spec.get("words", []), "risk.disputed.words")}},
                            "risk.disputed", text, disputed_points)
        unsatisfied = _section(policy, "unsatisfied", ("values", "points"))
        fields = _strings(policy.get("risk.text_fields", ["description", "demand", "remarks"]), "risk.text_fields")
        return cls(
            high, medium, low, fields,
            frozenset(_strings(already.get("channels", ["监管转办", "媒体"]), "risk.already_escalated.channels")),
            frozenset(_strings(already.get("escalated_values", ["是"]), "risk.already_escalated.escalated_values")),
            _points(already, "points", 100, "risk.already_escalated"),
            numbers("repeat", {"first": 45, "further": 30, "max": 120, "recent_days": 30, "recent": 10, "after_unsatisfied": 10}),
            numbers("earlier_other", {"days": 365, "points": 10, "max": 20}),
            numbers("frequency", {"days": 365, "min_complaints": 4, "points": 20}),
            numbers("earlier_escalation", {"days": 730, "points": 40}),
            numbers("overdue", {"points": 25, "per_week": 5, "max": 35, "closed_late": 10}),
            numbers("transfers", {"free": 1, "per_transfer": 7, "max": 25}),
            frozenset(_strings(unsatisfied.get("values", ["不满意"]), "risk.unsatisfied.values")),
            _points(unsatisfied, "points", 25, "risk.unsatisfied"),
            disputed,
            {str(k): _points({"p": v}, "p", 0, f"risk.channels.{k}") for k, v in _section(policy, "channels").items()},
            {str(k): _points({"p": v}, "p", 0, f"risk.reasons.{k}") for k, v in _section(policy, "reasons").items()},
            WordList(_section(policy, "escalation_words", _WORD_LIST), "risk.escalation_words", text, 60),
            WordList(_section(policy, "hard_demands", _WORD_LIST), "risk.hard_demands", text, 50),
            frozenset(_strings(policy.get("status.cancelled", ["已撤销"]), "status.cancelled")),
            text,
            WordList(_section(policy, "said_repeat", _WORD_LIST), "risk.said_repeat", text, 30),
        )

    @property
    def word_lists(self) -> tuple[WordList, ...]:
        """Every list searched in the texts (``screen`` joins them)."""
        return (self.disputed, self.escalation_words, self.hard_demands, self.said_repeat)

    @functools.cached_property
    def screen(self) -> "Screen":
        """One look that tells whether a text holds anything a word list looks for: most texts
        hold nothing and are then not searched once per list."""
        lists = self.word_lists
        return Screen([w for wl in lists for w in wl.words], [src for wl in lists for _, src, _ in wl.patterns])

    def level(self, score: float) -> str:
        """The level a score reaches on its own."""
        if score >= self.high:
            return HIGH
        if score >= self.medium:
            return MEDIUM
        if score >= self.low:
            return LOW
        return NONE


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True, eq=False)
class Ref:
    """An earlier complaint named in a reason: its ID (else its file and row), date and a note.

    One object per complaint and note (see _Scorer._refs), compared by identity: the reasons
    that name it are compared and hashed for every row (see _Scorer.assess)."""

    id: str
    source: str
    row: int
    date: dt.date | None
    note: str = ""
    history: bool = False
    #: the text by language, rendered once: later complaints of a customer name the same ones.
    _texts: dict[str, str] = field(default_factory=dict, repr=False)

    def render(self, lang: str) -> str:
        text = self._texts.get(lang)
        if text is None:
            label = self.id or t("dedupe_row_in", lang, file=Path(self.source).name, row=self.row)
            inside = [self.date.isoformat()] if self.date else []
            if self.note:
                inside.append(self.note)
            if self.history:
                inside.append(t("risk_history", lang))
            text = self._texts[lang] = f"{label} ({', '.join(inside)})" if inside else label
        return text


@dataclass(frozen=True, slots=True)
class Mentions:
    """Words found, by field: 投诉内容提到“12378”、“媒体”；客户诉求提到“赔偿”."""

    hits: tuple[Hit, ...]

    def render(self, lang: str) -> str:
        by_field: dict[str, list[str]] = defaultdict(list)
        for h in self.hits:
            by_field[h.field].append(f"“{h.text}”" if lang == "zh" else f"'{h.text}'")
        sep, part_sep = ("、", "；") if lang == "zh" else (", ", "; ")
        return part_sep.join(t("risk_mentions", lang, field=field_label(f, lang), words=sep.join(w)) for f, w in by_field.items())


@dataclass(frozen=True, slots=True)
class Period:
    """A number of days, shown as months when it is whole years (365 -> 12个月)."""

    days: int

    def render(self, lang: str) -> str:
        if self.days % 365 == 0:
            return t("risk_period_months", lang, n=self.days // 365 * 12)
        return t("risk_period_days", lang, n=self.days)


@dataclass(frozen=True, slots=True)
class Label:
    """A classified reason inside a message: its English name (the policy's ``en``) under --lang en."""

    zh: str
    en: str = ""

    def render(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.zh


@dataclass(frozen=True, slots=True)
class Reason:
    """One factor found: its code, its points, and what the message needs (the evidence).

    Its parameters are pairs, and a message inside them a ``Text`` with pairs: alike reasons of
    different rows are found by equality and hash (see _Scorer.assess)."""

    code: str
    points: float
    params: tuple[tuple[str, Any], ...] = ()
    #: the level this reason sets whatever the score (already-escalated complaints are high).
    floor: str = NONE
    #: the message by language, rendered once: rows share alike reasons (see _Scorer.assess).
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def message(self, lang: str = "zh") -> str:
        text = self._texts.get(lang)
        if text is None:
            text = self._texts[lang] = render(f"risk_{self.code}", lang, self.params)
        return text

    def scored(self, lang: str = "zh") -> str:
        """The message with its points (回访不满意 +25), as the reasons column lists it."""
        text = self._texts.get(lang + "+")
        if text is None:
            text = self._texts[lang + "+"] = f"{self.message(lang)} +{_num(self.points)}" if self.points else self.message(lang)
        return text


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


@dataclass(slots=True)
class RowRisk:
    """The escalation risk of one complaint row."""

    source: str
    sheet: str
    row: int
    id: str
    level: str
    score: float
    reasons: list[Reason]
    branch: str = ""
    handler: str = ""
    received: dt.date | None = None
    status: str = ""
    #: 是否升级 in the register: True/False, None when blank (what `evaluate` measures against).
    marked: bool | None = None
    id_column: str = ""
    order: int = 0
    channel: str = ""
    #: the classified reason (classify), for `evaluate`'s escalation rate per reason.
    issue: str = ""

    def level_text(self, lang: str = "zh") -> str:
        return t(f"risk_levelx_{self.level}", lang)

    def messages(self, lang: str = "zh") -> list[str]:
        """The reasons' messages (each rendered once, see Reason.message)."""
        return [r.message(lang) for r in self.reasons]

    def reasons_text(self, lang: str = "zh") -> str:
        """Every reason with its points: 已超期 12 天（办理时限 ...） +30；回访不满意 +25."""
        return ("；" if lang == "zh" else "; ").join([r.scored(lang) for r in self.reasons])

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON-contract form of the row."""
        return {
            "file": self.source, "sheet": self.sheet, "row": self.row, "id": self.id,
            "level": self.level, "level_text": t(f"risk_level_{self.level}", lang), "score": _num(self.score),
            "reasons": [{"code": r.code, "points": _num(r.points), "message": m} for r, m in zip(self.reasons, self.messages(lang))],
        }

    def sort_key(self) -> tuple[int, float, int]:
        return (LEVELS.index(self.level), -self.score, self.order)


@dataclass
class RiskReport:
    """Every row's risk at ``as_of``, highest first."""

    as_of: dt.date
    rows: list[RowRisk]
    history_rows: int = 0

    @property
    def errors(self) -> int:
        """High-risk rows (the exit code's error level)."""
        return sum(1 for r in self.rows if r.level == HIGH)

    @property
    def warnings(self) -> int:
        """Medium-risk rows (the exit code's warning level)."""
        return sum(1 for r in self.rows if r.level == MEDIUM)

    def summary(self) -> dict[str, int]:
        out = {"rows": len(self.rows)}
        out.update({level: sum(1 for r in self.rows if r.level == level) for level in LEVELS})
        out["history_rows"] = self.history_rows
        return out

    def summary_text(self, lang: str = "zh") -> str:
        return t("risk_summary", lang, as_of=self.as_of.isoformat(), **self.summary())

    def filtered(self, levels: Iterable[str]) -> list[RowRisk]:
        wanted = set(levels)
        return [r for r in self.rows if r.level in wanted]

    def to_dict(self, lang: str = "zh", mask: bool = False, levels: Iterable[str] | None = None) -> dict[str, Any]:
        """The JSON contract: as_of, rows (highest first; only ``levels`` when given), summary
        (counts per level over every row). ``mask`` is accepted like every check's: the rows
        carry IDs, dates and matched words, no personal data."""
        rows = self.rows if levels is None else self.filtered(levels)
        return {"as_of": self.as_of.isoformat(), "rows": [r.to_dict(lang) for r in rows], "summary": self.summary()}


# --------------------------------------------------------------------------------------------
# Scoring


class _Customers:
    """Every complaint event of every customer (history and current; duplicate entries once), in
    date order, so each row looks back only on what came before it."""

    def __init__(self, records: Sequence[Record], policy: Policy, copies: set[RecordKey], duplicates: DedupeResult,
                 columns: Mapping[SheetKey, PhoneColumns]) -> None:
        # dedupe resolved the customers of this same batch already (unless it was run on another);
        # else they are resolved here as dedupe does, second phone columns (``columns``) included.
        same = len(duplicates.batch) == len(records) and all(map(operator.eq, duplicates.batch, (r.key for r in records)))
        identities = duplicates.identities if same else customer_keys(records, policy, columns)
        self.customer: dict[RecordKey, str] = {}
        events: dict[str, list[tuple[int, int, Record]]] = defaultdict(list)
        for order, rec in enumerate(records):
            ident = identities.get(rec.key)
            day = rec.get("received_date")
            if ident is None or not isinstance(day, dt.date):
                continue
            self.customer[rec.key] = ident.customer
            if rec.key not in copies:
                events[ident.customer].append((day.toordinal(), order, rec))
        self.events = {c: sorted(e, key=lambda x: (x[0], x[1])) for c, e in events.items()}
        self.days = {c: [d for d, _, _ in e] for c, e in self.events.items()}
        self.position = {rec.key: i for e in self.events.values() for i, (_, _, rec) in enumerate(e)}

    def earlier(self, key: RecordKey, days: float) -> list[tuple[int, Record]]:
        """The customer's complaints before this one, at most ``days`` earlier, oldest first, each
        with how many days earlier it was received."""
        customer = self.customer.get(key)
        pos = self.position.get(key, 0)
        if customer is None or pos == 0:
            return []
        day = self.days[customer][pos]
        start = bisect.bisect_left(self.days[customer], day - days)
        return [(day - d, rec) for d, _, rec in self.events[customer][start:pos]]


#: Earlier complaints named in a reason, in either language: A (2025-01-02), B (2025-03-04, 媒体).
_REF_SEPS = (", ", ", ")


def _earlier_words(n: int, shown: int) -> Text:
    if shown < n:
        return Text("risk_earlier_more", (("shown", shown), ("n", n)))
    if n == 1:
        return Text("risk_earlier_1")
    if n == 2:
        return Text("risk_earlier_2")
    return Text("risk_earlier_n", (("n", n),))


class _Scorer:
    """The factors of one batch, with everything they look up prepared once."""

    MAX_REFS = 5  # earlier complaints named in one reason; a heavy complainant is summarised

    def __init__(self, settings: RiskSettings, records: Sequence[Record], history_sources: set[str], policy: Policy,
                 duplicates: DedupeResult, deadlines: FollowupReport, labels: Mapping[RecordKey, IssueLabel] | None,
                 review_label: str, leak_free: bool, columns: Mapping[SheetKey, PhoneColumns]) -> None:
        self.s = settings
        self.history_sources = history_sources
        self.leak_free = leak_free
        self.labels = labels or {}
        self.review_label = review_label
        self.label_en = reason_names_en(policy)
        self.primary: dict[RecordKey, Record] = {}
        self.chain: dict[RecordKey, tuple[Group, int]] = {}
        #: every entry of a complaint typed in more than once: one event, whose facts count for all.
        self.event: dict[RecordKey, tuple[Record, ...]] = {}
        for group in duplicates.duplicates:
            entries = tuple(m.record for m in group.members)
            for m in group.members:
                self.event[m.record.key] = entries
            for m in group.members[1:]:
                self.primary[m.record.key] = group.primary.record
        for group in duplicates.repeats:
            for pos, m in enumerate(group.members):
                self.chain[m.record.key] = (group, pos)
        self.customers = _Customers(records, policy, set(self.primary), duplicates, columns)
        # Only the rows a factor scores (overdue, closed late, see _process): a table of every row
        # cost a million new keys on a national register for the few that count.
        self.deadline: dict[tuple[str, str, int], RowDeadline] = {
            (r.source, r.sheet, r.row): r for r in deadlines.rows if r.days_overdue and r.status in ("overdue", "closed_late")}
        self.alike: dict[Reason, Reason] = {}
        #: TextRules.prepare's memo: text -> its searchable form, None when the screen rules it out.
        self.searchable: dict[str, str | None] = {}
        # Each earlier complaint named, by its record (alive as long as the scorer): most names
        # carry no note, and an int key costs no tuple built and hashed per name.
        self._ref_of: dict[int | tuple[int, str], Ref] = {}
        #: complaints already escalated (by 是否升级 or their channel), found once: every later
        #: complaint of the customer looks back on them.
        self.escalated = {r.key for r in records if r.get("escalated") in settings.escalated_values
                          or r.get("channel") in settings.already_channels}
        self.escalated.update(r.key for key in list(self.escalated) for r in self.event.get(key, ()))

    def _refs(self, records: Sequence[Record], note: Any = None) -> Joined:
        """The last ``MAX_REFS`` of ``records``, named one after another (A (2025-01-02), B)."""
        return Joined(tuple(self._ref(r, note(r) if note else "") for r in records[-self.MAX_REFS:]), _REF_SEPS)

    def _ref(self, rec: Record, note: str) -> Ref:
        key = (id(rec), note) if note else id(rec)
        ref = self._ref_of.get(key)
        if ref is None:
            ref = self._ref_of[key] = Ref(rec.id, rec.source, rec.row, rec.get("received_date"), note,
                                          rec.source in self.history_sources)
        return ref

    def assess(self, rec: Record, order: int) -> RowRisk:
        s = self.s
        v = rec.values
        out = RowRisk(rec.source, rec.sheet, rec.row, rec.id, NONE, 0.0, [], v.get("branch") or "", v.get("handler") or "",
                      v.get("received_date"), v.get("status") or "",
                      None if v.get("escalated") is None else v.get("escalated") in s.escalated_values,
                      rec.column_of("complaint_id"), order)
        base = self.primary.get(rec.key, rec)  # a duplicate entry looks back as its primary does
        out.channel = v.get("channel") or ""
        label = self.labels.get(base.key)
        out.issue = label.label if label is not None and label.label != self.review_label else ""
        if v.get("status") in s.cancelled_statuses:
            out.reasons = [Reason("cancelled", 0)]
            return out
        reasons: list[Reason] = []
        if not self.leak_free:
            reasons += self._already(rec)
        texts = s.text.prepare(v, s.text_fields, s.screen, self.searchable)
        reasons += self._repeat(base)
        reasons += self._said_repeat(base, texts)
        reasons += self._customer(base)
        reasons += self._process(rec)
        reasons += self._outcome(rec, texts)
        reasons += self._words(texts)
        reasons += self._channel_and_reason(rec, base)
        # Rows share most reasons (the same channel, overdue days, frequency...; a third of 10,000
        # rows' reasons are distinct): alike ones become one object, whose message is rendered once.
        reasons = [self.alike.setdefault(r, r) for r in reasons if r.points > 0 or r.floor != NONE]
        out.reasons = reasons
        out.score = sum(r.points for r in reasons)
        floors = [LEVELS.index(r.floor) for r in reasons]
        out.level = LEVELS[min([LEVELS.index(s.level(out.score))] + floors)]
        return out

    # -- the factors ----------------------------------------------------------------------

    def _entry_with(self, rec: Record, name: str, values: frozenset[str]) -> Record | None:
        """The entry of this complaint event (the row itself first, then its duplicate entries)
        whose field ``name`` holds one of ``values``."""
        if rec.values.get(name) in values:
            return rec
        entries = self.event.get(rec.key)
        return next((r for r in entries if r is not rec and r.values.get(name) in values), None) if entries else None

    def _copy_note(self, rec: Record, entry: Record) -> Text | str:
        return "" if entry is rec else Text("risk_on_copy", (("id", entry.id),))

    def _already(self, rec: Record) -> list[Reason]:
        s = self.s
        out = []
        by_channel = self._entry_with(rec, "channel", s.already_channels)
        if by_channel is not None:
            out.append(Reason("already_channel", s.already_points, (("channel", by_channel.get("channel")),
                                                                    ("copy", self._copy_note(rec, by_channel))), HIGH))
        flagged = self._entry_with(rec, "escalated", s.escalated_values)
        if flagged is not None:
            # Both facts count once: the points are for being escalated, not for each way it shows.
            out.append(Reason("already_flag", 0 if out else s.already_points, (("value", flagged.get("escalated")),
                                                                              ("copy", self._copy_note(rec, flagged))), HIGH))
        return out

    def _unsatisfied(self, rec: Record) -> Record | None:
        """The entry of this complaint whose follow-up was unsatisfied, if any."""
        return self._entry_with(rec, "followup_result", self.s.unsatisfied_values)

    def _issue(self, base: Record, group: Group, pos: int) -> str:
        match = group.members[pos].match
        label = match.label if match is not None and match.label else ""
        if not label:
            found = self.labels.get(base.key)
            label = found.label if found and found.label != self.review_label else ""
        return label

    def _repeat(self, base: Record) -> list[Reason]:
        p = self.s.repeat
        found = self.chain.get(base.key)
        if found is None or found[1] == 0:
            return []
        group, pos = found
        earlier = [m.record for m in group.members[:pos]]
        points = min(p["max"], p["first"] + p["further"] * (pos - 1))
        label = self._issue(base, group, pos)
        issue = Text("risk_issue", (("label", Label(label, self.label_en.get(label, ""))),)) if label else ""
        refs = self._refs(earlier)
        out = [Reason("repeat", points, (("n", pos + 1), ("issue", issue), ("earlier", _earlier_words(pos, len(refs.items))), ("refs", refs)))]
        gap = (group.members[pos].date - group.members[pos - 1].date).days
        if gap <= p["recent_days"]:
            out.append(Reason("repeat_recent", p["recent"], (("days", gap),)))
        unhappy = [r for r in earlier if self._unsatisfied(r) is not None]
        if unhappy:
            out.append(Reason("repeat_after_unsatisfied", p["after_unsatisfied"], (("refs", self._refs(unhappy)),)))
        return out

    def _said_repeat(self, base: Record, texts: Sequence[tuple[str, str]]) -> list[Reason]:
        # Only when the registers hold no earlier complaint about it: then the repeat counts.
        found = self.chain.get(base.key)
        if found is not None and found[1] > 0:
            return []
        words = self.s.said_repeat
        hits = words.find(texts)
        return [Reason("said_repeat", words.score(hits), (("mentions", Mentions(tuple(hits))),))] if hits else []

    def _customer(self, base: Record) -> list[Reason]:
        s = self.s
        out = []
        # One look back, as far as the longest of the three windows; each factor takes its part.
        earlier = self.customers.earlier(base.key, max(s.earlier_other["days"], s.frequency["days"], s.earlier_escalation["days"]))
        if not earlier:
            return out
        chain = self.chain.get(base.key)
        same_issue = {m.record.key for m in chain[0].members} if chain else ()
        within = s.earlier_other["days"]
        others = [r for ago, r in earlier if ago <= within and r.key not in same_issue]
        if others:
            points = min(s.earlier_other["max"], s.earlier_other["points"] * len(others))
            out.append(Reason("earlier_other", points, (("n", len(others)), ("period", Period(int(within))),
                                                        ("refs", self._refs(others)))))
        within = s.frequency["days"]
        n = sum(1 for ago, _ in earlier if ago <= within) + 1
        if n >= s.frequency["min_complaints"] > 0:
            out.append(Reason("frequency", s.frequency["points"], (("n", n), ("period", Period(int(within))))))
        within = s.earlier_escalation["days"]
        escalated = [r for ago, r in earlier if ago <= within and r.key in self.escalated]
        if escalated:
            note = lambda r: r.get("channel") if r.get("channel") in s.already_channels else ""  # noqa: E731
            out.append(Reason("earlier_escalation", s.earlier_escalation["points"], (("refs", self._refs(escalated, note)),)))
        return out

    def _process(self, rec: Record) -> list[Reason]:
        s = self.s
        out = []
        row = self.deadline.get(rec.key)  # overdue or closed late, by some days (see __init__)
        if row is not None and row.status == "overdue":
            o = s.overdue
            points = min(o["max"], o["points"] + o["per_week"] * (row.days_overdue // 7))
            out.append(Reason("overdue", points, (("n", row.days_overdue), ("due", row.decision_due))))
        elif row is not None:
            out.append(Reason("closed_late", s.overdue["closed_late"], (("n", row.days_overdue),)))
        transfers = rec.get("transfers")
        if isinstance(transfers, int) and transfers > s.transfers["free"]:
            tr = s.transfers
            out.append(Reason("transfers", min(tr["max"], tr["per_transfer"] * (transfers - tr["free"])), (("n", transfers),)))
        return out

    def _outcome(self, rec: Record, texts: Sequence[tuple[str, str]]) -> list[Reason]:
        s = self.s
        out = []
        entry = self._unsatisfied(rec)
        if entry is not None:
            when = entry.get("followup_date")
            date = Text("risk_unsatisfied_date", (("date", when.isoformat()),)) if isinstance(when, dt.date) else ""
            out.append(Reason("unsatisfied", s.unsatisfied_points, (("result", entry.get("followup_result")), ("date", date),
                                                                    ("copy", self._copy_note(rec, entry)))))
        hits = s.disputed.find(texts)
        if hits:
            out.append(Reason("disputed", s.disputed.score(hits), (("mentions", Mentions(tuple(hits))),)))
        return out

    def _words(self, texts: Sequence[tuple[str, str]]) -> list[Reason]:
        s = self.s
        out = []
        for code, words in (("escalation_words", s.escalation_words), ("hard_demands", s.hard_demands)):
            hits = words.find(texts)
            if hits:
                out.append(Reason(code, words.score(hits), (("mentions", Mentions(tuple(hits))),)))
        return out

    def _channel_and_reason(self, rec: Record, base: Record) -> list[Reason]:
        s = self.s
        out = []
        channel = rec.get("channel")
        if channel in s.channels and channel not in s.already_channels:
            out.append(Reason("channel", s.channels[channel], (("channel", channel),)))
        label = self.labels.get(base.key)
        if label is not None and label.label in s.reasons:
            out.append(Reason("reason", s.reasons[label.label], (("label", Label(label.label, self.label_en.get(label.label, ""))),)))
        return out


def assess(registers: Sequence[Register], policy: Policy, as_of: dt.date, *, history: Sequence[Register] = (),
           duplicates: DedupeResult | None = None, deadlines: FollowupReport | None = None,
           labels: Mapping[RecordKey, IssueLabel] | None = None, leak_free: bool = False) -> RiskReport:
    """The escalation risk of every row of ``registers`` at ``as_of``, highest first.

    ``history``: earlier registers the customer factors look back on. ``duplicates``,
    ``deadlines`` and ``labels`` are the results of dedupe, followups and classify for the same
    registers (computed here when not given). ``leak_free`` leaves out the facts that make a
    complaint already escalated (its channel and its own 是否升级), for ``evaluate``.
    """
    settings = RiskSettings.from_policy(policy)
    current = all_records(registers)
    older = earlier_records(registers, history)
    if duplicates is None:
        duplicates = dedupe(registers, policy, history, labels)
    if deadlines is None:
        deadlines = check_deadlines(registers, policy, as_of)
    review = str(policy.get("classify.review_label", "待人工复核"))
    scorer = _Scorer(settings, older + current, {r.source for r in older}, policy, duplicates, deadlines, labels, review, leak_free,
                     phone_columns([*history, *registers]))
    rows = [scorer.assess(rec, i) for i, rec in enumerate(current)]
    rows.sort(key=RowRisk.sort_key)
    return RiskReport(as_of, rows, len(older))


# --------------------------------------------------------------------------------------------
# What the workbook shows


def risk_plan(report: RiskReport, register: Register, lang: str = "zh") -> SheetPlan:
    """The SheetPlan for one register: level, score and reasons columns (red, orange, yellow by
    level), the complaint-ID cell of each flagged row filled with its reasons as a note, and a
    sheet listing the flagged rows, highest first, each linked to its row."""
    mine = [r for r in report.rows if (r.source, r.sheet) == (register.source, register.sheet)]
    level_col = PlanColumn(t("risk_col_level", lang), {}, {}, width=10)
    score_col = PlanColumn(t("risk_col_score", lang), {}, {}, width=8)
    reasons_col = PlanColumn(t("risk_col_reasons", lang), {}, {}, width=70)
    marks: list[CellMark] = []
    headers = [t(f"risk_hdr_{h}", lang) for h in ("where", "id", "branch", "handler", "received", "status", "level", "score", "reasons")]
    rows, links, fills = [], {}, {}
    level_texts = {level: t(f"risk_level_{level}", lang) for level in LEVELS}
    levelx_texts = {level: t(f"risk_levelx_{level}", lang) for level in LEVELS}
    # Rows with the same reasons hold the same Reason objects (see _Scorer.assess): one text each.
    texts: dict[tuple[int, ...], str] = {}
    for r in mine:
        key = tuple(map(id, r.reasons))
        reasons = texts.get(key)
        if reasons is None:
            reasons = texts[key] = r.reasons_text(lang)
        score = _num(r.score)
        level_col.values[r.row] = level_texts[r.level]
        score_col.values[r.row] = score
        reasons_col.values[r.row] = reasons or None
        fill = FILLS.get(r.level)
        if fill is None:
            continue
        for col in (level_col, score_col, reasons_col):
            col.fills[r.row] = fill
        if r.id_column:
            marks.append(CellMark(r.row, r.id_column, fill, reasons))
        ref = f"{register.sheet}!{r.id_column or 'A'}{r.row}"
        links[len(rows)], fills[len(rows)] = ref, fill
        rows.append([ref, r.id, r.branch, r.handler, r.received, r.status, levelx_texts[r.level], score, reasons])
    table = PlanTable(t("risk_sheet", lang), headers, rows, links, fills, [16, 16, 14, 10, 12, 10, 10, 8, 90])
    part = RiskReport(report.as_of, mine)
    last = max([rec.row for rec in register.records], default=register.header_row)
    return SheetPlan("risk", register.sheet, register.header_row, last, [level_col, score_col, reasons_col], marks, [table],
                     part.summary_text(lang))


# --------------------------------------------------------------------------------------------
# The operation


def _pipeline_inputs(registers: Sequence[Register], ctx: OpContext) -> dict[str, Any]:
    """dedupe's chains, followups' statuses and classify's reasons, each run once per pipeline."""
    return {
        "history": ctx.history,
        "duplicates": run_operation("dedupe", registers, ctx).detail,
        "deadlines": run_operation("followups", registers, ctx).detail,
        "labels": pipeline_labels(registers, ctx),
    }


@operation("risk", reads_policy=RiskSettings.from_policy, needs=("dedupe", "followups"))
def risk_operation(registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """The risk operation for every door. High-risk rows count as errors, medium as warnings
    (exit code 1 with --fail-on error, or warning); low and none are not findings."""
    report = assess(registers, ctx.policy, ctx.as_of, **_pipeline_inputs(registers, ctx))
    return OpResult("risk", lambda: report.to_dict(ctx.lang, ctx.mask), lambda reg: [risk_plan(report, reg, ctx.lang)],
                    report.summary_text(ctx.lang), report.errors, report.warnings, report,
                    items=lambda: (r.to_dict(ctx.lang) for r in report.rows))


# --------------------------------------------------------------------------------------------
# Evaluation on a marked register


@dataclass(frozen=True)
class TopK:
    """Precision at the top k: of the k highest scores, how many were escalated."""

    label: str  # as asked: "10" or "5%"
    k: int
    #: escalated rows among the top k; rows tied at the cut count by their share (an expected value).
    escalated: float
    positives: int

    @property
    def precision(self) -> float:
        return self.escalated / self.k if self.k else 0.0

    @property
    def recall(self) -> float:
        return self.escalated / self.positives if self.positives else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"top": self.label, "k": self.k, "escalated": round(self.escalated, 2), "precision": round(self.precision, 4),
                "recall": round(self.recall, 4)}


@dataclass(frozen=True)
class Share:
    """Rows sharing a level or a factor, and how many of them were escalated."""

    name: str
    rows: int
    escalated: int
    base_rate: float

    @property
    def rate(self) -> float:
        return self.escalated / self.rows if self.rows else 0.0

    @property
    def lift(self) -> float | None:
        return self.rate / self.base_rate if self.base_rate else None

    def to_dict(self, key: str) -> dict[str, Any]:
        lift = self.lift
        return {key: self.name, "rows": self.rows, "escalated": self.escalated, "rate": round(self.rate, 4),
                "lift": None if lift is None else round(lift, 3)}


@dataclass
class Evaluation:
    """How well the score ranks the rows marked escalated above the others."""

    as_of: dt.date
    rows: int
    positives: int
    unmarked: int
    auc: float | None
    top: list[TopK]
    levels: list[Share]
    factors: list[Share]
    #: escalation rate by channel and by classified reason, for the [risk.channels] and [risk.reasons] points.
    channels: list[Share] = field(default_factory=list)
    reasons: list[Share] = field(default_factory=list)
    left_out: tuple[str, ...] = ALREADY_ESCALATED
    #: the channels that mean already escalated (left out of the score and of ``channels``).
    already_channels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: counts, ROC AUC, precision at each k, escalation rates per level and factor."""
        return {
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "escalated": self.positives,
            "not_escalated": self.rows - self.positives,
            "unmarked_as_not": self.unmarked,
            "base_rate": round(self.positives / self.rows, 4) if self.rows else None,
            "auc": None if self.auc is None else round(self.auc, 4),
            "precision_at": [k.to_dict() for k in self.top],
            "levels": [g.to_dict("level") for g in self.levels],
            "factors": [g.to_dict("factor") for g in self.factors],
            "channels": [g.to_dict("channel") for g in self.channels],
            "reasons": [g.to_dict("reason") for g in self.reasons],
            "left_out_factors": list(self.left_out),
            "left_out_channels": list(self.already_channels),
        }


def roc_auc(scores: Sequence[float], marked: Sequence[bool]) -> float | None:
    """ROC AUC: the chance that a random escalated row scores above a random other row (ties
    count half). None when either side is empty."""
    pos = sum(1 for m in marked if m)
    neg = len(marked) - pos
    if not pos or not neg:
        return None
    # Mann-Whitney U from ranks, tied scores sharing their average rank.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, m in zip(ranks, marked) if m)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def parse_top(value: str) -> str:
    """A --top value: a whole number of rows (10) or a share of them (5%); returned as given."""
    text = value.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 < share <= 100:
                raise ValueError
        elif int(text) < 1:
            raise ValueError
    except ValueError:
        raise TopError("risk_top_invalid", value=value) from None
    return text


def _k(label: str, n: int) -> int:
    if label.endswith("%"):
        return min(n, max(1, math.ceil(n * float(label[:-1]) / 100)))
    return min(n, int(label))


def evaluate_registers(registers: Sequence[Register], ctx: OpContext, tops: Sequence[str] = ("10", "5%")) -> Evaluation:
    """``evaluate`` on registers whose escalated complaints are marked (是否升级): scored
    leak-free, with dedupe, followups and classify run once through the pipeline."""
    if not any("escalated" in reg.field_columns for reg in registers):
        raise ComplaintkitError("risk_no_escalated_column", label=field_label("escalated"))
    report = assess(registers, ctx.policy, ctx.as_of, leak_free=True, **_pipeline_inputs(registers, ctx))
    return evaluate(report, tops, RiskSettings.from_policy(ctx.policy).already_channels)


def evaluate(report: RiskReport, tops: Sequence[str] = ("10", "5%"), already_channels: Iterable[str] = ("监管转办", "媒体")) -> Evaluation:
    """Measure a leak-free report (``assess(..., leak_free=True)``) against the rows' own
    是否升级 marks: ROC AUC, precision at each of ``tops``, escalation rate per level and per
    factor. A blank 是否升级 counts as not escalated (and is counted in ``unmarked``)."""
    rows = sorted(report.rows, key=lambda r: -r.score)
    marked = [bool(r.marked) for r in rows]
    scores = [r.score for r in rows]
    positives = sum(marked)
    base = positives / len(rows) if rows else 0.0
    tops_out = [TopK(label, k, _escalated_in_top(scores, marked, k), positives)
                for label in tops for k in [_k(parse_top(label), len(rows))]]

    def shares(groups: Mapping[str, list[RowRisk]]) -> list[Share]:
        out = [Share(name, len(rs), sum(1 for r in rs if r.marked), base) for name, rs in groups.items()]
        return sorted(out, key=lambda g: (-(g.lift or 0), -g.rows, g.name))

    by_level = {level: [r for r in rows if r.level == level] for level in LEVELS}
    by_factor: dict[str, list[RowRisk]] = defaultdict(list)
    by_channel: dict[str, list[RowRisk]] = defaultdict(list)
    by_reason: dict[str, list[RowRisk]] = defaultdict(list)
    for r in rows:
        for code in dict.fromkeys(reason.code for reason in r.reasons):
            by_factor[code].append(r)
        # An already-escalated channel is the answer itself: its rate says nothing to tune.
        if r.channel and r.channel not in already_channels:
            by_channel[r.channel].append(r)
        if r.issue:
            by_reason[r.issue].append(r)
    return Evaluation(report.as_of, len(rows), positives, sum(1 for r in rows if r.marked is None), roc_auc(scores, marked),
                      tops_out, [Share(level, len(rs), sum(1 for r in rs if r.marked), base) for level, rs in by_level.items()],
                      shares(by_factor), shares(by_channel), shares(by_reason), ALREADY_ESCALATED, tuple(sorted(already_channels)))


def _escalated_in_top(scores: Sequence[float], marked: Sequence[bool], k: int) -> float:
    """Escalated rows among the k highest ``scores`` (sorted highest first). Rows tied with the
    k-th score share the remaining places evenly, so the file order never decides."""
    if k <= 0:
        return 0.0
    cut = scores[k - 1]
    above = [m for s, m in zip(scores, marked) if s > cut]
    tied = [m for s, m in zip(scores, marked) if s == cut]
    return sum(above) + (k - len(above)) * sum(tied) / len(tied)
