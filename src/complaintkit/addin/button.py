"""The one entry point every ribbon button calls through RunPython, with the button's tag:

    RunPython "import complaintkit.addin as a; a.run_button('validate')"

It reads the active sheet once, runs the check(s), applies the plans to the open workbook and shows
a short message box. Whatever goes wrong ends as one line in a message box (details in a log file
under %TEMP%), never as a traceback: RunPython shows Python's stderr when the process fails, so
this function always returns normally.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import traceback
from pathlib import Path
from typing import Any

from ..messages import t, user_lang
from ..privacy import scrub
from .core import CLEAR, addin_policy, guarded, press
from .xlbook import XlwingsBook, read_sheet

LOG_NAME = "complaintkit-addin.log"


def _log(exc: BaseException) -> str | None:
    """Append the traceback (personal data scrubbed) to the add-in log; returns its path."""
    path = Path(tempfile.gettempdir()) / LOG_NAME
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')}\n")
            fh.write(scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        return str(path)
    except OSError:
        return None


def run_on_book(book: Any, tag: str, lang: str) -> str:
    """Press a button on an open xlwings Book: the active sheet is the register."""
    app = book.app
    sheet = book.sheets.active
    name = sheet.name
    rows, merged = ([], []) if tag == CLEAR else read_sheet(sheet)
    # One screen repaint and no "delete sheet?" prompts for the whole apply; restored afterwards.
    updating, alerts = app.screen_updating, app.display_alerts
    app.screen_updating, app.display_alerts = False, False
    try:
        return press(XlwingsBook(book), tag, rows, name, addin_policy(book.fullname), dt.date.today(), lang,
                     book.fullname, merged)
    finally:
        app.screen_updating, app.display_alerts = updating, alerts
        if name in [s.name for s in book.sheets]:
            book.sheets[name].activate()


def run_button(tag: str) -> None:
    """The ribbon's callback target: run the button ``tag`` on the calling workbook."""
    import xlwings as xw

    lang = user_lang()
    try:
        book = xw.Book.caller()
    except Exception as exc:  # not started from Excel: there is no workbook to work on
        raise SystemExit(t("addin_failed", lang, reason=f"{type(exc).__name__}: {exc}")) from None
    ok, message = guarded(lambda: run_on_book(book, tag, lang), lang, _log)
    try:
        book.app.alert(message, title=t("addin_title", lang), mode="info" if ok else "critical")
    except Exception:
        # RunPython shows Python's stderr in a message box when the process exits non-zero.
        raise SystemExit(message) from None
