"""The Excel add-in door (xlwings): ribbon buttons and worksheet functions over the same core.

    RunPython "import complaintkit.addin as a; a.run_button('validate')"

The only part of complaintkit that talks to xlwings. ``core`` holds what a button does without
Excel (tested on Linux against the CLI); ``xlbook`` the xlwings BookAdapter; ``button`` the
RunPython entry point; ``udfs`` the worksheet functions. xlwings is imported only when a button
runs or the UDF server loads ``udfs``.
"""

from __future__ import annotations

from .core import ALL, BUTTONS, CLEAR, check_sheet, operations_for, plans_for_sheet, press


def run_button(tag: str) -> None:
    """The callback every ribbon button reaches, with its tag (see ``button.run_button``)."""
    from .button import run_button as run

    run(tag)


__all__ = ["ALL", "BUTTONS", "CLEAR", "check_sheet", "operations_for", "plans_for_sheet", "press", "run_button"]
