"""A batch that left files out (exit 3) says so on stderr, one line per file, in the user's
language, from `run` exactly as from every check, and under --quiet and --log too: cron mails
what is printed, and a branch whose register was never read must be seen."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from complaintkit.cli import cli

from conftest import AS_OF, SAMPLES

ENTRY_POINT = Path(sys.executable).parent / "complaintkit"
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING unreadable: ")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Two readable registers, a damaged workbook and an empty CSV."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("城东支行.xlsx", "城西支行.xlsx"):
        shutil.copy(SAMPLES / "branches" / name, folder / name)
    (folder / "损坏的支行.xlsx").write_bytes(b"PK\x03\x04 this zip was cut off")
    (folder / "空表.csv").write_bytes(b"")
    return folder


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_run_says_each_unreadable_file_as_validate_does(runner, inbox, lang):
    """One message for every command, in the run's language (run's were English log lines)."""
    checked = runner.invoke(cli, ["validate", str(inbox), "--as-of", AS_OF, "--format", "json", "--lang", lang])
    ran = runner.invoke(cli, ["run", str(inbox), "--as-of", AS_OF, "--format", "json", "--lang", lang])
    assert checked.exit_code == ran.exit_code == 3
    told = lines(ran.stderr)
    assert told == lines(checked.stderr) and len(told) == 2, told
    start = "complaintkit: 无法读取：" if lang == "zh" else "complaintkit: unreadable: "
    assert told[0].startswith(f"{start}{inbox / '损坏的支行.xlsx'}"), told
    assert [u["file"] for u in json.loads(ran.stdout)["unreadable"]] == [str(inbox / "损坏的支行.xlsx"), str(inbox / "空表.csv")]


def test_quiet_and_log_still_name_the_files_left_out(runner, inbox, tmp_path):
    """--quiet silences the progress bar and the summary, not what must be acted on; --log keeps
    its English, time-stamped warning as well."""
    validate = lines(runner.invoke(cli, ["validate", str(inbox), "--as-of", AS_OF, "--format", "json"]).stderr)
    quiet = runner.invoke(cli, ["run", str(inbox), "--as-of", AS_OF, "--quiet"])
    assert quiet.exit_code == 3 and quiet.stdout == ""
    assert lines(quiet.stderr) == validate
    log = tmp_path / "ck.log"
    logged = runner.invoke(cli, ["run", str(inbox), "--as-of", AS_OF, "--quiet", "--log", str(log), "--json", str(tmp_path / "r.json")])
    assert logged.exit_code == 3 and logged.stdout == ""
    assert lines(logged.stderr) == validate
    warnings = [line for line in log.read_text("utf-8").splitlines() if " WARNING " in line]
    assert len(warnings) == 2 and all(_LOG_LINE.match(line) for line in warnings), warnings
    assert json.loads((tmp_path / "r.json").read_text("utf-8"))["exit_code"] == 3


def test_a_complete_batch_under_quiet_prints_nothing(runner, tmp_path):
    folder = tmp_path / "inbox"
    shutil.copytree(SAMPLES / "branches", folder)
    result = runner.invoke(cli, ["run", str(folder), "--as-of", AS_OF, "--quiet", "--log", str(tmp_path / "ck.log")])
    assert result.exit_code == 1 and result.output == ""


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="complaintkit is not installed in this interpreter's environment")
def test_the_installed_command_under_quiet(inbox, tmp_path):
    """What a crontab's `run … --quiet --log …` mails: the two files, exit 3."""
    proc = subprocess.run([str(ENTRY_POINT), "run", str(inbox), "--as-of", AS_OF, "--quiet", "--log", str(tmp_path / "ck.log"),
                           "--report", str(tmp_path / "out" / "r.xlsx")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3 and proc.stdout == ""
    told = lines(proc.stderr)
    assert len(told) == 2 and all(line.startswith("complaintkit: 无法读取：") for line in told), told
