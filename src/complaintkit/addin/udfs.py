"""Worksheet functions for single cells (xlwings UDFs, Windows Excel).

Each is a thin call to a core function, so a formula gives the same answer as the checks:

    =CK_ID_CHECK(F5)                 有效, or why the ID number is wrong
    =CK_DUE_DATE(B5, P5, C5)         the decision deadline (format the cell as a date)
    =CK_DAYS_LEFT(B5, , P5, C5)      days from today to that deadline; negative when overdue
    =CK_CLASSIFY(J5)                 the JR/T 0169 reason (or 待人工复核); "business", "tags", "confidence"
    =CK_RISK_LEVEL($A$3:$U$3, A5:U5)  the escalation risk level of a row; "score" or "reasons"

The add-in carries the VBA wrappers for these (built by excel/build_addin.py from ``UDFS``), so a
branch PC needs no "Import Functions" step. Names are upper case, as Excel's own functions are.
A problem (an unreadable date, a wrong setting) shows in the cell as one line starting with "#CK",
never as a traceback. The functions carry no type hints on purpose: xlwings reads a UDF's
annotations as value converters.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import xlwings as xw

from ..policy import Policy
from .core import addin_policy, ck_classify, ck_days_left, ck_due_date, ck_id_check, ck_risk_level

#: The worksheet functions, in the order the add-in declares them.
UDFS: list[Callable[..., Any]] = []


@functools.lru_cache(maxsize=1)
def _policy() -> Policy:
    # Read once per Excel session (the UDF server lives as long as Excel): COMPLAINTKIT_CONFIG or defaults.
    return addin_policy()


def udf(func: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``func`` as a worksheet function. Each one answers through its ``core.ck_*``
    function, as its twin in Lite (excel/lite/main.py) does, so that an error shows as one line
    in the cell."""
    wrapped = xw.func(func)
    UDFS.append(wrapped)
    return wrapped


@udf
def CK_ID_CHECK(id_number, lang=None):  # noqa: N802 (Excel function name)
    """ID number check (GB 11643): 有效, or the reason it is wrong."""
    return ck_id_check(id_number, lang)


@udf
def CK_DUE_DATE(received, extended=False, channel=None, business_line=None, customer_tier=None):  # noqa: N802
    """Decision deadline for a complaint received on ``received`` (是否延期, channel, business line
    and customer tier pick the policy's rule); empty while ``received`` is."""
    return ck_due_date(received, extended, channel, business_line, customer_tier, _policy())


@udf
def CK_DAYS_LEFT(received, as_of=None, extended=False, channel=None, business_line=None, customer_tier=None):  # noqa: N802
    """Days from ``as_of`` (default today) to the decision deadline; negative when overdue."""
    return ck_days_left(received, as_of, extended, channel, business_line, customer_tier, _policy())


@udf
def CK_CLASSIFY(text, part="reason"):  # noqa: N802
    """Classify a complaint text: its reason (or 待人工复核), or with part = "business", "tags" or
    "confidence" the business line, hotspot tags or confidence."""
    return ck_classify(text, part, _policy())


@udf
def CK_RISK_LEVEL(header, row, part="level", as_of=None, lang=None):  # noqa: N802
    """Escalation risk of one register row (give the header row and the row): its level, or with
    part = "score" or "reasons" the score or the reasons. Repeats need the 升级风险 button."""
    return ck_risk_level(header, row, part, as_of, lang, _policy())
