"""Duplicate entries and repeat complaints (shared/DOMAIN.md "Duplicates and repeats").

Two different things, both found per customer (identity.py):
- a **duplicate entry** is one complaint event typed in more than once: same customer, received
  at most ``dedupe.duplicate.max_days`` apart, nearly the same words. It inflates counts: the
  group names a primary row and the copies can be merged away (merge.py).
- a **repeat chain** is one customer coming back about the same issue within
  ``dedupe.repeat.window_days`` of the previous complaint: linked, oldest first, never merged.
  Duplicates are collapsed first, so a copy is never also counted as a repeat.

Cost grows about linearly: records are blocked by customer (records without an identity are
never linked), compared only inside a block, in date order, with a capped look-back, so even a
customer with hundreds of rows costs a bounded number of comparisons per row.

Text similarity is character based (rapidfuzz's normalised Indel similarity), which suits Chinese
where there are no spaces between words, after folding away what a second clerk changes:
full-width forms, punctuation, spaces and lead-ins such as 客户来电反映. Whether two complaints are
about the *same issue* is a pluggable test: by default the classifier's reason label when the
classify operation is available, the register's own 投诉类别 when both rows have one, or similar
text.

Pure: records and policy in, a ``DedupeResult`` out. Earlier registers (``OpContext.history``)
take part in the matching, but only groups that touch a current row are reported.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from rapidfuzz import fuzz

from .classification import Classifier, classifier_for, classify_records, reason_names_en
from .collector import collector_paused
from .fields import field_label
from .identity import (
    VIA_OTHER_PHONE, Identity, PhoneColumns, RecordKey, SheetKey, matched_keys, phone_columns, resolve,
)
from .messages import register_messages, t
from .normalize import value_key
from .operations import OpContext, OpResult, available, operation, run_operation
from .policy import Policy
from .register import Record, Register, all_records, earlier_records
from .sheetplan import AMBER, BLUE, GREEN, YELLOW, CellMark, PlanColumn, PlanTable, SheetPlan
from .workcalendar import WorkCalendar, day_count

DUPLICATE, REPEAT = "duplicate", "repeat"
#: Alternating fills, so neighbouring groups are told apart at a glance.
PALETTE = {DUPLICATE: (AMBER, YELLOW), REPEAT: (BLUE, GREEN)}
_NOT_TEXT = re.compile(r"[\W_]+")

register_messages({
    "dedupe_col_dup": ("CK-重复录入", "CK-duplicate"),
    "dedupe_col_repeat": ("CK-重复投诉", "CK-repeat"),
    "dedupe_sheet": ("CK-重复与重复投诉", "CK-duplicates"),
    "dedupe_dup_of": ("重复录入：同 {id}（{where}）", "duplicate of {id} ({where})"),
    "dedupe_dup_primary": ("主记录，另有 {n} 条重复录入：{others}", "primary; {n} duplicate entries: {others}"),
    "dedupe_repeat_nth": ("第{n}次（共{count}次），前次: {id}（{date}）", "repeat {n} of {count}, previous: {id} ({date})"),
    "dedupe_repeat_first": ("第1次（共{count}次），下次: {id}（{date}）", "first of {count}, next: {id} ({date})"),
    "dedupe_row": ("第{row}行", "row {row}"),
    "dedupe_row_in": ("{file} 第{row}行", "{file} row {row}"),
    "dedupe_history": ("（历史）", " (history)"),
    "dedupe_key_id_number": ("证件号码相同", "same ID number"),
    "dedupe_key_phone": ("联系电话相同", "same phone"),
    "dedupe_key_name_branch": ("姓名和受理机构相同", "same name and branch"),
    "dedupe_key_other_phone": ("{a}与{b}相同", "same number in {a} and {b}"),
    "dedupe_key_other_phone_same": ("{a}相同", "same {a}"),
    "dedupe_key_linked": ("经该客户的其他记录关联", "linked through the customer's other rows"),
    "dedupe_reason_dup": (
        "同一客户（{keys}），受理日期 {dates}（相隔{span}天），投诉内容相似度 {sim}",
        "same customer ({keys}); received {dates} ({span} days apart); text similarity {sim}",
    ),
    "dedupe_reason_repeat": (
        "同一客户（{keys}）{count}次就同一问题投诉：{dates}，间隔 {gaps} 天；同一问题依据：{basis}",
        "same customer ({keys}) complained {count} times about the same issue: {dates}, {gaps} days apart; same issue by {basis}",
    ),
    "dedupe_basis_label": ("分类原因均为“{label}”", "classified reason '{label}' on both"),
    "dedupe_basis_category": ("投诉类别均为“{label}”", "category '{label}' on both"),
    "dedupe_basis_text": ("投诉内容相似度 {sim}", "text similarity {sim}"),
    "dedupe_kind_duplicate": ("重复录入", "duplicate"),
    "dedupe_kind_repeat": ("重复投诉", "repeat"),
    "dedupe_role_primary": ("主记录", "primary"),
    "dedupe_role_duplicate": ("重复录入", "duplicate"),
    "dedupe_role_repeat": ("第{n}次", "#{n}"),
    "dedupe_hdr_where": ("位置", "where"),
    "dedupe_hdr_group": ("组", "group"),
    "dedupe_hdr_kind": ("类型", "kind"),
    "dedupe_hdr_file": ("文件", "file"),
    "dedupe_hdr_sheet": ("工作表", "sheet"),
    "dedupe_hdr_row": ("行", "row"),
    "dedupe_hdr_id": ("投诉编号", "complaint ID"),
    "dedupe_hdr_date": ("受理日期", "received"),
    "dedupe_hdr_role": ("角色", "role"),
    "dedupe_hdr_score": ("得分", "score"),
    "dedupe_hdr_reason": ("原因", "reason"),
    "dedupe_summary": (
        "共 {rows} 行：{dup_groups} 组重复录入（可合并 {dup_rows} 行），{rep_groups} 组重复投诉（涉及 {rep_rows} 笔）",
        "{rows} rows: {dup_groups} duplicate groups ({dup_rows} rows to merge), {rep_groups} repeat chains ({rep_rows} complaints)",
    ),
})


@dataclass(frozen=True)
class Settings:
    """The [dedupe] policy section, read once."""

    dup_days: int
    #: how dup_days counts: "calendar" days, or "working" days (a copy typed in after 国庆 is 9
    #: days but 1 working day after the original; see the policy for the trade-off).
    dup_count: str
    dup_similarity: float
    primary: str
    window_days: int
    repeat_similarity: float
    use_classifier: bool
    min_label_confidence: float
    use_category: bool
    same_business_line: bool
    max_comparisons: int
    lead_ins: tuple[str, ...]
    #: each reason's English name, for reasons under --lang en (pairs: the settings stay hashable).
    label_en: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_policy(cls, policy: Policy) -> "Settings":
        lead_ins = {_NOT_TEXT.sub("", unicodedata.normalize("NFKC", p).casefold()) for p in policy.get("dedupe.lead_in_phrases", [])}
        primary = str(policy.get("dedupe.duplicate.primary", "earliest"))
        if primary not in ("earliest", "most_complete"):
            primary = "earliest"
        return cls(
            dup_days=int(policy.get("dedupe.duplicate.max_days", 3)),
            dup_count=day_count(policy.get("dedupe.duplicate", {}) or {}, "count", "calendar", "dedupe.duplicate"),
            dup_similarity=float(policy.get("dedupe.duplicate.min_similarity", 0.85)),
            primary=primary,
            window_days=int(policy.get("dedupe.repeat.window_days", 180)),
            repeat_similarity=float(policy.get("dedupe.repeat.min_similarity", 0.6)),
            use_classifier=bool(policy.get("dedupe.repeat.use_classifier", True)),
            min_label_confidence=float(policy.get("dedupe.repeat.min_label_confidence", 0.0)),
            use_category=bool(policy.get("dedupe.repeat.use_category", True)),
            same_business_line=bool(policy.get("dedupe.repeat.same_business_line", True)),
            max_comparisons=max(1, int(policy.get("dedupe.limits.max_comparisons_per_row", 200))),
            # Longest first, so 客户来电反映 is removed whole rather than as 客户.
            lead_ins=tuple(sorted((p for p in lead_ins if p), key=len, reverse=True)),
            label_en=tuple(reason_names_en(policy).items()),
        )


def comparable_text(text: str | None, lead_ins: Sequence[str] = ()) -> str:
    """Text folded for comparison: NFKC, case, punctuation and spaces removed, a clerk's lead-in
    (客户来电反映：...) dropped, so a retyped copy compares equal to the original."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):  # loaded records are NFKC already: skip the cost
        text = unicodedata.normalize("NFKC", text)
    folded = _NOT_TEXT.sub("", text.casefold())
    for phrase in lead_ins:
        if folded.startswith(phrase) and len(folded) > len(phrase):
            return folded[len(phrase):]
    return folded


def text_similarity(a: str, b: str) -> float:
    """Character similarity of two folded texts, 0..1 (normalised Indel: 1 - edits / total length)."""
    if not a or not b:
        return 0.0
    return fuzz.ratio(a, b) / 100.0


@dataclass(frozen=True, slots=True)
class IssueLabel:
    """A classifier's reason label for one record, with its confidence."""

    label: str
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class IssueMatch:
    """Why two complaints are about the same issue: ``how`` is label, category or text."""

    how: str
    score: float
    label: str = ""
    similarity: float = 0.0
    label_en: str = ""

    def describe(self, lang: str) -> str:
        if self.how in ("label", "category"):
            return t(f"dedupe_basis_{self.how}", lang, label=self.label_en if lang == "en" and self.label_en else self.label)
        return t("dedupe_basis_text", lang, sim=_pct(self.similarity))


#: (earlier record, later record, their text similarity) -> a match, or None when the issues differ.
IssueTest = Callable[[Record, Record, float], "IssueMatch | None"]


def _agree(a: Any, b: Any) -> bool:
    # Loaded values are normalised already (allowed values and their aliases folded to one form).
    return a is None or b is None or a == b


def default_issue_test(settings: Settings, labels: Mapping[RecordKey, IssueLabel] | None = None) -> IssueTest:
    """Same issue when both have the same classifier label, or the same 投诉类别 (each with the
    same business line when both have one), or the texts are similar enough."""

    english = dict(settings.label_en)

    def same_issue(earlier: Record, later: Record, similarity: float) -> IssueMatch | None:
        line_ok = not settings.same_business_line or _agree(earlier.get("business_line"), later.get("business_line"))
        if labels and line_ok:
            a, b = labels.get(earlier.key), labels.get(later.key)
            if a and b and a.label == b.label:
                confidence = min(a.confidence, b.confidence)
                if confidence >= settings.min_label_confidence:
                    # An unsure label on identical words is still a sure match: the better evidence scores.
                    return IssueMatch("label", max(confidence, similarity), a.label, similarity, english.get(a.label, ""))
        if settings.use_category and line_ok:
            a, b = earlier.get("category"), later.get("category")
            if a and b and value_key(str(a)) == value_key(str(b)):
                return IssueMatch("category", 1.0, str(a), similarity, english.get(str(a), ""))
        if similarity >= settings.repeat_similarity:
            return IssueMatch("text", similarity, "", similarity)
        return None

    return same_issue


@dataclass(slots=True)
class Member:
    """One row of a group. For a duplicate: its similarity to the primary and the identity keys
    they share. For a repeat: the earlier complaint it was linked to and why. ``phone_headers``:
    when the shared phone is in a second phone column (key other_phone), the headers of the
    columns holding it in the other row (primary, or earlier complaint) and in this one."""

    record: Record
    history: bool = False
    similarity: float | None = None
    keys: tuple[str, ...] = ()
    link: Record | None = None
    match: IssueMatch | None = None
    phone_headers: tuple[str, str] | None = None

    @property
    def date(self) -> dt.date:
        return self.record.get("received_date")

    def item(self, many_files: bool) -> dict[str, Any]:
        """The row-level JSON item: file (when several files), sheet, row, id."""
        rec = self.record
        out: dict[str, Any] = {"file": rec.source} if many_files else {}
        out.update(sheet=rec.sheet, row=rec.row, id=rec.id)
        return out


@dataclass
class Group:
    """A duplicate group (primary first, then the copies by date) or a repeat chain (oldest first)."""

    kind: str
    customer: str
    members: list[Member]
    score: float
    number: int = 0

    @property
    def primary(self) -> Member:
        return self.members[0]

    @property
    def dates(self) -> list[dt.date]:
        return [m.date for m in self.members]

    @property
    def days_between(self) -> list[int]:
        """Days from each complaint to the next (repeat chains are in date order)."""
        ds = self.dates
        return [(b - a).days for a, b in zip(ds, ds[1:])]

    def current(self) -> list[Member]:
        return [m for m in self.members if not m.history]

    def _keys_text(self, lang: str) -> str:
        texts: list[str] = []
        for m in self.members[1:]:
            for k in m.keys or ("linked",):
                text = _key_text(k, m.phone_headers, lang)
                if text not in texts:
                    texts.append(text)
        return ("、" if lang == "zh" else ", ").join(texts)

    def reason(self, lang: str = "zh") -> str:
        """Why these rows are grouped: the keys that matched, the text similarity, the dates."""
        sep = "、" if lang == "zh" else ", "
        dates = sep.join(d.isoformat() for d in self.dates)
        if self.kind == DUPLICATE:
            sim = _pct_range([m.similarity or 0.0 for m in self.members[1:]])
            span = (max(self.dates) - min(self.dates)).days
            return t("dedupe_reason_dup", lang, keys=self._keys_text(lang), dates=dates, span=span, sim=sim)
        bases: list[str] = []
        sims = [m.match.similarity for m in self.members[1:] if m.match is not None and m.match.how == "text"]
        for m in self.members[1:]:
            if m.match is None:
                continue
            if m.match.how == "text":  # one entry for all text links: the range of similarities
                text = t("dedupe_basis_text", lang, sim=_pct_range(sims))
            else:
                text = m.match.describe(lang)
            if text not in bases:
                bases.append(text)
        gaps = sep.join(str(d) for d in self.days_between)
        return t("dedupe_reason_repeat", lang, keys=self._keys_text(lang), count=len(self.members), dates=dates, gaps=gaps,
                 basis=("；" if lang == "zh" else "; ").join(bases))

    def to_dict(self, lang: str = "zh", many_files: bool = False) -> dict[str, Any]:
        """The JSON-contract form of this group."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "rows": [m.record.row for m in self.members],
            "ids": [m.record.id for m in self.members],
            "sheets": [m.record.sheet for m in self.members],
        }
        if many_files:
            out["files"] = [m.record.source for m in self.members]
        out["dates"] = [d.isoformat() for d in self.dates]
        out["primary"] = self.primary.item(many_files)
        out["score"] = round(self.score, 3)
        out["reason"] = self.reason(lang)
        if self.kind == REPEAT:
            out["count"] = len(self.members)
            out["days_between"] = self.days_between
        out["customer"] = self.customer
        members = []
        for pos, m in enumerate(self.members):
            item = m.item(many_files)
            item["date"] = m.date.isoformat()
            item["role"] = _role(self, pos)
            item["history"] = m.history
            if pos:
                item["keys"] = list(m.keys)
                if m.phone_headers is not None:
                    item["phone_columns"] = list(m.phone_headers)
                item["similarity"] = round(m.similarity or 0.0, 3)
                if m.match is not None:
                    item["same_issue_by"] = m.match.how
                    if m.match.label:
                        item["label"] = m.match.label
            members.append(item)
        out["members"] = members
        return out


def _key_text(key: str, columns: tuple[str, str] | None, lang: str) -> str:
    """An identity key as the reason names it; a phone in a second column by the columns' headers
    (备用电话与联系电话相同)."""
    if key != VIA_OTHER_PHONE or columns is None:
        return t(f"dedupe_key_{key}", lang)
    a, b = (header or field_label("phone", lang) for header in columns)
    return t("dedupe_key_other_phone_same", lang, a=a) if a == b else t("dedupe_key_other_phone", lang, a=a, b=b)


def _role(group: Group, pos: int) -> str:
    if group.kind == DUPLICATE:
        return "primary" if pos == 0 else "duplicate"
    return f"repeat_{pos + 1}"


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def _pct_range(values: Sequence[float]) -> str:
    low, high = _pct(min(values)), _pct(max(values))
    return low if low == high else f"{low}–{high}"


@dataclass
class DedupeResult:
    """Every group that touches a current row, duplicates first, each in batch order."""

    groups: list[Group]
    rows: int
    history_rows: int
    customers: int
    unidentified: int
    undated: int
    files: list[str] = field(default_factory=list)
    #: The customer of every identified record of the batch, and the batch's record keys in order:
    #: risk scoring looks back per customer over the same batch and reuses them.
    identities: Mapping[RecordKey, Identity] = field(default_factory=dict, repr=False, compare=False)
    batch: list[RecordKey] = field(default_factory=list, repr=False, compare=False)

    @property
    def duplicates(self) -> list[Group]:
        return [g for g in self.groups if g.kind == DUPLICATE]

    @property
    def repeats(self) -> list[Group]:
        return [g for g in self.groups if g.kind == REPEAT]

    @property
    def duplicate_rows(self) -> int:
        """Current rows a merge removes: every current copy but one per group."""
        return sum(len(g.current()) - 1 for g in self.duplicates)

    @property
    def repeat_rows(self) -> int:
        return sum(len(g.members) for g in self.repeats)

    @property
    def many_files(self) -> bool:
        return len(set(self.files)) > 1 or self.history_rows > 0

    def index(self) -> dict[RecordKey, list[tuple[Group, int]]]:
        """Record key -> the groups it is in, with its position in each."""
        out: dict[RecordKey, list[tuple[Group, int]]] = defaultdict(list)
        for g in self.groups:
            for pos, m in enumerate(g.members):
                out[m.record.key].append((g, pos))
        return out

    def summary(self, lang: str = "zh") -> str:
        return t("dedupe_summary", lang, rows=self.rows, dup_groups=len(self.duplicates), dup_rows=self.duplicate_rows,
                 rep_groups=len(self.repeats), rep_rows=self.repeat_rows)

    def items(self, lang: str = "zh") -> Iterator[dict[str, Any]]:
        """The JSON contract's groups, one at a time."""
        many = self.many_files
        return (g.to_dict(lang, many) for g in self.groups)

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON contract: groups and a summary."""
        return {
            "groups": list(self.items(lang)),
            "summary": {
                "rows": self.rows,
                "history_rows": self.history_rows,
                "customers": self.customers,
                "unidentified": self.unidentified,
                "undated": self.undated,
                "duplicate_groups": len(self.duplicates),
                "duplicate_rows": self.duplicate_rows,
                "repeat_groups": len(self.repeats),
                "repeat_rows": self.repeat_rows,
                "unique_rows": self.rows - self.duplicate_rows,
            },
        }


class _Finder:
    """The matching over one batch: blocks by customer, then duplicates, then repeat chains."""

    def __init__(self, records: Sequence[Record], policy: Policy, current: set[RecordKey], issue_test: IssueTest | None,
                 labels: Mapping[RecordKey, IssueLabel] | None, columns: Mapping[SheetKey, PhoneColumns] | None = None) -> None:
        self.records = records
        self.settings = Settings.from_policy(policy)
        self.current = current
        self.issue_test = issue_test or default_issue_test(self.settings, labels)
        self.identities, self.keys = resolve(records, policy, columns)
        self.rkey = self.keys.rows
        self._texts: dict[int, str] = {}
        # Day numbers, so date gaps in the inner loops are integer subtractions.
        self.day = [d.toordinal() if isinstance(d, dt.date) else None for d in (r.values.get("received_date") for r in records)]
        #: the numbers duplicate entries are compared by (working-day numbers with count = "working").
        self.dup_day = self.day if self.settings.dup_count == "calendar" else WorkCalendar.from_policy(policy).working_day_numbers(self.day)

    def text(self, i: int) -> str:
        # Folded lazily: most customers have one row and their text is never compared.
        if i not in self._texts:
            self._texts[i] = comparable_text(self.records[i].get("description"), self.settings.lead_ins)
        return self._texts[i]

    def similarity(self, i: int, j: int) -> float:
        return text_similarity(self.text(i), self.text(j))

    def member(self, i: int, **kw: Any) -> Member:
        return Member(self.records[i], self.rkey[i] not in self.current, **kw)

    def linked(self, j: int, i: int, **kw: Any) -> Member:
        """Row ``i`` as a member linked to row ``j`` (its primary, or its earlier complaint), with
        the identity keys they share."""
        a, b = self.keys[j], self.keys[i]
        keys, columns = matched_keys(a, b)
        return self.member(i, keys=tuple(keys), phone_headers=columns, **kw)

    def completeness(self, i: int) -> int:
        return sum(v is not None and v != "" for v in self.records[i].values.values())

    def run(self) -> tuple[list[Group], list[Group]]:
        blocks: dict[str, list[int]] = defaultdict(list)
        identities, rkey, day = self.identities, self.rkey, self.day
        for i in range(len(self.records)):
            ident = identities.get(rkey[i])
            if ident is not None and day[i] is not None:
                blocks[ident.customer].append(i)
        duplicates: list[Group] = []
        repeats: list[Group] = []
        for customer, idx in blocks.items():
            if len(idx) < 2:
                continue
            idx.sort(key=lambda i: (self.day[i], i))
            dups = self.duplicates(customer, idx)
            copies = {m.record.key for g in dups for m in g.members[1:]}
            events = [i for i in idx if rkey[i] not in copies]
            duplicates.extend(g for g in dups if g.current())
            repeats.extend(g for g in self.repeats(customer, events) if g.current())
        return duplicates, repeats

    def duplicates(self, customer: str, idx: list[int]) -> list[Group]:
        """Rows at most dup_days apart with nearly the same text, joined transitively."""
        s = self.settings
        parent = {i: i for i in idx}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        day, dup_day = self.day, self.dup_day
        for p, i in enumerate(idx):
            for j in idx[p + 1:p + 1 + s.max_comparisons]:
                if dup_day[j] - dup_day[i] > s.dup_days:
                    break
                if self.similarity(i, j) >= s.dup_similarity:
                    parent[find(j)] = find(i)
        comps: dict[int, list[int]] = defaultdict(list)
        for i in idx:
            comps[find(i)].append(i)
        groups = []
        for members in comps.values():
            if len(members) < 2:
                continue
            if s.primary == "most_complete":
                primary = min(members, key=lambda i: (-self.completeness(i), day[i], i))
            else:
                primary = min(members, key=lambda i: (day[i], -self.completeness(i), i))
            rest = [i for i in members if i != primary]
            out = [self.member(primary)]
            for i in rest:
                out.append(self.linked(primary, i, similarity=self.similarity(primary, i)))
            groups.append(Group(DUPLICATE, customer, out, min(m.similarity or 0.0 for m in out[1:])))
        return groups

    def repeats(self, customer: str, events: list[int]) -> list[Group]:
        """Each complaint joins the chain of the most recent earlier one about the same issue
        within the window; look-back is capped so a heavy complainant stays affordable."""
        s = self.settings
        chains: list[list[Member]] = []
        chain_of: dict[int, int] = {}
        day = self.day
        for p, i in enumerate(events):
            found = None
            for q in range(p - 1, max(-1, p - 1 - s.max_comparisons), -1):
                j = events[q]
                if day[i] - day[j] > s.window_days:
                    break
                sim = self.similarity(j, i)
                match = self.issue_test(self.records[j], self.records[i], sim)
                if match is not None:
                    found = (j, sim, match)
                    break
            if found is None:
                chain_of[i] = len(chains)
                chains.append([self.member(i)])
                continue
            j, sim, match = found
            chain_of[i] = chain_of[j]
            chains[chain_of[j]].append(self.linked(j, i, similarity=sim, link=self.records[j], match=match))
        return [Group(REPEAT, customer, c, min(m.match.score for m in c[1:] if m.match)) for c in chains if len(c) > 1]


def find_groups(records: Sequence[Record], policy: Policy, *, current: set[RecordKey] | None = None,
                labels: Mapping[RecordKey, IssueLabel] | None = None, issue_test: IssueTest | None = None,
                columns: Mapping[SheetKey, PhoneColumns] | None = None) -> DedupeResult:
    """Duplicate groups and repeat chains among ``records``.

    ``current``: keys of the rows being checked (default: all); the others are history, matched
    against but reported only inside groups that touch a current row. ``labels``: classifier
    reason labels by record key. ``issue_test``: replaces the default same-issue test.
    ``columns``: the phone columns of the records' sheets (identity.phone_columns), so that a
    second phone column (联系电话2, 备用电话) identifies the customer too.
    """
    current = {r.key for r in records} if current is None else current
    with collector_paused():
        finder = _Finder(records, policy, current, issue_test, labels, columns)
        duplicates, repeats = finder.run()
    files = list(dict.fromkeys(r.source for r in records))
    # Batch order: records come file by file, row by row.
    file_order = {f: i for i, f in enumerate(files)}
    groups = sorted(duplicates, key=lambda g: _place(g, file_order)) + sorted(repeats, key=lambda g: _place(g, file_order))
    for n, g in enumerate(groups, start=1):
        g.number = n
    identities = finder.identities
    is_current = [k in current for k in finder.rkey]
    return DedupeResult(
        groups=groups,
        rows=sum(is_current),
        history_rows=len(records) - sum(is_current),
        customers=len({identities[k].customer for k, c in zip(finder.rkey, is_current) if c and k in identities}),
        unidentified=sum(1 for k, c in zip(finder.rkey, is_current) if c and k not in identities),
        undated=sum(1 for d, c in zip(finder.day, is_current) if c and d is None),
        files=files,
        identities=identities,
        batch=finder.rkey,
    )


def _place(group: Group, file_order: Mapping[str, int]) -> tuple[int, str, int]:
    rec = group.primary.record
    return (file_order[rec.source], rec.sheet, rec.row)


def dedupe(registers: Sequence[Register], policy: Policy, history: Sequence[Register] = (),
           labels: Mapping[RecordKey, IssueLabel] | None = None, issue_test: IssueTest | None = None) -> DedupeResult:
    """Dedupe registers as one batch, matched also against earlier registers in ``history``."""
    records = all_records(registers)
    return find_groups(earlier_records(registers, history) + records, policy, current={r.key for r in records},
                       labels=labels, issue_test=issue_test, columns=phone_columns([*history, *registers]))


# --------------------------------------------------------------------------------------------
# The classifier, when there is one


def labels_from_classify(result: OpResult, records: Sequence[Record]) -> dict[RecordKey, IssueLabel]:
    """Reason labels by record key: from the classify operation's own report, or from the JSON
    rows of a result from elsewhere, matched to records by file, sheet and row (whichever of them
    the rows carry). Rows marked for review give no label."""
    # The classify operation's own report names each row's record: its labels are read without
    # building its JSON. A result from elsewhere is matched by what its JSON rows carry.
    reasons = getattr(result.detail, "reasons", None)
    if callable(reasons):
        return _labels_of(reasons(), {rec.key for rec in records})
    items = result.data.get("rows", []) if isinstance(result.data, dict) else []
    # Each row claims its place, a row under review too (with no label): a record whose own row is
    # under review must not take the label of another file's row at the same sheet and row.
    by_place: dict[tuple, IssueLabel | None] = {}
    clashes: set[tuple] = set()  # a place two items claim (rows of several files without "file")

    def put(place: tuple, value: IssueLabel | None) -> None:
        if by_place.setdefault(place, value) != value:
            clashes.add(place)

    names: dict[str, str] = {}  # a batch has a few files and a million rows: Path() once per file

    def name(file: str) -> str:
        found = names.get(file)
        if found is None:
            found = names[file] = Path(file).name
        return found

    for item in items:
        if not isinstance(item, dict) or item.get("row") is None:
            continue
        label = item.get("reason")
        value = None
        # A label the classifier itself sends to review is not sure enough to link complaints.
        if label and not item.get("review"):
            try:
                confidence = float(item.get("confidence", 1.0))
            except (TypeError, ValueError):
                confidence = 1.0
            value = IssueLabel(str(label), confidence)
        file, sheet, row = item.get("file"), item.get("sheet"), int(item["row"])
        if file is not None:  # a row that names its file is matched to that file only
            put((str(file), sheet, row), value)
            put((name(str(file)), sheet, row), value)
            continue
        put((None, sheet, row), value)
        if sheet is not None:
            put((None, None, row), value)
    out: dict[RecordKey, IssueLabel] = {}
    for rec in records:
        for place in ((rec.source, rec.sheet, rec.row), (name(rec.source), rec.sheet, rec.row), (None, rec.sheet, rec.row), (None, None, rec.row)):
            if place in by_place:
                if place not in clashes and by_place[place] is not None:
                    out[rec.key] = by_place[place]  # type: ignore[assignment]
                break
    return out


def _labels_of(reasons: Iterable[tuple[RecordKey, str, bool, float]], wanted: set[RecordKey] | None = None) -> dict[RecordKey, IssueLabel]:
    """Reason labels by record key from a ClassificationReport's ``reasons()`` (of the records in
    ``wanted``, or all)."""
    labels: dict[RecordKey, IssueLabel] = {}
    shared: dict[tuple[str, float], IssueLabel] = {}  # a few reasons and confidences over many rows
    for key, reason, review, confidence in reasons:
        # A label the classifier itself sends to review is not sure enough to link complaints.
        if reason and not review and (wanted is None or key in wanted):
            label = shared.get((reason, confidence))
            if label is None:
                label = shared[reason, confidence] = IssueLabel(str(reason), confidence)
            labels[key] = label
    return labels


def history_labels(registers: Sequence[Register], history: Sequence[Register], result: OpResult,
                   policy: Policy) -> dict[RecordKey, IssueLabel]:
    """Reason labels of the history rows (those not also current), by the very classifier the
    pipeline's classify ran with (its result's; the policy's when the result came from
    elsewhere): history registers are not classified on their own, and a repeat whose old row has
    no 投诉类别 and other words is the same issue only by its classified reason."""
    older = earlier_records(registers, history)
    if not older:
        return {}
    classifier = getattr(result.detail, "classifier", None)
    if not isinstance(classifier, Classifier):
        classifier = classifier_for(policy)
    return _labels_of(classify_records(older, classifier).reasons())


def classifier_labels(registers: Sequence[Register], ctx: OpContext) -> dict[RecordKey, IssueLabel] | None:
    """The classify operation's labels for dedupe, unless the policy turns them off."""
    if not ctx.policy.get("dedupe.repeat.use_classifier", True):
        return None
    return pipeline_labels(registers, ctx)


def pipeline_labels(registers: Sequence[Register], ctx: OpContext) -> dict[RecordKey, IssueLabel] | None:
    """The classify operation's labels when it is available (already run in this pipeline, or
    registered and run now; its result is kept in ctx.results for the rest of the pipeline), with
    those of the history rows by the same classifier (``history_labels``), read once per
    pipeline: dedupe and risk both use them."""
    if "labels" not in ctx.shared:
        result = ctx.results.get("classify")
        if result is None and "classify" in available():
            result = run_operation("classify", registers, ctx)
        labels = None
        if result is not None:
            labels = labels_from_classify(result, all_records(registers))
            labels.update(history_labels(registers, ctx.history, result, ctx.policy))
        ctx.shared["labels"] = labels
    return ctx.shared["labels"]


# --------------------------------------------------------------------------------------------
# What the workbook shows


def where(rec: Record, register: Register | None, lang: str, history: bool = False) -> str:
    """A row reference: 第5行 in the same sheet, else the file name and row."""
    if register is not None and (rec.source, rec.sheet) == (register.source, register.sheet):
        text = t("dedupe_row", lang, row=rec.row)
    else:
        text = t("dedupe_row_in", lang, file=Path(rec.source).name, row=rec.row)
    return text + (t("dedupe_history", lang) if history else "")


def member_note(group: Group, pos: int, register: Register | None, lang: str) -> str:
    """What a row's own column says about its place in a group."""
    if group.kind == DUPLICATE:
        if pos:
            p = group.primary
            return t("dedupe_dup_of", lang, id=p.record.id, where=where(p.record, register, lang, p.history))
        sep = "、" if lang == "zh" else ", "
        others = sep.join(f"{m.record.id}（{where(m.record, register, lang, m.history)}）" if lang == "zh"
                          else f"{m.record.id} ({where(m.record, register, lang, m.history)})" for m in group.members[1:])
        return t("dedupe_dup_primary", lang, n=len(group.members) - 1, others=others)
    count = len(group.members)
    if pos:
        prev = group.members[pos - 1]
        return t("dedupe_repeat_nth", lang, n=pos + 1, count=count, id=prev.record.id or where(prev.record, register, lang, prev.history),
                 date=prev.date.isoformat())
    nxt = group.members[1]
    return t("dedupe_repeat_first", lang, count=count, id=nxt.record.id or where(nxt.record, register, lang, nxt.history),
             date=nxt.date.isoformat())


def role_text(group: Group, pos: int, lang: str) -> str:
    if group.kind == DUPLICATE:
        return t("dedupe_role_primary" if pos == 0 else "dedupe_role_duplicate", lang)
    return t("dedupe_role_repeat", lang, n=pos + 1)


def dedupe_plan(result: DedupeResult, register: Register, lang: str = "zh") -> SheetPlan:
    """The SheetPlan for one register: "duplicate of" and "repeat n of" columns in alternating
    group colours, the complaint-ID cell of duplicate rows filled with the reason as a note, and a
    sheet listing every group that touches this register."""
    dup_col = PlanColumn(t("dedupe_col_dup", lang), {}, {}, width=44)
    rep_col = PlanColumn(t("dedupe_col_repeat", lang), {}, {}, width=44)
    marks: list[CellMark] = []
    headers = [t(f"dedupe_hdr_{h}", lang) for h in ("where", "group", "kind", "file", "sheet", "row", "id", "date", "role", "score", "reason")]
    rows: list[list[Any]] = []
    links: dict[int, str] = {}
    fills: dict[int, str] = {}
    mine = (register.source, register.sheet)
    for group in result.groups:
        here = [pos for pos, m in enumerate(group.members) if not m.history and (m.record.source, m.record.sheet) == mine]
        if not here:
            continue
        fill = PALETTE[group.kind][group.number % 2]
        column = dup_col if group.kind == DUPLICATE else rep_col
        reason = group.reason(lang)
        for pos in here:
            rec = group.members[pos].record
            column.values[rec.row] = member_note(group, pos, register, lang)
            column.fills[rec.row] = fill
            if group.kind == DUPLICATE and rec.column_of("complaint_id"):
                marks.append(CellMark(rec.row, rec.column_of("complaint_id"), fill, reason))
        for pos, m in enumerate(group.members):
            rec = m.record
            local = pos in here
            ref = f"{rec.sheet}!A{rec.row}"
            if local:
                links[len(rows)] = ref
            fills[len(rows)] = fill
            rows.append([ref if local else where(rec, register, lang, m.history), group.number, t(f"dedupe_kind_{group.kind}", lang),
                         Path(rec.source).name, rec.sheet, rec.row, rec.id, m.date, role_text(group, pos, lang),
                         round(group.score, 3), reason])
    table = PlanTable(t("dedupe_sheet", lang), headers, rows, links, fills, [18, 6, 10, 18, 14, 6, 16, 12, 10, 8, 90])
    last = max([r.row for r in register.records], default=register.header_row)
    return SheetPlan("dedupe", register.sheet, register.header_row, last, [dup_col, rep_col], marks, [table], result.summary(lang))


@operation("dedupe", reads_policy=Settings.from_policy, needs=("classify",))
def dedupe_operation(registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """The dedupe operation for every door. Duplicate groups count as warnings (the exit code
    with --fail-on warning); repeat chains are links, not findings."""
    result = dedupe(registers, ctx.policy, ctx.history, classifier_labels(registers, ctx))
    return OpResult("dedupe", lambda: result.to_dict(ctx.lang), lambda reg: [dedupe_plan(result, reg, ctx.lang)],
                    result.summary(ctx.lang), 0, len(result.duplicates), result, items=lambda: result.items(ctx.lang))
