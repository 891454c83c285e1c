"""Typed errors. The doors turn them into a one-line message (and exit code 2 in the CLI)."""

from __future__ import annotations


class ComplaintkitError(Exception):
    """Base class: something the user can fix, described in one line."""


class InputError(ComplaintkitError):
    """An input file cannot be used: missing, empty, corrupt, encrypted, no header..."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class PolicyError(ComplaintkitError):
    """The policy file (--config) is unreadable or has a wrong value."""


class OutputError(ComplaintkitError):
    """An output cannot be written (exists without --force, directory missing, no permission)."""
