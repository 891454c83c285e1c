"""A second phone column (联系电话2, 备用电话) across months: the history store keeps its numbers
(schema version 2; a version-1 store is migrated when opened), the registers rebuilt from the store
carry them, so a complaint sharing only that number with a stored one is the same customer in
`risk --store` and `run --store`; and risk handed dedupe results of another batch identifies
customers with the second phone columns too."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from complaintkit import history
from complaintkit.cli import cli
from complaintkit.dedupe import dedupe
from complaintkit.history import SCHEMA_VERSION, HistoryError, HistoryStore, complaint_key
from complaintkit.identity import phone_columns
from complaintkit.loader import LoadOptions, load_registers
from complaintkit.policy import load_policy
from complaintkit.risk import assess

from conftest import write_xlsx

POLICY = load_policy()
AS_OF = "2026-11-20"
HEADERS = ["投诉编号", "受理日期", "受理机构", "客户姓名", "联系电话", "备用电话", "业务类型", "投诉内容", "处理状态", "办结日期",
           "回访日期", "回访结果"]
# One issue (定价收费, by the classifier) in other words: not the same text, so a repeat, not a copy.
ANNUAL_FEE = "信用卡年费被多收了，办卡时说首年免年费，要求退还年费。"
INSTALMENT_FEE = "又扣了我两百块的分期手续费，收费标准根本没告知，乱收费。"
ATM = "ATM取款时机器吞卡了，卡里的钱取不出来，打电话也没人处理。"
SPARE = "13900000001"


def row(cid: str, received: str, name: str, phone: str, spare: Any, text: str) -> list[Any]:
    got = dt.date.fromisoformat(received)
    return [cid, got, "城南支行", name, phone, spare, "信用卡", text, "已办结", got + dt.timedelta(days=4),
            got + dt.timedelta(days=5), "满意"]


def october(tmp_path: Path, spare_header: str = "备用电话") -> Path:
    """Last month: 张伟 gave 13800000001 first and 13900000001 as his spare number."""
    headers = [h if h != "备用电话" else spare_header for h in HEADERS]
    return write_xlsx(tmp_path / "2026-10.xlsx", [row("C-1001", "2026-10-12", "张伟", "13800000001", SPARE, ANNUAL_FEE),
                                                  row("C-1002", "2026-10-13", "李娜", "13700000007", None, ANNUAL_FEE)], headers)


def november(tmp_path: Path, text: str = INSTALMENT_FEE) -> Path:
    """This month: the same man, his spare number now first, his name typed another way."""
    return write_xlsx(tmp_path / "2026-11.xlsx", [row("C-1101", "2026-11-10", "张玮", SPARE, None, text),
                                                  row("C-1102", "2026-11-11", "赵磊", "13500000005", None, ATM)], HEADERS)


def load(path: Path):
    return load_registers((str(path),), LoadOptions(POLICY)).registers


def reasons(rows: list[dict[str, Any]], cid: str) -> dict[str, str]:
    """The reasons of row ``cid`` by code (none when the row is not listed: no risk found)."""
    return {r["code"]: r["message"] for got in rows if got["id"] == cid for r in got["reasons"]}


def test_the_store_keeps_a_second_phone_and_links_next_months_complaint(runner, tmp_path):
    store = tmp_path / "history.sqlite"
    added = runner.invoke(cli, ["history", "add", str(october(tmp_path)), "--store", str(store)])
    assert added.exit_code == 0, added.output
    new = november(tmp_path)
    risk = runner.invoke(cli, ["risk", str(new), "--store", str(store), "--as-of", AS_OF, "--format", "json"])
    assert risk.exit_code == 0, risk.output
    rows = json.loads(risk.stdout)["rows"]
    assert "C-1001 (2026-10-12, 历史)" in reasons(rows, "C-1101")["repeat"]
    assert reasons(rows, "C-1102") == {}  # nobody else is linked
    run = runner.invoke(cli, ["run", str(new), "--store", str(store), "--as-of", AS_OF, "--format", "json"])
    assert run.exit_code in (0, 1), run.output
    data = json.loads(run.stdout)
    [group] = data["dedupe"]["groups"]
    assert group["kind"] == "repeat" and group["ids"] == ["C-1001", "C-1101"]
    assert group["members"][1]["keys"] == ["other_phone"] and group["members"][1]["phone_columns"] == ["备用电话", "联系电话"]
    assert "C-1001 (2026-10-12, 历史)" in reasons(data["risk"]["rows"], "C-1101")["repeat"]
    # The same as from the file itself (--history): the store loses nothing of the link.
    by_file = runner.invoke(cli, ["risk", str(new), "--history", str(october(tmp_path)), "--as-of", AS_OF, "--format", "json"])
    assert json.loads(by_file.stdout)["rows"] == rows


def test_the_rebuilt_register_names_each_second_column(tmp_path):
    """联系电话2 and a second 联系电话, each kept under its own header; a blank or unusable number
    is not kept; the registers rebuilt from the store have the columns identity reads."""
    headers = HEADERS[:6] + ["联系电话"] + HEADERS[6:]
    rows = [row("C-1", "2026-10-01", "张伟", "13800000001", SPARE, ANNUAL_FEE),
            row("C-2", "2026-10-02", "李娜", "13700000007", "12345", ANNUAL_FEE),  # not a number: not kept
            row("C-3", "2026-10-03", "王芳", "13600000006", None, ANNUAL_FEE)]
    rows[0].insert(6, "010-62345678")
    rows[1].insert(6, None)
    rows[2].insert(6, "13600000006")  # her own first number again: nothing more to know
    book = write_xlsx(tmp_path / "a.xlsx", rows, [h if h != "备用电话" else "联系电话2" for h in headers])
    original = load(book)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.add(original)
        [reg] = store.registers()
    by_id = {r.id: r for r in reg.records}
    [(sheet, columns)] = phone_columns([reg]).items()
    [read] = phone_columns(original).values()
    assert sheet == (reg.source, reg.sheet) and sorted(h for _, h in columns.others) == ["联系电话", "联系电话2"]
    assert [h for _, h in columns.others] == [h for _, h in read.others] == ["联系电话2", "联系电话"]  # sheet order (columns F, G)
    assert sorted(by_id["C-1"].extra.values()) == ["01062345678", SPARE] and not by_id["C-2"].extra and not by_id["C-3"].extra


def _version_1_store(path: Path, registers) -> None:
    """A store as complaintkit wrote it before schema version 2 (its own table, word for word)."""
    db = sqlite3.connect(path)
    db.execute("""CREATE TABLE complaints (key TEXT PRIMARY KEY, complaint_id TEXT, received_date TEXT, source TEXT NOT NULL,
                  sheet TEXT NOT NULL, row INTEGER NOT NULL, "values" TEXT NOT NULL, added_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX complaints_received ON complaints(received_date)")
    for reg in registers:
        for rec in reg.records:
            values = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in rec.values.items() if v is not None}
            db.execute("INSERT INTO complaints VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (complaint_key(rec), rec.id, rec.values["received_date"].isoformat(), Path(reg.source).name, rec.sheet,
                        rec.row, json.dumps(values, ensure_ascii=False, sort_keys=True), "2026-11-01T08:00:00"))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_a_version_1_store_is_read_as_it_is_then_migrated_and_filled_by_adding_its_register_again(runner, tmp_path):
    """A store of the last version is looked back on and listed as it is, read-only (a store on a
    read-only share serves; the file is left as it was: its rows have no second phones, so the
    link is not there yet); `history add` of last month's register again migrates it and fills
    them in."""
    store = tmp_path / "history.sqlite"
    old = october(tmp_path)
    _version_1_store(store, load(old))
    written = store.read_bytes()
    new = november(tmp_path)
    before = runner.invoke(cli, ["risk", str(new), "--store", str(store), "--as-of", AS_OF, "--format", "json"])
    assert before.exit_code == 0 and before.stderr == "", before.output
    rows = json.loads(before.stdout)["rows"]
    assert "repeat" not in reasons(rows, "C-1101")
    listed = runner.invoke(cli, ["history", "list", "--store", str(store), "--format", "json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)["complaints"] == 2, listed.output
    assert store.read_bytes() == written  # neither migrated nor touched
    with HistoryStore(store, read_only=True) as looked:
        assert [r.id for reg in looked.registers() for r in reg.records] == ["C-1001", "C-1002"]
    with HistoryStore(store) as kept:
        assert kept.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert kept.count() == 2 and [r.id for reg in kept.registers() for r in reg.records] == ["C-1001", "C-1002"]
        again = kept.add(load(old))
    assert (again.added, again.updated, again.unchanged) == (0, 1, 1)  # C-1001 gains its spare number
    after = runner.invoke(cli, ["risk", str(new), "--store", str(store), "--as-of", AS_OF, "--format", "json"])
    assert "C-1001 (2026-10-12, 历史)" in reasons(json.loads(after.stdout)["rows"], "C-1101")["repeat"]


def test_risk_handed_another_batchs_dedupe_identifies_by_the_second_phone(tmp_path):
    """Dedupe results of the current register alone (another batch than risk's, which has the
    history too): risk identifies the customers itself, with the second phone columns."""
    history, registers = load(october(tmp_path)), load(november(tmp_path, ATM))
    report = assess(registers, POLICY, dt.date.fromisoformat(AS_OF), history=history, duplicates=dedupe(registers, POLICY))
    [c1101] = [r for r in report.rows if r.id == "C-1101"]
    [earlier] = [r for r in c1101.reasons if r.code == "earlier_other"]
    assert "C-1001 (2026-10-12, 历史)" in earlier.message("zh")


def test_a_store_that_cannot_be_written_is_said_before_any_write(tmp_path):
    """ready_to_write on a store SQLite may only read (as a write-protected file or a read-only
    share opens): a HistoryError naming the store; on one it may write, nothing."""
    store = tmp_path / "history.sqlite"
    with HistoryStore(store) as kept:
        kept.ready_to_write()
        written = store.read_bytes()
        kept.db.close()
        kept.db = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
        with pytest.raises(HistoryError) as caught:
            kept.ready_to_write()
    assert "history.sqlite" in caught.value.text("en") and "readonly" in caught.value.text("en")
    assert store.read_bytes() == written  # the probe's write is rolled back


@contextlib.contextmanager
def another_job_writing(store: Path):
    """Another connection holding the store's write lock, as a job adding to it does."""
    other = sqlite3.connect(str(store))
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


def test_a_store_another_job_is_adding_to_is_ready_for_its_turn(tmp_path, monkeypatch):
    """ready_to_write while another job holds the store's write lock: no error, and asked at once
    (SQLite's wait set to nothing for its probe, not the BUSY_TIMEOUT_S a write waits, and put
    back after). The lock says the store can be written; this job's own write later waits for
    the other's to end."""
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 5)
    store = tmp_path / "history.sqlite"
    with HistoryStore(store):
        pass
    with another_job_writing(store), HistoryStore(store) as kept:
        said: list[str] = []
        kept.db.set_trace_callback(said.append)
        kept.ready_to_write()
        assert not kept.db.in_transaction
        assert said[:2] == ["PRAGMA busy_timeout = 0", "BEGIN IMMEDIATE"] and said[-1] == "PRAGMA busy_timeout = 5000"
        assert kept.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_store_without_its_version_number_is_still_a_store(tmp_path):
    """A store whose file lost its version number (restored from a dump, which drops it, or
    made by an older complaintkit stopped halfway) is read as the store it is, and written to
    with its number put back; a version-1 one (no second phones) is brought up to date."""
    made = tmp_path / "history.sqlite"
    with HistoryStore(made) as store:
        store.add(load(october(tmp_path)))
    source = sqlite3.connect(made)
    dump = list(source.iterdump())
    source.close()
    for name, drop_phones in (("restored.sqlite", False), ("older.sqlite", True)):
        path = tmp_path / name
        db = sqlite3.connect(path)
        db.executescript("\n".join(dump))
        if drop_phones:
            db.executescript("ALTER TABLE complaints DROP COLUMN other_phones")
        db.close()
        with HistoryStore(path, read_only=True) as looked:
            assert looked.count() == 2 and looked.version == (1 if drop_phones else 2)
        with HistoryStore(path) as kept:
            kept.add(load(november(tmp_path)))
            assert kept.count() == 4
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert "other_phones" in {row[1] for row in db.execute("PRAGMA table_info(complaints)")}


def test_a_store_with_tables_of_its_users_own_is_still_a_store(tmp_path):
    """Tables someone added beside a store's (more names before "complaints" than the refusal's
    message lists) do not make it another program's database."""
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as store:
        store.add(load(october(tmp_path)))
    with sqlite3.connect(path) as db:
        for name in ("a0", "a1", "a2", "a3"):
            db.execute(f"CREATE TABLE {name} (x)")
    with HistoryStore(path, read_only=True) as looked:
        assert looked.count() == 2


def test_a_store_waits_two_minutes_for_another_job(tmp_path):
    with HistoryStore(tmp_path / "history.sqlite") as store:
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == history.BUSY_TIMEOUT_S * 1000 == 120_000


def test_a_store_another_job_keeps_writing_to_is_one_line(tmp_path, monkeypatch, runner):
    """A write still waiting for another job after BUSY_TIMEOUT_S (SQLite's own 5 s before) is
    one line saying so, from the library and from `history add`; the store is as it was."""
    store = tmp_path / "history.sqlite"
    register = write_xlsx(tmp_path / "b.xlsx", [row("C-1", "2026-11-02", "张三", "13800138000", None, "年费")],
                          headers=HEADERS)
    with HistoryStore(store):
        pass
    before = store.read_bytes()
    monkeypatch.setattr(history, "BUSY_TIMEOUT_S", 0.2)
    with another_job_writing(store):
        with HistoryStore(store) as kept, pytest.raises(HistoryError) as caught:
            kept.add(load_registers([str(register)], LoadOptions(POLICY)).registers)
        assert caught.value.code == "hist_busy" and "another job is writing" in caught.value.text("en")
        result = runner.invoke(cli, ["history", "add", str(register), "--store", str(store)])
        assert result.exit_code == 2 and "正被另一个任务写入" in result.output and result.output.count("\n") == 1
    assert store.read_bytes() == before


def test_run_remember_with_a_store_it_cannot_migrate_stops_before_the_work(runner, tmp_path):
    """`run --remember` on a store that cannot be brought to this version (here a version-1 store
    whose migration fails) is exit 2 before the batch is checked: no report written whose
    complaints were then never remembered."""
    store = tmp_path / "history.sqlite"
    _version_1_store(store, load(october(tmp_path)))
    db = sqlite3.connect(store)
    db.execute("ALTER TABLE complaints ADD COLUMN other_phones TEXT")  # the migration's own step, done already
    db.commit()
    db.close()
    report = tmp_path / "report.xlsx"
    result = runner.invoke(cli, ["run", str(november(tmp_path)), "--as-of", AS_OF, "--store", str(store), "--remember",
                                 "--report", str(report), "--quiet"])
    assert result.exit_code == 2 and "history.sqlite" in result.output and "Traceback" not in result.output, result.output
    assert not report.exists()


def test_run_remember_with_a_file_where_the_stores_folder_goes_stops_before_the_work(runner, tmp_path):
    """A new store whose folder cannot be made (a file by that name) is said with the other
    outputs, before the batch is read: no report written."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file", "utf-8")
    report = tmp_path / "report.xlsx"
    result = runner.invoke(cli, ["run", str(november(tmp_path)), "--as-of", AS_OF, "--store", str(blocker / "h.sqlite"),
                                 "--remember", "--report", str(report), "--quiet"])
    assert result.exit_code == 2 and "blocker" in result.output and "Traceback" not in result.output, result.output
    assert not report.exists()
