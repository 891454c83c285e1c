"""Masking of personal data (个人信息保护法): ID numbers and phones in shareable outputs and logs."""

from __future__ import annotations

import re

_ID_LIKE = re.compile(r"(?<![\dA-Za-z])\d{14}(?:\d{3}[\dXx]|\d)(?![\dA-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_id(value: str | None) -> str | None:
    """110101199003071234 -> 110101********1234 (first 6, last 4 kept)."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """13800138000 -> 138****8000; landlines keep area code and last 4."""
    if not value:
        return value
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def scrub(text: str) -> str:
    """Mask every ID-like and mobile-like digit run inside free text (log lines, error messages)."""
    text = _ID_LIKE.sub(lambda m: mask_id(m.group(0)) or "", text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
