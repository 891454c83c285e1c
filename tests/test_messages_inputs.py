"""Input errors (files that cannot be read) reach the user in Chinese by default and in English
with --lang en: each is raised as an ``in_`` code, the English is what the message always said."""

from __future__ import annotations

import importlib
import json
import re
import struct
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from complaintkit.cli import cli
from complaintkit.errors import InputError
from complaintkit.labelled import read_labelled
from complaintkit.loader import LoadOptions, load_register
from complaintkit.messages import CATALOG
from complaintkit.policy import load_policy
from complaintkit.sources import open_book

sys.path.insert(0, str(Path(__file__).parent / "badfiles"))
import make_corpus  # noqa: E402
from conftest import ROOT  # noqa: E402

CJK = re.compile(r"[\u4e00-\u9fff]")
# Three English words in a row: a sentence left untranslated ("Excel", "CSV UTF-8" are names).
ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:[\s,;:()'\"0-9.]+[A-Za-z]+){2,}")
PASSWORD_EN = "is password-protected: open it in Excel, remove the password (文件→信息→保护工作簿), save and try again"
PASSWORD_ZH = "文件设有密码：请在 Excel 中打开，去掉密码（文件→信息→保护工作簿）后保存，再试一次"
# A register in traditional characters, saved in Big5 (a Taiwan or Hong Kong branch's export).
BIG5_ROWS = "投訴編號,受理日期,客戶姓名,投訴內容\n" + "".join(
    f"T{i},2026-03-0{i},陳大文,信用卡年費爭議，客戶要求退還費用並說明收費標準\n" for i in range(1, 4))


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_register(path, LoadOptions(load_policy()))
    return caught.value


def _chinese(exc: InputError) -> str:
    zh = exc.reason("zh")
    assert CJK.search(zh), zh
    assert not ENGLISH_RUN.search(zh), zh
    assert exc.text("zh") == f"{exc.path}: {zh}"
    return zh


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str, str, str]]:
    """name -> (file, code, the Chinese it says, the English it has always said)."""
    files = {}
    empty = tmp / "empty.xlsx"
    empty.write_bytes(b"")
    files["empty"] = (empty, "in_empty_file", "文件是空的（0 字节）", "empty file (0 bytes)")
    encrypted = tmp / "encrypted.xlsx"
    encrypted.write_bytes(make_corpus.ole_file({
        "EncryptionInfo": struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>',
        "EncryptedPackage": struct.pack("<Q", 4000) + bytes(4000),
    }))
    files["password"] = (encrypted, "in_password", PASSWORD_ZH, PASSWORD_EN)
    renamed = tmp / "notes.xlsx"
    renamed.write_text("这不是表格，只是一段文字。\n", "utf-8")
    files["renamed"] = (renamed, "in_not_real_workbook", "不是真正的 .xlsx 工作簿（文件已损坏，或是别的文件改了扩展名）",
                        "is not a real .xlsx workbook (damaged, or another kind of file renamed)")
    good = make_corpus.write_xlsx(tmp / "good.xlsx", make_corpus.register_rows()).read_bytes()
    truncated = tmp / "truncated.xlsx"
    truncated.write_bytes(good[: len(good) // 2])
    files["truncated"] = (truncated, "in_truncated_zip", "工作簿已损坏（文件不完整，或不是有效的 zip 压缩文件）",
                          "damaged workbook (the file is truncated or not a valid zip)")
    big5 = tmp / "big5.csv"
    big5.write_bytes(BIG5_ROWS.encode("big5"))
    files["big5"] = (big5, "in_garbled_encoding",
                     "CSV 文件的文字编码无法识别（按 GB18030 读出来是乱码，可能是繁体 Big5 或日文 Shift-JIS）：请在 Excel 中另存为“CSV UTF-8(逗号分隔)”",
                     "CSV in an unknown text encoding (read as GB18030 it is garbled: Big5 or Shift-JIS?): save it from Excel as 'CSV UTF-8'")
    return files


def test_bad_files_are_explained_in_chinese_and_in_the_old_english(tmp_path):
    for name, (path, code, zh, en) in _bad_files(tmp_path).items():
        exc = _error(path)
        assert exc.code == code, name
        assert _chinese(exc) == zh, name
        assert exc.reason("en") == en and ENGLISH_RUN.search(en), name  # the check above would see English
        assert exc.text("en") == str(exc) == f"{path}: {en}", name


@pytest.mark.ends_process  # a far cell, read in this process
def test_messages_made_of_parts_are_one_language(tmp_path):
    """A reader's failure names what could not be read and why; a far cell names its sheet."""
    password_xls = tmp_path / "legacy_password.xls"
    password_xls.write_bytes(make_corpus.ole_file({"Workbook": make_corpus.biff8_workbook(make_corpus.register_rows(), password=True)}))
    exc = _error(password_xls)
    assert exc.code == "in_read_failed"
    assert _chinese(exc) == "无法作为 xls 工作簿读取：文件设有密码，请在 Excel 中打开，去掉密码（文件→信息→保护工作簿）后保存，再试一次"
    assert exc.reason("en") == ("cannot be read as an xls workbook (it is password-protected: open it in Excel, remove the password "
                                "(文件→信息→保护工作簿), save and try again)")

    far = make_corpus.write_xlsx(tmp_path / "far.xlsx", make_corpus.register_rows(),
                                 extra_rows=make_corpus.FAR_CELL)
    with pytest.raises(InputError) as caught:
        book = open_book(far)
        book.sheet("台账")
    exc = caught.value
    assert _chinese(exc).startswith("工作表“台账”的单元格 XFD1048576 有值，远在台账范围之外：读取它要用 17,179,869,184 个单元格（上限 50,000,000）")
    assert exc.reason("en") == ("sheet '台账' has a value in cell XFD1048576, far outside the register: reading it would take "
                                "17,179,869,184 cells (limit 50,000,000). In Excel press Ctrl+End to find it, delete the rows "
                                "and columns after the register, save and try again")

    no_header = make_corpus.write_xlsx(tmp_path / "no_header.xlsx", make_corpus.register_rows()[1:])
    exc = _error(no_header)
    assert exc.code == "in_no_header"
    assert _chinese(exc).startswith("在各工作表的前 30 行里找不到表头行")
    assert exc.reason("en") == ("no header row found in the first 30 rows of any sheet (looked for headers such as "
                                "投诉编号, 受理日期, 客户姓名, 投诉内容; name others with --map 'HEADER=field')")


def test_labelled_data_that_is_neither_a_register_nor_a_table_says_both(tmp_path):
    """classify train on a file with no register header falls back to a plain table by the
    error's code; when that fails too, the message keeps the first reason in the same language."""
    path = make_corpus.write_xlsx(tmp_path / "no_header.xlsx", make_corpus.register_rows()[1:])
    with pytest.raises(InputError) as caught:
        read_labelled([str(path)], load_policy())
    exc = caught.value
    assert exc.code == "in_not_register_nor_table"
    zh = _chinese(exc)
    assert zh.startswith("在各工作表的前 30 行里找不到表头行") and "--text-column 和 --label-column" in zh
    assert exc.reason("en").startswith("no header row found in the first 30 rows of any sheet")
    assert exc.reason("en").endswith("; for a plain table of texts and labels name the columns with --text-column and "
                                      "--label-column (and --no-header when the first row is data)")


def test_every_input_message_is_chinese_by_default():
    """Each in_ template's Chinese is Chinese (or only puts translated parts together)."""
    importlib.import_module("complaintkit.xlsx_applier")  # registers its messages (labelled's are in)

    codes = [code for code in CATALOG if code.startswith("in_")]
    assert len(codes) >= 60
    for code in codes:
        zh, en = CATALOG[code]
        bare = re.sub(r"\{[^}]*\}", "", zh)
        assert not ENGLISH_RUN.search(bare), code
        assert CJK.search(bare) or not re.search(r"[A-Za-z]", bare), code


def test_validate_says_a_bad_file_in_chinese_and_in_english_with_lang_en(tmp_path):
    runner = CliRunner(env={"COMPLAINTKIT_LANG": None})
    for path, _code, zh, en in _bad_files(tmp_path).values():
        result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-11-20", "--format", "json"])
        assert result.exit_code == 2 and result.stderr == f"complaintkit: {path}: {zh}\n", result.output
        result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-11-20", "--format", "json", "--lang", "en"])
        assert result.exit_code == 2 and result.stderr == f"complaintkit: {path}: {en}\n", result.output
    missing = tmp_path / "missing.xlsx"
    result = runner.invoke(cli, ["validate", str(missing)])
    assert result.exit_code == 2 and result.stderr == f"complaintkit: {missing}: 找不到这个文件或文件夹\n"
    result = runner.invoke(cli, ["validate", str(missing), "--lang", "en"])
    assert result.exit_code == 2 and result.stderr == f"complaintkit: {missing}: no such file or folder\n"


def test_a_workbook_named_as_another_kind_is_read_by_what_it_is(tmp_path):
    """An .xlsx saved as "x.xls" and an .xls renamed .xlsx are read (the reader used to go by the
    name and fail), and the first is annotated like any .xlsx."""
    as_xls = tmp_path / "城东.xls"
    as_xls.write_bytes((ROOT / "samples" / "branches" / "城东支行.xlsx").read_bytes())
    as_xlsx = tmp_path / "旧台账.xlsx"
    as_xlsx.write_bytes((ROOT / "samples" / "legacy_branch.xls").read_bytes())
    runner = CliRunner()
    for path, rows in ((as_xls, 118), (as_xlsx, 40)):
        result = runner.invoke(cli, ["validate", str(path), "--as-of", "2026-11-20", "--format", "json",
                                     "--annotate", str(tmp_path / "out"), "--force"])
        assert result.exit_code in (0, 1), result.output
        assert json.loads(result.stdout)["summary"]["rows"] == rows
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["城东.checked.xlsx", "旧台账.checked.xlsx"]


def test_spreadsheets_a_folder_holds_that_cannot_be_read_are_reported_not_passed_over(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "城东.xlsx").write_bytes((ROOT / "samples" / "branches" / "城东支行.xlsx").read_bytes())
    make_corpus.write_zip(folder / "城西.xlsb", {"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x00" * 64})
    (folder / "滨江.et").write_bytes(make_corpus.ole_file({"ETDocument": b"\x00" * 5000}))
    make_corpus.write_zip(folder / "高新.ods", {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    make_corpus.write_zip(folder / "开发区.numbers", {"Index/Document.iwa": b"\x00" * 64})
    result = CliRunner().invoke(cli, ["run", str(folder), "--checks", "validate", "--as-of", "2026-11-20", "--format", "json"])
    assert result.exit_code == 3, result.output  # a partial batch: the readable one was checked
    data = json.loads(result.stdout)
    assert [Path(f["file"]).name for f in data["files"]] == ["城东.xlsx"]
    codes = {Path(u["file"]).name: u["code"] for u in data["unreadable"]}
    assert codes == {"城西.xlsb": "in_xlsb", "滨江.et": "in_wps", "高新.ods": "in_opendocument", "开发区.numbers": "in_numbers"}
    reasons = {Path(u["file"]).name: u["reason"] for u in data["unreadable"]}
    assert "另存为 .xlsx" in reasons["滨江.et"] and "导出为 Excel" in reasons["开发区.numbers"]
