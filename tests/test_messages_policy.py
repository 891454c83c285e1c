"""Policy, model, history and --map errors reach the user in Chinese by default and in English
with --lang en (or COMPLAINTKIT_LANG=en); the English text is the one these errors always had."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from complaintkit.classification import Settings, read_label_map
from complaintkit.cli import cli
from complaintkit.deadlines import DeadlineSettings
from complaintkit.errors import ComplaintkitError, PolicyError
from complaintkit.fields import MapError, parse_manual_map
from complaintkit.history import HistoryError, HistoryStore
from complaintkit.policy import load_policy
from complaintkit.risk import RiskSettings, TopError, parse_top
from complaintkit.textmodel import ModelError, TextModel, TrainSettings
from complaintkit.workcalendar import WorkCalendar

from conftest import SAMPLES

SAMPLE = str(SAMPLES / "branches" / "城东支行.xlsx")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _policy_file(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _both(exc: ComplaintkitError, english: str) -> str:
    """The error says ``english`` in English (also its str) and something Chinese by default."""
    zh = exc.text("zh")
    assert exc.text("en") == str(exc) == english
    assert exc.text() == zh and CHINESE.search(zh), zh
    assert zh != english
    return zh


def test_bad_toml(tmp_path):
    path = _policy_file(tmp_path, "[rules\n")
    try:
        tomllib.loads("[rules\n")
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    zh = _both(caught.value, f"{path}: not valid TOML ({detail})")
    assert "不是有效的 TOML" in zh and str(path) in zh


def test_missing_and_non_utf8_policy(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope.toml")
    assert "找不到策略文件" in _both(caught.value, f"{tmp_path / 'nope.toml'}: policy file not found")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[values.allowed]\nchannel = ["柜面"]\n'.encode("gbk"))
    with pytest.raises(PolicyError) as caught:
        load_policy(gbk)
    assert "UTF-8" in _both(caught.value, f"{gbk}: policy file is not UTF-8 text")


def test_bad_severity_and_unknown_required_field(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(_policy_file(tmp_path, '[rules]\nphone_invalid = { severity = "fatal" }\n'))
    zh = _both(caught.value, "rules.phone_invalid.severity must be 'error' or 'warning', not 'fatal'")
    assert "rules.phone_invalid.severity" in zh and "'fatal'" in zh
    with pytest.raises(PolicyError) as caught:
        load_policy(_policy_file(tmp_path, '[fields]\nrequired = ["complaint_id", "nickname"]\n', "req.toml"))
    assert "nickname" in _both(caught.value, "fields.required names unknown fields: nickname")


def test_a_weight_that_is_a_string(tmp_path):
    reason = load_policy().get("classify.reasons")[0]
    path = _policy_file(tmp_path, f'[classify.rules.reason."{reason}".keywords]\n"年费" = "3"\n')
    with pytest.raises(PolicyError) as caught:
        Settings.from_policy(load_policy(path))
    where = f"classify.rules.reason.{reason}.keywords.年费"
    zh = _both(caught.value, f"{where}: a weight must be a number of 0 or more, not '3'")
    assert zh == f"{where}：权重应为不小于 0 的数，而不是 '3'"

    risk = _policy_file(tmp_path, '[risk.escalation_words.words]\n"律师" = "ten"\n', "risk.toml")
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(load_policy(risk))
    _both(caught.value, "risk.escalation_words.words.律师.p must be a number of 0 or more, not 'ten'")


def test_an_unknown_risk_key(tmp_path):
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(load_policy(_policy_file(tmp_path, "[risk.repeat]\nfrist = 50\n")))
    assert caught.value.text("en").startswith("risk.repeat: unknown keys frist (known: ")
    zh = caught.value.text("zh")
    assert zh.startswith("risk.repeat：未知的键 frist（可用：") and CHINESE.search(zh)
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(load_policy(_policy_file(tmp_path, "[risk.level]\nhigh = 80\n", "level.toml")))
    assert caught.value.text("en").startswith("risk: unknown keys level (known: ")
    assert caught.value.text("zh").startswith("risk：未知的键 level")
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(load_policy(_policy_file(tmp_path, "[risk.levels]\nhigh = 10\nmedium = 40\n", "lv.toml")))
    _both(caught.value, "risk.levels must satisfy high >= medium >= low > 0 (got 10, 40, 20)")


def test_a_bad_regular_expression(tmp_path):
    path = _policy_file(tmp_path, '[classify.rules.tag."催收"]\npatterns."[" = 3\n')
    with pytest.raises(PolicyError) as caught:
        Settings.from_policy(load_policy(path))
    detail = "unterminated character set at position 0"
    zh = _both(caught.value, f"classify.rules.tag.催收.patterns: '[' is not a valid regular expression ({detail})")
    assert zh == f"classify.rules.tag.催收.patterns：'[' 不是有效的正则表达式（{detail}）"
    risk = _policy_file(tmp_path, '[risk.hard_demands.patterns]\n"(未闭合" = 10\n', "risk.toml")
    with pytest.raises(PolicyError) as caught:
        RiskSettings.from_policy(load_policy(risk))
    assert "不是有效的正则表达式" in caught.value.text() and "is not a valid regular expression" in str(caught.value)


def test_deadline_settings(tmp_path):
    with pytest.raises(PolicyError) as caught:
        DeadlineSettings.from_policy(load_policy(_policy_file(tmp_path, "[deadlines]\nroll_forward = \"yes\"\n")))
    zh = _both(caught.value, "deadlines.roll_forward must be true or false, not 'yes'")
    assert zh == "deadlines.roll_forward 应为 true 或 false，而不是 'yes'"
    with pytest.raises(PolicyError) as caught:
        DeadlineSettings.from_policy(load_policy(_policy_file(tmp_path, '[deadlines.overrides.channel]\n"柜面" = 10\n', "o.toml")))
    _both(caught.value, "deadlines.overrides.channel.柜面 must be a table such as { days = 10 }")


def test_a_calendar_date_that_is_not_a_date(tmp_path):
    path = _policy_file(tmp_path, '[deadlines.calendar]\nextra_holidays = ["2027-13-01"]\n')
    with pytest.raises(PolicyError) as caught:
        WorkCalendar.from_policy(load_policy(path))
    zh = _both(caught.value, "deadlines.calendar.extra_holidays: '2027-13-01' is not a date (write 2027-01-01)")
    assert zh == "deadlines.calendar.extra_holidays：'2027-13-01' 不是日期（请写成 2027-01-01）"
    both = _policy_file(tmp_path, '[deadlines.calendar]\nextra_holidays = ["2027-01-04"]\nextra_workdays = ["2027-01-04"]\n', "b.toml")
    with pytest.raises(PolicyError) as caught:
        WorkCalendar.from_policy(load_policy(both))
    _both(caught.value, "deadlines.calendar: 2027-01-04 listed both as extra holiday and as extra workday")


def test_a_missing_model_file(tmp_path):
    missing = tmp_path / "none.json"
    path = _policy_file(tmp_path, f'[classify.model]\npath = "{missing.as_posix()}"\n')
    from complaintkit.classification import load_model_for
    with pytest.raises(ModelError) as caught:
        load_model_for(load_policy(path))
    assert "找不到模型文件" in _both(caught.value, f"{missing}: model file not found")


def test_an_unusable_model_file_names_what_is_wrong_in_either_language(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "complaintkit-textmodel", "version": 99}', encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        TextModel.load(bad)
    zh = _both(caught.value, f"{bad}: not a usable complaintkit model (version 99; this complaintkit reads version 1)")
    assert "不是可用的 complaintkit 模型" in zh and "version 为 99" in zh
    with pytest.raises(ModelError) as caught:
        TrainSettings(class_weight="equal")
    _both(caught.value, "class_weight must be 'balanced' or 'none', not 'equal'")


def test_a_missing_history_store(tmp_path):
    missing = tmp_path / "typo.sqlite"
    assert HistoryStore.existing(missing) is None and not missing.exists()  # looking makes no store
    zh = _both(HistoryError("hist_no_store", path=missing), f"{missing}: no history store there (`complaintkit history add` creates one)")
    assert "历史库" in zh


def test_a_bad_label_map(tmp_path):
    with pytest.raises(PolicyError) as caught:
        read_label_map(load_policy(), str(tmp_path / "nomap.toml"))
    en = caught.value.text("en")
    assert en.startswith(f"--label-map '{tmp_path / 'nomap.toml'}': neither a map in classify.label_maps (")
    assert "既不是 classify.label_maps 中的映射" in caught.value.text("zh")


def test_map_and_top_errors_are_still_value_errors_and_render_in_either_language():
    with pytest.raises(ValueError) as caught:
        parse_manual_map(["来电人"])
    assert isinstance(caught.value, MapError) and isinstance(caught.value, PolicyError)
    zh = _both(caught.value, "--map expects HEADER=field, got '来电人'")
    assert "表头=字段" in zh
    with pytest.raises(MapError) as caught:
        parse_manual_map(["来电人=nobody"])
    assert caught.value.text("en").startswith("--map '来电人=nobody': unknown field 'nobody' (one of: complaint_id, ")
    assert "未知字段 'nobody'" in caught.value.text("zh")
    with pytest.raises(ValueError) as caught:
        parse_top("0")
    assert isinstance(caught.value, TopError)
    _both(caught.value, "'0' is not a number of rows (10) or a share (5%)")


# --------------------------------------------------------------------------------------------
# Through the CLI: the line a user sees

def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("args", [["config", "show"], ["validate", SAMPLE, "--as-of", "2026-11-20"]])
def test_cli_bad_toml(tmp_path, args):
    bad = _policy_file(tmp_path, "[rules\n")
    runner = CliRunner()
    zh = _error_line(runner.invoke(cli, args + ["--config", str(bad)]))
    assert "不是有效的 TOML" in zh and "not valid TOML" not in zh
    en = _error_line(runner.invoke(cli, args + ["--config", str(bad)], env={"COMPLAINTKIT_LANG": "en"}))
    assert "not valid TOML" in en and "不是有效的 TOML" not in en
    if args[0] != "config":  # config has no --lang: COMPLAINTKIT_LANG decides
        en = _error_line(runner.invoke(cli, args + ["--config", str(bad), "--lang", "en"]))
        assert "not valid TOML" in en and "不是有效的 TOML" not in en


@pytest.mark.parametrize("command, policy, zh_text, en_text", [
    (["classify"], '[classify.rules.tag."催收"]\npatterns."[" = 3\n', "不是有效的正则表达式", "is not a valid regular expression"),
    (["risk"], "[risk.repeat]\nfrist = 50\n", "未知的键 frist", "unknown keys frist"),
    (["followups"], '[deadlines.calendar]\nextra_holidays = ["2027-13-01"]\n', "不是日期（请写成 2027-01-01）",
     "is not a date (write 2027-01-01)"),
    (["classify"], '[classify.model]\npath = "MISSING"\n', "找不到模型文件", "model file not found"),
])
def test_cli_policy_errors(tmp_path, command, policy, zh_text, en_text):
    bad = _policy_file(tmp_path, policy.replace("MISSING", (tmp_path / "none.json").as_posix()))
    runner = CliRunner()
    args = command + [SAMPLE, "--config", str(bad)] + ([] if command == ["classify"] else ["--as-of", "2026-11-20"])
    zh = _error_line(runner.invoke(cli, args))
    assert zh_text in zh and en_text not in zh
    en = _error_line(runner.invoke(cli, args + ["--lang", "en"]))
    assert en_text in en and zh_text not in en


def test_cli_history_list_at_a_missing_store(tmp_path):
    missing = tmp_path / "typo.sqlite"
    runner = CliRunner()
    zh = _error_line(runner.invoke(cli, ["history", "list", "--store", str(missing)]))
    assert "这里没有历史库" in zh
    en = _error_line(runner.invoke(cli, ["history", "list", "--store", str(missing), "--lang", "en"]))
    assert "no history store there" in en
    en = _error_line(runner.invoke(cli, ["history", "list", "--store", str(missing)], env={"COMPLAINTKIT_LANG": "en"}))
    assert "no history store there" in en
    assert not missing.exists()


@pytest.mark.parametrize("text, named", [
    ("[feilds]\nrequired = []\n", "feilds"),                                       # a misspelt section
    ("[rules]\nphone_invalide = { severity = \"error\" }\n", "phone_invalide"),     # a misspelt rule
    ("[rules]\nphone_invalid = { enabled = true, severty = \"error\" }\n", "severty"),  # a misspelt setting
])
def test_a_misspelt_section_or_rule_is_a_policy_error(tmp_path, text, named):
    """Silently ignored, the bank's setting would never apply: `config check` must name it."""
    with pytest.raises(PolicyError) as caught:
        load_policy(_policy_file(tmp_path, text))
    assert named in caught.value.text("zh") and named in caught.value.text("en")
