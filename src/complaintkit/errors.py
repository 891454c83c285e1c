"""Typed errors. The doors turn them into a one-line message (and exit code 2 in the CLI).

An error holds a message code and its parameters, not a sentence: it is raised where the language
is not known, and each door renders it in the user's (``exc.text(lang)``; Chinese by default).
``str(exc)`` is the English text, for tracebacks and the ops log.
"""

from __future__ import annotations

from typing import Any

from .messages import render
from .privacy import scrub


class ComplaintkitError(Exception):
    """Base class: something the user can fix, described in one line."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(self.text("en"))

    def text(self, lang: str = "zh") -> str:
        """The one-line message in ``lang``."""
        return render(self.code, lang, self.params)


class InputError(ComplaintkitError):
    """An input file cannot be used: missing, empty, corrupt, encrypted, no header..."""

    def __init__(self, path: str, code: str, /, **params: Any) -> None:
        self.path = path
        super().__init__(code, **params)

    def reason(self, lang: str = "zh") -> str:
        """What is wrong with the file, without its name. Scrubbed: a sheet or a part it names
        (张三13800138000) may hold an ID number or a phone, and the reason goes into the JSON,
        the report, the log and the screen alike."""
        return scrub(render(self.code, lang, self.params))

    def text(self, lang: str = "zh") -> str:
        return f"{self.path}: {self.reason(lang)}"


class PolicyError(ComplaintkitError):
    """The policy file (--config) is unreadable or has a wrong value."""


class OutputError(ComplaintkitError):
    """An output cannot be written (exists without --force, directory missing, no permission)."""
