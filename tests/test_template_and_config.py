"""The blank register template and `complaintkit config`."""

from __future__ import annotations

import json

from openpyxl import load_workbook

from complaintkit.cli import cli
from complaintkit.fields import FIELDS
from complaintkit.policy import load_policy

from conftest import ROOT


def _check_template(path):
    wb = load_workbook(path)
    ws = wb["投诉登记台账"]
    assert "填表说明" in wb.sheetnames
    headers = [c.value for c in ws[3]]
    assert [h.lstrip("*") for h in headers] == list(FIELDS.values())
    required = set(load_policy().get("fields.required"))
    assert {h.lstrip("*") for h in headers if h.startswith("*")} == {FIELDS[f] for f in required}
    col = {h.lstrip("*"): i + 1 for i, h in enumerate(headers)}
    for name in ("证件号码", "联系电话", "投诉编号"):
        assert ws.cell(row=4, column=col[name]).number_format == "@"
    assert ws.cell(row=4, column=col["受理日期"]).number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "B4"
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == len(load_policy().get("values.allowed"))
    lists_sheet = wb["下拉选项"]
    assert lists_sheet.sheet_state == "hidden"
    statuses = [c.value for c in next(col_ for col_ in lists_sheet.iter_cols() if col_[0].value == "处理状态")][1:]
    assert [s for s in statuses if s] == ["待处理", "处理中", "已办结", "已撤销"]


def test_template_command(runner, tmp_path):
    out = tmp_path / "t.xlsx"
    result = runner.invoke(cli, ["template", "-o", str(out)])
    assert result.exit_code == 0, result.output
    _check_template(out)
    # a blank template validates clean
    check = runner.invoke(cli, ["validate", str(out), "--format", "json"])
    assert check.exit_code == 0 and json.loads(check.stdout)["summary"]["rows"] == 0
    assert runner.invoke(cli, ["template", "-o", str(out)]).exit_code == 2


def test_shipped_template_matches_the_policy():
    _check_template(ROOT / "templates" / "register_template.xlsx")


def test_config_show_and_init(runner, tmp_path):
    shown = runner.invoke(cli, ["config", "show"])
    assert shown.exit_code == 0 and "[values.allowed]" in shown.output and "# effective policy: (defaults)" in shown.output
    cfg = tmp_path / "bank.toml"
    cfg.write_text('[values.allowed]\ncustomer_tier = ["普通", "VIP"]\n', encoding="utf-8")
    data = json.loads(runner.invoke(cli, ["config", "show", "--config", str(cfg), "--format", "json"]).output)
    assert data["values"]["allowed"]["customer_tier"] == ["普通", "VIP"]
    assert data["values"]["allowed"]["status"] == ["待处理", "处理中", "已办结", "已撤销"]  # untouched defaults stay
    init = tmp_path / "mine.toml"
    assert runner.invoke(cli, ["config", "init", "-o", str(init)]).exit_code == 0
    assert init.read_text("utf-8").startswith("# complaintkit policy")
    missing = runner.invoke(cli, ["config", "show", "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "找不到策略文件" in missing.output
    missing = runner.invoke(cli, ["config", "show", "--config", str(tmp_path / "nope.toml")], env={"COMPLAINTKIT_LANG": "en"})
    assert missing.exit_code == 2 and "policy file not found" in missing.output


def test_a_mistake_in_any_section_is_found_before_any_register_is_read(runner, tmp_path):
    """config show and config check read the policy as every check will; run checks the sections
    of the checks it runs before it reads a file."""
    bad = tmp_path / "bank.toml"
    bad.write_text("[risk.repeat]\nfrist = 50\n", encoding="utf-8")
    for command in (["config", "show"], ["config", "check"]):
        result = runner.invoke(cli, [*command, "--config", str(bad)])
        assert result.exit_code == 2 and "未知的键 frist" in result.output, command
    good = runner.invoke(cli, ["config", "check", "--lang", "en"])
    assert good.exit_code == 0 and good.output.startswith("the policy is sound: (defaults)")
    # The file is not even opened: the batch stops on the policy.
    run = runner.invoke(cli, ["run", str(tmp_path / "no-such-folder"), "--config", str(bad), "--quiet"])
    assert run.exit_code == 2 and "frist" in run.output and "no-such-folder" not in run.output
    # A check that is not run does not need its section.
    only = runner.invoke(cli, ["run", str(ROOT / "samples" / "clean_branch.xlsx"), "--config", str(bad), "--checks", "validate",
                               "--as-of", "2026-11-20", "--quiet"])
    assert only.exit_code == 0, only.output


def test_a_template_not_named_xlsx_is_refused(runner, tmp_path):
    """The template is an .xlsx workbook: named .csv or .xls, Excel refuses it or shows its bytes."""
    for name in ("台账.csv", "台账.xls", "台账"):
        result = runner.invoke(cli, ["template", "-o", str(tmp_path / name)])
        assert result.exit_code == 2 and ".xlsx" in result.output, result.output
        assert not (tmp_path / name).exists()
