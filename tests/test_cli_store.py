"""The history store: made only by what writes to it, and each register kept apart.

- `run --store` or `risk --store` only to look back on a store that is not there (a typo in the
  crontab, or a COMPLAINTKIT_STORE job before its first `--remember`): one warning line naming the
  path, the command goes on without history with its usual exit code, and no store is left behind;
  `run --remember` and `history add` make it.
- A register in the store is named by its path inside the folder it was added from: two
  branches' 投诉台账.xlsx in 城东/ and 城西/ are two registers, not one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from complaintkit.cli import cli
from complaintkit.history import HistoryStore

from conftest import AS_OF, SAMPLES, good_row, write_xlsx

CLEAN = str(SAMPLES / "clean_branch.xlsx")


def warning_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("complaintkit: 警告: ")]


@pytest.mark.parametrize("command", [
    ["run", CLEAN, "--as-of", AS_OF, "--quiet"],
    ["run", CLEAN, "--as-of", AS_OF, "--format", "json"],
    ["risk", CLEAN, "--as-of", AS_OF, "--format", "json"],
])
def test_a_store_only_looked_back_on_is_never_made(runner, tmp_path, command):
    typo = tmp_path / "histroy.sqlite"
    without = runner.invoke(cli, command)
    result = runner.invoke(cli, [*command, "--store", str(typo)])
    assert result.exit_code == without.exit_code, result.output
    assert result.stdout == without.stdout
    assert not typo.exists()
    assert warning_lines(result) == [f"complaintkit: 警告: {typo}：这里没有历史库，本次没有回溯历史（第一次 run --remember 或 history add 会新建它）"]
    english = runner.invoke(cli, [*command, "--store", str(typo), "--lang", "en"])
    assert f"complaintkit: warning: {typo}: no history store there" in english.stderr and not typo.exists()


def test_the_store_of_the_environment_is_made_by_the_first_remember(runner, tmp_path, monkeypatch):
    """A job that sets COMPLAINTKIT_STORE for every command works from its first night: risk
    before any --remember warns and goes on; the first run --remember makes the store (and says
    so in its table); after that, nothing to warn about."""
    store = tmp_path / "nested" / "history.sqlite"
    monkeypatch.setenv("COMPLAINTKIT_STORE", str(store))
    first = runner.invoke(cli, ["risk", CLEAN, "--as-of", AS_OF, "--format", "json"])
    assert first.exit_code in (0, 1) and len(warning_lines(first)) == 1 and not store.exists()
    remembered = runner.invoke(cli, ["run", CLEAN, "--as-of", AS_OF, "--remember", "--format", "table"])
    assert remembered.exit_code in (0, 1) and remembered.stderr == "", remembered.output
    assert f"新建历史库：{store}" in remembered.stdout
    with HistoryStore(store) as kept:
        assert kept.count() == 40
    again = runner.invoke(cli, ["risk", CLEAN, "--as-of", AS_OF, "--format", "json"])
    assert again.exit_code == first.exit_code and again.stderr == ""


def test_forgetting_in_a_store_that_is_not_there_makes_none(runner, tmp_path):
    """Nothing to forget: a warning naming the path (a retention job's typo is seen), exit 0."""
    typo = tmp_path / "histroy.sqlite"
    result = runner.invoke(cli, ["history", "forget", "--before", "2025-01-01", "--store", str(typo)])
    assert result.exit_code == 0 and result.stdout == "" and not typo.exists()
    assert result.stderr == f"complaintkit: 警告: {typo}：这里没有历史库（`complaintkit history add` 会新建一个）\n"


def _branch_folders(root: Path, month: int, rows_east: int, rows_west: int) -> Path:
    """Two branches, each keeping a register under the same file name."""
    for branch, n, first in (("城东", rows_east, 1), ("城西", rows_west, 100)):
        (root / branch).mkdir(parents=True, exist_ok=True)
        write_xlsx(root / branch / "投诉台账.xlsx", [good_row(first + i, 受理机构=f"{branch}支行", 受理日期=dt.date(2026, month, 2))
                                                  for i in range(n)])
    return root


def test_two_branches_files_of_the_same_name_stay_apart(runner, tmp_path):
    store = tmp_path / "h.sqlite"
    march = _branch_folders(tmp_path / "2026-03", 3, 2, 3)
    assert runner.invoke(cli, ["history", "add", str(march), "--store", str(store)]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["history", "list", "--store", str(store), "--format", "json"]).stdout)
    assert {s["source"]: s["complaints"] for s in listed["sources"]} == {"城东/投诉台账.xlsx": 2, "城西/投诉台账.xlsx": 3}
    with HistoryStore(store) as kept:  # and risk and dedupe see two registers, not one mixed up
        assert sorted((r.source, len(r)) for r in kept.registers()) == [("history:城东/投诉台账.xlsx", 2), ("history:城西/投诉台账.xlsx", 3)]
    # Next month's folder names the same registers alike, however it is given (a folder, a glob,
    # or run --remember): their complaints stay under them.
    april = _branch_folders(tmp_path / "2026-04", 4, 3, 3)
    assert runner.invoke(cli, ["history", "add", str(april / "*" / "投诉台账.xlsx"), "--store", str(store)]).exit_code == 0
    result = runner.invoke(cli, ["run", str(april), "--as-of", AS_OF, "--store", str(store), "--remember", "--quiet"])
    assert result.exit_code in (0, 1), result.output
    listed = json.loads(runner.invoke(cli, ["history", "list", "--store", str(store), "--format", "json"]).stdout)
    assert [s["source"] for s in listed["sources"]] == ["城东/投诉台账.xlsx", "城西/投诉台账.xlsx"]
    table = runner.invoke(cli, ["history", "list", "--store", str(store)]).stdout
    assert "城东/投诉台账.xlsx" in table and "城西/投诉台账.xlsx" in table


def test_source_labels(tmp_path):
    from complaintkit.history import source_label

    (tmp_path / "in" / "城东").mkdir(parents=True)
    file = tmp_path / "in" / "城东" / "台账.xlsx"
    file.write_bytes(b"")
    assert source_label(file, [str(tmp_path / "in")]) == "城东/台账.xlsx"
    assert source_label(file, [str(tmp_path / "in" / "*" / "*.xlsx")]) == "城东/台账.xlsx"
    assert source_label(file, [str(file)]) == "台账.xlsx"  # a file given by itself: its name
    assert source_label(file, [str(tmp_path / "elsewhere")]) == "台账.xlsx"


def test_an_empty_file_as_the_store_is_looked_back_on_as_an_empty_store_and_left_empty(runner, tmp_path):
    """`touch history.sqlite` before the first --remember: risk looks back on nothing, says nothing,
    and leaves the file as it was (looking back never writes); the first --remember fills it."""
    store = tmp_path / "history.sqlite"
    store.touch()
    looked = runner.invoke(cli, ["risk", CLEAN, "--as-of", AS_OF, "--store", str(store), "--format", "json"])
    without = runner.invoke(cli, ["risk", CLEAN, "--as-of", AS_OF, "--format", "json"])
    assert looked.exit_code == without.exit_code and looked.stdout == without.stdout and looked.stderr == ""
    assert store.stat().st_size == 0
    remembered = runner.invoke(cli, ["run", CLEAN, "--as-of", AS_OF, "--store", str(store), "--remember", "--quiet"])
    assert remembered.exit_code in (0, 1), remembered.output
    with HistoryStore(store) as kept:
        assert kept.count() == 40


def test_a_store_opened_read_only_where_there_is_none_makes_no_file(tmp_path):
    """HistoryStore(path, read_only=True) on a path with no store: an empty store, and no file."""
    missing = tmp_path / "typo.sqlite"
    with HistoryStore(missing, read_only=True) as looked:
        assert looked.count() == 0 and looked.registers() == []
    assert not missing.exists()
