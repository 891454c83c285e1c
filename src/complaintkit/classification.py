"""Complaint classification (shared/DOMAIN.md "Classification"): the reason (JR/T 0169-2018 投诉原因,
or the bank's own taxonomy), the business line and the hotspot tags 征信/息费/分期/催收 of each
complaint, read from its description, demand and remarks.

Every label says why: weighted keyword and pattern rules from the policy ([classify]) name the
words that decided it, or, with a model learned from the bank's own labelled history
(textmodel.py), the character n-grams that weighed most. Every reason has a confidence; below the
threshold the row gets the review label (待人工复核) instead of a guess. The register's own
投诉类别 and 业务类型 are never overwritten: where they disagree with the result, the
disagreement is listed.

Pure: records and policy (and optionally a model) in, a ``ClassificationReport`` out.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
    from re import _parser as _sre  # the pattern parser: which words a pattern cannot match without
else:  # pragma: no cover - exercised on 3.10 only
    import sre_parse as _sre
    import tomli as tomllib

from .errors import PolicyError
from .fields import field_label
from .messages import Text, register_messages, t
from .normalize import fold_spaces, nfkc, value_key
from .operations import OpContext, OpResult, operation
from .policy import Policy, load_policy
from .privacy import scrub
from .register import Record, Register
from .sheetplan import AMBER, YELLOW, CellMark, PlanColumn, PlanTable, SheetPlan
from .textmodel import TextModel

REASON, BUSINESS, TAG = "reason", "business", "tag"
DIMENSIONS = (REASON, BUSINESS, TAG)

register_messages({
    "cls_col_reason": ("CK-投诉原因", "CK-reason"),
    "cls_col_business": ("CK-业务类型", "CK-business"),
    "cls_col_tags": ("CK-热点", "CK-hotspots"),
    "cls_col_confidence": ("CK-分类置信度", "CK-confidence"),
    "cls_col_evidence": ("CK-分类依据", "CK-evidence"),
    "cls_sheet_disagree": ("CK-分类差异", "CK-class-disagreements"),
    "cls_sheet_stats": ("CK-分类统计", "CK-class-counts"),
    "cls_dim_reason": ("原因", "reason"),
    "cls_dim_business": ("业务", "business"),
    "cls_dim_tag": ("热点", "hotspot"),
    "cls_dim_model": ("模型", "model"),
    "cls_src_register": ("台账登记的业务类型", "the register's business line"),
    "cls_no_evidence": ("未找到可判断原因的关键词", "no words that tell the reason"),
    "cls_candidates": ("候选：{items}", "candidates: {items}"),
    "cls_disagree": (
        "台账登记的{label}为“{value}”，分类结果为“{result}”（置信度 {confidence}）",
        "the register's {label} is '{value}', the classification says '{result}' (confidence {confidence})",
    ),
    "cls_summary": (
        "共 {rows} 行：已分类 {classified} 行，待人工复核 {review} 行；与台账登记不一致 {disagreements} 处",
        "{rows} rows: {classified} classified, {review} need review; {disagreements} disagreements with the register",
    ),
    "cls_hdr_where": ("位置", "where"),
    "cls_hdr_field": ("字段", "field"),
    "cls_hdr_register": ("台账登记", "register"),
    "cls_hdr_result": ("分类结果", "classified"),
    "cls_hdr_confidence": ("置信度", "confidence"),
    "cls_hdr_evidence": ("依据", "evidence"),
    "cls_hdr_dimension": ("维度", "dimension"),
    "cls_hdr_label": ("类别", "label"),
    "cls_hdr_count": ("笔数", "count"),
    "cls_hdr_share": ("占比", "share"),
    "cls_hdr_reason": ("投诉原因", "reason"),
    "cls_hdr_business": ("业务类型", "business"),
    "cls_hdr_tags": ("热点", "hotspots"),
})


# --------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Rule:
    """One keyword or pattern with its weight; ``regex`` is None for a plain keyword."""

    kind: str  # "keyword" | "pattern"
    source: str
    weight: float
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class LabelRules:
    """The rules of one label (a reason, a business line or a tag)."""

    label: str
    rules: tuple[Rule, ...]

    @functools.cached_property
    def keywords(self) -> dict[str, tuple[int, Rule]]:
        """Keyword -> (its place among the rules, the rule)."""
        return {r.source: (i, r) for i, r in enumerate(self.rules) if r.regex is None}

    @functools.cached_property
    def patterns(self) -> tuple[tuple[int, Rule], ...]:
        return tuple((i, r) for i, r in enumerate(self.rules) if r.regex is not None)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a label was given: a rule that matched (keyword/pattern), an n-gram of the model, or
    the register's own value."""

    dimension: str  # reason | business | tag
    label: str
    source: str  # keyword | pattern | ngram | register
    text: str  # the words as found
    weight: float
    field: str = ""
    rule: str = ""  # the pattern, for pattern rules

    def to_dict(self, mask: bool = False) -> dict[str, Any]:
        """The JSON of this evidence; ``mask`` masks ID-number- or phone-like digits in the words."""
        out = {"dimension": self.dimension, "label": self.label, "source": self.source,
               "text": scrub(self.text) if mask else self.text, "weight": round(self.weight, 4), "field": self.field}
        if self.rule:
            out["rule"] = self.rule
        return out

    def short(self, lang: str = "zh") -> str:
        """“催收”+5 — the words and what they weighed."""
        if self.source == "register":
            return t("cls_src_register", lang)
        return (f"“{self.text}”" if lang == "zh" else f"'{self.text}'") + f"+{self.weight:g}"


def fold(text: str) -> str:
    """Text as the rules see it: NFKC (full-width letters and digits become plain) and lower case;
    line breaks and runs of spaces become one space."""
    return fold_spaces(nfkc(text).casefold())


register_messages({
    "cls_pol_weight": ("{where}：权重应为不小于 0 的数，而不是 {value!r}", "{where}: a weight must be a number of 0 or more, not {value!r}"),
    "cls_pol_label_table": ("{where}：应为含 keywords 和 patterns 的表", "{where}: must be a table with keywords and patterns"),
    "cls_pol_word_tables": ("{where}：keywords 和 patterns 应为“词 = 权重”的表", "{where}: keywords and patterns must be tables of word = weight"),
    "cls_pol_bad_regex": ("{where}.patterns：{pattern!r} 不是有效的正则表达式（{detail}）",
                          "{where}.patterns: {pattern!r} is not a valid regular expression ({detail})"),
    "cls_pol_no_rules": ('classify.{dim}s 列出了 {name!r}，但没有 [classify.rules.{dim}."{name}"] 表',
                         'classify.{dim}s lists {name!r} but there is no [classify.rules.{dim}."{name}"] table'),
    "cls_pol_no_reasons": ("classify.reasons 为空：请列出要归入的投诉原因", "classify.reasons is empty: list the reasons to classify into"),
    "cls_pol_review_is_reason": ("classify.review_label {review!r} 同时也是 classify.reasons 中的一项", "classify.review_label {review!r} is also one of classify.reasons"),
    "cls_pol_settings": ("classify 设置有误：{detail}", "classify: {detail}"),
    "cls_pol_no_label_map": ("--label-map {name!r}：既不是 classify.label_maps 中的映射（{known}），也不是文件",
                             "--label-map {name!r}: neither a map in classify.label_maps ({known}) nor a file"),
    "cls_pol_no_maps": ("无", "none"),
    "cls_pol_map_unreadable": ("{path}：无法读取（{detail}）", "{path}: cannot be read ({detail})"),
    "cls_pol_map_not_readable": ("{path}：不是可读的标签映射文件（{detail}）", "{path}: not a readable label map ({detail})"),
    "cls_pol_map_not_flat": ("{path}：标签映射应为“标签 = 另一标签”的简单表", "{path}: a label map is a flat table of label = other label"),
})


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PolicyError("cls_pol_weight", where=where, value=value)
    return float(value)


def _label_rules(label: str, spec: Any, where: str) -> LabelRules:
    if not isinstance(spec, Mapping):
        raise PolicyError("cls_pol_label_table", where=where)
    rules: list[Rule] = []
    keywords = spec.get("keywords", {}) or {}
    patterns = spec.get("patterns", {}) or {}
    if not isinstance(keywords, Mapping) or not isinstance(patterns, Mapping):
        raise PolicyError("cls_pol_word_tables", where=where)
    for word, value in keywords.items():
        weight = _weight(value, f"{where}.keywords.{word}")
        key = fold(str(word))
        if weight and key:  # weight 0 switches a shipped word off
            rules.append(Rule("keyword", key, weight))
    for pattern, value in patterns.items():
        weight = _weight(value, f"{where}.patterns.{pattern}")
        if not weight:
            continue
        try:
            regex = re.compile(fold(str(pattern)))
        except re.error as exc:
            raise PolicyError("cls_pol_bad_regex", where=where, pattern=pattern, detail=str(exc)) from None
        rules.append(Rule("pattern", str(pattern), weight, regex))
    return LabelRules(label, tuple(rules))


def reason_names_en(policy: Policy) -> dict[str, str]:
    """Each reason's English name (``en`` in its ``[classify.rules.reason."…"]`` table), for
    ``Classifier.display`` and for the other checks' messages that name a reason."""
    table = (policy.section("classify").get("rules", {}) or {}).get(REASON, {}) or {}
    return {str(name): str(spec["en"]) for name, spec in table.items() if isinstance(spec, Mapping) and spec.get("en")}


@dataclass(frozen=True)
class Settings:
    """The [classify] policy section, read and checked once."""

    fields: tuple[str, ...]
    reasons: tuple[LabelRules, ...]
    business: tuple[LabelRules, ...]
    tags: tuple[LabelRules, ...]
    threshold: float
    model_threshold: float
    review_label: str
    review_label_en: str
    evidence_half: float
    further_rule_factor: float
    business_min_score: float
    business_disagree_score: float
    tag_min_score: float
    evidence_shown: int
    evidence_ngrams: int
    category_aliases: dict[str, str]
    label_maps: dict[str, dict[str, str]]

    @classmethod
    def from_policy(cls, policy: Policy) -> "Settings":
        sec = policy.section("classify")
        rules = sec.get("rules", {}) or {}

        def labels(dim: str, names: Iterable[str], require: bool) -> tuple[LabelRules, ...]:
            table = rules.get(dim, {}) or {}
            out = []
            for name in names:
                spec = table.get(name)
                if spec is None:
                    if require:
                        raise PolicyError("cls_pol_no_rules", dim=dim, name=name)
                    spec = {}
                out.append(_label_rules(str(name), spec, f"classify.rules.{dim}.{name}"))
            return tuple(out)

        reasons = list(sec.get("reasons", []) or [])
        if not reasons:
            raise PolicyError("cls_pol_no_reasons")
        lines = list(sec.get("business_lines", []) or []) or list(policy.get("values.allowed.business_line", []) or [])
        review = str(sec.get("review_label", "待人工复核"))
        if review in reasons:
            raise PolicyError("cls_pol_review_is_reason", review=review)
        aliases = {value_key(str(k)): str(v) for k, v in (sec.get("category_aliases", {}) or {}).items()}
        maps = {str(name): {str(k): str(v) for k, v in table.items()}
                for name, table in (sec.get("label_maps", {}) or {}).items() if isinstance(table, Mapping)}
        model = sec.get("model", {}) or {}
        try:
            return cls(
                fields=tuple(sec.get("fields", ["description", "demand", "remarks"])),
                reasons=labels(REASON, reasons, True),
                business=labels(BUSINESS, lines, False),
                tags=labels(TAG, sec.get("tags", []) or [], True),
                threshold=float(sec.get("threshold", 0.4)),
                model_threshold=float(model.get("threshold", 0.4)),
                review_label=review,
                review_label_en=str(sec.get("review_label_en", "needs review")),
                evidence_half=max(1e-9, float(sec.get("evidence_half", 2.0))),
                further_rule_factor=min(1.0, max(0.0, float(sec.get("further_rule_factor", 1.0)))),
                business_min_score=float(sec.get("business_min_score", 2.0)),
                business_disagree_score=float(sec.get("business_disagree_score", 5.0)),
                tag_min_score=float(sec.get("tag_min_score", 3.0)),
                evidence_shown=max(1, int(sec.get("evidence_shown", 3))),
                evidence_ngrams=max(1, int(model.get("evidence_ngrams", 5))),
                category_aliases=aliases,
                label_maps=maps,
            )
        except (TypeError, ValueError) as exc:
            raise PolicyError("cls_pol_settings", detail=str(exc)) from None


# --------------------------------------------------------------------------------------------
# Classifying one complaint


@dataclass(slots=True)
class Classification:
    """The labels of one complaint, with their confidence and evidence."""

    reason: str  # a reason label, or the review label
    review: bool
    #: the best candidate even when it is below the threshold ("" when nothing matched).
    guess: str
    confidence: float
    business: str  # "" when unknown
    #: "text" (found in the words), "register" (the register's own 业务类型), "" (unknown).
    business_from: str
    tags: list[str]
    evidence: list[Evidence]
    #: (reason, score): every reason that scored, best first.
    candidates: list[tuple[str, float]]
    method: str  # rules | model

    def to_dict(self, mask: bool = False, shared: dict[Any, Any] | None = None) -> dict[str, Any]:
        """The JSON of one complaint; ``mask`` masks ID-number- or phone-like digits a pattern
        caught. ``shared``, one dict for all the rows of a report (and one ``mask``), gives alike
        tag lists, candidates and evidence one object each: a register repeats them on most rows.
        The JSON is the same; read those objects, don't change them."""
        if shared is None:
            shared = {}
        tags = tuple(self.tags)
        return {
            "reason": self.reason,
            "review": self.review,
            "guess": self.guess,
            "business": self.business,
            "business_from": self.business_from,
            "tags": shared.get(tags) or shared.setdefault(tags, list(tags)),
            "confidence": round(self.confidence, 3),
            "method": self.method,
            "candidates": [shared.get(c) or shared.setdefault(c, {"label": c[0], "score": round(c[1], 4)})
                           for c in self.candidates],
            "evidence": [shared.get(e) or shared.setdefault(e, e.to_dict(mask)) for e in self.evidence],
        }


class _Entry:
    """One rule of one label as the index meets it: where its score goes, and its keyword
    evidence per field, made once and shared by every row (a register repeats it endlessly)."""

    __slots__ = ("dim", "key", "label", "rank", "rule", "inside", "needs", "_evidence")

    def __init__(self, dim: int, key: int, label: str, rank: int, rule: Rule, inside: frozenset[str] = frozenset()):
        self.dim, self.label, self.rank, self.rule = dim, label, rank, rule
        self.key = key  # the label's place: dimensions, then labels, in the policy's order
        #: the label's longer keywords that contain this one (收益 in 预期收益): found, they stand for it.
        self.inside = inside
        #: words a match must contain one of each: a text without them is not searched.
        self.needs = _needed_words(rule.regex) if rule.regex is not None else ()
        self._evidence: dict[str, Evidence] = {}

    def keyword_evidence(self, field_name: str) -> Evidence:
        ev = self._evidence.get(field_name)
        if ev is None:
            ev = self._evidence[field_name] = Evidence(DIMENSIONS[self.dim], self.label, "keyword", self.rule.source,
                                                       self.rule.weight, field_name)
        return ev

    def pattern_evidence(self, text: str, field_name: str) -> Evidence:
        return Evidence(DIMENSIONS[self.dim], self.label, "pattern", text, self.rule.weight, field_name, self.rule.source)


_REPEATS = tuple(getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_sre, name))


def _needed_words(regex: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Sets of words of which every match of ``regex`` contains at least one each, read from its
    literal text: 态度.{0,4}(恶劣|差) needs 态度 and one of 恶劣/差. Empty when nothing is certain."""
    if regex.flags & re.IGNORECASE:
        return ()

    def needs(items: Any) -> list[frozenset[str]]:
        out: list[frozenset[str]] = []
        run = ""  # adjacent literal characters: one word
        for op, av in items:
            if op is _sre.LITERAL:
                run += chr(av)
                continue
            if run:
                out.append(frozenset([run]))
                run = ""
            if op is _sre.IN and all(o is _sre.LITERAL for o, _ in av):  # (理|管) is parsed as [理管]
                out.append(frozenset(chr(c) for _, c in av))
            elif op is _sre.SUBPATTERN and not av[1] & _sre.SRE_FLAG_IGNORECASE:
                out += needs(av[3])
            elif op in _REPEATS and av[0] >= 1:
                out += needs(av[2])
            elif op is _sre.BRANCH:
                firsts = [needs(alt) for alt in av[1]]
                if all(firsts):  # every alternative needs a word: one of those is certain
                    out.append(frozenset().union(*(f[0] for f in firsts)))
        if run:
            out.append(frozenset([run]))
        return out

    try:
        return tuple(dict.fromkeys(needs(_sre.parse(regex.pattern, regex.flags))))
    except Exception:  # a parser of another Python version: search every text, as without the screen
        return ()


class _Hits:
    """What the rules find in one field's text: its folded text, the keywords in it and the
    pattern rules that match it with the words they matched."""

    __slots__ = ("text", "words", "patterns", "key")

    def __init__(self, text: str, words: list[str], patterns: list[tuple[_Entry, str]]):
        self.text, self.words, self.patterns = text, words, patterns
        #: what the rules make of the text: texts with the same key score and read alike.
        self.key = (tuple(words), tuple(patterns))


class RuleIndex:
    """The keyword and pattern rules of every dimension (reasons, business lines, tags), read in
    one pass per text instead of one search per rule: a keyword is looked for only where its first
    two characters occur, a pattern only in texts that hold the words it cannot match without.
    Texts that repeat (the demand column holds a dozen phrasings) are read once."""

    _CACHE = 4096  # distinct texts remembered; unique ones (descriptions) only pass through

    def __init__(self, dims: Sequence[Sequence[LabelRules]]) -> None:
        self.labels = tuple(tuple(labels) for labels in dims)
        #: (dimension, label) of every label, dimensions and labels in the policy's order.
        self._places = [(dim, lr) for dim, labels in enumerate(self.labels) for lr in labels]
        self._owners: dict[str, list[_Entry]] = {}
        self._patterns: list[_Entry] = []
        for key, (dim, lr) in enumerate(self._places):
            # Strongest first, equal weights in the policy's order: evidence always reads the same.
            rank = {i: r for r, i in enumerate(sorted(range(len(lr.rules)), key=lambda i: (-lr.rules[i].weight, i)))}
            for word, (i, rule) in lr.keywords.items():
                inside = frozenset(other for other in lr.keywords if other != word and word in other)
                self._owners.setdefault(word, []).append(_Entry(dim, key, lr.label, rank[i], rule, inside))
            self._patterns += [_Entry(dim, key, lr.label, rank[i], rule) for i, rule in lr.patterns]
        # The words looked for: the keywords and those the patterns need. Words of two or more
        # characters are looked for where their first two are, found by one regular expression.
        words = sorted(set(self._owners).union(*(need for e in self._patterns for need in e.needs)))
        self._singles = [w for w in words if len(w) == 1]
        self._by_pair: dict[str, list[str]] = {}
        for word in words:
            if len(word) > 1:
                self._by_pair.setdefault(word[:2], []).append(word)
        firsts, seconds = ("".join(sorted({p[i] for p in self._by_pair})) for i in (0, 1))
        self._pairs = re.compile(f"(?=([{re.escape(firsts)}][{re.escape(seconds)}]))", re.S) if self._by_pair else None
        # Each pattern is filed under the words of one of its needs (the one of longest words, the
        # rarest): the words a text holds name the few patterns worth a look.
        self._unscreened = [e for e in self._patterns if not e.needs]
        self._screened: dict[str, list[_Entry]] = {}
        for entry in self._patterns:
            if entry.needs:
                for word in max(entry.needs, key=lambda need: min(map(len, need))):
                    self._screened.setdefault(word, []).append(entry)
        self._cache: dict[str, _Hits] = {}

    def hits(self, value: str) -> _Hits:
        """The keywords and patterns found in one field's text (as typed; folded here)."""
        found = self._cache.get(value)
        if found is None:
            if len(self._cache) >= self._CACHE:
                self._cache.clear()
            text = fold(value)
            words = [w for w in self._singles if w in text]
            if self._pairs is not None:
                by_pair = self._by_pair
                words += [w for pair in by_pair.keys() & set(self._pairs.findall(text)) for w in by_pair[pair] if w in text]
            patterns = []
            if self._patterns:
                present = set(words)
                screened = self._screened
                for entry in [*self._unscreened, *dict.fromkeys(e for w in words if w in screened for e in screened[w])]:
                    for need in entry.needs:
                        if need.isdisjoint(present):
                            break
                    else:
                        m = entry.rule.regex.search(text)  # type: ignore[union-attr]
                        if m is not None:
                            patterns.append((entry, m.group(0)))
            found = self._cache[value] = _Hits(text, [w for w in words if w in self._owners], patterns)
        return found

    def match(self, fields: Sequence[tuple[str, _Hits]], further: float = 1.0) -> list[dict[str, tuple[float, list[Evidence]]]]:
        """Per dimension, score and evidence per label: each rule counts once, in the first field
        where it matches, and a keyword inside a longer matched keyword of the same label (收益 in
        预期收益) does not count again. The strongest rule counts in full, the next ``further``
        times its weight, the one after ``further``² times, and so on: a label with many
        near-synonyms (利息, 费用, 手续费...) does not win on their number alone."""
        seen: dict[str, str] = {}
        patterns: dict[_Entry, Evidence] = {}
        for name, hits in fields:
            for word in hits.words:
                seen.setdefault(word, name)
            for entry, text in hits.patterns:
                if entry not in patterns:
                    patterns[entry] = entry.pattern_evidence(text, name)
        placed: dict[int, list[tuple[int, Evidence]]] = {}
        for word, name in seen.items():
            for entry in self._owners[word]:
                if not entry.inside or seen.keys().isdisjoint(entry.inside):
                    placed.setdefault(entry.key, []).append((entry.rank, entry.keyword_evidence(name)))
        for entry, ev in patterns.items():
            placed.setdefault(entry.key, []).append((entry.rank, ev))
        out: list[dict[str, tuple[float, list[Evidence]]]] = [{} for _ in self.labels]
        for key in sorted(placed):
            found = [e for _, e in sorted(placed[key])]  # ranks differ: evidence is never compared
            dim, lr = self._places[key]
            out[dim][lr.label] = (sum(e.weight * further ** i for i, e in enumerate(found)), found)
        return out


class Classifier:
    """Classifies complaints under one policy (rules compiled once), optionally with a model."""

    _RESULTS = 1 << 16  # distinct findings remembered (a register has a few hundred to thousands)

    def __init__(self, policy: Policy, model: TextModel | None = None) -> None:
        self.settings = Settings.from_policy(policy)
        self.model = model
        self._rules = RuleIndex((self.settings.reasons, self.settings.business, self.settings.tags))
        # Ties go to the label listed first in the policy.
        self._reason_order = {lr.label: i for i, lr in enumerate(self.settings.reasons)}
        self._line_order = {lr.label: i for i, lr in enumerate(self.settings.business)}
        self._en = reason_names_en(policy)
        known = [lr.label for lr in self.settings.reasons] + (list(model.classes) if model else [])
        self._reason_keys = {value_key(label): label for label in known}
        self._lines = {value_key(lr.label): lr.label for lr in self.settings.business}
        self._results: dict[Any, Classification] = {}

    @property
    def method(self) -> str:
        return "model" if self.model is not None else "rules"

    @property
    def reason_labels(self) -> list[str]:
        """The labels a reason may take, in report order (the model's classes with a model)."""
        return list(self.model.classes) if self.model is not None else [lr.label for lr in self.settings.reasons]

    def display(self, label: str, lang: str = "zh") -> str:
        """A reason label as shown to people: its English name with lang="en" when it has one."""
        if label == self.settings.review_label:
            return self.settings.review_label_en if lang == "en" else label
        return self._en.get(label, label) if lang == "en" else label

    def classify_fields(self, values: Mapping[str, Any], register_business: str | None = None) -> Classification:
        """Classify one complaint from its text fields (description, demand, remarks: the policy's
        ``classify.fields``); ``register_business`` is the register's own 业务类型, used when the
        words name no business line."""
        s = self.settings
        fields = [(name, self._rules.hits(str(values[name]))) for name in s.fields if values.get(name)]
        # The rules see only the words and patterns each field holds: complaints in other words but
        # with the same findings get the same result (one object, shared: read it, don't change it).
        key = (register_business, tuple((name, hits.key) for name, hits in fields)) if self.model is None else None
        found = self._results.get(key) if key is not None else None
        if found is None:
            found = self._classify(fields, register_business)
            if key is not None:
                if len(self._results) >= self._RESULTS:
                    self._results.clear()
                self._results[key] = found
        return found

    def _classify(self, fields: list[tuple[str, _Hits]], register_business: str | None) -> Classification:
        s = self.settings
        reason_scores, business_scores, tag_scores = self._rules.match(fields, s.further_rule_factor)
        if self.model is not None:
            reason, review, guess, confidence, evidence, candidates = self._by_model(" ".join(h.text for _, h in fields))
        else:
            reason, review, guess, confidence, evidence, candidates = self._by_rules(reason_scores)
        business, business_from = "", ""
        if register_business and register_business in business_scores:
            business, business_from = register_business, "text"
            evidence += business_scores[register_business][1]
        else:
            order = self._line_order
            best_line = min(business_scores.items(), key=lambda kv: (-kv[1][0], order[kv[0]]), default=None)
            needed = s.business_disagree_score if register_business else s.business_min_score
            if best_line is not None and best_line[1][0] >= needed:
                business, business_from = best_line[0], "text"
                evidence += best_line[1][1]
            elif register_business:
                # The register's own value stands unless the words clearly name another line.
                business, business_from = register_business, "register"
                evidence.append(Evidence(BUSINESS, register_business, "register", register_business, 0.0, "business_line"))
        tags = []
        for lr in s.tags:  # policy order, so tags always read the same way
            hit = tag_scores.get(lr.label)
            if hit and hit[0] >= s.tag_min_score:
                tags.append(lr.label)
                evidence += hit[1]
        return Classification(reason, review, guess, confidence, business, business_from, tags, evidence, candidates, self.method)

    def classify_text(self, text: str) -> Classification:
        """Classify a single text (e.g. one cell), read as the complaint's description."""
        return self.classify_fields({self.settings.fields[0] if self.settings.fields else "description": text})

    def _by_rules(self, scores: Mapping[str, tuple[float, list[Evidence]]]
                  ) -> tuple[str, bool, str, float, list[Evidence], list[tuple[str, float]]]:
        s = self.settings
        order = self._reason_order
        # Ties go to the reason listed first in the policy: the same text always gets the same label.
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], order[kv[0]]))
        candidates = [(label, sc) for label, (sc, _) in ranked]
        if not ranked:
            return s.review_label, True, "", 0.0, [], []
        guess, (best, evidence) = ranked[0]
        strength = best / (best + s.evidence_half)
        share = best / sum(sc for _, sc in candidates)
        confidence = strength * share
        review = confidence < s.threshold
        return (s.review_label if review else guess), review, guess, confidence, list(evidence), candidates

    def _by_model(self, text: str) -> tuple[str, bool, str, float, list[Evidence], list[tuple[str, float]]]:
        s = self.settings
        assert self.model is not None
        if not text:
            return s.review_label, True, "", 0.0, [], []
        p = self.model.predict(text, s.evidence_ngrams)
        candidates = sorted(((c, pr) for c, pr in p.probabilities.items() if pr >= 0.01), key=lambda kv: -kv[1])
        evidence = [Evidence(REASON, p.label, "ngram", g, w, "") for g, w in p.ngrams]
        review = p.probability < s.model_threshold
        return (s.review_label if review else p.label), review, p.label, p.probability, evidence, candidates

    def category_reason(self, category: str | None) -> str | None:
        """The reason a register's 投诉类别 value means (a reason label or one of its aliases), or
        None when it cannot be compared."""
        if not category:
            return None
        key = value_key(str(category))
        if key in self._reason_keys:
            return self._reason_keys[key]
        alias = self.settings.category_aliases.get(key)
        return self._reason_keys.get(value_key(alias)) if alias else None

    def business_line(self, value: str | None) -> str | None:
        """The register's 业务类型 as one of the business lines, or None."""
        return self._lines.get(value_key(str(value))) if value else None


_CLASSIFIERS: dict[tuple[int, int], tuple[Policy, TextModel | None, Classifier]] = {}


def classifier_for(policy: Policy, model: TextModel | None = None) -> Classifier:
    """A classifier for this policy (and model), built once and kept: a column of worksheet
    formulas does not recompile the rules for every cell. With no ``model``, the model the policy
    names in classify.model.path (if any), as the classify operation does."""
    key = (id(policy), id(model))
    hit = _CLASSIFIERS.get(key)
    if hit is not None and hit[0] is policy and hit[1] is model:
        return hit[2]
    classifier = Classifier(policy, model if model is not None else load_model_for(policy))
    if len(_CLASSIFIERS) >= 8:
        _CLASSIFIERS.clear()
    _CLASSIFIERS[key] = (policy, model, classifier)  # holding policy and model keeps their ids unique
    return classifier


@functools.lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return load_policy()


def classify_text(text: str, policy: Policy | None = None, model: TextModel | None = None) -> Classification:
    """Classify one text, read as a complaint's description: the worksheet function's door.
    ``policy`` defaults to the shipped one."""
    return classifier_for(policy or _default_policy(), model).classify_text(str(text or ""))


# --------------------------------------------------------------------------------------------
# A register


@dataclass(slots=True)
class RowClassification:
    """One record's classification and where it is."""

    source: str
    sheet: str
    row: int
    id: str
    result: Classification
    category: str | None = None  # the register's 投诉类别 as typed
    business_line: str | None = None  # the register's 业务类型


@dataclass(slots=True)
class Disagreement:
    """The register's own 投诉类别 or 业务类型 differs from the classification: listed, never changed."""

    source: str
    sheet: str
    row: int
    id: str
    field: str  # category | business_line
    column: str
    register_value: str
    classified: str
    confidence: float

    def message(self, lang: str = "zh", classifier: Classifier | None = None) -> str:
        shown = classifier.display(self.classified, lang) if classifier else self.classified
        return t("cls_disagree", lang, label=field_label(self.field, lang), value=self.register_value, result=shown,
                 confidence=f"{self.confidence:.2f}")

    def to_dict(self, lang: str = "zh", classifier: Classifier | None = None) -> dict[str, Any]:
        return {"file": self.source, "sheet": self.sheet, "row": self.row, "id": self.id, "field": self.field,
                "column": self.column, "register": self.register_value, "classified": self.classified,
                "confidence": round(self.confidence, 3), "message": self.message(lang, classifier)}


@dataclass
class ClassificationReport:
    """Every row's classification and the disagreements with the register, in file/row order."""

    rows: list[RowClassification]
    disagreements: list[Disagreement]
    classifier: Classifier

    @property
    def review(self) -> int:
        return sum(r.result.review for r in self.rows)

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per reason, per business line and per tag (taxonomy order, then any others)."""
        c = self.classifier
        review = c.settings.review_label
        reasons = Counter(r.result.reason for r in self.rows)
        lines = Counter(r.result.business or "" for r in self.rows)
        tags = Counter(tag for r in self.rows for tag in r.result.tags)
        order_r = c.reason_labels + [review]
        order_b = [lr.label for lr in c.settings.business]
        order_t = [lr.label for lr in c.settings.tags]

        def ordered(counter: Counter[str], order: list[str]) -> dict[str, int]:
            out = {k: counter[k] for k in order if counter[k]}
            out.update({k: v for k, v in sorted(counter.items()) if k not in out and k})
            return out

        return {"reason": ordered(reasons, order_r), "business": ordered(lines, order_b), "tags": ordered(tags, order_t)}

    def summary(self, lang: str = "zh") -> str:
        return t("cls_summary", lang, rows=len(self.rows), classified=len(self.rows) - self.review, review=self.review,
                 disagreements=len(self.disagreements))

    def reasons(self) -> Iterator[tuple[tuple[str, str, int], str, bool, float]]:
        """Each row's record key (file, sheet, row), reason, review flag and confidence as the JSON
        rows give it (what dedupe and risk link complaints by), without building the JSON."""
        for r in self.rows:
            yield (r.source, r.sheet, r.row), r.result.reason, r.result.review, round(r.result.confidence, 3)

    def row_items(self, lang: str = "zh", mask: bool = False) -> Iterator[dict[str, Any]]:
        """The JSON rows, one at a time (a report reads them without holding them all)."""
        c = self.classifier
        shared: dict[Any, Any] = {}
        for r in self.rows:
            item = {"file": r.source, "sheet": r.sheet, "row": r.row, "id": r.id}
            item.update(r.result.to_dict(mask, shared))
            item["reason_text"] = c.display(r.result.reason, lang)
            yield item

    def to_dict(self, lang: str = "zh", mask: bool = False) -> dict[str, Any]:
        """The JSON contract: rows (row, sheet, id, reason, business, tags, confidence, evidence),
        summary and disagreements. Only matched words of the complaint are echoed; with ``mask``
        any ID-number- or phone-like digits a pattern caught are masked too."""
        c = self.classifier
        return {
            "method": c.method,
            "rows": list(self.row_items(lang, mask)),
            "summary": {"rows": len(self.rows), "classified": len(self.rows) - self.review, "review": self.review,
                        "disagreements": len(self.disagreements), "counts": self.counts()},
            "disagreements": [d.to_dict(lang, c) for d in self.disagreements],
        }


def classify_records(records: Iterable[Record], classifier: Classifier) -> ClassificationReport:
    """Classify records and compare with what the register says."""
    rows: list[RowClassification] = []
    disagreements: list[Disagreement] = []
    # A register's 业务类型 and 投诉类别 hold a few values over many rows: each is looked up once.
    lines: dict[Any, str | None] = {}
    reasons: dict[Any, str | None] = {}
    for rec in records:
        business, category = rec.get("business_line"), rec.get("category")
        if business not in lines:
            lines[business] = classifier.business_line(business)
        if category not in reasons:
            reasons[category] = classifier.category_reason(category)
        line, meant = lines[business], reasons[category]
        result = classifier.classify_fields(rec.values, line)
        rows.append(RowClassification(rec.source, rec.sheet, rec.row, rec.id, result, category, business))
        if meant is not None and not result.review and meant != result.reason:
            disagreements.append(Disagreement(rec.source, rec.sheet, rec.row, rec.id, "category", rec.column_of("category"),
                                              str(category), result.reason, result.confidence))
        if line is not None and result.business_from == "text" and result.business != line:
            disagreements.append(Disagreement(rec.source, rec.sheet, rec.row, rec.id, "business_line",
                                              rec.column_of("business_line"), str(business),
                                              result.business, result.confidence))
    return ClassificationReport(rows, disagreements, classifier)


def load_model_for(policy: Policy) -> TextModel | None:
    """The model the policy names in classify.model.path (None when it names none)."""
    path = str(policy.get("classify.model.path", "") or "")
    return TextModel.load(path) if path else None


def classify(registers: Sequence[Register], policy: Policy, model: TextModel | None = None) -> ClassificationReport:
    """Classify every record of the registers (the policy's model when ``model`` is not given)."""
    classifier = Classifier(policy, model if model is not None else load_model_for(policy))
    return classify_records((r for reg in registers for r in reg.records), classifier)


# --------------------------------------------------------------------------------------------
# What the workbook shows


def evidence_text(result: Classification, classifier: Classifier, lang: str = "zh",
                  heads: dict[tuple[str, str, bool], str] | None = None) -> str:
    """The CK-分类依据 cell: per label (reason, business line, each tag), its strongest evidence,
    at most ``classify.evidence_shown`` pieces each; for a row under review, the candidates.
    ``heads``, one dict for the rows of a sheet (in one ``lang``), keeps each label's heading."""
    if not result.evidence:
        return t("cls_no_evidence", lang)
    limit = classifier.settings.evidence_shown
    sep, colon, inner = ("；", "：", "，") if lang == "zh" else ("; ", ": ", ", ")
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for e in result.evidence:
        groups.setdefault((e.dimension, e.label), []).append(e)
    parts = []
    if heads is None:
        heads = {}
    for (dim, label), items in groups.items():
        key = (dim, label, items[0].source == "ngram")
        head = heads.get(key)
        if head is None:
            name = t("cls_dim_model" if key[2] else f"cls_dim_{dim}", lang)
            head = heads[key] = f"{name} {classifier.display(label, lang) if dim == REASON else label}{colon}"
        parts.append(head + inner.join(e.short(lang) for e in items[:limit]))
    if result.review and result.candidates:
        items = inner.join(f"{classifier.display(label, lang)} {sc:.2g}" for label, sc in result.candidates[:3])
        parts.append(t("cls_candidates", lang, items=items))
    return sep.join(parts)


def classification_plan(report: ClassificationReport, register: Register, lang: str = "zh") -> SheetPlan:
    """The SheetPlan for one register: reason, business line, hotspots, confidence and evidence
    columns (review rows filled amber); the register's own 投诉类别/业务类型 cells that disagree
    are filled with a note (formatting only, their values stay); a disagreement sheet and a
    counts sheet."""
    c = report.classifier
    mine = [r for r in report.rows if (r.source, r.sheet) == (register.source, register.sheet)]
    cols = {name: PlanColumn(t(f"cls_col_{name}", lang), {}, {}, width=w)
            for name, w in (("reason", 22), ("business", 12), ("tags", 14), ("confidence", 10), ("evidence", 60))}
    sep = "、" if lang == "zh" else ", "
    heads: dict[tuple[str, str, bool], str] = {}
    tag_texts: dict[tuple[str, ...], str | None] = {}  # a few tag combinations over many rows: one string each
    evidence_texts: dict[tuple[Any, ...], str] = {}
    # Rows with the same findings share one Classification (see Classifier.classify_fields): its
    # evidence text is looked up by the object first, without hashing each Evidence again.
    shown_for: dict[int, str] = {}
    for r in mine:
        res = r.result
        cols["reason"].values[r.row] = c.display(res.reason, lang)
        if res.review:
            cols["reason"].fills[r.row] = AMBER
        cols["business"].values[r.row] = res.business or None
        tags = tuple(res.tags)
        if tags not in tag_texts:
            tag_texts[tags] = sep.join(tags) or None
        cols["tags"].values[r.row] = tag_texts[tags]
        cols["confidence"].values[r.row] = round(res.confidence, 2)
        # Rows found by the same rules show the same evidence: each distinct set is written once.
        text = shown_for.get(id(res))
        if text is None:
            key = (tuple(res.evidence), res.review, tuple(res.candidates) if res.review else ())
            text = evidence_texts.get(key)
            if text is None:
                text = evidence_texts[key] = evidence_text(res, c, lang, heads)
            shown_for[id(res)] = text
        cols["evidence"].values[r.row] = text
    disagreements = [d for d in report.disagreements if (d.source, d.sheet) == (register.source, register.sheet)]
    marks: list[CellMark] = []
    rows, links, fills = [], {}, {}
    for i, d in enumerate(disagreements):
        message = d.message(lang, c)
        if d.column:
            marks.append(CellMark(d.row, d.column, YELLOW, message))
        ref = f"{register.sheet}!{d.column or 'A'}{d.row}"
        target = cols["reason" if d.field == "category" else "business"]
        target.fills.setdefault(d.row, YELLOW)
        rows.append([ref, d.id, field_label(d.field, lang), d.register_value, c.display(d.classified, lang), round(d.confidence, 2), message])
        links[i] = ref
        fills[i] = YELLOW
    headers = [t(f"cls_hdr_{h}", lang) for h in ("where",)] + [t("hdr_id", lang)] + [
        t(f"cls_hdr_{h}", lang) for h in ("field", "register", "result", "confidence", "evidence")]
    tables = [PlanTable(t("cls_sheet_disagree", lang), headers, rows, links, fills, [16, 16, 10, 22, 22, 8, 70])]
    sub = ClassificationReport(mine, disagreements, c)
    counts = sub.counts()
    stat_rows = []
    for dim, key in ((REASON, "reason"), (BUSINESS, "business"), (TAG, "tags")):
        for label, n in counts[key].items():
            shown = c.display(label, lang) if dim == REASON else label
            stat_rows.append([t(f"cls_dim_{dim}", lang), shown, n, round(n / len(mine), 3) if mine else 0])
    stat_headers = [t(f"cls_hdr_{h}", lang) for h in ("dimension", "label", "count", "share")]
    tables.append(PlanTable(t("cls_sheet_stats", lang), stat_headers, stat_rows, widths=[8, 26, 8, 8]))
    last = max([r.row for r in register.records], default=register.header_row)
    return SheetPlan("classify", register.sheet, register.header_row, last, list(cols.values()), marks, tables, sub.summary(lang))


@operation("classify", reads_policy=Settings.from_policy)
def classify_operation(registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """The classify operation for every door. Rows that need review and disagreements with the
    register count as warnings (exit code 1 with --fail-on warning); nothing is an error."""
    report = classify(registers, ctx.policy)
    return OpResult("classify", lambda: report.to_dict(ctx.lang, ctx.mask),
                    lambda reg: [classification_plan(report, reg, ctx.lang)], report.summary(ctx.lang), 0,
                    report.review + len(report.disagreements), report, items=lambda: report.row_items(ctx.lang, ctx.mask))


def read_label_map(policy: Policy, name_or_path: str) -> dict[str, str]:
    """A label map by name from classify.label_maps, or read from a TOML/JSON file of
    ``label = other label`` pairs."""
    settings = Settings.from_policy(policy)
    if name_or_path in settings.label_maps:
        return dict(settings.label_maps[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(settings.label_maps)) or Text("cls_pol_no_maps")
        raise PolicyError("cls_pol_no_label_map", name=name_or_path, known=known)
    try:
        text = path.read_text("utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise PolicyError("cls_pol_map_unreadable", path=path, detail=str(exc).strerror or exc) from None
    except ValueError as exc:  # not UTF-8, not JSON, not TOML
        raise PolicyError("cls_pol_map_not_readable", path=path, detail=str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, (str, int)) for v in data.values()):
        raise PolicyError("cls_pol_map_not_flat", path=path)
    return {str(k): str(v) for k, v in data.items()}
