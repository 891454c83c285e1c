"""Masking of personal data (个人信息保护法): ID numbers and phones in shareable outputs and logs."""

from __future__ import annotations

import re
from typing import Any, Callable, Container

from .normalize import id_number_value, phone_value

# 18-character IDs (last may be X), 15-digit legacy IDs, and 16-19 digit bank card numbers.
_ID_LIKE = re.compile(r"(?<![\dA-Za-z])(?:\d{17}[Xx]|\d{15,19})(?![\dA-Za-z])")
# Mobiles as people write them: 13800138000, 138-0013-8000, 138 0013 8000, +86 138...
_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
#: The characters a reference such as a complaint ID is written with around its digits.
_REFERENCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-(\d{3,4})(\d{4})(?!\d)")


def _mask(value: str, head: int, tail: int) -> str:
    """Keep ``head`` and ``tail`` characters, fewer when that would hide less than four."""
    while len(value) - head - tail < 4 and head + tail:
        if head:
            head -= 1
        else:
            tail -= 1
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def mask_id(value: str | None) -> str | None:
    """110101199003071234 -> 110101********1234 (first 6, last 4 kept; short values hide more)."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return _mask(value, 6, 4)


def mask_phone(value: str | None) -> str | None:
    """13800138000 -> 138****8000; landlines keep area code and last 4."""
    if not value:
        return value
    if len(value) < 7:
        return "*" * len(value)
    return _mask(value, 3, 4)


def scrub(text: str, keep: Container[str] = ()) -> str:
    """Mask every ID-like, card-like and phone-like digit run inside free text (log lines, error
    messages), whatever separators and prefixes it is written with. ``keep``: digit runs that
    are known not to be personal (the batch's complaint IDs, named in a note), whatever shape
    they have (an 11-digit complaint ID looks like a mobile)."""
    if len(text) < 10:  # the shortest number masked (a landline, 0xx-xxxxxxx) has 10 digits
        return text

    def unless_kept(masked: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
        def masked_unless_kept(m: re.Match[str]) -> str:
            # The number, or the reference it is part of (TS15031200001, C-0571-88001234).
            text, start, end = m.string, m.start(), m.end()
            while start > 0 and text[start - 1] in _REFERENCE_CHARS:
                start -= 1
            while end < len(text) and text[end] in _REFERENCE_CHARS:
                end += 1
            return m.group(0) if m.group(0) in keep or text[start:end] in keep else masked(m)
        return masked_unless_kept

    text = _ID_LIKE.sub(unless_kept(lambda m: mask_id(m.group(0)) or ""), text)
    text = _MOBILE.sub(unless_kept(lambda m: m.group(1) + "****" + m.group(3)), text)
    return _LANDLINE.sub(unless_kept(lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3)), text)


#: The fields whose whole value is personal data: masked whole in a shareable output.
PERSONAL_FIELDS = ("id_number", "phone")
#: The complaint ID is the bank's own reference, often a long run of digits (date and sequence):
#: never masked, so a shared output can still be traced to the register's rows.
REFERENCE_FIELD = "complaint_id"
#: Fields whose digit strings Excel would turn into numbers (an 18-digit ID losing its last
#: digits): a written register keeps their columns as text.
TEXT_FIELDS = frozenset({REFERENCE_FIELD, *PERSONAL_FIELDS})


def mask_cell(value: Any, kind: str | None = None, keep: Container[str] = ()) -> Any:
    """A register cell as a shareable output shows it.

    In an ID-number or phone column (``kind`` is its field, id_number or phone; a second 联系电话
    column too) the whole value is masked, whatever it holds: a typo, two numbers, a number cell
    (a cell without a digit, such as 无, says nothing personal and stays). The complaint-ID column
    stays as it is. Anywhere else every ID, card or phone number inside a text is masked
    (``scrub``, but not the digit runs in ``keep``), and a number cell that is one (a phone typed
    as a number) becomes its masked text. Dates, amounts and counts stay as they are.
    """
    if value is None or value.__class__ is bool or kind == REFERENCE_FIELD:
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return value  # an amount or a ratio
        text = str(int(value))
    elif isinstance(value, str):
        text = value
    else:
        return value  # dates and times
    if kind in PERSONAL_FIELDS:
        if not any(c.isdigit() for c in text):
            return value
        if kind == "phone":
            return mask_phone(phone_value(text))
        folded = id_number_value(text)  # spaces and full-width forms dropped (a Parsed when unusable)
        return mask_id(folded if isinstance(folded, str) else text.strip())
    masked = scrub(text, keep)
    return value if masked == text else masked
