"""Every user-facing message, in Chinese (default) and English (``--lang en``).

Findings and flags store a code and parameters; the text is made here, at output time, so the
same result can be shown in either language.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

LANGS = ("zh", "en")

CATALOG: dict[str, tuple[str, str]] = {
    # validation findings
    "required_missing": ("必填项“{label}”为空", "required field '{label}' is empty"),
    "required_column_missing": ("缺少必填列“{label}”（可用 --map '表头=字段' 指定）", "required column '{label}' not found (name it with --map 'HEADER=field')"),
    "duplicate_column": ("“{header}”列重复（{column}列{named}）：只读取了 {used} 列，{column} 列的内容未被检查",
                         "column '{header}' appears twice (column {column}{named}): only column {used} is read, column {column} is not checked"),
    "duplicate_column_named": ("“{header}”", " '{header}'"),
    "date_unreadable": ("“{label}”无法识别为日期：{value}", "'{label}' is not a readable date: {value}"),
    "date_nonexistent": ("“{label}”是不存在的日期：{detail}", "'{label}' is a date that does not exist: {detail}"),
    "date_future": ("“{label}”{date} 晚于检查日 {as_of}", "'{label}' {date} is after the as-of date {as_of}"),
    "date_too_early": ("“{label}”{date} 早于 {earliest}：是否把数字或笔误当成了日期？", "'{label}' {date} is before {earliest}: a number or a typo read as a date?"),
    "closed_before_received": ("办结日期 {closed} 早于受理日期 {received}", "closed date {closed} is before received date {received}"),
    "followup_before_closed": ("回访日期 {followup} 早于办结日期 {closed}", "follow-up date {followup} is before closed date {closed}"),
    "id_precision_lost": (
        "证件号码被 Excel 存成了数字（显示为 {detail}），第15位以后的数字已丢失，无法恢复：请按原件重新录入，并把该列设为文本格式",
        "ID number was stored by Excel as a number (shown as {detail}); digits after the 15th are lost and cannot be recovered: re-type it from the document and format the column as text",
    ),
    "id_length": ("证件号码位数或字符不对（应为18位，最后一位可为X）", "ID number has the wrong length or characters (18 characters, the last may be X)"),
    "id_birth_date": ("证件号码中的出生日期 {detail} 不可能（没有这一天、早于1900年或晚于检查日）",
                      "the birth date {detail} inside the ID number is impossible (no such day, before 1900 or after the as-of date)"),
    "id_check_digit": ("证件号码校验位错误（按 GB 11643 应为 {detail}）", "ID number check digit is wrong (GB 11643 gives {detail})"),
    "id_legacy_15": ("15位旧版身份证号码，建议更新为18位", "legacy 15-digit ID number; update to the 18-digit form"),
    "phone_invalid": ("联系电话格式不对（手机11位以1开头，座机如 010-12345678）", "phone number is not valid (mobile: 11 digits starting 1; landline e.g. 010-12345678)"),
    "value_not_allowed": ("“{label}”的值“{value}”不在允许范围内{hint}", "'{label}' value '{value}' is not an allowed value{hint}"),
    "did_you_mean": ("，是否应为“{suggestion}”？", "; did you mean '{suggestion}'?"),
    "allowed_list": ("（允许：{allowed}）", " (allowed: {allowed})"),
    "duplicate_complaint_id": ("投诉编号 {value} 重复（另见 {other}）", "complaint ID {value} is used more than once (also {other})"),
    "closed_without_date": ("状态为“{status}”但没有办结日期", "status is '{status}' but there is no closed date"),
    "open_with_closed_date": ("已有办结日期 {closed}，状态却是“{status}”", "there is a closed date {closed} but the status is '{status}'"),
    "transfers_invalid": ("流转次数应为不小于0的整数：{value}", "transfer count must be a whole number of 0 or more: {value}"),
    "followup_without_date": ("有回访结果“{result}”但没有回访日期", "follow-up result '{result}' but no follow-up date"),
    # summaries and plan texts
    "summary_validate": ("共 {rows} 行：{errors} 个错误，{warnings} 个警告", "{rows} rows: {errors} errors, {warnings} warnings"),
    "row_ref": ("第{row}行", "row {row}"),
    "no_findings": ("未发现问题", "no findings"),
    "col_validate": ("CK-校验问题", "CK-validation"),
    "sheet_findings": ("CK-校验结果", "CK-findings"),
    "hdr_code": ("代码", "code"),
    "hdr_severity": ("级别", "severity"),
    "hdr_file": ("文件", "file"),
    "hdr_sheet": ("工作表", "sheet"),
    "hdr_row": ("行", "row"),
    "hdr_column": ("列", "column"),
    "hdr_field": ("字段", "field"),
    "hdr_value": ("原值", "value"),
    "hdr_message": ("说明", "message"),
    "hdr_id": ("投诉编号", "complaint ID"),
    "sev_error": ("错误", "error"),
    "sev_warning": ("警告", "warning"),
}


def t(code: str, lang: str = "zh", /, **params: Any) -> str:
    """The message for ``code`` in ``lang``, with ``params`` filled in (unknown codes show as-is)."""
    pair = CATALOG.get(code)
    if pair is None:
        return code
    template = pair[1] if lang == "en" else pair[0]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def user_lang(value: str | None = None) -> str:
    """The message language a user asked for: ``value`` (a --lang; a worksheet function's lang
    argument, empty when left blank), else COMPLAINTKIT_LANG, else Chinese; any spelling of
    English (en, EN, en_US) is English. Every door reads it so."""
    if value is None or not str(value).strip():
        value = os.environ.get("COMPLAINTKIT_LANG", "zh")
    return "en" if str(value).strip().lower().startswith("en") else "zh"


#: A message's parameters: a mapping, or a tuple of (name, value) pairs where the message must be
#: hashable (risk reasons are compared and hashed to render alike ones once).
Params = Mapping[str, Any] | tuple[tuple[str, Any], ...]


def render(code: str, lang: str, params: Params, /) -> str:
    """``t`` with parameters that may themselves render (a ``Text``, a ``Joined``, or anything
    else with a ``render(lang)`` method), each rendered in ``lang``, as deep as they nest."""
    pairs = params if isinstance(params, tuple) else params.items()
    # ``shown`` written out: thousands of messages pass here, and a call per parameter costs more
    # than the look-up itself.
    return t(code, lang, **{k: v if (r := getattr(v, "render", None)) is None else r(lang) for k, v in pairs})


def shown(value: Any, lang: str) -> Any:
    """``value`` as a message shows it: rendered in ``lang`` when it renders itself, else as is."""
    # One attribute look-up, not an isinstance of a Protocol (or of a list of classes), so any
    # module's parameter types render without being registered here.
    render_in = getattr(value, "render", None)
    return value if render_in is None else render_in(lang)


@dataclass(frozen=True, slots=True)
class Text:
    """A message whose language is not known yet: a catalog code and its parameters. Errors are
    raised deep in the core, and results are rendered at output time; whoever knows the language
    renders them. Hashable when its parameters are a tuple of pairs (see ``Params``)."""

    code: str
    params: Params = ()

    def render(self, lang: str = "zh") -> str:
        return render(self.code, lang, self.params)


class Joined(NamedTuple):
    """Several values shown as one parameter, each rendered, between separators by language: the
    pieces of one sentence (no separator) or an enumeration (``ENUMERATION``).

    A named tuple, not a dataclass: risk builds one for every reason that names earlier
    complaints, and hashes and compares it to find alike reasons; a tuple does all three in C."""

    items: tuple[Any, ...]
    #: the separator in Chinese and in English.
    seps: tuple[str, str] = ("", "")

    def render(self, lang: str = "zh") -> str:
        return self.seps[lang == "en"].join([str(shown(v, lang)) for v in self.items])


#: The separators of a list of things in running text: 甲、乙 / a, b.
ENUMERATION = ("、", ", ")


def translations(text: str) -> tuple[str, ...]:
    """Every language's version of the catalog text that reads ``text`` in one of them (``text``
    alone when none does): the add-in finds its own columns and sheets by their names, whichever
    language they were written in."""
    return next((pair for pair in CATALOG.values() if text in pair), (text,))


def register_messages(entries: dict[str, tuple[str, str]]) -> None:
    """Let a check module add its own messages (codes must be new)."""
    for code, pair in entries.items():
        if code in CATALOG and CATALOG[code] != pair:
            raise ValueError(f"message code {code!r} defined twice")
        CATALOG[code] = pair
