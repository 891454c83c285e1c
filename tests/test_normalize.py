"""Cell normalisation: dates, ID numbers, phones, counts — against known answers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from complaintkit.normalize import (
    clean_text, excel_number_text, excel_serial_to_date, nfkc, parse_count, parse_date, parse_id_number, parse_phone,
    phone_is_valid,
)
from complaintkit.privacy import mask_id, mask_phone, scrub
from complaintkit.resident_id import CHECK_CHARS, WEIGHTS, check_digit, check_id


@pytest.mark.parametrize("value, expected", [
    (dt.date(2025, 3, 5), dt.date(2025, 3, 5)),
    (dt.datetime(2025, 3, 5, 14, 30), dt.date(2025, 3, 5)),
    ("2025年3月5日", dt.date(2025, 3, 5)),
    ("2025年03月05日 14:30", dt.date(2025, 3, 5)),
    ("2025/3/5", dt.date(2025, 3, 5)),
    ("2025.3.5", dt.date(2025, 3, 5)),
    ("2025-03-05 09:00:00", dt.date(2025, 3, 5)),
    ("20250305", dt.date(2025, 3, 5)),
    (20250305, dt.date(2025, 3, 5)),
    ("２０２５－０３－０５", dt.date(2025, 3, 5)),
    ("３/５/２０２５", dt.date(2025, 3, 5)),  # US m/d/yyyy (CFPB exports), full-width
    (45721, dt.date(2025, 3, 5)),           # Excel serial
    (45721.75, dt.date(2025, 3, 5)),        # serial with a time
    ("45721", dt.date(2025, 3, 5)),         # serial pasted as text
    (1, dt.date(1900, 1, 1)),
    (59, dt.date(1900, 2, 28)),
    (61, dt.date(1900, 3, 1)),
])
def test_dates_in_every_form(value, expected):
    assert parse_date(value).value == expected


@pytest.mark.parametrize("value, code", [
    ("上周三", "date_unreadable"),
    ("2025-02-29", "date_nonexistent"),
    ("2025年13月1日", "date_nonexistent"),
    (60, "date_nonexistent"),  # Excel's fake 1900-02-29
    (True, "date_unreadable"),
    (-5, "date_unreadable"),
])
def test_bad_dates_say_why(value, code):
    parsed = parse_date(value)
    assert parsed.value is None and parsed.problem == code


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)))
def test_excel_serial_round_trip(day):
    serial = (day - dt.date(1899, 12, 30)).days
    assert excel_serial_to_date(serial).value == day


def test_blank_is_not_a_problem():
    assert parse_date("  ").value is None and parse_date("  ").problem is None
    assert parse_id_number(None).problem is None


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_is_the_gb11643_formula(first17):
    digit = check_digit(first17)
    assert digit == CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]
    # Every other final character is rejected.
    for other in "0123456789X":
        if other != digit:
            assert check_id(first17 + other) in (("id_check_digit", digit), ("id_birth_date", first17[6:14]))


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)), st.integers(0, 999))
def test_valid_ids_pass(born, seq):
    first17 = "110101" + born.strftime("%Y%m%d") + f"{seq:03d}"
    assert check_id(first17 + check_digit(first17), dt.date(2026, 1, 1)) is None


@pytest.mark.parametrize("value, code", [
    ("11010519491231002X", None),
    ("11010519491231002x", None),  # lower-case x accepted (normalised to X)
    ("110105194912310021", "id_check_digit"),
    ("1101051949123100", "id_length"),
    ("11010519491331002X", "id_birth_date"),
    ("110105491231002", "id_legacy_15"),
])
def test_id_rules(value, code):
    parsed = parse_id_number(value)
    problem = check_id(parsed.value, dt.date(2026, 1, 1))
    assert (problem[0] if problem else None) == code


def test_id_typed_as_number_is_reported_as_lost():
    parsed = parse_id_number(1.10101199003071e17)
    assert parsed.problem == "id_precision_lost" and parsed.value is None
    assert parsed.detail == "1.10101E+17"
    assert parse_id_number("1.10101E+17").problem == "id_precision_lost"
    assert excel_number_text(4.40306198501011e17) == "4.40306E+17"


@pytest.mark.parametrize("value, expected, valid", [
    (13800138000.0, "13800138000", True),
    ("13800138000.0", "13800138000", True),
    ("+86 138 0013 8000", "13800138000", True),
    ("010-62345678", "010-62345678", True),
    ("0755-8888888", "0755-8888888", True),
    ("138-0013-8000", "13800138000", True),  # a mobile written in groups
    ("010-6234-5678", "010-6234-5678", False),  # a landline keeps its hyphens
    ("1380013800", "1380013800", False),
    ("12800138000", "12800138000", False),
])
def test_phones(value, expected, valid):
    phone = parse_phone(value).value
    assert phone == expected and phone_is_valid(phone) is valid


@pytest.mark.parametrize("value, expected, problem", [
    (3, 3, None), (2.0, 2, None), ("4", 4, None), ("２次", 2, None),
    (-1, None, "transfers_invalid"), ("1.5", None, "transfers_invalid"), ("多次", None, "transfers_invalid"),
])
def test_counts(value, expected, problem):
    parsed = parse_count(value)
    assert parsed.value == expected and parsed.problem == problem


def test_text_is_nfkc_and_single_spaced():
    assert clean_text("  信用卡\n年费（ＡＢＣ）\t多收  ") == "信用卡 年费(ABC) 多收"
    assert clean_text(" ") is None
    assert clean_text(12.0) == "12"


# Chinese, full-width punctuation, letters and digits, the ideographic space, accents that NFKC
# composes, ligatures and circled digits it decomposes, and white space.
_WIDE_TEXT = st.text(st.sampled_from(list("信用卡年费多收，：；！？（）ＡＴＭａｂ１２\u3000 e\u0301ﬁ①\t\n")) | st.characters(), max_size=40)


@given(_WIDE_TEXT)
def test_nfkc_is_unicode_nfkc_and_fold_is_nfkc_lower_case_single_spaced(text):
    import re
    import unicodedata

    from complaintkit.classification import fold

    expected = unicodedata.normalize("NFKC", text)
    assert nfkc(text) == expected
    assert fold(text) == re.sub(r"\s+", " ", expected.casefold()).strip()


def test_every_unicode_space_folds():
    """Tabs, line and paragraph separators, the ideographic space, the file separator: each is
    white space that folds into one space and is trimmed at the ends."""
    for space in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000":
        assert clean_text(f"{space}甲{space}{space} 乙{space}") == "甲 乙", repr(space)
    assert clean_text("甲\u200b乙") == "甲\u200b乙"  # a zero-width space is not white space


def test_masking():
    assert mask_id("11010519491231002X") == "110105********002X"
    assert mask_phone("13800138000") == "138****8000"
    assert scrub("客户 11010519491231002X 电话13800138000 来电") == "客户 110105********002X 电话138****8000 来电"


# The short way's cells (17 digits and a check character, 11 digits), the same with one
# character swapped for a full-width digit or a mark, and other texts of digits and marks.
_ID = st.builds(lambda d, last: d + last, st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0123456789xX"))
_MOBILE = st.text("0123456789", min_size=11, max_size=11)
_SWAPPED = st.builds(lambda text, at, char: text[:at % len(text)] + char + text[at % len(text) + 1:],
                     _ID | _MOBILE, st.integers(0, 17), st.sampled_from("１８xX -+"))


@given(_ID | _MOBILE | _SWAPPED | st.text(alphabet="0123456789xX１２８ -+", min_size=10, max_size=19))
@example("11010519491231002x")
@example("1３800138000")
def test_a_usual_phone_or_id_cell_takes_the_short_way_to_what_the_long_way_gives(text):
    """An 11-digit phone and an 18-character ID (the usual cells) skip the steps that would leave
    them as they are; a trailing space sends the same text the long way, which drops it."""
    from complaintkit.normalize import id_number_value, phone_value

    assert phone_value(text) == phone_value(text + " ")
    assert id_number_value(text) == id_number_value(text + " ")


def test_the_usual_phone_and_id_cells_come_out_as_known():
    from complaintkit.normalize import id_number_value, phone_value

    assert id_number_value("11010519491231002x") == "11010519491231002X"
    assert id_number_value("110105194912310021") == "110105194912310021"
    assert phone_value("13800138000") == "13800138000"
    assert phone_value("1３800138000") == "13800138000"  # a full-width digit: the long way, NFKC
