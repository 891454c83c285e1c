"""`complaintkit run` and `complaintkit history`: one pipeline over a batch, the report workbook,
cron behaviour (exit codes, quiet, log, lock) and the history store."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from complaintkit.cli import cli
from complaintkit.history import SCHEMA_VERSION, HistoryStore
from complaintkit.loader import LoadOptions, load_register
from complaintkit.policy import load_policy
from complaintkit.runlock import output_lock
from complaintkit.errors import OutputError

from conftest import AS_OF, ROOT, SAMPLES, good_row, sha256, write_xlsx


@pytest.fixture
def batch(tmp_path, samples):
    """The branch folder plus one corrupt register."""
    folder = tmp_path / "in"
    shutil.copytree(samples / "branches", folder)
    (folder / "损坏的支行.xlsx").write_bytes(b"PK\x03\x04 this zip was cut off")
    return folder


def test_run_on_a_batch_with_a_corrupt_file(runner, batch, tmp_path):
    hashes = {p: sha256(p) for p in batch.iterdir()}
    out = tmp_path / "out"
    result = runner.invoke(cli, ["run", str(batch), "--as-of", AS_OF, "--report", str(out / "report.xlsx"), "--json", str(out / "r.json"),
                                 "--csv", str(out / "csv"), "--annotate", str(out / "ann"), "--format", "json"])
    assert result.exit_code == 3, result.output  # partial batch
    data = json.loads(result.stdout)
    assert data["exit_code"] == 3
    assert [Path(u["file"]).name for u in data["unreadable"]] == ["损坏的支行.xlsx"]
    assert len(data["files"]) == 4 and "validate" in data and "summary" in data
    # The reason, in the user's language, without the file's name.
    assert data["unreadable"][0]["code"] == "in_truncated_zip" and "损坏的支行" not in data["unreadable"][0]["reason"]
    assert data["unreadable"][0]["reason"].startswith("工作簿已损坏")
    assert data["totals"]["validate"] == {k: data["validate"]["summary"][k] for k in ("errors", "warnings")}
    assert set(data["totals"]) == {"validate", "dedupe", "classify", "followups", "risk"}
    assert json.loads((out / "r.json").read_text("utf-8")) == data
    assert (out / "csv" / "validate.csv").exists()
    assert len(list((out / "ann").iterdir())) == 4
    wb = load_workbook(out / "report.xlsx")
    summary = wb[wb.sheetnames[0]]
    assert summary["A1"].value == "投诉登记台账检查报告"
    assert summary._charts, "the summary has charts"
    assert "无法读取的文件" in wb.sheetnames
    assert {p: sha256(p) for p in batch.iterdir()} == hashes


def test_exit_codes(runner, tmp_path, samples):
    clean = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--checks", "validate", "--format", "json"])
    assert clean.exit_code == 0, clean.output
    messy = runner.invoke(cli, ["run", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--checks", "validate", "--format", "json"])
    assert messy.exit_code == 1
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"")
    nothing = runner.invoke(cli, ["run", str(bad), "--as-of", AS_OF])
    # A file given alone is its own error, one line, as for every check (not an "unreadable"
    # line followed by "no register could be read").
    assert nothing.exit_code == 2 and nothing.output == f"complaintkit: {bad}: 文件是空的（0 字节）\n"
    unknown = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--checks", "nonsense"])
    assert unknown.exit_code == 2


def test_report_masks_personal_data(runner, tmp_path, samples):
    out = tmp_path / "r.xlsx"
    result = runner.invoke(cli, ["run", str(samples / "messy_branch.xlsx"), "--as-of", AS_OF, "--report", str(out), "--format", "json"])
    assert result.exit_code == 1
    text = " ".join(str(c.value) for ws in load_workbook(out).worksheets for row in ws.iter_rows() for c in row if c.value is not None)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)
    assert not re.search(r"(?<![\dA-Za-z])\d{17}[\dX](?![\dA-Za-z])", text)


def test_a_masked_report_masks_phones_and_ids_in_file_names(runner, tmp_path, samples):
    """A register saved under a customer's phone, and a broken one under an ID number: the report
    (masked by default) shows neither in any sheet, the duplicates' member lists included."""
    folder = tmp_path / "in"
    shutil.copytree(samples / "branches", folder)
    (folder / "城东支行.xlsx").rename(folder / "城东支行13800138000.xlsx")
    (folder / "11010519491231002X.xlsx").write_bytes(b"junk")
    masked, plain = tmp_path / "masked.xlsx", tmp_path / "plain.xlsx"
    for out, extra in ((masked, []), (plain, ["--no-mask"])):
        result = runner.invoke(cli, ["run", str(folder), "--as-of", AS_OF, "--report", str(out), "--quiet", *extra])
        assert result.exit_code == 3, result.output
    texts = {out: " ".join(str(c.value) for ws in load_workbook(out).worksheets for row in ws.iter_rows() for c in row if c.value is not None)
             for out in (masked, plain)}
    assert "13800138000" in texts[plain] and "11010519491231002X" in texts[plain]  # the names are there to mask
    assert "13800138000" not in texts[masked] and "11010519491231002X" not in texts[masked]
    assert "城东支行138****8000" in texts[masked]


def test_quiet_and_log_have_no_personal_data(runner, tmp_path, samples):
    log = tmp_path / "ck.log"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(samples / "clean_branch.xlsx", folder)
    (folder / "13800138000-11010519491231002X.xlsx").write_bytes(b"junk")
    result = runner.invoke(cli, ["run", str(folder), "--as-of", AS_OF, "--quiet", "--log", str(log), "--checks", "validate"])
    assert result.exit_code == 3 and result.stdout == ""
    content = log.read_text("utf-8")
    assert "unreadable" in content and "13800138000" not in content and "11010519491231002X" not in content
    assert "138****8000" in content


def test_log_is_never_written_over_an_input(runner, tmp_path, samples):
    register = shutil.copy(samples / "clean_branch.xlsx", tmp_path / "c.xlsx")
    before = register.read_bytes()
    result = runner.invoke(cli, ["run", str(register), "--as-of", AS_OF, "--quiet", "--log", str(register)])
    assert result.exit_code == 2 and "不能写在输入文件上" in result.output
    assert register.read_bytes() == before
    # A log in a folder that is not there yet: the folder is made, as for every output.
    result = runner.invoke(cli, ["run", str(register), "--as-of", AS_OF, "--quiet", "--log", str(tmp_path / "no" / "x.log")])
    assert result.exit_code == 0 and result.output == "" and "INFO" in (tmp_path / "no" / "x.log").read_text("utf-8")


def test_a_wrong_map_stops_run_before_it_locks_or_logs_anything(runner, tmp_path, samples):
    """`run … --map bad --log logs/ck.log`: a usage error (exit 2) before any output is touched, so
    no log folder or log is left behind a run that never read a file."""
    log = tmp_path / "logs" / "ck.log"
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--map", "bad",
                                 "--log", str(log), "--report", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2 and "--map" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_every_output_is_checked_before_any_is_written(runner, tmp_path, samples):
    old = tmp_path / "r.json"
    old.write_text("yesterday", "utf-8")
    report = tmp_path / "new.xlsx"
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(report), "--json", str(old)])
    assert result.exit_code == 2 and "文件已存在" in result.output
    assert not report.exists() and old.read_text("utf-8") == "yesterday"
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(report), "--json", str(report)])
    assert result.exit_code == 2 and "同一个文件" in result.output and not report.exists()
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "risk.csv").write_text("old", "utf-8")
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(report), "--csv", str(tmp_path / "csv")])
    assert result.exit_code == 2 and "risk.csv" in result.output and not report.exists()


def test_outputs_inside_an_input_folder_are_refused(runner, batch):
    """The next night's run would read them back as registers (every complaint twice)."""
    for option, out in (("--report", "r.xlsx"), ("--annotate", "checked"), ("--csv", ".")):
        result = runner.invoke(cli, ["run", str(batch), "--as-of", AS_OF, option, str(batch / out)])
        assert result.exit_code == 2 and "位于输入文件夹" in result.output, (option, result.output)
    assert sorted(p.name for p in batch.iterdir()) == sorted(["损坏的支行.xlsx", *(p.name for p in Path(SAMPLES, "branches").iterdir())])


@pytest.mark.parametrize("command", [["validate", "--as-of", AS_OF], ["dedupe"], ["classify"], ["followups", "--as-of", AS_OF],
                                     ["risk", "--as-of", AS_OF], ["dedupe", "--merge", "-o"]])
def test_every_check_refuses_outputs_inside_an_input_folder(runner, batch, command):
    """As for run: the next run of the folder would read annotated copies or a merged register
    back as registers (every complaint twice, each its own duplicate)."""
    before = sorted(p.name for p in batch.iterdir())
    out = [str(batch / "全行台账.xlsx")] if command[-1] == "-o" else ["--annotate", str(batch / "checked")]
    # A glob reads back what it matches: the merged register beside the registers, annotated
    # copies in a sub-folder when it reaches into sub-folders.
    for given in (str(batch), str(batch / "**" / "*.xlsx"), *([str(batch / "*.xlsx")] if command[-1] == "-o" else [])):
        result = runner.invoke(cli, [command[0], given, *command[1:], *out, "--format", "json"])
        assert result.exit_code == 2 and "位于输入文件夹" in result.output, (given, result.output)
    assert sorted(p.name for p in batch.iterdir()) == before


def test_dedupe_merge_refuses_copies_inside_the_inputs_before_it_writes_the_merged_register(runner, batch, tmp_path):
    """`dedupe 分行 --merge -o 全行.xlsx --annotate 分行/checked`: the wrong --annotate is said
    first; the merged register is not left behind a refused command."""
    merged = tmp_path / "全行.xlsx"
    result = runner.invoke(cli, ["dedupe", str(batch), "--merge", "-o", str(merged), "--annotate", str(batch / "checked")])
    assert result.exit_code == 2 and "位于输入文件夹" in result.output, result.output
    assert not merged.exists() and not (batch / "checked").exists()


def test_annotated_copies_a_glob_would_read_back_are_refused(runner, batch):
    """`分行/城*.xlsx --annotate 分行`: the copies (城东支行.checked.xlsx) land where the glob picks
    them, and the next run would read every complaint twice; refused before anything is written,
    for run as for the checks. A glob that does not pick the copies' names lets them be written."""
    before = sorted(p.name for p in batch.iterdir())
    given = str(batch / "城*.xlsx")
    for command in (["validate"], ["run"]):
        result = runner.invoke(cli, [*command, given, "--as-of", AS_OF, "--annotate", str(batch), "--format", "json"])
        assert result.exit_code == 2 and "位于输入文件夹" in result.output, (command, result.output)
    assert sorted(p.name for p in batch.iterdir()) == before
    apart = runner.invoke(cli, ["validate", str(batch / "城?支行.xlsx"), "--as-of", AS_OF, "--annotate", str(batch), "--format", "json"])
    assert apart.exit_code in (0, 1), apart.output
    assert sorted(p.name for p in batch.iterdir()) == sorted(before + ["城东支行.checked.xlsx", "城西支行.checked.xlsx"])


def test_a_csv_a_glob_would_read_back_is_refused(runner, batch):
    """`分行/v*[!d].[xc][ls]* --csv 分行 --checks validate`: run writes 分行/validate.csv, which the
    glob picks (it picks no made-up name such as x.csv). Refused before anything is written."""
    shutil.copy(SAMPLES / "clean_branch.xlsx", batch / "v1.xlsx")
    before = sorted(p.name for p in batch.iterdir())
    result = runner.invoke(cli, ["run", str(batch / "v*[!d].[xc][ls]*"), "--as-of", AS_OF, "--checks", "validate",
                                 "--csv", str(batch), "--format", "json"])
    assert result.exit_code == 2 and "位于输入文件夹" in result.output and "validate.csv" not in before, result.output
    assert sorted(p.name for p in batch.iterdir()) == before


@pytest.mark.parametrize("linked", ["glob", "output"])
def test_a_glob_and_an_output_that_name_one_folder_two_ways_are_refused(runner, batch, tmp_path, linked):
    """The share is mounted at one path and linked at another (/data/分行 -> /mnt/share/分行): a
    glob through the link and an output by the real path (or the other way round) are the same
    folder, and the next run would read the merged register back."""
    link = tmp_path / "link"
    link.symlink_to(batch, target_is_directory=True)
    before = sorted(p.name for p in batch.iterdir())
    pattern, out = (link / "*.xlsx", batch / "全行台账.xlsx") if linked == "glob" else (batch / "*.xlsx", link / "全行台账.xlsx")
    result = runner.invoke(cli, ["dedupe", str(pattern), "--merge", "-o", str(out), "--format", "json"])
    assert result.exit_code == 2 and "位于输入文件夹" in result.output, result.output
    assert sorted(p.name for p in batch.iterdir()) == before


def test_a_glob_that_reaches_a_folder_through_a_link_at_a_wildcard_step_keeps_outputs_out(runner, batch, tmp_path):
    """`分行/*/*.xlsx` where 分行/城东 is a link to the share's folder: an output written there by
    its real path is read back by the next run, and is refused."""
    real = tmp_path / "share" / "城东"
    real.mkdir(parents=True)
    shutil.copy(SAMPLES / "branches" / "城东支行.xlsx", real)
    root = tmp_path / "分行"
    root.mkdir()
    (root / "城东").symlink_to(real, target_is_directory=True)
    result = runner.invoke(cli, ["dedupe", str(root / "*" / "*.xlsx"), "--merge", "-o", str(real / "全行.xlsx"), "--format", "json"])
    assert result.exit_code == 2 and "位于输入文件夹" in result.output, result.output
    assert sorted(p.name for p in real.iterdir()) == ["城东支行.xlsx"]


def test_a_glob_that_does_not_reach_an_output_folder_lets_it_be_written(runner, batch):
    """`in/*.xlsx` never reads `in/checked/`: annotated copies may go there (the next run reads the
    same registers as this one)."""
    files = len(list(batch.glob("*.xlsx")))
    result = runner.invoke(cli, ["validate", str(batch / "*.xlsx"), "--as-of", AS_OF, "--annotate", str(batch / "checked"), "--format", "json"])
    assert result.exit_code == 3, result.output
    assert len(list((batch / "checked").iterdir())) == files - 1  # every readable register's copy
    again = runner.invoke(cli, ["validate", str(batch / "*.xlsx"), "--as-of", AS_OF, "--format", "json"])
    assert json.loads(again.stdout)["summary"] == json.loads(result.stdout)["summary"]


def test_remember_without_a_store_stops_before_any_work(runner, tmp_path, samples):
    """A usage mistake is found before the batch is read: no report written under an exit code 2."""
    report = tmp_path / "r.xlsx"
    result = runner.invoke(cli, ["run", str(samples / "branches"), "--as-of", AS_OF, "--remember", "--report", str(report), "--quiet"])
    assert result.exit_code == 2 and "--remember" in result.output, result.output
    assert not report.exists()


@pytest.mark.parametrize("name", ["report.csv", "report", "report.xls"])
def test_a_report_not_named_xlsx_is_refused(runner, tmp_path, samples, name):
    """The report is an .xlsx workbook: under another name Excel refuses it or shows its bytes."""
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(tmp_path / name), "--quiet"])
    assert result.exit_code == 2 and ".xlsx" in result.output, result.output
    assert not (tmp_path / name).exists()


def test_lock_refuses_a_second_writer(tmp_path):
    target = tmp_path / "report.xlsx"
    with output_lock(target):
        with pytest.raises(OutputError, match="another complaintkit run"):
            with output_lock(target):
                pass
    with output_lock(target):  # released when the first run ends
        pass


def test_a_run_sharing_any_output_with_a_running_one_is_refused_before_reading(runner, tmp_path, samples, monkeypatch):
    """Every output is locked for the whole run: a second run whose JSON (not its report) another
    run is writing stops at once, before reading a file, and writes nothing."""
    from complaintkit.cli import run as run_module

    read: list[object] = []
    monkeypatch.setattr(run_module, "read_batch", lambda *a, **k: read.append(a) or ([], []))
    out = tmp_path / "out"
    with output_lock((out / "morning.json").resolve()):
        result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--report", str(out / "r.xlsx"),
                                     "--json", str(out / "morning.json"), "--quiet"])
    assert result.exit_code == 2 and "另一个 complaintkit 任务正在写" in result.output, result.output
    assert read == [] and not (out / "r.xlsx").exists()


def test_an_output_folder_that_cannot_be_made_is_one_line(runner, tmp_path, samples):
    """--csv, --annotate or --report into a folder that cannot be made (a file where the folder
    should be): one line naming the file in the way, whichever output it is."""
    blocker = tmp_path / "报告"
    blocker.write_text("a file, not a folder", "utf-8")
    for option in ("--csv", "--annotate", "--report"):
        out = blocker / ("r.xlsx" if option == "--report" else "out")
        result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, option, str(out), "--quiet"])
        assert result.exit_code == 2, (option, result.output)
        assert "报告" in result.output and "是一个文件，不是文件夹" in result.output, (option, result.output)
        assert "意外错误" not in result.output, (option, result.output)


def test_report_speaks_the_run_language_in_its_summary_and_lists(runner, tmp_path, samples):
    """A Chinese report says 已超期 and 红, not the JSON codes overdue and high; the overdue and
    high-risk lists have headers in the run's language all along the row, and the high-risk list
    says its level as the risk sheet does (高（红）)."""
    for lang, overdue, high, listed, due_header, risk_headers in (
            ("zh", "已超期", "红", "高（红）", "办理时限", ["预警等级", "风险分", "原因"]),
            ("en", "overdue", "red", "high (red)", "decision due", ["level", "score", "reasons"])):
        out = tmp_path / f"{lang}.xlsx"
        result = runner.invoke(cli, ["run", str(samples / "branches"), "--as-of", AS_OF, "--report", str(out), "--quiet", "--lang", lang])
        assert result.exit_code == 1, result.output
        wb = load_workbook(out)
        summary = [r[0] for r in wb.worksheets[0].iter_rows(values_only=True)]
        assert overdue in summary and high in summary, summary
        if lang == "zh":
            assert not {"overdue", "due_soon", "closed_on_time", "high", "medium", "none"} & set(summary), summary
        overdue_list, high_list = wb.worksheets[1], wb.worksheets[2]
        headers = [c.value for c in overdue_list[1]]
        assert due_header in headers and "decision_due" not in headers, headers
        assert overdue_list.cell(2, headers.index(due_header) + 2).value == overdue
        headers = [c.value for c in high_list[1]]
        assert headers[-3:] == risk_headers, headers
        assert {high_list.cell(r, len(headers) - 2).value for r in range(2, high_list.max_row + 1)} == {listed}
        risk_sheet = wb.worksheets[-1]
        level_at = [c.value for c in risk_sheet[1]].index(risk_headers[0])
        assert listed in {row[level_at] for row in risk_sheet.iter_rows(min_row=2, values_only=True)}


def test_history_store_add_twice_changes_nothing(tmp_path, samples):
    policy = load_policy()
    reg = load_register(samples / "clean_branch.xlsx", LoadOptions(policy))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        first = store.add([reg])
        assert (first.added, first.updated, first.unchanged) == (40, 0, 0)
        again = store.add([reg])
        assert (again.added, again.updated) == (0, 0) and store.count() == 40
        history = store.registers()
        assert sum(len(r) for r in history) == 40
        assert history[0].records[0].values["received_date"] == reg.records[0].values["received_date"]
        assert store.registers(exclude=[reg]) == []
        assert store.forget(dt.date(2026, 6, 1)) == sum(1 for r in reg.records if r.values["received_date"] < dt.date(2026, 6, 1))


def test_history_status_update_is_an_update(tmp_path):
    policy = load_policy()
    a = write_xlsx(tmp_path / "nov.xlsx", [good_row(1, 处理状态="处理中", 办结日期=None, 回访日期=None, 回访结果=None)])
    b = write_xlsx(tmp_path / "dec.xlsx", [good_row(1), good_row(2)])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.add([load_register(a, LoadOptions(policy))])
        result = store.add([load_register(b, LoadOptions(policy))])
        assert (result.added, result.updated) == (1, 1) and store.count() == 2


def test_history_cli(runner, tmp_path, samples):
    store = tmp_path / "s.sqlite"
    added = runner.invoke(cli, ["history", "add", str(samples / "branches"), "--store", str(store)])
    assert added.exit_code == 0 and "新增 479 笔" in added.output
    again = runner.invoke(cli, ["history", "add", str(samples / "branches"), "--store", str(store), "--lang", "en"])
    assert "added 0, updated 0, unchanged 479" in again.output
    listed = runner.invoke(cli, ["history", "list", "--store", str(store), "--format", "json"])
    data = json.loads(listed.output)
    assert data["complaints"] == 479 and len(data["sources"]) == 4
    table = runner.invoke(cli, ["history", "list", "--store", str(store)])
    assert table.exit_code == 0 and "来源文件" in table.output and "共有 479 笔投诉" in table.output
    forgot = runner.invoke(cli, ["history", "forget", "--before", "2026-01-01", "--store", str(store)], env={"COMPLAINTKIT_LANG": "en"})
    assert forgot.exit_code == 0 and forgot.output.startswith("forgot ")
    bad = runner.invoke(cli, ["history", "forget", "--before", "soon", "--store", str(store)])
    assert bad.exit_code == 2 and "不是日期" in bad.output


def test_history_schema_version_guard(tmp_path):
    """A store a later complaintkit made (its table of complaints, a higher number) is left to it."""
    import sqlite3
    path = tmp_path / "future.sqlite"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    from complaintkit.history import HistoryError
    for read_only in (False, True):
        with pytest.raises(HistoryError, match="newer"):
            HistoryStore(path, read_only)


def another_programs_database(path: Path, version: int = 0) -> Path:
    """An SQLite file of another program's (a table of accounts), with a version number of its own."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE accounts (id INTEGER, name TEXT)")
    db.execute("INSERT INTO accounts VALUES (1, '张三')")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("its_version", [0, 1, 7])  # 7: above this complaintkit's, still not a store
def test_another_programs_database_is_no_history_store(tmp_path, read_only, its_version):
    """A --store typed wrong, naming another program's SQLite file (with a version number of its
    own or none): refused, and left as it was (read, it looked empty; written, it gained a table
    of complaints)."""
    from complaintkit.history import HistoryError

    path = another_programs_database(tmp_path / "ledger.db", its_version)
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="not a complaintkit history store .*accounts"):
        HistoryStore(path, read_only)
    assert path.read_bytes() == before


@pytest.mark.parametrize("read_only", [False, True])
def test_an_empty_database_is_a_store_yet_to_be_made(tmp_path, read_only):
    import sqlite3

    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with HistoryStore(empty, read_only) as store:
        assert store.count() == 0
    assert (empty.stat().st_size == 0) is read_only  # looked back on, the file is left as it was


def test_a_high_version_number_alone_does_not_make_a_store(tmp_path):
    """Another program's table named complaints, under a version number above this
    complaintkit's, is refused as foreign, not called newer; a later store whose schema this
    SQLite cannot read is newer (upgrade complaintkit), not damaged."""
    import sqlite3
    from complaintkit.history import HistoryError

    other = tmp_path / "tickets.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE complaints (id INTEGER, text TEXT)")
    db.execute("PRAGMA user_version = 12")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match=r"not a complaintkit history store \(it holds other tables: complaints\)"):
        HistoryStore(other)
    later = tmp_path / "later.sqlite"
    HistoryStore(later).close()
    db = sqlite3.connect(later)
    db.execute("PRAGMA writable_schema = ON")  # a table option this SQLite does not know
    db.execute("UPDATE sqlite_master SET sql = sql || ' FUTURE_OPTION' WHERE name = 'complaints'")
    db.execute("PRAGMA user_version = 9")
    db.commit()
    db.close()
    for read_only in (False, True):
        with pytest.raises(HistoryError, match="newer"):
            HistoryStore(later, read_only)
    # The same schema under this complaintkit's own number is a damaged store, not a newer one.
    db = sqlite3.connect(later)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.commit()
    db.close()
    for read_only in (False, True):
        with pytest.raises(HistoryError) as caught:
            HistoryStore(later, read_only)
        assert caught.value.code == "hist_cannot_open"


def test_a_store_restored_from_a_dump_with_sqlites_own_statistics_is_still_a_store(tmp_path):
    """A store whose number was lost in a dump and restore (the dump carries sqlite_stat1 when
    the store was analysed) is taken for the store it is: SQLite's own tables are no one's."""
    import sqlite3

    path = tmp_path / "restored.sqlite"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute("ANALYZE")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    with HistoryStore(path, read_only=True) as store:
        assert store.count() == 0 and store.version == 2


def test_a_foreign_store_given_to_run_is_one_line_and_exit_2(tmp_path, samples, runner):
    path = another_programs_database(tmp_path / "ledger.db")
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--json", str(tmp_path / "o.json"),
                                      "--store", str(path)])
    assert result.exit_code == 2, result.output
    assert "不是 complaintkit 的历史库" in result.output and "accounts" in result.output and "Traceback" not in result.output


def test_readme_crontab_line_runs(tmp_path, samples):
    """The crontab example in README's "Back-office and cron" section, run as cron would."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"```crontab\n(.*?)```", readme, re.S).group(1)
    line = [l for l in block.splitlines() if l.strip() and not l.startswith("#")][0]
    command = line.split(None, 5)[5]
    home = tmp_path / "complaints"
    (home / "inbox").mkdir(parents=True)
    for p in (samples / "branches").iterdir():
        shutil.copy(p, home / "inbox")
    command = command.replace("/srv/complaints", str(home))
    exe_dir = Path(sys.executable).parent
    env = {"PATH": f"{exe_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    reports = list((home / "reports").iterdir())
    assert any(p.suffix == ".xlsx" for p in reports) and any(p.suffix == ".json" for p in reports)


@pytest.mark.parametrize("command", ["validate", "dedupe", "classify", "followups", "risk", "run"])
def test_every_check_command_runs_with_the_collector_paused(samples, runner, monkeypatch, command):
    """A check command, like `run`, keeps the cycle collector paused from its first file read to
    its last line written: each time the collector came back on between the read and the checks,
    its first collection walked everything made meanwhile (a register's millions of objects,
    with no cycle among them). It is on again once the command is done."""
    import gc

    from complaintkit import operations

    seen: list[bool] = []
    run_operation = operations.run_operation

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return run_operation(*args, **kwargs)

    monkeypatch.setattr(operations, "run_operation", watched)
    for module in ("validate", "dedupe", "classify", "followups", "risk", "run"):
        monkeypatch.setattr(f"complaintkit.cli.{module}.run_operation", watched, raising=False)
    from complaintkit import loader
    reads: list[bool] = []
    build = loader.build_register
    monkeypatch.setattr(loader, "build_register", lambda *a, **k: reads.append(gc.isenabled()) or build(*a, **k))
    import click
    echoed: list[bool] = []
    echo = click.echo
    monkeypatch.setattr(click, "echo", lambda *a, **k: echoed.append(gc.isenabled()) or echo(*a, **k))
    assert gc.isenabled()
    result = runner.invoke(cli, [command, str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert seen and reads and echoed and not any(seen) and not any(reads) and not any(echoed)
    assert gc.isenabled()


def test_annotated_copies_are_freed_one_by_one_while_the_collector_is_paused(tmp_path, monkeypatch):
    # An openpyxl workbook is a web of reference cycles; a batch run pauses the cycle collector, so
    # 300 annotated copies would all stay in memory unless each is collected once written.
    import gc
    import weakref

    from complaintkit.cli import common
    from complaintkit.collector import collector_paused

    class Book:  # a workbook's parent <-> sheet cycle
        def __init__(self) -> None:
            self.sheet = {"parent": self}

    alive: list[weakref.ref] = []

    def write_annotated(reg, plans, target, force, inputs, depth):
        book = Book()
        alive.append(weakref.ref(book))
        assert sum(r() is not None for r in alive) == 1, "the previous copy is still in memory"
        return target

    monkeypatch.setattr(common, "write_annotated", write_annotated)
    regs = [load_register(write_xlsx(tmp_path / f"b{i}.xlsx", [good_row(1)]), LoadOptions(load_policy())) for i in range(4)]
    with collector_paused():
        written = common.write_annotations(regs, lambda reg: [], None, str(tmp_path / "out"), False, policy=load_policy())
    assert len(written) == 4 and gc.get_freeze_count() == 0


def test_an_annotated_xlsm_leaves_stderr_quiet(tmp_path, samples):
    """openpyxl keeps an .xlsm's macros in an open zip; left to the interpreter's exit it printed
    "Exception ignored ... I/O operation on closed file" into every cron mail."""
    register = shutil.copy(samples / "clean_branch.xlsx", tmp_path / "branch.xlsm")
    exe = Path(sys.executable).parent / "complaintkit"
    proc = subprocess.run([str(exe), "run", str(register), "--as-of", AS_OF, "--annotate", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1) and proc.stderr == "", proc.stderr
    assert (tmp_path / "out" / "branch.checked.xlsm").exists()


def test_listing_a_store_that_is_not_there_creates_none(runner, tmp_path):
    missing = tmp_path / "typo.sqlite"
    result = runner.invoke(cli, ["history", "list", "--store", str(missing)])
    assert result.exit_code == 2 and "这里没有历史库" in result.output and not missing.exists()
    result = runner.invoke(cli, ["history", "list", "--store", str(missing), "--lang", "en"])
    assert result.exit_code == 2 and "no history store there" in result.output and not missing.exists()


@pytest.mark.parametrize("name, runs", [("validate", set()), ("dedupe", {"classify"}), ("classify", set()),
                                        ("followups", set()), ("risk", {"dedupe", "classify", "followups"})])
def test_each_check_runs_for_itself_exactly_the_checks_it_declares(name, runs):
    """NEEDS (the decorator's needs=) decides whose settings `risk` alone checks before reading a
    file: it must name every check an operation runs for itself, and nothing it does not run."""
    from complaintkit.operations import NEEDS, OpContext, available, run_operation

    assert name in available()  # every check registered, with what it declares
    declared, more = set(), set(NEEDS[name])
    while more:
        declared |= more
        more = {n for m in more for n in NEEDS[m]} - declared
    registers = [load_register(SAMPLES / "branches" / "城东支行.xlsx", LoadOptions(load_policy()))]
    ctx = OpContext(load_policy(), dt.date.fromisoformat(AS_OF))
    run_operation(name, registers, ctx)
    assert set(ctx.results) - {name} == declared == runs


@pytest.mark.parametrize("with_report", [False, True])
def test_runs_json_holds_one_checks_section_at_a_time(runner, samples, tmp_path, monkeypatch, with_report):
    """run --json writes each check's section as it is made and lets it go before the next (at
    200,000 rows the five sections held at once, and the text, took 6.8 GB), the report beside it
    holding none of them; --format json prints the same text."""
    import weakref

    from complaintkit.operations import OpResult

    class Section(dict):
        pass

    alive: list[weakref.ref] = []
    real_init = OpResult.__init__

    def init(self, name, data, *args, **kwargs):
        def built():  # the section the JSON writes, watched
            assert all(r() is None for r in alive), "an earlier section is still held"
            section = Section(data())
            alive.append(weakref.ref(section))
            return section

        real_init(self, name, built if callable(data) else data, *args, **kwargs)

    monkeypatch.setattr(OpResult, "__init__", init)
    out = tmp_path / "run.json"
    report = ["--report", str(tmp_path / "r.xlsx")] if with_report else []
    result = runner.invoke(cli, ["run", str(samples / "branches"), "--as-of", AS_OF, "--json", str(out), "--format", "json", *report])
    assert result.exit_code in (0, 1), result.output
    assert len(alive) == 5  # each section made once: stdout is the file read back
    text = out.read_text("utf-8")
    assert result.stdout == text
    data = json.loads(text)
    assert list(data) == ["as_of", "files", "unreadable", "summary", "totals", "validate", "dedupe", "classify", "followups", "risk",
                          "exit_code"]
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_a_run_failing_while_its_json_is_made_leaves_no_output_of_today(runner, samples, tmp_path, monkeypatch):
    """A check's section failing while the JSON is written (memory, a signal, a bug): neither
    the report nor the JSON of today is put in place (yesterday's stay), and stdout gets no JSON
    cut short."""
    from complaintkit.operations import OpResult

    def broken(self):
        if self.name == "risk":
            raise RuntimeError("the section could not be made")
        return real(self)

    real = OpResult.data_once
    monkeypatch.setattr(OpResult, "data_once", broken)
    (tmp_path / "run.json").write_text("yesterday", "utf-8")
    args = ["run", str(samples / "branches"), "--as-of", AS_OF, "--force"]
    result = runner.invoke(cli, [*args, "--json", str(tmp_path / "run.json"), "--report", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2
    assert (tmp_path / "run.json").read_text("utf-8") == "yesterday" and not (tmp_path / "r.xlsx").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".~ck-")]  # no temporary file left either
    printed = runner.invoke(cli, [*args, "--format", "json"])
    assert printed.exit_code == 2 and printed.stdout == ""


def test_a_report_open_in_excel_keeps_todays_json_out_too(runner, samples, tmp_path, monkeypatch):
    """The report cannot be put in place (yesterday's is open in Excel, which locks it on
    Windows): the run says so, and today's JSON is not put beside yesterday's report either."""
    import os

    report = tmp_path / "r.xlsx"
    report.write_bytes(b"yesterday's report")
    (tmp_path / "run.json").write_text("yesterday", "utf-8")
    replace = os.replace

    def locked(src, dst):
        if Path(dst) == report:
            raise PermissionError(13, "Permission denied")
        return replace(src, dst)

    monkeypatch.setattr(os, "replace", locked)
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--force",
                                 "--json", str(tmp_path / "run.json"), "--report", str(report)])
    assert result.exit_code == 2 and "r.xlsx" in result.stderr
    assert report.read_bytes() == b"yesterday's report" and (tmp_path / "run.json").read_text("utf-8") == "yesterday"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".~ck-")]


def test_two_outputs_of_one_run_may_not_be_one_file(runner, samples, tmp_path):
    result = runner.invoke(cli, ["run", str(samples / "clean_branch.xlsx"), "--as-of", AS_OF, "--csv", str(tmp_path / "out"),
                                 "--json", str(tmp_path / "out" / "validate.csv")])
    assert result.exit_code == 2 and "--json 和 --csv 指向同一个文件" in result.output
    assert not (tmp_path / "out").exists()


def test_a_reader_that_stops_early_leaves_runs_exit_code_its_own(samples, tmp_path):
    """`run --format json | head`: the pipe closes after a few bytes; the run still exits with
    its own code (1: findings), not as an unexpected error."""
    exe = Path(sys.executable).parent / "complaintkit"
    command = f"'{exe}' run '{samples / 'branches'}' --as-of {AS_OF} --format json | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "1" and "BrokenPipe" not in done.stderr, done.stderr


def test_runs_csv_writes_each_checks_rows_one_at_a_time(runner, samples, tmp_path, monkeypatch):
    """run --csv writes each check's rows as they come (held as a list with the text besides,
    200,000 rows took 2.1 GB): the writer is handed rows one at a time, never a list, and never
    more than a few of the check's rows are alive at once; each file holds the rows the JSON of
    the same run gives, in its order."""
    import csv
    import io
    import weakref

    from complaintkit.cli import common
    from complaintkit.operations import OpResult

    class Row(dict):
        pass

    alive: list[weakref.ref] = []
    most = [0]
    real_items, real_write = OpResult.items, common.write_csv

    def items(self):
        for item in real_items(self):
            row = Row(item)
            alive.append(weakref.ref(row))
            most[0] = max(most[0], sum(r() is not None for r in alive))
            yield row

    def write_csv(fh, headers, rows):
        assert not isinstance(rows, (list, tuple)), "the rows were gathered first"
        real_write(fh, headers, rows)

    monkeypatch.setattr(OpResult, "items", items)
    monkeypatch.setattr(common, "write_csv", write_csv)
    result = runner.invoke(cli, ["run", str(samples / "branches"), str(samples / "messy_branch.xlsx"), "--as-of", AS_OF,
                                 "--csv", str(tmp_path / "csv"), "--json", str(tmp_path / "run.json")])
    assert result.exit_code in (0, 1), result.output
    assert len(alive) > 400 and most[0] <= 3
    data = json.loads((tmp_path / "run.json").read_text("utf-8"))
    for name, key in (("validate", "findings"), ("dedupe", "groups"), ("risk", "rows")):
        text = (tmp_path / "csv" / f"{name}.csv").read_bytes().decode("utf-8")
        assert text.startswith("\ufeff")
        header, *rows = list(csv.reader(io.StringIO(text[1:])))
        assert len(rows) == len(data[name][key]) > 0
        if "id" in header:
            assert [r[header.index("id")] for r in rows] == [str(item.get("id") or "") for item in data[name][key]]

