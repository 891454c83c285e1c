"""A command stopped by Ctrl-C (SIGINT) or by SIGTERM (cron's or systemd's timeout, `kill`) exits
130 / 143, as the shell reports a process a signal ended, never 1 ("done, findings"): one line
on stderr, no traceback, no half-written output, the run lock released."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from complaintkit import outputs
from complaintkit.cli import cli
from complaintkit.runlock import output_lock

from conftest import AS_OF, SAMPLES

ENTRY_POINT = Path(sys.executable).parent / "complaintkit"


def _ctrl_c(*_args):
    """os.replace, when Ctrl-C arrives just before an output is renamed into place."""
    raise KeyboardInterrupt


@pytest.mark.parametrize("lang, line", [
    ("zh", "complaintkit: 已中断（SIGINT）：没有做完，也没有留下写了一半的文件"),
    ("en", "complaintkit: interrupted (SIGINT) before the end; no half-written file was left"),
])
def test_ctrl_c_while_the_report_is_written(runner, tmp_path, monkeypatch, lang, line):
    """Ctrl-C arrives as the report's temporary file is about to be renamed into place: exit 130,
    one line, neither the report nor the JSON written, no temporary file, the lock free."""
    out = tmp_path / "out"
    monkeypatch.setattr(outputs.os, "replace", _ctrl_c)
    result = runner.invoke(cli, ["run", str(SAMPLES / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(out / "r.xlsx"),
                                 "--json", str(out / "r.json"), "--quiet", "--lang", lang])
    assert result.exit_code == 130, (result.exit_code, result.output)
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
    # Only the lock files (kept on purpose, see runlock) are left: no report, no JSON, no temporary file.
    assert sorted(p.name for p in out.iterdir()) == [".r.json.lock", ".r.xlsx.lock"]
    with output_lock(out / "r.xlsx"):  # released: the next run can take it
        pass


def test_ctrl_c_in_a_check_command_and_in_history_add(runner, tmp_path, monkeypatch):
    """Every command, not only run: the annotated copy of validate, and a store whose
    transaction is rolled back (nothing half-added)."""
    monkeypatch.setattr(outputs.os, "replace", _ctrl_c)
    result = runner.invoke(cli, ["validate", str(SAMPLES / "clean_branch.xlsx"), "--as-of", AS_OF, "--format", "json",
                                 "-o", str(tmp_path / "checked.xlsx")])
    assert result.exit_code == 130 and len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []

    from complaintkit import history
    from complaintkit.history import HistoryStore

    # Ctrl-C inside the real add, as it reaches the second register: the first one's rows, written
    # by then, go with the rest.
    seen: list[object] = []

    def second_phones(register):
        seen.append(register)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(register)

    real = history.second_phones
    monkeypatch.setattr(history, "second_phones", second_phones)
    store = tmp_path / "h.sqlite"
    result = runner.invoke(cli, ["history", "add", str(SAMPLES / "branches"), "--store", str(store)])
    assert result.exit_code == 130 and "SIGINT" in result.stderr
    assert len(seen) == 2
    with HistoryStore(store) as kept:
        assert kept.count() == 0


@pytest.mark.parametrize("where", ["group", "command"])
def test_a_signal_while_the_command_line_is_parsed(runner, monkeypatch, where):
    """SIGTERM before any command runs (while the group or the command reads its options): the
    same one line and 143, not Click's "Aborted!" and 1."""
    from complaintkit.cli.common import Interrupted, RootGroup

    def parse_args(*_args):
        raise Interrupted(signal.SIGTERM)

    # The group's parse (its own, not the Command.parse_args it calls), or validate's alone.
    monkeypatch.setattr(RootGroup if where == "group" else cli.commands["validate"], "parse_args", parse_args)
    monkeypatch.setenv("COMPLAINTKIT_LANG", "en")  # --lang is not read yet
    result = runner.invoke(cli, ["validate", str(SAMPLES / "clean_branch.xlsx")])
    assert result.exit_code == 143, (result.exit_code, result.output)
    assert result.stderr.splitlines() == ["complaintkit: interrupted (SIGTERM) before the end; no half-written file was left"]


def _stopped_while_writing(signum: int) -> subprocess.CompletedProcess:
    """The installed command, stopped by ``signum`` while it writes its JSON to a pipe nobody reads
    yet: a pipe of one page fills, the command waits in write(), and the signal arrives there (no
    timing involved: the test waits until the pipe is full)."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, 4096)
    size = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
    env = {**os.environ, "COMPLAINTKIT_LANG": "en"}
    proc = subprocess.Popen([str(ENTRY_POINT), "validate", str(SAMPLES / "messy_branch.xlsx"), "--as-of", AS_OF, "--format", "json"],
                            stdout=write_end, stderr=subprocess.PIPE, env=env)
    os.close(write_end)
    deadline = time.monotonic() + 120  # a safeguard against a hang, not a measurement
    pending = bytearray(4)
    while True:
        fcntl.ioctl(read_end, termios.FIONREAD, pending)
        if int.from_bytes(pending, sys.byteorder) >= size or proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    proc.send_signal(signum)
    with os.fdopen(read_end, "rb") as reader:  # let it finish its exit
        stdout = reader.read()
    stderr = proc.stderr.read().decode("utf-8")
    proc.stderr.close()
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=120), stdout, stderr)


@pytest.mark.skipif(not ENTRY_POINT.exists() or not hasattr(fcntl, "F_SETPIPE_SZ"),
                    reason="needs the installed command and Linux pipes")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_installed_command_stopped_by_a_signal(signum, code):
    """What cron and systemd see: 130 / 143 and one line, not 1, "Aborted!" or a traceback."""
    done = _stopped_while_writing(signum)
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stderr.splitlines() == [f"complaintkit: interrupted ({signal.Signals(signum).name}) before the end; "
                                        "no half-written file was left"], done.stderr
