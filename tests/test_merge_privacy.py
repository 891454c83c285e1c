"""`dedupe --merge -o FILE --mask`: the merged register is a shareable output, so every ID number
and phone in it is masked (the ID and phone columns, a second phone column, numbers inside text,
a file name), and the messages on the console carry none of them."""

from __future__ import annotations

import datetime as dt
import json

from openpyxl import load_workbook

from complaintkit.cli import cli

from conftest import make_id

D0 = dt.date(2026, 3, 2)
FEE = "我的信用卡3月账单被收取了年费120元，办卡时说首年免年费，要求退还。"


ID_A, ID_B, ID_IN_TEXT = make_id(1), make_id(2), make_id(3)
HEADERS = ["投诉编号", "受理日期", "受理机构", "客户姓名", "证件号码", "联系电话", "联系电话2", "备用电话", "业务类型", "投诉内容", "备注"]
# Every personal number the register holds, as a clerk typed it (and as a number cell shows it).
SECRETS = [ID_A, ID_B, ID_IN_TEXT, "13800138000", "13912345678", "13612345678", "13700137000", "13511112222", "12345678"]


def _register(path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(HEADERS)
    ws.append(["T1", D0, "城南支行", "张三", ID_A, "13800138000", "13912345678", 13612345678, "信用卡", FEE + "请回电13800138000",
               f"客户另报证件号{ID_IN_TEXT}"])
    # The same complaint typed in again the next day: merged away, listed in CK-已合并.
    ws.append(["T2", D0 + dt.timedelta(days=1), "城南支行", "张三", ID_A, "138 0013 8000", "13912345678", None, "信用卡", FEE + "请回电13800138000", None])
    # A phone typed as a number, a landline as the spare one.
    ws.append(["T3", D0 + dt.timedelta(days=5), "城南支行", "李四", ID_B, 13700137000, None, "010-12345678", "信用卡",
               "理财产品亏损，联系 135-1111-2222", None])
    wb.save(path)
    return path


def _cells(path):
    wb = load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_merged_register_with_mask_masks_every_id_number_and_phone(runner, tmp_path):
    # A file named after its customer's phone: the source-file column names it masked too.
    book = _register(tmp_path / "张三13800138000.xlsx")
    out = tmp_path / "merged.xlsx"
    result = runner.invoke(cli, ["dedupe", str(book), "--merge", "-o", str(out), "--mask", "--format", "json"])
    assert result.exit_code == 0, result.output
    sheets = _cells(out)
    every = [str(v) for rows in sheets.values() for row in rows for v in row if v is not None]
    assert not [v for v in every for s in SECRETS if s in v.replace(" ", "").replace("-", "")]
    main = sheets["台账"]
    head = main[0]
    rows = {r[0]: dict(zip(head, r)) for r in main[1:]}
    assert set(rows) == {"T1", "T3"}
    t1, t3 = rows["T1"], rows["T3"]
    assert t1["证件号码"] == ID_A[:6] + "********" + ID_A[-4:]
    assert t1["联系电话"] == "138****8000" and t1["联系电话2"] == "139****5678" and t1["备用电话"] == "136****5678"
    assert t1["投诉内容"].endswith("请回电138****8000") and t1["备注"] == "客户另报证件号" + ID_IN_TEXT[:6] + "********" + ID_IN_TEXT[-4:]
    assert t3["联系电话"] == "137****7000" and t3["备用电话"] == "010*****5678"
    assert t3["投诉内容"].endswith("135****2222")
    assert t1["CK-来源文件"] == "张三138****8000.xlsx"
    # What is not personal stays as typed.
    assert t1["受理日期"] == dt.datetime(2026, 3, 2) and t1["客户姓名"] == "张三" and t1["CK-来源行"] == 2
    removed = sheets["CK-已合并"]
    gone = dict(zip(removed[0], removed[1]))
    assert gone["投诉编号"] == "T2" and gone["联系电话"] == "138****8000" and gone["证件号码"] == t1["证件号码"]
    # The console says what was written, and no number of the register.
    assert not [s for s in SECRETS if s in result.stderr]


def test_merged_register_without_mask_keeps_the_cells_as_typed(runner, tmp_path):
    book = _register(tmp_path / "r.xlsx")
    out = tmp_path / "merged.xlsx"
    assert runner.invoke(cli, ["dedupe", str(book), "--merge", "-o", str(out), "--format", "json"]).exit_code == 0
    main = _cells(out)["台账"]
    t1 = dict(zip(main[0], main[1]))
    assert t1["证件号码"] == ID_A and t1["联系电话"] == "13800138000" and t1["备用电话"] == 13612345678


def test_mask_cell():
    from complaintkit.privacy import mask_cell

    # An ID or phone column: the whole value, whatever it holds (a typo, two numbers, a number cell).
    assert mask_cell(ID_A, "id_number") == ID_A[:6] + "********" + ID_A[-4:]
    assert mask_cell(1.10101e17, "id_number") == "110101********0000"
    assert mask_cell(13800138000.0, "phone") == "138****8000"
    assert mask_cell("13800138000/13900139000", "phone") == "138****************9000"
    assert mask_cell("无", "phone") == "无" and mask_cell(None, "phone") is None
    # Anywhere else: the numbers inside a text, or a number that is one; the rest as it is.
    assert mask_cell("回电13800138000或010-12345678", None) == "回电138****8000或010-****5678"
    assert mask_cell(13800138000, None) == "138****8000"
    assert mask_cell(120, None) == 120 and mask_cell(0.5, None) == 0.5 and mask_cell(D0, None) == D0
    assert mask_cell("年费120元", None) == "年费120元"


def test_long_numeric_complaint_ids_stay_traceable_under_mask(runner, tmp_path):
    """Banks number complaints with long digit runs (date and sequence): a 16-digit complaint ID
    looks like a card number to the text scrubber, but it is the bank's own reference. Masked
    outputs keep it, in the ID column, in CK-已合并's "merged into" column and in the notes, so a
    shared copy still leads back to the register's rows; personal numbers are masked as before."""
    book = _register(tmp_path / "r.xlsx")
    wb = load_workbook(book)
    for row, cid in zip(range(2, 5), ("2026030200001234", "2026030300001235", "2026030700001236")):
        wb.active.cell(row=row, column=1).value = cid
    wb.save(book)
    out = tmp_path / "merged.xlsx"
    result = runner.invoke(cli, ["dedupe", str(book), "--merge", "-o", str(out), "--mask", "--format", "json"])
    assert result.exit_code == 0, result.output
    sheets = _cells(out)
    main, removed = sheets["台账"], sheets["CK-已合并"]
    kept = [dict(zip(main[0], r)) for r in main[1:]]
    assert [r["投诉编号"] for r in kept] == ["2026030200001234", "2026030700001236"]
    assert kept[0]["CK-合并记录"] == "合并了 1 行：2026030300001235（r.xlsx 第3行）"
    gone = dict(zip(removed[0], removed[1]))
    assert gone["投诉编号"] == "2026030300001235" and gone["CK-并入投诉编号"] == "2026030200001234"
    every = [str(v) for rows in sheets.values() for row in rows for v in row if v is not None]
    assert not [v for v in every for s in SECRETS if s in v.replace(" ", "").replace("-", "")]
    # The same rule in validate's masked findings: the duplicate complaint ID is shown whole.
    twice = tmp_path / "twice.xlsx"
    wb.active.cell(row=3, column=1).value = "2026030200001234"
    wb.save(twice)
    found = runner.invoke(cli, ["validate", str(twice), "--mask", "--format", "json"])
    dup = [f for f in json.loads(found.stdout)["findings"] if f["code"] == "duplicate_complaint_id"]
    assert [f["value"] for f in dup] == ["2026030200001234"]


def test_mask_cell_keeps_the_complaint_id_and_named_references():
    from complaintkit.privacy import mask_cell

    assert mask_cell("2026030200001234", "complaint_id") == "2026030200001234"
    assert mask_cell(2026030200001234, "complaint_id") == 2026030200001234
    # In a note: the batch's complaint IDs stay, a card number beside them does not.
    note = "合并了 2026030200001234，客户卡号6222020200001234567"
    assert mask_cell(note, None, keep={"2026030200001234"}) == "合并了 2026030200001234，客户卡号622202*********4567"
    # A complaint ID shaped like a mobile or a landline is a reference too; a phone beside it is not.
    note = "合并了 1 行：15031200001（台账 第3行）、0571-88001234；客户 13800138000"
    assert mask_cell(note, None, keep={"15031200001", "0571-88001234"}) == \
        "合并了 1 行：15031200001（台账 第3行）、0571-88001234；客户 138****8000"
    assert mask_cell(note, None) == "合并了 1 行：150****0001（台账 第3行）、0571-****1234；客户 138****8000"
    # A complaint ID with letters or a suffix around such digits stays whole; a phone written in
    # letters' company (tel13800138000) is still masked.
    note = "合并自 TS15031200001、C-0571-88001234、15031200001-2；tel13800138000"
    assert mask_cell(note, None, keep={"TS15031200001", "C-0571-88001234", "15031200001-2"}) == \
        "合并自 TS15031200001、C-0571-88001234、15031200001-2；tel138****8000"
    assert mask_cell(note, None) == "合并自 TS150****0001、C-0571-****1234、150****0001-2；tel138****8000"


def test_a_merged_register_that_exists_is_refused_before_the_batch_is_read(runner, tmp_path):
    """`dedupe 分行 --merge -o 全行.xlsx` over yesterday's 全行.xlsx, without --force: said at once
    (exit 2), yesterday's file untouched; the unreadable file of the batch is never reached."""
    folder = tmp_path / "in"
    folder.mkdir()
    _register(folder / "r.xlsx")
    (folder / "坏的.xlsx").write_bytes(b"not a workbook")
    old = tmp_path / "全行.xlsx"
    old.write_bytes(b"yesterday")
    result = runner.invoke(cli, ["dedupe", str(folder), "--merge", "-o", str(old), "--format", "json"])
    assert result.exit_code == 2 and result.stdout == "" and "文件已存在" in result.stderr, result.stderr
    assert "坏的" not in result.stderr and old.read_bytes() == b"yesterday"


def test_a_merged_register_named_otherwise_than_xlsx_is_refused_before_the_batch_is_read(runner, tmp_path):
    """`dedupe 分行 --merge -o 全行.csv`: said at once (exit 2, nothing written), not after a batch
    of 300 files has been read and deduplicated; the unreadable file in it is never reached."""
    folder = tmp_path / "in"
    folder.mkdir()
    _register(folder / "r.xlsx")
    (folder / "坏的.xlsx").write_bytes(b"not a workbook")
    result = runner.invoke(cli, ["dedupe", str(folder), "--merge", "-o", str(tmp_path / "全行.csv"), "--format", "json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"complaintkit: {tmp_path / '全行.csv'}：合并后的台账是 .xlsx 工作簿，文件名请以 .xlsx 结尾"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
