"""Cell normalisation: text, dates, ID numbers, phones and counts as branches really type them.

Every parser returns the clean value and, when the cell cannot be trusted, a problem code that
validation turns into a finding. Nothing here raises on bad data.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_DATE_TEXT = re.compile(
    r"^(?P<y>\d{4})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})\s*(?:日|号)?"
    r"(?:[\sT]*(?P<H>\d{1,2})(?:[:时](?P<M>\d{1,2}))?(?:[:分](?P<S>\d{1,2}(?:\.\d+)?))?秒?)?\s*$"
)
_DATE_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_US = re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$", re.I)
_SCIENTIFIC = re.compile(r"^[+-]?\d(?:\.\d+)?[eE]\+?\d+$")
_ID_NOISE = re.compile(r"[\s'’`]")
_ID_LAST = frozenset("0123456789Xx")
_PHONE_NOISE = re.compile(r"[\s()]")
_PHONE_PREFIX = re.compile(r"^(?:\+?86)(?=1[3-9]\d{9}$)")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_LAST_SERIAL = 2958465  # 9999-12-31
#: No register date is older: a number typed into a date cell (1, 2025.3) reads as an Excel serial
#: of 1900 or 1905. Validate reports such a date (date_too_early); followups computes no deadline
#: from it, which would be decades overdue.
EARLIEST_DATE = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class Parsed:
    """A normalised cell: ``value`` is None when the cell is blank or unusable; ``problem`` says why."""

    value: Any
    problem: str | None = None
    detail: str | None = None


# Full-width punctuation that Chinese text is full of, with its NFKC form. One of them sends
# unicodedata.normalize down its slow path over the whole text (about 50x the quick check).
_WIDE_PUNCTUATION = (("，", ","), ("：", ":"), ("；", ";"), ("！", "!"), ("？", "?"), ("（", "("), ("）", ")"), ("\u3000", " "))


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, fast for Chinese text.

    Replacing a character by its compatibility decomposition does not change the text's NFKC
    (both decompose alike; these are starters, so no reordering), and afterwards most texts pass
    the quick check."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    for wide, narrow in _WIDE_PUNCTUATION:
        if wide in text:
            text = text.replace(wide, narrow)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def fold_spaces(text: str) -> str:
    """Runs of white space (line breaks, tabs, any Unicode space) as one space, trimmed. Splitting
    gives back a text without such runs as it is, where a regular expression would copy it."""
    return " ".join(text.split())


def clean_text(value: Any) -> str | None:
    """NFKC, line breaks and runs of spaces folded to one space, trimmed; blank -> None."""
    if value.__class__ is str:
        return fold_spaces(nfkc(value)) or None
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return fold_spaces(nfkc(str(value))) or None


def is_blank(value: Any) -> bool:
    """True for None, empty strings and strings of spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def _safe_date(y: int, m: int, d: int) -> Parsed:
    try:
        return Parsed(dt.date(y, m, d))
    except ValueError:
        return Parsed(None, "date_nonexistent", f"{y:04d}-{m:02d}-{d:02d}")


def excel_serial_to_date(serial: float) -> Parsed:
    """An Excel 1900-system serial number -> date; 60 is Excel's fake 1900-02-29."""
    whole = int(serial)
    if whole == 60:
        return Parsed(None, "date_nonexistent", "1900-02-29")
    if whole < 60:  # Excel counts 1900-01-01 as day 1 and then a leap day that never was
        return Parsed(dt.date(1899, 12, 31) + dt.timedelta(days=whole))
    return Parsed(_EXCEL_EPOCH + dt.timedelta(days=whole))


def parse_date(value: Any) -> Parsed:
    """Dates from date cells, Excel serials, 2025年3月5日, 2025/3/5, 2025.3.5, 20250305, ISO,
    full-width digits and US m/d/yyyy (CFPB exports)."""
    if is_blank(value):
        return Parsed(None)
    if isinstance(value, dt.datetime):
        return Parsed(value.date())
    if isinstance(value, dt.date):
        return Parsed(value)
    if isinstance(value, bool):
        return Parsed(None, "date_unreadable")
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 19000101 <= value <= 21001231:
            s = str(int(value))
            return _safe_date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if 1 <= value <= _LAST_SERIAL:
            return excel_serial_to_date(value)
        return Parsed(None, "date_unreadable")
    text = nfkc(str(value)).strip()
    for pattern in (_DATE_TEXT, _DATE_COMPACT, _DATE_US):
        m = pattern.match(text)
        if m:
            return _safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
    if text.isdigit() and 4 <= len(text) <= 5:  # a serial number pasted as text
        return excel_serial_to_date(int(text))
    return Parsed(None, "date_unreadable")


def excel_number_text(value: float) -> str:
    """How Excel's General format shows a large number: 1.10101E+17."""
    mantissa, exponent = f"{value:.5E}".split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E+{int(exponent):02d}"


def id_number_value(value: Any) -> Any:
    """An ID number as text (None when blank), or the Parsed that says why it is unusable: a
    number cell with more than 15 digits, or scientific notation text, has lost its last digits
    in Excel. The reader calls this once per distinct cell and builds no Parsed for a good one."""
    if value.__class__ is str and len(value) == 18 and value.isascii() and value[:17].isdigit() and value[17] in _ID_LAST:
        return value.upper()  # the usual cell, already as the steps below would leave it
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return Parsed(None, "id_length", str(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return Parsed(None, "id_length", str(value))
        if abs(value) >= 1e15:
            return Parsed(None, "id_precision_lost", excel_number_text(float(value)))
        return str(int(value))
    text = _ID_NOISE.sub("", nfkc(str(value))).upper()
    if _SCIENTIFIC.match(text):
        return Parsed(None, "id_precision_lost", text)
    return text


def parse_id_number(value: Any) -> Parsed:
    """An ID number as text, with its problem when Excel has lost its digits (``id_number_value``)."""
    value = id_number_value(value)
    return value if value.__class__ is Parsed else Parsed(value)


# The reader's path: a cell's bare value, or a Parsed when the cell has a problem (no Parsed per
# good cell).
parse_id_number.value_of = id_number_value  # type: ignore[attr-defined]


def phone_value(value: Any) -> str | None:
    """A phone as text (None when blank): 13800138000.0 from a float cell is 13800138000; +86
    and spaces dropped. Never a problem here: validation judges the number."""
    if value.__class__ is str and len(value) == 11 and value.isascii() and value.isdigit():
        return value  # the usual cell, a mobile as typed: the steps below would leave it as it is
    if is_blank(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer():
            return str(int(value))
        return str(value)
    text = _PHONE_NOISE.sub("", nfkc(str(value)).strip())
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    text = _PHONE_PREFIX.sub("", text)
    # 138-0013-8000 is a mobile written in groups; a landline keeps its area-code hyphen.
    if "-" in text and MOBILE.match(text.replace("-", "")):
        text = text.replace("-", "")
    return text


def parse_phone(value: Any) -> Parsed:
    """``phone_value`` as a Parsed."""
    return Parsed(phone_value(value))


parse_phone.value_of = phone_value  # type: ignore[attr-defined]


MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")


def phone_is_valid(phone: str) -> bool:
    """A mainland mobile (1[3-9] + 9 digits) or landline (0xx(x)-7/8 digits, optional extension)."""
    return bool(MOBILE.match(phone) or LANDLINE.match(phone))


def parse_count(value: Any) -> Parsed:
    """A non-negative whole count (流转次数); anything else is ``transfers_invalid``."""
    if is_blank(value):
        return Parsed(None)
    if isinstance(value, bool):
        return Parsed(None, "transfers_invalid", str(value))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = nfkc(str(value)).strip().rstrip("次")
        try:
            number = float(text)
        except ValueError:
            return Parsed(None, "transfers_invalid", str(value))
    if not number.is_integer() or number < 0:
        return Parsed(None, "transfers_invalid", clean_text(value))
    return Parsed(int(number))


def value_key(text: str) -> str:
    """Fold an enumerated value for alias lookup: NFKC, case, spaces."""
    return fold_spaces(nfkc(text)).casefold()
