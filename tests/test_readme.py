"""README's examples are runnable: every `$ complaintkit ...` line runs, and its first lines are
the two fresh-machine commands that .ci/run also uses."""

from __future__ import annotations

import re
import shlex

import pytest

from complaintkit.cli import cli

from conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")
COMMANDS = [m.group(1) for m in re.finditer(r"^\$ complaintkit (.+)$", README, re.M)]
# The docs' examples that run on shipped samples run too (the others name a bank's own files).
DOC_COMMANDS = [
    m.group(1).split("  #")[0].strip()
    for doc in sorted((ROOT / "docs").glob("*.md"))
    for m in re.finditer(r"^\$ complaintkit (.+)$", doc.read_text("utf-8"), re.M)
    if "samples/" in m.group(1)
]


def test_readme_opens_with_the_two_commands():
    head = README.splitlines()[:12]
    install_run = [l for l in head if "pip install ." in l and "complaintkit " in l]
    install_test = [l for l in head if "pip install -e '.[test]'" in l and "pytest" in l]
    assert install_run and install_test
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert install_test[0].strip().split("&& ", 1)[1] in ci


@pytest.mark.parametrize("command", COMMANDS + DOC_COMMANDS)
def test_readme_command_runs(command, runner, tmp_path, monkeypatch):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    if command.startswith("history list"):  # lists the store the README's `history add` made
        added = next(c for c in COMMANDS if c.startswith("history add"))
        assert runner.invoke(cli, shlex.split(added)).exit_code == 0
    result = runner.invoke(cli, shlex.split(command))
    assert result.exit_code in (0, 1), f"{command}\n{result.output}"
    assert "Traceback" not in result.output
