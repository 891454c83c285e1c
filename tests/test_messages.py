"""Every message a user sees is in Chinese by default and English with --lang en: the catalog is
whole, errors are raised as codes the catalog knows, and the doors render them in the user's
language."""

from __future__ import annotations

import ast
import json
import importlib
import pkgutil
import string
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

import complaintkit
from complaintkit.cli import cli
from complaintkit.errors import ComplaintkitError, InputError, OutputError
from complaintkit.messages import CATALOG, ENUMERATION, Joined, Text

from conftest import SAMPLES

SRC = Path(complaintkit.__file__).parent
SAMPLE = str(SAMPLES / "branches" / "城东支行.xlsx")
ERRORS = {"ComplaintkitError", "InputError", "PolicyError", "OutputError", "HistoryError", "ModelError", "AddinError", "MapError"}


def _load_every_module() -> None:
    for info in pkgutil.walk_packages([str(SRC)], "complaintkit."):
        if not info.name.startswith("complaintkit.addin") and not info.name.endswith("__main__"):  # xlwings may be absent
            importlib.import_module(info.name)
    importlib.import_module("complaintkit.addin.core")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_has_both_languages_with_the_same_parameters():
    _load_every_module()
    for code, (zh, en) in CATALOG.items():
        assert zh and en, code
        assert _fields(zh) == _fields(en), code


def test_each_own_column_and_sheet_name_belongs_to_one_message():
    # The add-in finds its columns and sheets by name in either language (messages.translations):
    # a CK- name in two messages of different translations would find the other one's column.
    _load_every_module()
    owner: dict[str, tuple[str, tuple[str, str]]] = {}
    for code, pair in CATALOG.items():
        for text in pair:
            if text.startswith("CK-"):
                first = owner.setdefault(text, (code, pair))
                assert first[1] == pair, (text, first[0], code)


def test_every_error_is_raised_as_a_code_the_catalog_knows():
    """A raise with an English sentence instead of a code would reach a Chinese clerk in English."""
    _load_every_module()
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in ERRORS:
                continue
            args = node.exc.args[1:] if name == "InputError" else node.exc.args
            code = args[0] if args else None
            if not (isinstance(code, ast.Constant) and isinstance(code.value, str) and code.value in CATALOG):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not bad, bad


def test_an_error_renders_in_either_language_and_prints_english():
    exc = OutputError("out_exists", path="a.json")
    assert exc.text() == "a.json：文件已存在（要替换请加 --force）"
    assert exc.text("en") == str(exc) == "a.json: already exists (use --force to replace it)"
    nested = InputError("a.xlsx", "out_cannot_write", path=Text("out_is_folder", {"path": "x"}), detail="d")
    assert nested.text("zh").startswith("a.xlsx: x：这是一个文件夹") and nested.reason("en").startswith("x: is a folder")
    assert isinstance(nested, ComplaintkitError) and nested.code == "out_cannot_write"


def test_a_message_renders_the_messages_and_lists_it_holds_at_any_depth():
    """One renderer for validation, deadlines and risk: a Text, a Joined, or anything else with a
    render(lang) method, however deep, in the language of the message that holds it."""

    class Header:
        def render(self, lang: str) -> str:
            return "投诉渠道" if lang == "zh" else "channel"

    allowed = Joined((Text("sev_error"), Text("sev_warning")), ENUMERATION)
    hint = Text("allowed_list", (("allowed", allowed),))
    message = Text("value_not_allowed", (("label", Header()), ("value", "x"), ("hint", hint)))
    assert message.render() == "“投诉渠道”的值“x”不在允许范围内（允许：错误、警告）"
    assert message.render("en") == "'channel' value 'x' is not an allowed value (allowed: error, warning)"
    assert Joined(("a", Text("sev_error"), 3)).render() == "a错误3"  # pieces of one sentence
    # Parameters read the same as a mapping; as pairs the message is hashable (risk finds alike
    # reasons by their hash) and equal to another made alike.
    assert Text("value_not_allowed", {"label": Header(), "value": "x", "hint": hint}).render("en") == message.render("en")
    assert {hint: 1}[Text("allowed_list", (("allowed", Joined((Text("sev_error"), Text("sev_warning")), ENUMERATION)),))] == 1


def test_the_cli_says_errors_in_the_users_language(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r.json"
    out.write_text("{}")
    args = ["run", SAMPLE, "--checks", "validate", "--json", str(out), "--as-of", "2026-11-20", "--quiet"]
    zh = runner.invoke(cli, args)
    assert zh.exit_code == 2 and "文件已存在（要替换请加 --force）" in zh.output
    en = runner.invoke(cli, args + ["--lang", "en"])
    assert en.exit_code == 2 and "already exists (use --force to replace it)" in en.output
    env = runner.invoke(cli, args, env={"COMPLAINTKIT_LANG": "EN"})
    assert env.exit_code == 2 and "already exists" in env.output
    # An option read before --lang, and a command's own usage error.
    date = runner.invoke(cli, ["validate", SAMPLE, "--as-of", "someday"])
    assert date.exit_code == 2 and "不是日期" in date.output
    date = runner.invoke(cli, ["validate", SAMPLE, "--as-of", "someday", "--lang", "en"])
    assert date.exit_code == 2 and "is not a date" in date.output
    level = runner.invoke(cli, ["risk", SAMPLE, "--level", "urgent"])
    assert level.exit_code == 2 and "未知的值 urgent" in level.output


def test_classify_usage_names_the_command_as_typed():
    result = CliRunner().invoke(cli, ["classify", "--bogus"], prog_name="complaintkit")
    assert result.exit_code == 2
    assert "Usage: complaintkit classify [OPTIONS] PATHS..." in result.output
    assert "classify classify" not in result.output


def test_under_english_a_repeat_names_the_reason_in_english_and_the_report_joins_in_english(tmp_path):
    runner = CliRunner()
    en = runner.invoke(cli, ["dedupe", str(SAMPLES / "branches"), "--format", "json", "--lang", "en"])
    zh = runner.invoke(cli, ["dedupe", str(SAMPLES / "branches"), "--format", "json"])
    reasons_en = [g["reason"] for g in json.loads(en.output)["groups"] if g["kind"] == "repeat"]
    reasons_zh = [g["reason"] for g in json.loads(zh.output)["groups"] if g["kind"] == "repeat"]
    assert any("classified reason 'pricing and fees'" in r for r in reasons_en)
    assert any("分类原因均为“定价收费”" in r for r in reasons_zh)
    assert not any("定价收费" in r for r in reasons_en)

    report = tmp_path / "r.xlsx"
    result = runner.invoke(cli, ["run", str(SAMPLES / "branches"), "--as-of", "2026-11-20", "--lang", "en", "--report", str(report), "--quiet"])
    assert result.exit_code == 1, result.output
    wb = load_workbook(report, read_only=True)
    cells = [v for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    joined = [v for v in cells if v.startswith("complaint no. ")]
    assert joined and all("；" not in v for v in joined) and any("; " in v for v in joined)
