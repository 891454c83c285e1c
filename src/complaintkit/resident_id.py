"""Mainland resident ID numbers (GB 11643-1999): structure, birth date and check digit."""

from __future__ import annotations

import datetime as dt
import operator
import re

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID15 = re.compile(r"^\d{15}$")


def check_digit(first17: str) -> str:
    """The check character for the first 17 digits: sum of digit x weight, mod 11, into 10X98765432."""
    total = sum(map(operator.mul, map(int, first17), WEIGHTS))
    return CHECK_CHARS[total % 11]


def birth_date(id_number: str) -> dt.date | None:
    """The birth date encoded in an 18- or 15-digit ID (15-digit IDs are 19xx), or None."""
    try:
        if len(id_number) == 18:
            return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        if len(id_number) == 15:
            return dt.date(1900 + int(id_number[6:8]), int(id_number[8:10]), int(id_number[10:12]))
    except ValueError:
        return None
    return None


def check_id(id_number: str, today: dt.date | None = None) -> tuple[str, str] | None:
    """The first problem of an ID as (code, detail), or None when it is a valid 18-digit ID.

    Codes: id_length (wrong length or characters), id_birth_date (no such date, or in the future /
    before 1900), id_check_digit (detail: the expected character), id_legacy_15 (old 15-digit form).
    """
    value = id_number.upper()
    if _ID15.match(value):
        born = birth_date(value)
        if born is None:
            return "id_birth_date", value[6:12]
        return "id_legacy_15", ""
    if not _ID18.match(value):
        return "id_length", str(len(value))
    born = birth_date(value)
    if born is None or born.year < 1900 or (today is not None and born > today):
        return "id_birth_date", value[6:14]
    expected = check_digit(value[:17])
    if value[17] != expected:
        return "id_check_digit", expected
    return None
