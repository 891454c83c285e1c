"""What a ribbon button does, without Excel: sheet values in, SheetPlans and a message out.

The Excel door reads the active sheet's values once, hands them here, and applies the plans this
returns through ``sheetplan.apply_plans``. Nothing in this module touches Excel or imports
xlwings, so the Linux tests run the add-in's own code path and compare it with the CLI's.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..deadlines import days_left, due_date
from ..errors import ComplaintkitError, InputError
from ..fields import column_letter
from ..collector import collector_paused
from ..loader import LoadOptions, header_search_rows, register_from_rows
from ..messages import register_messages, t, user_lang
from ..normalize import is_blank, parse_id_number
from ..operations import PIPELINE_ORDER, OpContext, OpResult, available, run_operation, run_pipeline
from ..policy import Policy, load_policy
from ..privacy import scrub
from ..register import Register
from ..resident_id import check_id
from ..sheetplan import Applied, BookAdapter, SheetPlan, apply_plans, clear_results, is_own_sheet, own_columns
from ..workcalendar import CalendarCoverageWarning, as_date

ALL = "all"
CLEAR = "clear"

#: The ribbon's buttons in order: (tag, zh label, en label). A check's tag is its operation name.
BUTTONS: list[tuple[str, str, str]] = [
    ("validate", "校验", "Validate"),
    ("dedupe", "查重", "Duplicates"),
    ("classify", "分类", "Classify"),
    ("followups", "时限", "Deadlines"),
    ("risk", "升级风险", "Escalation risk"),
    (ALL, "一键检查", "Run all"),
    (CLEAR, "清除结果", "Clear results"),
]

#: Merged ranges as the loader takes them: ((first_row, first_col), (last_row, last_col)), 0-based.
Merged = list[tuple[tuple[int, int], tuple[int, int]]]

register_messages({
    "addin_title": ("complaintkit 投诉台账", "complaintkit"),
    "addin_unknown_tag": ("未知的按钮“{tag}”：请重新安装 complaintkit 加载项", "unknown button '{tag}': reinstall the complaintkit add-in"),
    "addin_not_available": (
        "“{label}”检查尚未安装在这台电脑的 complaintkit 中（已有：{have}）：请升级 complaintkit",
        "the '{label}' check is not in this PC's complaintkit yet (available: {have}): upgrade complaintkit",
    ),
    "addin_nothing": ("没有可用的检查：complaintkit 安装不完整", "no checks are available: complaintkit is not fully installed"),
    "addin_own_sheet": (
        "当前工作表“{sheet}”是检查结果表：请先切换到投诉登记台账所在的工作表，再按按钮",
        "the active sheet '{sheet}' holds results: switch to the register sheet first, then press the button",
    ),
    "addin_not_register": (
        "当前工作表“{sheet}”不像投诉登记台账（前 {limit} 行里没有“投诉编号、受理日期、客户姓名、投诉内容”这类表头）：请切换到台账所在的工作表，再按按钮",
        "the active sheet '{sheet}' does not look like a complaint register (no headers such as 投诉编号, 受理日期, 客户姓名, "
        "投诉内容 in its first {limit} rows): switch to the register sheet, then press the button",
    ),
    "addin_empty_sheet": ("当前工作表“{sheet}”是空的：请切换到投诉登记台账所在的工作表，再按按钮",
                          "the active sheet '{sheet}' is empty: switch to the register sheet, then press the button"),
    "addin_far_cell": (
        "工作表“{sheet}”用到了 {ref}（在该表按 Ctrl+End 可以看到），读取要 {cells:,} 个单元格（上限 {limit:,}）："
        "请删除台账以外多余的行和列（其中可能只有格式），保存后再按按钮",
        "the sheet '{sheet}' is used as far as {ref} (Ctrl+End on it shows it): reading it would take {cells:,} cells (limit "
        "{limit:,}). Delete the rows and columns after the register (they may hold only formatting), save, then press the button",
    ),
    "addin_unreadable": ("无法读取当前工作表：{reason}", "the active sheet cannot be read: {reason}"),
    "addin_failed": ("检查未完成：{reason}", "the check did not finish: {reason}"),
    "addin_unexpected": (
        "检查未完成（程序错误 {kind}：{reason}）。台账数据未被修改。{log}",
        "the check did not finish (program error {kind}: {reason}). The register data was not changed. {log}",
    ),
    "addin_log": ("详情已记录在 {path}", "details are in {path}"),
    "addin_see": ("（见 {sheets} 表）", " (see {sheets})"),
    "addin_columns": ("每行的结果：台账右侧的 {what}（{where}）", "Each row's results: {what} right of the register ({where})"),
    "addin_n_columns": ("{count} 个 CK- 列", "{count} CK- columns"),
    "addin_at_column": ("{first} 列", "column {first}"),
    "addin_at_columns": ("{first}–{last} 列", "columns {first}–{last}"),
    "addin_marked": ("有问题的单元格已标色并加批注（“清除结果”可还原）", "Problem cells are filled and annotated (Clear results restores them)"),
    "addin_cleared": ("已清除：{columns} 个结果列，{sheets} 个结果表，单元格标记已还原", "cleared: {columns} result columns, {sheets} result sheets; cell marks restored"),
    "addin_cleared_columns": ("已清除：{columns} 个结果列，{sheets} 个结果表", "cleared: {columns} result columns, {sheets} result sheets"),
    "addin_cleared_no_marks": ("已清除：{columns} 个结果列，{sheets} 个结果表；单元格上的标色和批注请在桌面版 Excel 中按“清除结果”还原",
                               "cleared: {columns} result columns, {sheets} result sheets; the fills and notes on cells are restored by Clear results in desktop Excel"),
    "udf_id_ok": ("有效", "valid"),
    "udf_no_header": ("第一个参数应为台账的表头行（含“投诉编号、受理日期、客户姓名、投诉内容”这类表头），第二个为同一列范围的一行",
                      "give the register's header row first (headers such as 投诉编号, 受理日期, 客户姓名, 投诉内容), then one row over the same columns"),
    "udf_one_cell": ("请只引用一个单元格，不是一个区域", "refer to one cell, not a range"),
    "udf_not_a_date": ("无法识别为日期：{value}（请输入如 2026-03-05 的日期，或引用日期单元格）",
                       "cannot read {value} as a date (type a date such as 2026-03-05, or refer to a date cell)"),
})


class AddinError(ComplaintkitError):
    """A button cannot run: unknown tag, a check not installed, the wrong sheet active."""


def button_label(tag: str, lang: str = "zh") -> str:
    """The ribbon label of a tag (the tag itself when it has no button)."""
    for name, zh, en in BUTTONS:
        if name == tag:
            return zh if lang == "zh" else en
    return tag


def operations_for(tag: str, lang: str = "zh") -> list[str]:
    """The operations a button runs: its own, or every available one in pipeline order for 一键检查."""
    have = available()
    if tag == ALL:
        names = [n for n in PIPELINE_ORDER if n in have]
        if not names:
            raise AddinError("addin_nothing")
        return names
    if tag in have:
        return [tag]
    if tag in {b[0] for b in BUTTONS} - {CLEAR}:
        listed = "、".join(button_label(n, lang) for n in have) if lang == "zh" else ", ".join(have)
        raise AddinError("addin_not_available", label=button_label(tag, lang), have=listed)
    raise AddinError("addin_unknown_tag", tag=tag)


def excel_rows(values: Sequence[Sequence[Any]] | Any) -> list[list[Any]]:
    """Cells as xlwings reads them, turned into what the file reader gives for the same cells, so
    both doors build the same Register: blanks become "", a date at midnight becomes a ``date``
    (Excel has one date type; the reader tells dates from date-times)."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        values = [[values]]  # a one-cell range read without ndim=2
    rows = [list(row) if isinstance(row, (list, tuple)) else [row] for row in values]
    width = max(map(len, rows), default=0)
    # Only blanks and date-times need a change: blanks are looked for in C first, a row rebuilt
    # only when it holds one.
    for i, row in enumerate(rows):
        if None in row:
            row = rows[i] = ["" if v is None else v for v in row]
        if len(row) < width:
            row += [""] * (width - len(row))
    # Date-times stand in a few columns (受理日期, 办结日期...): those are found column by column
    # in C, and only their cells looked at.
    stamped = [c for c, column in enumerate(zip(*rows)) if any(issubclass(kind, dt.datetime) for kind in set(map(type, column)))]
    if stamped:
        midnight = dt.time(0)
        for row in rows:
            for c in stamped:
                v = row[c]
                # A date-time at midnight is a date; one with a time, or an aware one, is kept.
                if isinstance(v, dt.datetime) and v.tzinfo is None and v.time() == midnight:
                    row[c] = v.date()
    return rows


def without_own_columns(rows: list[list[Any]], search_rows: int) -> list[list[Any]]:
    """Blank the add-in's own columns (one of its headers in the first rows), so a re-run reads the
    register as the user keeps it, not with the previous run's results. A clerk's own column whose
    header merely starts with CK- is read like any other.

    More than the loader does for both doors (an own header never names a field): the add-in
    writes its columns back into this very sheet, so their cells must not even pass through as
    unknown columns (nor count in a row's identity, see SheetRows); a CLI copy keeps them."""
    own = own_columns(rows, search_rows)
    if not own:
        return rows
    return [[("" if c in own else v) for c, v in enumerate(row)] for row in rows]


def register_from_sheet(rows: Sequence[Sequence[Any]], sheet_name: str, policy: Policy, source: str = "",
                        merged: Merged | None = None) -> Register:
    """The Register of one sheet's values (as xlwings reads them), through the loader's own path."""
    search = header_search_rows(policy)
    cells = without_own_columns(excel_rows(rows), search)
    try:
        return register_from_rows(cells, sheet_name, LoadOptions(policy), source or sheet_name, merged)
    except InputError as exc:
        # The loader's words fit a file given on the command line; here the clerk is on the wrong sheet.
        if exc.code == "in_no_data":
            raise AddinError("addin_empty_sheet", sheet=sheet_name) from None
        if exc.code == "in_no_header":
            raise AddinError("addin_not_register", sheet=sheet_name, limit=search) from None
        raise


@dataclass
class SheetCheck:
    """A button's outcome on one sheet: the register read, each operation's result, the plans."""

    tag: str
    register: Register
    results: list[OpResult]
    plans: list[SheetPlan] = field(default_factory=list)


def check_sheet(rows: Sequence[Sequence[Any]], sheet_name: str, tag: str, policy: Policy, as_of: dt.date,
                lang: str = "zh", source: str = "", merged: Merged | None = None) -> SheetCheck:
    """Run a button's operation(s) over one sheet's values, exactly as the CLI runs them on a file."""
    names = operations_for(tag, lang)
    # One pause for the whole button (see operations.run_operation): the collector then walks
    # what the button built once, afterwards, instead of after every step.
    with collector_paused():
        register = register_from_sheet(rows, sheet_name, policy, source, merged)
        ctx = OpContext(policy, as_of, lang)
        results = run_pipeline([register], ctx, names) if tag == ALL else [run_operation(names[0], [register], ctx)]
        plans = [p for result in results for p in result.plans_for(register)]
        # The results keep the context (their JSON, built on demand, reads its language): the
        # context lets them go, so that reference counting alone frees a press once it is done.
        ctx.results.clear()
        ctx.shared.clear()
    return SheetCheck(tag, register, results, plans)


def plans_for_sheet(rows: Sequence[Sequence[Any]], sheet_name: str, tag: str, policy: Policy, as_of: dt.date,
                    lang: str = "zh") -> list[SheetPlan]:
    """The SheetPlans a button applies to a sheet with these values (values in, plans out)."""
    # The collector resumes once the register and the results are gone (see press).
    with collector_paused():
        return check_sheet(rows, sheet_name, tag, policy, as_of, lang).plans


def summary_message(check: SheetCheck, applied: Applied, lang: str = "zh") -> str:
    """The message box text, a few lines a clerk reads at a glance: per check what it found and the
    result sheet to look at, then where the per-row results are and whether cells were marked."""
    zh = lang == "zh"
    sep, comma = ("：", "、") if zh else (": ", ", ")
    sheets = applied.sheets
    lines = []
    for result in check.results:
        tables = [sheets[tb.name] for plan in check.plans if plan.op == result.name for tb in plan.tables]
        see = t("addin_see", lang, sheets=comma.join(dict.fromkeys(tables))) if tables else ""
        lines.append(f"{button_label(result.name, lang)}{sep}{result.summary}{see}")
    headers = list(dict.fromkeys(c.header for plan in check.plans for c in plan.columns))
    placed = sorted(applied.columns[h] for h in headers if h in applied.columns)
    if placed:
        first, last = column_letter(placed[0] - 1), column_letter(placed[-1] - 1)
        what = comma.join(headers) if len(headers) <= 2 else t("addin_n_columns", lang, count=len(headers))
        where = t("addin_at_column", lang, first=first) if first == last else t("addin_at_columns", lang, first=first, last=last)
        lines.append(t("addin_columns", lang, what=what, where=where))
    if applied.marks:
        lines.append(t("addin_marked", lang))
    return "\n".join(lines)


def press(book: BookAdapter, tag: str, rows: Sequence[Sequence[Any]], sheet_name: str, policy: Policy,
          as_of: dt.date, lang: str = "zh", source: str = "", merged: Merged | None = None, marks: bool = True) -> str:
    """Everything a button does once the sheet's values are read: run, apply, and say what happened.

    清除结果 blanks the own columns of every sheet, gives every cell that still shows a mark of the
    add-in its own fill and note back (with ``marks``), and deletes the own sheets; the other
    buttons apply their plans (idempotent: a second press changes nothing).
    ``marks=False`` leaves the user's cells unformatted, for hosts that cannot read a cell's fill
    back (xlwings Lite), since a mark that cannot be undone exactly is not applied at all.
    """
    if tag == CLEAR:
        cleared = clear_results(book, marks, header_search_rows(policy))
        # Without marks (Lite) the desktop add-in's marks, if any, are left for it to restore.
        key = "addin_cleared" if marks else "addin_cleared_no_marks" if book.read_state() else "addin_cleared_columns"
        return t(key, lang, columns=cleared.columns, sheets=cleared.sheets)
    if is_own_sheet(sheet_name):
        raise AddinError("addin_own_sheet", sheet=sheet_name)
    # The collector resumes only once the press's register and results are gone: resuming while
    # they live would walk them all once more (a tenth of a press).
    with collector_paused():
        check = check_sheet(rows, sheet_name, tag, policy, as_of, lang, source, merged)
        # The values just read tell the marks which complaint each row holds (nothing is read twice).
        applied = apply_plans(book, check.plans, {sheet_name: rows}, marks, header_search_rows(policy))
        message = summary_message(check, applied, lang)
        del check
    return message


def addin_policy(workbook_path: str | None = None) -> Policy:
    """The policy for the add-in: COMPLAINTKIT_CONFIG if set, else a complaintkit.toml beside the
    workbook (a branch's own settings travel with its register), else the defaults."""
    config = os.environ.get("COMPLAINTKIT_CONFIG")
    if not config and workbook_path:
        beside = Path(workbook_path).parent / "complaintkit.toml"
        if beside.is_file():
            config = str(beside)
    return load_policy(config or None)


def error_message(exc: BaseException, lang: str = "zh", log_path: str | None = None) -> str:
    """One line a branch can act on, never a traceback; personal data scrubbed."""
    if isinstance(exc, AddinError):
        return exc.text(lang)
    if isinstance(exc, InputError):
        return t("addin_unreadable", lang, reason=exc.reason(lang))
    if isinstance(exc, ComplaintkitError):
        return t("addin_failed", lang, reason=scrub(exc.text(lang)))
    log = t("addin_log", lang, path=log_path) if log_path else ""
    return t("addin_unexpected", lang, kind=type(exc).__name__, reason=scrub(str(exc))[:200], log=log).strip()


def guarded(action: Callable[[], str], lang: str, log: Callable[[BaseException], str | None]) -> tuple[bool, str]:
    """Run ``action``; any exception becomes (False, one-line message). ``log`` records the details
    of unexpected errors and returns where."""
    try:
        return True, action()
    except Exception as exc:  # the door's last line: a branch never sees a traceback
        where = None if isinstance(exc, ComplaintkitError) else log(exc)
        return False, error_message(exc, lang, where)


def id_check_text(value: Any, lang: str | None = None, today: dt.date | None = None) -> str:
    """The ID-check worksheet function's answer: "有效" or the reason the ID is wrong, in the same
    words as the validate check (the cell goes through the loader's ID normaliser first, so an ID
    Excel turned into 1.10101E+17 is reported as lost digits); ``lang`` None: the clerk's."""
    lang = user_lang(lang)
    if is_blank(one_cell(value)):
        return ""
    parsed = parse_id_number(value)
    if parsed.problem:
        return t(parsed.problem, lang, detail=parsed.detail or "")
    problem = check_id(parsed.value, today or dt.date.today())
    if problem is None:
        return t("udf_id_ok", lang)
    return t(problem[0], lang, detail=problem[1])


def cell_answer(func: Callable[..., Any], *args: Any, lang: str | None = None) -> Any:
    """What a worksheet function shows in its cell (ribbon add-in and xlwings Lite alike): the
    answer of ``func(*args)``, or one line starting with "#CK", never a traceback; a date in a year
    the holiday calendar does not cover is never shown as if it were sure. ``lang``: the language
    the formula asked for (its lang argument), else the clerk's (COMPLAINTKIT_LANG)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalendarCoverageWarning)
            value = func(*args)
    except ComplaintkitError as exc:  # a formula cell shows a reason, in the language asked for
        return f"#CK {exc.text(user_lang(lang))}".splitlines()[0][:250]
    except Exception as exc:  # ... and never a traceback
        return f"#CK {type(exc).__name__}: {exc}".splitlines()[0][:250]
    for warning in caught:
        if issubclass(warning.category, CalendarCoverageWarning):
            return f"#CK {warning.message}".splitlines()[0][:250]
    return value


# The worksheet functions, one each for the ribbon add-in's UDFs (addin/udfs.py) and Lite's
# (excel/lite/main.py): each door only declares the formula and hands over its own policy.

def ck_id_check(id_number: Any, lang: str | None) -> Any:
    """=CK_ID_CHECK(F5, [lang]): 有效, or why the ID number is wrong."""
    return cell_answer(lambda: id_check_text(id_number, lang), lang=lang)  # answer and error in the language asked


def ck_due_date(received: Any, extended: Any, channel: Any, business_line: Any, customer_tier: Any, policy: Policy) -> Any:
    """=CK_DUE_DATE(B5, [是否延期], [channel], [business line], [customer tier]): the decision deadline."""
    return cell_answer(lambda: due_date_cell(received, extended, policy, channel=channel, business_line=business_line,
                                             customer_tier=customer_tier))


def ck_days_left(received: Any, as_of: Any, extended: Any, channel: Any, business_line: Any, customer_tier: Any,
                 policy: Policy) -> Any:
    """=CK_DAYS_LEFT(B5, [as of], ...): days to the decision deadline, negative when overdue."""
    return cell_answer(lambda: days_left_cell(received, as_of, extended, policy, channel=channel,
                                              business_line=business_line, customer_tier=customer_tier))


def ck_classify(text: Any, part: Any, policy: Policy) -> Any:
    """=CK_CLASSIFY(J5, [part]): the reason, business line, tags or confidence of a text."""
    return cell_answer(classify_cell_text, text, part, policy)


def ck_risk_level(header: Any, row: Any, part: Any, as_of: Any, lang: str | None, policy: Policy) -> Any:
    """=CK_RISK_LEVEL(header, row, [part], [as of], [lang]): a row's risk level, score or reasons."""
    return cell_answer(lambda: row_risk_text(header, row, policy, as_of, part, lang), lang=lang)


def one_cell(value: Any) -> Any:
    """A worksheet function's one-cell argument; a range (xlwings hands it over as a list) is refused."""
    if isinstance(value, (list, tuple)):
        raise AddinError("udf_one_cell")
    return value


def cell_date(value: Any) -> dt.date:
    """A date argument as Excel passes it (a date, a serial, date text), or why it is not one."""
    try:
        return as_date(one_cell(value))
    except ValueError:
        raise AddinError("udf_not_a_date", value=str(value)[:60]) from None


def due_date_cell(received: Any, extended: Any, policy: Policy, **fields: Any) -> dt.date | str:
    """The due-date worksheet function's answer: the decision deadline, or "" for a row whose
    received date is not filled in yet (the formula is filled down the whole column)."""
    if is_blank(one_cell(received)):
        return ""
    return due_date(cell_date(received), extended, policy, **fields)


def days_left_cell(received: Any, as_of: Any, extended: Any, policy: Policy, **fields: Any) -> int | str:
    """The days-left worksheet function's answer: days from ``as_of`` (blank: today) to the
    deadline, negative when overdue, or "" for a row without a received date."""
    if is_blank(one_cell(received)):
        return ""
    return days_left(cell_date(received), None if is_blank(as_of) else cell_date(as_of), extended, policy, **fields)


def find_merged(has_merge: Callable[[int, int, int, int], bool | None], area_of: Callable[[int, int], tuple[int, int, int, int]],
                last_row: int, last_col: int, max_probes: int = 20000) -> Merged:
    """Merged ranges in rows 1..last_row, columns 1..last_col, found by halving blocks.

    ``has_merge(r1, c1, r2, c2)`` is Excel's MergeCells for a block (False: no merged cell in it);
    ``area_of(r, c)`` the merged area of one cell (1-based, inclusive). Cost grows with the number
    of merged cells, not with the sheet, so a register without merges costs one probe. Returns
    0-based ranges, sorted, as RawSheet keeps them.
    """
    found: set[tuple[int, int, int, int]] = set()
    stack = [(1, 1, last_row, last_col)] if last_row > 0 and last_col > 0 else []
    probes = 0
    while stack and probes < max_probes:
        r1, c1, r2, c2 = stack.pop()
        if any(a[0] <= r1 and a[1] <= c1 and r2 <= a[2] and c2 <= a[3] for a in found):
            continue
        probes += 1
        if has_merge(r1, c1, r2, c2) is False:
            continue
        if r1 == r2 and c1 == c2:
            area = area_of(r1, c1)
            if area != (r1, c1, r1, c1):
                found.add(area)
        elif r2 - r1 >= c2 - c1:
            mid = (r1 + r2) // 2
            stack += [(mid + 1, c1, r2, c2), (r1, c1, mid, c2)]
        else:
            mid = (c1 + c2) // 2
            stack += [(r1, mid + 1, r2, c2), (r1, c1, r2, mid)]
    return [((a[0] - 1, a[1] - 1), (a[2] - 1, a[3] - 1)) for a in sorted(found)]


def classify_cell_text(text: Any, part: str = "reason", policy: Policy | None = None) -> str:
    """The classify worksheet function's answer for one text: the reason (or 待人工复核), the
    business line, the hotspot tags, or the confidence, from the same rules as the classify check."""
    from ..classification import classify_text

    if is_blank(one_cell(text)):
        return ""
    result = classify_text(str(text), policy)
    if part == "business":
        return result.business
    if part == "tags":
        return "、".join(result.tags)
    if part == "confidence":
        return f"{result.confidence:.2f}"
    if part != "reason":
        raise ValueError(f"part must be reason, business, tags or confidence, not {part!r}")
    return result.reason


def _one_row(values: Any) -> list[Any]:
    # A one-row range arrives from Excel as a flat list (or a list of one list), one cell as a scalar.
    if isinstance(values, (list, tuple)) and values and isinstance(values[0], (list, tuple)):
        return list(values[0])
    return list(values) if isinstance(values, (list, tuple)) else [values]


def row_risk_text(header: Any, row: Any, policy: Policy, as_of: Any = None,
                  part: str = "level", lang: str | None = None) -> str:
    """The risk worksheet function's answer for one register row (with its header row): the
    level, the score or the reasons, from the same scoring as the risk check. One row has no
    history, so repeat factors need the 升级风险 button or the CLI; the rest are all here.
    ``lang`` None: the clerk's."""
    from ..risk import assess

    lang = user_lang(lang)
    try:
        register = register_from_rows([_one_row(header), _one_row(row)], "row", LoadOptions(policy))
    except InputError as exc:
        if exc.code in ("in_no_data", "in_no_header"):
            raise AddinError("udf_no_header") from None
        raise
    if not register.records:
        return ""
    # A worksheet passes a date cell as a datetime, a serial or text: read it as CK_DAYS_LEFT does.
    found = assess([register], policy, dt.date.today() if is_blank(as_of) else as_date(as_of)).rows[0]
    if part == "score":
        return f"{found.score:g}"
    if part == "reasons":
        return found.reasons_text(lang)
    if part != "level":
        raise ValueError(f"part must be level, score or reasons, not {part!r}")
    return found.level_text(lang)
