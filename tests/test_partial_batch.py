"""A check command given a folder (or several files) goes past the files it cannot read, as
`complaintkit run` does: each is one line on stderr in the user's language and an entry of the
JSON "unreadable" list (file, code, reason), the rest are checked, and the exit code is 3 (over 1:
the findings are in the output either way), or 2 when no file could be read. One file that cannot
be read stays one line and exit 2. docs/robustness.md and README's exit-code table say so."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from complaintkit.cli import cli

from conftest import AS_OF, good_row, write_xlsx

CHECKS = ["validate", "dedupe", "classify", "followups", "risk"]
GOOD = "城南支行.xlsx"
#: The unusable files beside it, with the code the JSON gives each and the start of its reason.
BAD = {"损坏的支行.xlsx": ("in_truncated_zip", "工作簿已损坏", "damaged workbook"),
       "空表.csv": ("in_empty_file", "文件是空的（0 字节）", "empty file (0 bytes)")}
ENTRY_POINT = Path(sys.executable).parent / "complaintkit"


def write_good(path: Path) -> Path:
    """A register every check has something to say about at warning level or above: a wrong check
    digit (validate), a row typed in twice (dedupe), a text too vague to classify (classify), an
    open case long overdue (followups) and a high escalation risk (risk)."""
    return write_xlsx(path, [
        good_row(1),
        good_row(2, 投诉编号="HL-0001"),
        good_row(3, 联系电话="12345", 证件号码="110105194912310021", 投诉内容="我要向12378投诉，还要找媒体", 处理状态="处理中",
                 办结日期=None, 回访日期=None, 回访结果=None),
    ])


def write_bad(folder: Path) -> None:
    (folder / "损坏的支行.xlsx").write_bytes(b"PK\x03\x04 this zip was cut off")
    (folder / "空表.csv").write_bytes(b"")


@pytest.fixture
def branch_folder(tmp_path: Path) -> Path:
    """One good register, one corrupt workbook and one empty CSV."""
    folder = tmp_path / "分行台账"
    folder.mkdir()
    write_good(folder / GOOD)
    write_bad(folder)
    return folder


def args(check: str, *paths: Path | str, fmt: str = "json") -> list[str]:
    """The check over ``paths``; --fail-on warning, so that on the good register alone every
    check exits 1 and a partial batch shows that 3 wins."""
    return [check, *map(str, paths), "--format", fmt, "--fail-on", "warning", "--as-of", AS_OF]  # every check takes --as-of


def main_items(data: dict[str, Any]) -> list[Any]:
    return next(data[key] for key in ("findings", "groups", "rows") if key in data)


def stderr_lines(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("check", CHECKS)
def test_a_folder_with_unreadable_files_is_checked_and_exits_3(runner, branch_folder, check):
    partial = runner.invoke(cli, args(check, branch_folder))
    alone = runner.invoke(cli, args(check, branch_folder / GOOD))
    assert alone.exit_code == 1, alone.output  # findings at --fail-on level...
    assert partial.exit_code == 3, partial.output  # ...and unreadable files: 3, as run
    data, expected = json.loads(partial.stdout), json.loads(alone.stdout)
    # The good register's results are all there, as it alone gives them; "unreadable" comes last.
    assert main_items(data)
    assert list(data) == [*expected, "unreadable"]
    assert {k: v for k, v in data.items() if k != "unreadable"} == expected
    assert {Path(u["file"]).name: u["code"] for u in data["unreadable"]} == {name: code for name, (code, _zh, _en) in BAD.items()}
    for entry in data["unreadable"]:
        name = Path(entry["file"]).name
        assert set(entry) == {"file", "code", "reason"}
        assert entry["file"] == str(branch_folder / name)  # as given, for scripts to match
        assert entry["reason"].startswith(BAD[name][1]) and name not in entry["reason"]
    lines = stderr_lines(partial)
    assert len(lines) == len(BAD), lines
    for line, name in zip(lines, sorted(BAD)):
        assert line.startswith(f"complaintkit: 无法读取：{branch_folder / name}：{BAD[name][1]}"), line


@pytest.mark.parametrize("check", CHECKS)
def test_a_complete_batch_keeps_its_json_and_exit_code(runner, tmp_path, check):
    """Nothing unreadable: no "unreadable" key, nothing on stderr, the exit code of the findings."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_good(folder / "a.xlsx")
    write_good(folder / "b.xlsx")
    result = runner.invoke(cli, args(check, folder))
    assert result.exit_code == 1, result.output
    assert "unreadable" not in json.loads(result.stdout) and result.stderr == ""


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("bad", sorted(BAD))
def test_one_unreadable_file_is_one_line_and_exit_2(runner, tmp_path, check, bad):
    """As before: the file's own error, nothing on stdout; a folder holding only that file too."""
    write_bad(tmp_path)
    alone = tmp_path / "alone"
    alone.mkdir()
    (tmp_path / bad).rename(alone / bad)
    for given in (alone / bad, alone):
        result = runner.invoke(cli, args(check, given))
        assert result.exit_code == 2, result.output
        lines = stderr_lines(result)
        assert len(lines) == 1 and lines[0].startswith(f"complaintkit: {alone / bad}: {BAD[bad][1]}"), lines
        assert result.stdout == ""


@pytest.mark.parametrize("check", CHECKS)
def test_nothing_readable_in_a_folder_is_exit_2(runner, tmp_path, check):
    folder = tmp_path / "in"
    folder.mkdir()
    write_bad(folder)
    result = runner.invoke(cli, args(check, folder))
    assert result.exit_code == 2, result.output
    lines = stderr_lines(result)
    assert len(lines) == 3 and all(line.startswith("complaintkit: 无法读取：") for line in lines[:2])
    assert lines[2].startswith("complaintkit: 没有一个台账能读取（") and result.stdout == ""


def test_several_files_and_a_glob_are_a_batch_too(runner, branch_folder):
    for paths in ([branch_folder / GOOD, branch_folder / "空表.csv"], [str(branch_folder / "*.*")]):
        result = runner.invoke(cli, args("validate", *paths))
        assert result.exit_code == 3, result.output
        assert "空表.csv" in {Path(u["file"]).name for u in json.loads(result.stdout)["unreadable"]}


def test_english_with_lang_en_and_the_environment(runner, branch_folder):
    for extra, env in ((["--lang", "en"], {}), ([], {"COMPLAINTKIT_LANG": "en"})):
        result = runner.invoke(cli, args("risk", branch_folder) + extra, env=env)
        assert result.exit_code == 3, result.output
        lines = stderr_lines(result)
        assert lines[1] == f"complaintkit: unreadable: {branch_folder / '空表.csv'}: empty file (0 bytes)"
        reasons = {Path(u["file"]).name: u["reason"] for u in json.loads(result.stdout)["unreadable"]}
        assert all(reasons[name].startswith(en) for name, (_code, _zh, en) in BAD.items())


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_table_and_csv_name_the_files_on_stderr(runner, branch_folder, fmt):
    result = runner.invoke(cli, args("validate", branch_folder, fmt=fmt))
    assert result.exit_code == 3, result.output
    assert "id_check_digit" in result.stdout and "损坏的支行" not in result.stdout
    assert [line.split("：")[1] for line in stderr_lines(result)] == [str(branch_folder / name) for name in sorted(BAD)]


def test_annotated_copies_of_the_readable_files_only(runner, branch_folder, tmp_path):
    out = tmp_path / "annotated"
    result = runner.invoke(cli, args("validate", branch_folder) + ["--annotate", str(out)])
    assert result.exit_code == 3, result.output
    assert [p.name for p in out.iterdir()] == ["城南支行.checked.xlsx"]


@pytest.mark.parametrize("check", CHECKS)
def test_the_same_unreadable_list_and_exit_code_as_run(runner, branch_folder, check):
    mine = runner.invoke(cli, args(check, branch_folder))
    run = runner.invoke(cli, ["run", str(branch_folder), "--checks", check, "--format", "json", "--fail-on", "warning", "--as-of", AS_OF])
    assert mine.exit_code == run.exit_code == json.loads(run.stdout)["exit_code"] == 3
    assert json.loads(mine.stdout)["unreadable"] == json.loads(run.stdout)["unreadable"]


def test_a_policy_mistake_stops_before_any_file_is_read(runner, branch_folder, tmp_path):
    bad = tmp_path / "bank.toml"
    bad.write_text("[risk.repeat]\nfrist = 50\n", encoding="utf-8")
    result = runner.invoke(cli, args("risk", branch_folder) + ["--config", str(bad)])
    assert result.exit_code == 2 and result.stdout == ""
    assert len(stderr_lines(result)) == 1 and "未知的键 frist" in result.stderr


@pytest.mark.parametrize("command", [["risk"], ["run", "--checks", "risk"], ["dedupe"]])
def test_a_mistake_in_a_check_that_another_runs_stops_it_before_any_file_is_read(runner, branch_folder, tmp_path, command):
    """risk runs dedupe and followups for itself, and dedupe runs classify: a wrong value in their
    sections stops it at once, not after the batch has been read (the unreadable file's line)."""
    bad = tmp_path / "bank.toml"
    bad.write_text("[classify]\nthreshold = \"high\"\n" if command == ["dedupe"] else "[dedupe.duplicate]\ncount = \"weekly\"\n",
                   encoding="utf-8")
    result = runner.invoke(cli, [*command, str(branch_folder), "--as-of", AS_OF, "--format", "json", "--config", str(bad)])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert len(stderr_lines(result)) == 1 and "无法读取" not in result.stderr, result.stderr


def test_every_check_through_the_installed_command(branch_folder):
    """The entry point in a fresh process: the exit code the shell and cron see, stderr and JSON."""
    if not ENTRY_POINT.exists():
        pytest.skip("complaintkit is not installed in this interpreter's environment")
    def run(check: str) -> subprocess.CompletedProcess[str]:  # COMPLAINTKIT_LANG is cleared by conftest
        return subprocess.run([str(ENTRY_POINT), *args(check, branch_folder)], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(CHECKS, pool.map(run, CHECKS)))
    for check, proc in done.items():
        assert proc.returncode == 3, (check, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 2 and all(line.startswith("complaintkit: 无法读取：") for line in lines), (check, lines)
        data = json.loads(proc.stdout)
        assert main_items(data) and [u["code"] for u in data["unreadable"]] == ["in_truncated_zip", "in_empty_file"], check


def test_a_reason_naming_a_phone_is_masked_in_the_json_the_report_the_table_and_on_stderr(runner, tmp_path):
    """A file left out because its only sheet is not the one asked for: the reason names that
    sheet, 张三13800138000, and every output says it masked (the report's list too)."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_xlsx(folder / GOOD, [good_row(1)], sheet="投诉登记台账")
    write_xlsx(folder / "other.xlsx", [good_row(2)], sheet="张三13800138000")
    report = tmp_path / "r.xlsx"
    result = runner.invoke(cli, ["run", str(folder), "--sheet", "投诉登记台账", "--as-of", AS_OF, "--report", str(report),
                                 "--json", str(tmp_path / "r.json"), "--format", "table"])
    assert result.exit_code == 3, result.output
    from openpyxl import load_workbook
    listed = [str(c) for ws in load_workbook(report).worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    said = result.output + (tmp_path / "r.json").read_text("utf-8") + "\n".join(listed)
    assert "张三138****8000" in said and "13800138000" not in said
    assert any("张三138****8000" in c for c in listed)
