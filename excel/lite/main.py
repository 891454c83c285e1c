"""complaintkit for xlwings Lite: the same checks as the 投诉台账 ribbon, for branch PCs that
cannot install Python (xlwings Lite runs Python inside Excel; see excel/README.md, "xlwings Lite").

Paste this file into the xlwings Lite editor's main.py and put this line into its requirements.txt:

    complaintkit

Scripts (pick one in the Lite pane and press Run, or F5) work on the active sheet, as the ribbon
buttons do; worksheet functions are typed into cells (=CK_ID_CHECK(F5)) and answer a bad argument
with one line starting with #CK, as the add-in's do. Everything below calls
complaintkit's own code, so a result here is what the ribbon add-in and the CLI give.

What differs from the ribbon add-in: Lite cannot read a cell's fill back while a script runs, so
the checks do not colour or annotate the register's own cells (a mark that cannot be undone
exactly is not made); results go to the CK- columns and CK- sheets only. Settings are the
defaults (a Lite workbook cannot read a complaintkit.toml from disk).
"""

import datetime as dt

import xlwings as xw
from xlwings import func, script

from complaintkit.addin.core import (
    CLEAR, ck_classify, ck_days_left, ck_due_date, ck_id_check, ck_risk_level, guarded, press,
)
from complaintkit.addin.xlbook import XlwingsBook, read_values
from complaintkit.messages import user_lang
from complaintkit.policy import load_policy

POLICY = load_policy()


def _press(book: xw.Book, tag: str) -> None:
    """Run one ribbon button's check on the active sheet and say what happened."""
    lang = user_lang()
    sheet = book.sheets.active

    def run() -> str:
        rows = [] if tag == CLEAR else read_values(sheet)
        return press(XlwingsBook(book), tag, rows, sheet.name, POLICY, dt.date.today(), lang, book.name, marks=False)

    ok, message = guarded(run, lang, lambda exc: None)
    print(message)
    book.app.alert(message, title="complaintkit", mode="info" if ok else "critical")


@script
def validate(book: xw.Book):
    """校验: required fields, dates, ID numbers, phones, allowed values, status."""
    _press(book, "validate")


@script
def dedupe(book: xw.Book):
    """查重: duplicate entries and repeat complaints."""
    _press(book, "dedupe")


@script
def classify(book: xw.Book):
    """分类: JR/T 0169 reason and hotspot tags."""
    _press(book, "classify")


@script
def followups(book: xw.Book):
    """时限: decision and follow-up deadlines."""
    _press(book, "followups")


@script
def risk(book: xw.Book):
    """升级风险: escalation risk level and its reasons."""
    _press(book, "risk")


@script
def run_all(book: xw.Book):
    """一键检查: every available check."""
    _press(book, "all")


@script
def clear_results(book: xw.Book):
    """清除结果: empty the checks' CK- columns and delete their CK- sheets."""
    _press(book, CLEAR)


@func
def CK_ID_CHECK(id_number, lang=None):  # noqa: N802 (Excel function names are upper case)
    """ID number check (GB 11643): 有效, or the reason it is wrong."""
    return ck_id_check(id_number, lang)


@func
def CK_DUE_DATE(received, extended=False, channel=None, business_line=None, customer_tier=None):  # noqa: N802
    """Decision deadline for a complaint received on ``received``."""
    return ck_due_date(received, extended, channel, business_line, customer_tier, POLICY)


@func
def CK_CLASSIFY(text, part="reason"):  # noqa: N802
    """Classify a complaint text: its reason (or 待人工复核), business line, tags or confidence."""
    return ck_classify(text, part, POLICY)


@func
def CK_RISK_LEVEL(header, row, part="level", as_of=None, lang=None):  # noqa: N802
    """Escalation risk of one register row (give the header row and the row)."""
    return ck_risk_level(header, row, part, as_of, lang, POLICY)


@func
def CK_DAYS_LEFT(received, as_of=None, extended=False, channel=None, business_line=None, customer_tier=None):  # noqa: N802
    """Days from ``as_of`` (default today) to the decision deadline; negative when overdue."""
    return ck_days_left(received, as_of, extended, channel, business_line, customer_tier, POLICY)
