"""Canonical register fields and the matching of messy headers onto them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from .errors import PolicyError
from .messages import register_messages
from .policy import Policy

register_messages({
    "map_no_equals": ("--map 的格式应为 表头=字段，而不是 {entry!r}", "--map expects HEADER=field, got {entry!r}"),
    "map_unknown_field": ("--map {entry!r}：未知字段 {target!r}（可用：{fields}）", "--map {entry!r}: unknown field {target!r} (one of: {fields})"),
})


class MapError(PolicyError, ValueError):
    """A --map entry that cannot be used. A ValueError as well, for callers that catch that."""

#: Canonical fields in register order, with their Chinese names (used in messages and templates).
FIELDS: dict[str, str] = {
    "complaint_id": "投诉编号",
    "received_date": "受理日期",
    "channel": "投诉渠道",
    "branch": "受理机构",
    "customer_name": "客户姓名",
    "id_number": "证件号码",
    "phone": "联系电话",
    "customer_tier": "客户等级",
    "business_line": "业务类型",
    "description": "投诉内容",
    "demand": "客户诉求",
    "category": "投诉类别",
    "handler": "处理人",
    "transfers": "流转次数",
    "status": "处理状态",
    "extended": "是否延期",
    "closed_date": "办结日期",
    "followup_date": "回访日期",
    "followup_result": "回访结果",
    "escalated": "是否升级",
    "remarks": "备注",
}

FIELD_LABELS_EN: dict[str, str] = {name: name.replace("_", " ") for name in FIELDS}

_BRACKETED = re.compile(r"[(\[{（【〔<《][^)\]}）】〕>》]*[)\]}）】〕>》]")
_NOISE = re.compile(r"[\s*※★:：_\-—./、]+")
# What tells a field's second column from its first in a folded header: a number or a spare mark
# (联系电话2, 手机号码1, 第二联系电话, 备用电话). Words that say whose or which (回访电话, 联系人电话,
# 原投诉编号) are not marks: such a column is another thing. A bracketed note (联系电话（备用）) is
# already dropped by header_key.
_VARIANT_PREFIX = re.compile(r"^(?:第(?:\d+|[一二三四五六七八九十])|备用)")
_VARIANT_SUFFIX = re.compile(r"(?:\d+|[一二三四五六七八九十]|备用)$")


def field_label(name: str, lang: str = "zh") -> str:
    """The human name of a canonical field (its Chinese header, or English words)."""
    if lang == "en":
        return FIELD_LABELS_EN.get(name, name)
    return FIELDS.get(name, name)


def header_key(text: object) -> str:
    """Fold a header for comparison: NFKC, case, bracketed notes, spaces and marks removed."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).strip().lower()
    without_notes = _BRACKETED.sub("", folded)
    key = _NOISE.sub("", without_notes)
    # A header that is nothing but a bracketed note keeps its inside rather than vanishing.
    return key or _NOISE.sub("", folded)


def _distinctive(key: str) -> bool:
    """Whether a folded alias is long enough to be recognised inside a longer header: two Chinese
    characters, or three Latin ones ("id" and "no" hide in unrelated words)."""
    return len(key) >= 3 or (len(key) >= 2 and not key.isascii())


def _untagged(key: str) -> str:
    """A folded header without the number or spare mark of a second column (联系电话2 -> 联系电话)."""
    return _VARIANT_SUFFIX.sub("", _VARIANT_PREFIX.sub("", key, count=1), count=1)


#: Folded texts a HeaderMatcher remembers (a batch's header searches meet the same statuses,
#: channels and branch names in every file); forgotten all at once past this many.
_KEYS_KEPT = 50_000
_KEY_KEPT_LEN = 64


@dataclass(frozen=True)
class HeaderMatcher:
    """Maps header texts to canonical fields using the policy's aliases and ``--map`` entries.

    One matcher serves a whole batch: the header search looks at the first rows of every file,
    most of them data, so it remembers each text's folded key, and a text that holds no alias at
    all is told by one search (``screen``) rather than by trying each alias in turn."""

    exact: dict[str, str]
    partial: tuple[tuple[str, str], ...]
    screen: re.Pattern[str] = field(init=False, compare=False, repr=False)
    _keys: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Made from the aliases, whoever builds the matcher (a copy by dataclasses.replace too).
        object.__setattr__(self, "screen", re.compile("|".join(re.escape(key) for key, _ in self.partial) or "(?!)"))
        object.__setattr__(self, "_keys", {})

    @classmethod
    def from_policy(cls, policy: Policy, manual: dict[str, str] | None = None) -> "HeaderMatcher":
        exact: dict[str, str] = {}
        for name in FIELDS:
            exact.setdefault(header_key(name), name)
            exact.setdefault(header_key(FIELDS[name]), name)
        aliases = policy.get("fields.aliases", {}) or {}
        for name, names in aliases.items():
            for alias in names:
                exact.setdefault(header_key(alias), name)
        for header, name in (manual or {}).items():
            exact[header_key(header)] = name  # --map wins over every alias
        # Containment is a fallback for headers like "客户联系电话（手机）": longest alias first,
        # and only aliases long enough not to hide inside unrelated words.
        partial = sorted(
            ((key, name) for key, name in exact.items() if _distinctive(key)),
            key=lambda kv: -len(kv[0]),
        )
        return cls(exact, tuple(partial))

    def key(self, header: object) -> str:
        """``header_key(header)``, remembered for short texts (a long one is a complaint's text,
        met once)."""
        if not isinstance(header, str) or len(header) > _KEY_KEPT_LEN:
            return header_key(header)
        key = self._keys.get(header)
        if key is None:
            if len(self._keys) >= _KEYS_KEPT:
                self._keys.clear()
            key = self._keys[header] = header_key(header)
        return key

    def match(self, header: object) -> str | None:
        """The canonical field for one header text, or None when it is not recognised."""
        key = self.key(header)
        if not key:
            return None
        if key in self.exact:
            return self.exact[key]
        if len(key) > 40 or not self.screen.search(key):  # a long text is no header
            return None
        for alias, name in self.partial:  # the longest alias the header holds
            if alias in key:
                return name
        return None

    def map_row(self, cells: list[object]) -> dict[int, str]:
        """Column index -> field for a candidate header row; the first column wins a field."""
        taken: dict[str, int] = {}
        texts = [(i, c) for i, c in enumerate(cells) if isinstance(c, str) and c.strip()]
        # Exact names first, so "处理状态" claims status before "回访状态" could by containment.
        for idx, cell in texts:
            name = self.named(cell)
            if name and name not in taken:
                taken[name] = idx
        claimed = set(taken.values())
        for idx, cell in texts:
            if idx in claimed:
                continue
            name = self.match(cell)
            if name and name not in taken:
                taken[name] = idx
        return {idx: name for name, idx in taken.items()}

    def shadowed(self, cells: list[object], mapping: dict[int, str]) -> dict[int, str]:
        """Column index -> field for the columns of a header row whose header names a field
        exactly (the field's name, an alias or a ``--map`` entry) that another column supplies
        (``mapping``, from ``map_row``): "联系电话" twice, or "联系电话" and "手机号码". Their cells
        are not read as that field. A header that only contains an alias ("回访状态" beside
        "处理状态") is not counted: it is another thing."""
        return self._unread(cells, mapping, self.named)

    def named(self, header: object) -> str | None:
        """The field that ``header`` names exactly (its name, an alias or a ``--map`` entry), or None."""
        return self.exact.get(self.key(header))

    def variant_of(self, header: object) -> str | None:
        """The field whose name or alias ``header`` is once a number or spare mark is taken off
        (联系电话2, 手机号码1, 第二联系电话, 备用电话 -> phone), or None: a header that is a field's
        name itself, or that names another thing (回访电话, 回访状态), is no variant. The alias must
        be distinctive, as for containment ("id2" is no second ID)."""
        key = self.key(header)
        base = _untagged(key)
        if key in self.exact or base == key or not _distinctive(base):
            return None
        return self.exact.get(base)

    def near_duplicates(self, cells: list[object], mapping: dict[int, str]) -> dict[int, str]:
        """Column index -> field for the columns of a header row that are a numbered or spare
        variant (``variant_of``) of a field that another column supplies: "联系电话2" or "备用电话"
        beside "联系电话". Their cells are not read as that field. Exact repeats are ``shadowed``."""
        return self._unread(cells, mapping, self.variant_of)

    @staticmethod
    def _unread(cells: list[object], mapping: dict[int, str], field_of: Callable[[object], str | None]) -> dict[int, str]:
        """Column index -> field for the header cells outside ``mapping`` that ``field_of`` ties to
        a field some mapped column already supplies."""
        taken = set(mapping.values())
        out: dict[int, str] = {}
        for idx, cell in enumerate(cells):
            if idx in mapping or not isinstance(cell, str) or not cell.strip():
                continue
            name = field_of(cell)
            if name in taken:
                out[idx] = name
        return out


def parse_manual_map(entries: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse ``--map 'HEADER=field'`` entries; the field may be canonical or its Chinese name."""
    by_label = {label: name for name, label in FIELDS.items()}
    out: dict[str, str] = {}
    for entry in entries:
        if "=" not in entry:
            raise MapError("map_no_equals", entry=entry)
        header, _, target = entry.rpartition("=")
        target = target.strip()
        name = target if target in FIELDS else by_label.get(target)
        if not header.strip() or name is None:
            raise MapError("map_unknown_field", entry=entry, target=target, fields=", ".join(FIELDS))
        out[header.strip()] = name
    return out


#: Excel's grid: 1,048,576 rows by 16,384 columns (A to XFD).
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
#: Rows searched for the header row, and for the add-in's own column headers, unless the policy's
#: register.header_search_rows says otherwise (a title and notes come first).
HEADER_ROWS = 30


def column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
