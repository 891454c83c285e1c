"""The fast paths of reading and of the report give exactly what the plain way gives: NFKC,
cell-by-cell parsing, and the report's list rows written by openpyxl itself (no timings here;
benchmarks/bench.py measures)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import unicodedata
from copy import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.styles import PatternFill

from complaintkit import loader
from complaintkit import report as report_module
from complaintkit.loader import LoadOptions, field_parsers, register_from_rows
from complaintkit.normalize import is_blank, nfkc
from complaintkit.operations import OpContext, OpResult, run_pipeline
from complaintkit.policy import load_policy
from complaintkit.report import build_report
from complaintkit.xlsx_applier import put

from conftest import AS_OF

POLICY = load_policy()
# Characters where NFKC does something: full-width forms, compatibility ideographs, combining
# marks that compose with the character before, Hangul jamo, ligatures, circled digits.
_TRICKY = "，：；！？（）\u3000ＡＢｚ０９。、“”…①㈱豈⼀ﬁ\u0300\u0301\u0308\u3099\u309aかカｶﾞ\u1100\u1161\u11a8가Åµ·\u00a0 a1"


@given(st.text(alphabet=st.sampled_from(_TRICKY) | st.characters(), max_size=40))
@settings(max_examples=400)
def test_nfkc_is_unicode_nfkc(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


# Cells as registers hold them, and as a caller may hand them in: equal values of different types
# (1, 1.0, True), dates and date-times, aware date-times, blanks, text needing NFKC, bad values.
_CELLS = [
    None, "", " ", "\u3000", "  x ", 0, 1, 1.0, True, False, -0.0, 2.5, float("nan"), float("inf"), 13800138000.0, 13800138000,
    110105194912310020, 1.10105194912e17, dt.date(2025, 3, 5), dt.datetime(2025, 3, 5), dt.datetime(2025, 3, 5, 23, 30),
    dt.datetime(2025, 3, 5, 23, 30, tzinfo=dt.timezone.utc), dt.datetime(2025, 3, 6, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.time(9, 30), dt.timedelta(days=2), decimal.Decimal("3"), "2025年3月5日", "2025/3/5", "20250305", 20250305, 45721, "45721",
    "2025-02-30", "已办结", " 已办结 ", "已 办结", "办结", "柜面", "柜台", "1次", "3", "-1", "1.5", "1.10101E+17", "=1+1", "+86 138 0013 8000",
    "13800138000.0", "（010）6512-3456", "１１０１０５１９４９１２３１００２ｘ", "信用卡年费被多收，要求退还：尽快！", ["a"],
]
_HEADERS = ["投诉编号", "受理日期", "投诉渠道", "客户姓名", "证件号码", "联系电话", "投诉内容", "处理状态", "流转次数", "办结日期", "其他列"]


def _plain_records(rows: list[list[Any]]) -> list[tuple]:
    """What reading means, cell by cell with the field parsers: a blank cell is None and not in
    raw; a row whose received date is not a date (blank, unreadable or a bare number) is looked
    at whole and is not a complaint when it holds no value or only a note (合计：3笔 alone, with
    counts, or a text merged across it), or values only in fields that make no complaint (a
    status or a channel filled in ahead)."""
    parsers = field_parsers(POLICY)
    names = ["complaint_id", "received_date", "channel", "customer_name", "id_number", "phone", "description", "status", "transfers", "closed_date"]
    out = []
    for r, cells in enumerate(rows[1:], start=2):
        values, raw, problems = {}, {}, {}
        for i, name in enumerate(names):
            cell = cells[i] if i < len(cells) else None
            if is_blank(cell):
                values[name] = None
                continue
            parsed = parsers[name](cell)
            raw[name], values[name] = cell, parsed.value
            if parsed.problem:
                problems[name] = (parsed.problem, parsed.detail)
        undated = values["received_date"] is None or type(cells[1]) in (int, float)  # a number: a count, not a date
        data = {i for i, name in enumerate(names) if name in ("complaint_id", "received_date", "customer_name", "id_number", "phone", "description")}
        says = data - {0, 1}
        if undated and loader._not_a_complaint(list(cells), data, says):
            continue
        if undated and all(is_blank(cells[i]) if i < len(cells) else True for i in data):
            continue  # values only outside the fields that make a complaint: filled in ahead
        out.append((r, values, raw, problems, {"其他列": cells[10] if len(cells) > 10 else None}))
    return out


def _read(rows: list[list[Any]]) -> list[tuple]:
    reg = register_from_rows(rows, "台账", LoadOptions(POLICY))
    # Every filled field's cell as typed, in column order (blank cells read as None).
    return [(rec.row, rec.values, {k: rec.cell(k) for k in rec.values if rec.cell(k) is not None},
             {k: (p.problem, p.detail) for k, p in rec.problems.items()}, dict(rec.extra)) for rec in reg.records]


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN as equal to itself, and of the same types throughout."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


_ROW = st.lists(st.sampled_from(_CELLS + ["合计：3笔", "审核：李四", "3件"]), min_size=0, max_size=11)
# A value merged (or copied) across a row, as a totals line or a note fills it.
_SPREAD = st.builds(lambda value, n: [value] * n, st.sampled_from(_CELLS + ["合计", "以下空白"]), st.integers(1, 11))


@given(st.lists(_ROW | _SPREAD, min_size=1, max_size=60))
@settings(max_examples=150, deadline=None)
def test_column_parsing_is_cell_by_cell_parsing(body):
    rows = [_HEADERS, *body]
    assert _same(_read(rows), _plain_records(rows))


def test_column_parsing_across_chunks(monkeypatch):
    """Values met in one chunk and found again in later ones; the cache's bound reached."""
    monkeypatch.setattr(loader, "_FIRST_CHUNK", 3)
    monkeypatch.setattr(loader, "_CHUNK_ROWS", 7)
    monkeypatch.setattr(loader, "_PARSE_CACHE", 5)
    monkeypatch.setattr(loader, "_UNIQUE_AFTER", 4)
    rows = [_HEADERS] + [[_CELLS[(i * 7 + j * 3) % len(_CELLS)] for j in range(11)] for i in range(200)]
    assert _same(_read(rows), _plain_records(rows))


def test_report_rows_are_what_openpyxl_writes(tmp_path, samples, monkeypatch):
    registers = [loader.load_register(samples / "messy_branch.xlsx", LoadOptions(POLICY))]
    ctx = OpContext(POLICY, dt.date.fromisoformat(AS_OF), "zh", True)
    results = run_pipeline(registers, ctx, ["validate", "followups"])
    odd = [dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 3, 4), dt.time(1, 2), dt.timedelta(hours=30), float("nan"), float("-inf"), True, 0,
           10**17 + 3, 2.5, "=1+1", "#N/A", "a\x01b", "  ", " x ", "<&>", "é" * 33000, decimal.Decimal("1.5"), None, "", [1, None], {"a": 1}]
    items = [{"level": ["high", None, "low", "medium"][i % 4], "value": v, **({"more": v} if i % 2 else {})} for i, v in enumerate(odd)]
    # A key first met after the first block of rows (the fills of rows already written do not span it).
    items += [{"level": "high", "value": i, "late": f"x{i}"} for i in range(5)]
    results.append(OpResult("risk", {"rows": items}, {}, "odd values"))
    # The blocks of rows each list sheet streams, as handed to the XML writer: blocks of 7 rows,
    # so the memo of texts goes from block to block.
    monkeypatch.setattr(report_module._ListSheet, "BLOCK", 7)
    blocks = []
    write = report_module._rows_xml

    def keep(ws, width, rows, fills, styles, epoch, first, tails):
        blocks.append((ws, width, list(rows), list(fills) if fills else None, first))
        return write(ws, width, rows, fills, styles, epoch, first, tails)

    monkeypatch.setattr(report_module, "_rows_xml", keep)
    report = build_report(registers, results, ctx.as_of, "zh", [], True)
    report.save(tmp_path / "streamed.xlsx")

    # The same rows written by openpyxl, cell by cell, as the report did before it streamed them.
    plain = report.workbook
    assert {id(b[0]) for b in blocks} == {id(sheet.ws) for sheet in report.lists}
    assert len(blocks) > len(report.lists) + 3
    for ws, width, rows, fills, first in blocks:
        for n, values in enumerate(rows):
            fill = fills[n] if fills else None
            for j in range(max(len(values), width)):
                cell = ws.cell(row=first + n, column=j + 1)
                put(cell, values[j] if j < len(values) else None)
                if fill and j < width:
                    cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
    plain.save(tmp_path / "plain.xlsx")

    streamed, expected = load_workbook(tmp_path / "streamed.xlsx"), load_workbook(tmp_path / "plain.xlsx")
    assert streamed.sheetnames == expected.sheetnames
    checked = 0
    for a, b in zip(streamed.worksheets, expected.worksheets):
        assert (a.dimensions, a.freeze_panes, a.auto_filter.ref) == (b.dimensions, b.freeze_panes, b.auto_filter.ref)
        cells_a = {c.coordinate: c for row in a.iter_rows() for c in row}
        cells_b = {c.coordinate: c for row in b.iter_rows() for c in row}
        assert cells_a.keys() == cells_b.keys()
        for ref, x in cells_a.items():
            y = cells_b[ref]
            assert _same(x.value, y.value) and (x.data_type, x.number_format) == (y.data_type, y.number_format), (a.title, ref)
            assert all(copy(getattr(x, s)) == copy(getattr(y, s)) for s in ("fill", "font", "alignment")), (a.title, ref)
            checked += 1
    assert checked > 1000

    # Known answers: text that looks like a formula stays text, a date keeps a date format, NaN is
    # text, over-long text is cut to Excel's limit, a high-risk row is red.
    risk = streamed["检查结果-升级风险"]
    column = {risk.cell(row=1, column=j).value: j for j in range(1, risk.max_column + 1)}["原值"]
    by_row = {r: risk.cell(row=r, column=column) for r in range(2, len(odd) + 2)}
    assert by_row[12].value == "=1+1" and by_row[12].data_type == "s"
    assert by_row[2].value == dt.datetime(2025, 1, 2) and by_row[2].number_format == "yyyy-mm-dd"
    assert by_row[6].value == "nan" and len(by_row[18].value) == 32767
    assert risk.cell(row=2, column=1).fill.start_color.rgb.endswith("FFC7CE")


def test_rows_one_at_a_time_are_the_json_rows(samples):
    """The report reads each check's rows one at a time, never the JSON section: every check's
    rows must be its JSON section's rows exactly (both languages, masked or not)."""
    files = [samples / "messy_branch.xlsx", *sorted((samples / "branches").glob("*.xlsx"))]
    registers = [loader.load_register(f, LoadOptions(POLICY)) for f in files]
    for lang, mask in (("zh", True), ("en", False)):
        streamed = run_pipeline(registers, OpContext(POLICY, dt.date.fromisoformat(AS_OF), lang, mask))
        built = run_pipeline(registers, OpContext(POLICY, dt.date.fromisoformat(AS_OF), lang, mask))
        for one, other in zip(streamed, built):
            rows = list(one.items())  # before any JSON is built
            section = other.data
            expected = next(section[k] for k in ("findings", "groups", "rows") if isinstance(section.get(k), list))
            assert rows == expected and rows, (one.name, lang)
            assert list(other.items()) == expected  # once built, the rows come from the JSON


def test_a_full_text_memo_starts_again_and_the_rows_are_written_alike(monkeypatch):
    from openpyxl import Workbook

    wb = Workbook()
    styles = report_module._CellStyles(wb, report_module._ROW_FILLS)
    # Unique IDs fill the memo; a branch that first appears late repeats on every row after.
    rows = [[f"C{i:04d}", "城东支行" if i >= 6 else f"支行{i}", "已办结", dt.date(2025, 1, 1 + i % 28)] for i in range(40)]
    fills = [report_module._ROW_FILLS[i % 3] if i % 2 else None for i in range(40)]

    def xml() -> bytes:
        return b"".join(report_module._rows_xml(wb.active, 4, rows, fills, styles, wb.epoch))

    expected = xml()
    # The late branch's cells, as openpyxl writes an inline string (see the test above).
    assert '<c r="B40" t="inlineStr"><is><t>城东支行</t></is></c>'.encode() in expected
    made = []
    tail = report_module._text_tail
    monkeypatch.setattr(report_module, "_text_tail", lambda text: made.append(text) or tail(text))
    monkeypatch.setattr(report_module, "_TEXT_MEMO", 4)
    assert xml() == expected
    # Remembered again after each new start, the late branch is not rewritten on every row.
    assert made.count("城东支行") < 34


def test_the_report_is_built_with_the_collector_paused_and_resumed(samples, monkeypatch):
    import gc

    registers = [loader.load_register(samples / "messy_branch.xlsx", LoadOptions(POLICY))]
    ctx = OpContext(POLICY, dt.date.fromisoformat(AS_OF), "zh", True)
    results = run_pipeline(registers, ctx, ["validate", "followups"])
    seen = []
    counts = report_module._counts_block
    monkeypatch.setattr(report_module, "_counts_block", lambda *a, **k: seen.append(gc.isenabled()) or counts(*a, **k))
    assert gc.isenabled()
    build_report(registers, results, ctx.as_of, "zh", [], True)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_the_report_masks_as_the_results_it_shows_were_masked(samples):
    """The report shows the checks' rows as they come (masked or not by their --mask) beside
    what it takes from the records itself: asked to mask otherwise than they ran, it says so
    instead of writing ID numbers whole beside masked ones."""
    registers = [loader.load_register(samples / "messy_branch.xlsx", LoadOptions(POLICY))]
    ctx = OpContext(POLICY, dt.date.fromisoformat(AS_OF), "zh", False)
    results = run_pipeline(registers, ctx, ["validate"])
    assert results[0].masked is False
    with pytest.raises(ValueError, match="ran with mask=False: validate"):
        build_report(registers, results, ctx.as_of, "zh", [], True)
    build_report(registers, results, ctx.as_of, "zh", [], False)
    # The rows are built when first asked for, with the context's mask: it cannot change meanwhile.
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.mask = True  # type: ignore[misc]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSON_VALUES | st.dates(), max_size=6))
def test_json_in_pieces_is_the_same_text(data):
    """run writes its JSON a part at a time (json_chunks): the text is to_json's, byte for byte,
    line breaks, CJK and dates included; a part given as Later is made in its turn."""
    from complaintkit.outputs import Later, json_chunks, to_json

    assert "".join(json_chunks(data.items())) == to_json(data)
    assert "".join(json_chunks((k, Later(lambda v=v: v)) for k, v in data.items())) == to_json(data)


def test_json_in_pieces_takes_text_keys_and_makes_only_what_it_is_told_to():
    from complaintkit.outputs import json_chunks, to_json

    with pytest.raises(TypeError):
        "".join(json_chunks([(1, "x")]))
    assert "".join(json_chunks([("f", len)])) == to_json({"f": len})  # a callable value is a value
