"""The blank register template and `complaintkit config`."""

from __future__ import annotations

import json

import pytest
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


_MISSPELT = [
    ("[dedupe.repeat]\nwindow_day = 90\n", "dedupe.repeat.window_day"),
    ("[deadlines]\ndayz = 10\n", "deadlines.dayz"),
    ("[deadlines.calendar]\nextra_holiday = [2027-01-01]\n", "deadlines.calendar.extra_holiday"),
    ("[classify]\nthreshhold = 0.5\n", "classify.threshhold"),
    ("[classify.model]\nepoch = 3\n", "classify.model.epoch"),
    ('[classify.rules.reason."定价收费"]\nkeyword."年费" = 3\n', "classify.rules.reason.定价收费.keyword"),
    ('[fields.aliases]\ncustmer_name = ["来电人"]\n', "fields.aliases.custmer_name"),
    ('[values.allowed]\nchanel = ["柜面"]\n', "values.allowed.chanel"),
    ("[register]\nmax_file = 100\n", "register.max_file"),
    ('[status]\nclosedd = ["已办结"]\n', "status.closedd"),
    ("[rules]\nphone_invalid = { enabled = true, severty = \"error\" }\n", "rules.phone_invalid.severty"),
]


@pytest.mark.parametrize("text, key", _MISSPELT, ids=[key for _text, key in _MISSPELT])
def test_config_check_finds_a_misspelt_key_in_any_section(runner, tmp_path, text, key):
    """Not only inside [risk]: a setting the checks would never read is named, with the keys
    that place knows, and every command that reads the policy stops on it (exit 2)."""
    bank = tmp_path / "bank.toml"
    bank.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["config", "check", "--config", str(bank)])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and f"未知的设置项 {key}，不会生效（可用：" in result.stderr
    english = runner.invoke(cli, ["config", "check", "--config", str(bank)], env={"COMPLAINTKIT_LANG": "en"})
    assert f"unknown setting {key}, it would not apply (known: " in english.stderr
    validate = runner.invoke(cli, ["validate", str(ROOT / "samples" / "clean_branch.xlsx"), "--config", str(bank), "--format", "json"])
    assert validate.exit_code == 2 and key in validate.stderr and validate.stdout == ""


def test_the_banks_own_names_are_not_settings(runner, tmp_path):
    """Where the keys are the bank's own words (spellings, reasons, keywords, label maps, override
    values, channels) any name goes; a reason of its own takes the settings a shipped one takes."""
    bank = tmp_path / "bank.toml"
    bank.write_text("\n".join([
        '[values.aliases.status]\n"搞定" = "已办结"',
        '[values.allowed]\nhandler = ["张三", "李四"]',
        "[classify]\nreasons = [\"服务态度及服务质量\", \"定价收费\", \"我行自定原因\"]",
        '[classify.rules.reason."我行自定原因"]\nen = "our own"\nkeywords."积分" = 3\npatterns."积分.{0,4}清零" = 4',
        '[classify.rules.business."信用卡"]\npatterns."\\\\d{4}尾号" = 1',
        '[classify.label_maps.ours]\n"定价收费" = "收费类"',
        '[classify.category_aliases]\n"乱收费" = "定价收费"',
        '[deadlines.overrides.channel]\n"监管转办" = { days = 7 }',
        '[risk.channels]\n"网上银行" = 5',
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["config", "check", "--config", str(bank)])
    assert result.exit_code == 0, result.output
