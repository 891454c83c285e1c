"""Options that behave alike across commands: --branch that names no branch, --as-of on every
check, and output folders that are made when missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaintkit.cli import cli

from conftest import AS_OF, HEADERS, SAMPLES, good_row, write_xlsx

BRANCHES = str(SAMPLES / "branches")
CLEAN = str(SAMPLES / "clean_branch.xlsx")


# ---------------------------------------------------------------------------------- --branch

@pytest.mark.parametrize("lang, line", [
    ("zh", "complaintkit: --branch 城北：台账中没有这个受理机构（台账中的受理机构：城东支行、城西支行、滨江支行、高新区支行）"),
    ("en", "complaintkit: --branch 城北: no such branch in the registers (branches found: 城东支行, 城西支行, 滨江支行, 高新区支行)"),
])
def test_followups_for_a_branch_that_is_not_there(runner, lang, line):
    """A typo must not read as "nothing due at that branch": exit 2, naming what is there."""
    result = runner.invoke(cli, ["followups", BRANCHES, "--as-of", AS_OF, "--branch", "城北", "--format", "json", "--lang", lang])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [line]
    # One of several that is not there is enough to say so.
    several = runner.invoke(cli, ["followups", BRANCHES, "--as-of", AS_OF, "--branch", "城东", "--branch", "城北", "--format", "json"])
    assert several.exit_code == 2 and "城北" in several.stderr
    # Every one that is not there is named, once.
    two = runner.invoke(cli, ["followups", BRANCHES, "--as-of", AS_OF, "--branch", "城北", "--branch", "城东", "--branch", "城南",
                              "--format", "json", "--lang", lang])
    assert two.exit_code == 2 and two.stderr.splitlines() == [
        line.replace("城北", "城北、城南" if lang == "zh" else "城北, 城南").replace("这个", "这些").replace("no such branch ", "no such branches ")]


def test_followups_for_a_branch_that_is_there(runner, tmp_path):
    """A part of the name is enough, as before; a branch with no row of the asked status is an
    empty list (exit 0), not an error; rows without a branch go by the file name."""
    part = runner.invoke(cli, ["followups", BRANCHES, "--as-of", AS_OF, "--branch", "城东", "--format", "json"])
    assert part.exit_code in (0, 1) and part.stderr == ""
    assert {r["branch"] for r in json.loads(part.stdout)["rows"]} == {"城东支行"}
    none_due = runner.invoke(cli, ["followups", BRANCHES, "--as-of", AS_OF, "--branch", "城东", "--status", "paused", "--format", "json"])
    assert none_due.exit_code == 0 and json.loads(none_due.stdout)["rows"] == []
    headers = ["投诉编号", "受理日期", "投诉渠道", "客户姓名", "投诉内容", "处理状态"]
    register = write_xlsx(tmp_path / "滨海支行.xlsx", [["T1", "2026-11-02", "柜面", "王小明", "年费多收", "处理中"]], headers=headers)
    by_file = runner.invoke(cli, ["followups", str(register), "--as-of", AS_OF, "--branch", "滨海", "--format", "json"])
    assert by_file.exit_code in (0, 1) and len(json.loads(by_file.stdout)["rows"]) == 1
    wrong = runner.invoke(cli, ["followups", str(register), "--as-of", AS_OF, "--branch", "城东", "--format", "json"])
    assert wrong.exit_code == 2 and "滨海支行" in wrong.stderr


def test_a_branch_that_may_be_in_an_unreadable_file(runner, tmp_path):
    """No row matches --branch, but a file of the batch could not be read: the branch may be
    there. Not "no such branch" (exit 2, look for a typo) but a warning and exit 3 (part of the
    batch was not checked), with an empty list."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_xlsx(folder / "城东支行.xlsx", [good_row(1, 受理机构="城东支行")])
    (folder / "城北支行.xlsx").write_bytes(b"not a workbook")
    result = runner.invoke(cli, ["followups", str(folder), "--as-of", AS_OF, "--branch", "城北", "--format", "json"])
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["rows"] == [] and len(json.loads(result.stdout)["unreadable"]) == 1
    lines = result.stderr.splitlines()
    assert any("无法读取" in line and "城北支行.xlsx" in line for line in lines)
    assert "complaintkit: 警告: --branch 城北：台账中没有这个受理机构（台账中的受理机构：城东支行）；它也可能在 1 个无法读取的文件中" in lines
    # Every branch not found is named in the warning too.
    two = runner.invoke(cli, ["followups", str(folder), "--as-of", AS_OF, "--branch", "城北", "--branch", "城南", "--format", "json"])
    assert two.exit_code == 3 and "complaintkit: 警告: --branch 城北、城南：台账中没有这些受理机构（台账中的受理机构：城东支行）；它也可能在 1 个无法读取的文件中" \
        in two.stderr.splitlines(), two.stderr
    # A branch that is there is listed as before, still exit 3.
    there = runner.invoke(cli, ["followups", str(folder), "--as-of", AS_OF, "--branch", "城东", "--format", "json", "--lang", "en"])
    assert there.exit_code == 3 and "no such branch" not in there.stderr


def test_a_long_list_of_branches_is_cut_short(runner, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_xlsx(folder / "all.xlsx", [good_row(i, 受理机构=f"第{i:02d}支行") for i in range(1, 26)])
    result = runner.invoke(cli, ["followups", str(folder / "all.xlsx"), "--as-of", AS_OF, "--branch", "总行", "--format", "json"])
    assert result.exit_code == 2 and "第20支行、等 5 个）" in result.stderr and "第21支行" not in result.stderr


# ---------------------------------------------------------------------------------- --as-of

@pytest.mark.parametrize("check", ["dedupe", "classify"])
def test_every_check_takes_as_of(runner, check):
    """A cron script passes --as-of to every check: dedupe and classify take it too, check it as
    the others do, and give the very same result with or without it (nothing in them depends on
    the day)."""
    plain = runner.invoke(cli, [check, BRANCHES, "--format", "json"])
    dated = runner.invoke(cli, [check, BRANCHES, "--format", "json", "--as-of", AS_OF])
    assert dated.exit_code == plain.exit_code == 0, dated.output
    assert json.loads(dated.stdout) == json.loads(plain.stdout)
    other_day = runner.invoke(cli, [check, BRANCHES, "--format", "json", "--as-of", "2025-01-01"])
    assert json.loads(other_day.stdout) == json.loads(plain.stdout)
    wrong = runner.invoke(cli, [check, BRANCHES, "--format", "json", "--as-of", "tomorrow"])
    assert wrong.exit_code == 2 and "不是日期" in wrong.output
    assert "--as-of" in runner.invoke(cli, [check, "--help"]).stdout


def test_one_command_line_for_every_check(runner):
    for check in ("validate", "dedupe", "classify", "followups", "risk", "run"):
        result = runner.invoke(cli, [check, CLEAN, "--as-of", AS_OF, "--format", "json"])
        assert result.exit_code in (0, 1), (check, result.output)


# ---------------------------------------------------------------------------------- output folders

def _writers(tmp_path: Path) -> list[tuple[list[str], Path]]:
    """Every command that writes a file, each into a folder two levels below one that exists."""
    out = tmp_path / "new" / "deeper"
    labelled = write_xlsx(tmp_path / "labelled.xlsx", [good_row(i, 投诉内容=text) + [label] for i, (text, label) in
                                                       enumerate([("年费多收", "定价收费"), ("态度恶劣", "服务态度及服务质量")] * 3, start=1)],
                          headers=[*HEADERS, "投诉类别"])
    return [
        (["validate", CLEAN, "--as-of", AS_OF, "--format", "json", "-o", str(out / "v.xlsx")], out / "v.xlsx"),
        (["validate", BRANCHES, "--as-of", AS_OF, "--format", "json", "--annotate", str(out / "ann")], out / "ann"),
        (["dedupe", BRANCHES, "--format", "json", "--merge", "-o", str(out / "merged.xlsx")], out / "merged.xlsx"),
        (["classify", CLEAN, "--format", "json", "-o", str(out / "c.xlsx")], out / "c.xlsx"),
        (["followups", CLEAN, "--as-of", AS_OF, "--format", "json", "-o", str(out / "f.xlsx")], out / "f.xlsx"),
        (["risk", CLEAN, "--as-of", AS_OF, "--format", "json", "-o", str(out / "r.xlsx")], out / "r.xlsx"),
        (["run", CLEAN, "--as-of", AS_OF, "--quiet", "--report", str(out / "report.xlsx")], out / "report.xlsx"),
        (["run", CLEAN, "--as-of", AS_OF, "--quiet", "--json", str(out / "run.json")], out / "run.json"),
        (["run", CLEAN, "--as-of", AS_OF, "--quiet", "--csv", str(out / "csv")], out / "csv" / "validate.csv"),
        (["run", CLEAN, "--as-of", AS_OF, "--quiet", "--log", str(out / "ck.log")], out / "ck.log"),
        (["template", "-o", str(out / "t.xlsx")], out / "t.xlsx"),
        (["config", "init", "-o", str(out / "bank.toml")], out / "bank.toml"),
        (["classify", "train", str(labelled), "--min-df", "1", "-o", str(out / "model.json")], out / "model.json"),
    ]


@pytest.mark.parametrize("n", range(13))
def test_every_command_makes_a_missing_output_folder(runner, tmp_path, n):
    """As run always did for its outputs: -o, --report, --json, --csv, --annotate, --log of every
    command write into a folder made for them (validate -o said "does not exist")."""
    args, made = _writers(tmp_path)[n]
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), (args, result.output)
    assert made.exists(), args
    assert not list(tmp_path.rglob(".~ck-*"))


@pytest.mark.parametrize("n", range(13))
def test_a_file_in_the_folders_place_is_one_line(runner, tmp_path, n):
    """A file where the folder should be: one line, exit 2, nothing written (not an OSError)."""
    args, _made = _writers(tmp_path)[n]
    (tmp_path / "new").write_text("a file, not a folder", "utf-8")
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, (args, result.output)
    told = result.stderr.splitlines()
    assert len(told) == 1 and told[0].startswith("complaintkit: ") and "意外错误" not in told[0], told
    assert f"{tmp_path / 'new'} 是一个文件，不是文件夹" in told[0], told
    assert (tmp_path / "new").read_text("utf-8") == "a file, not a folder"


def test_a_copy_written_into_a_folder_made_for_it_is_the_copy_written_beside_it(runner, tmp_path):
    """The folder made or not, the annotated copy is the same, cell for cell (values and fills),
    and it holds the check's marks (messy_branch has problems to mark)."""
    shutil.copy(SAMPLES / "messy_branch.xlsx", tmp_path / "c.xlsx")
    copies = [tmp_path / "a.xlsx", tmp_path / "x" / "a.xlsx"]
    for copy in copies:
        result = runner.invoke(cli, ["validate", str(tmp_path / "c.xlsx"), "--as-of", AS_OF, "--format", "json", "-o", str(copy)])
        assert result.exit_code == 1, result.output

    def cells(path):
        return {(ws.title, c.coordinate): (c.value, c.fill.fgColor.rgb if c.fill.fill_type else None)
                for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row if c.value is not None or c.fill.fill_type}

    there, made = map(cells, copies)
    assert there == made
    assert any(v == "CK-校验问题" for v, _ in there.values()) and any(fill for _, fill in there.values())
