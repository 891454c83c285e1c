"""The blank register template: built from the policy so its dropdowns match what validate allows."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .fields import FIELDS, field_label
from .policy import Policy
from .privacy import TEXT_FIELDS

SHEET_ZH, SHEET_EN = "投诉登记台账", "Complaint register"
_WIDTHS = {"description": 50, "demand": 30, "remarks": 30, "id_number": 22, "branch": 16, "complaint_id": 16}

_INSTRUCTIONS_ZH = [
    "填表说明",
    "1. 每行登记一笔投诉；第3行是表头，请勿修改表头文字，可在右侧增加自己的列。",
    "2. 证件号码、联系电话、投诉编号列已设为文本格式：请直接输入，不要改成数字格式，否则18位身份证号会丢失末尾数字（显示为 1.10101E+17）。",
    "3. 日期列请输入 2025-03-05 这样的日期；单元格已设置日期格式。",
    "4. 投诉渠道、处理状态、客户等级、业务类型、回访结果、是否延期、是否升级请从下拉列表选择。",
    "5. 状态为“已办结”时必须填写办结日期；办结后按规定时限回访并填写回访日期和结果。",
    "6. 带 * 的列为必填项。",
    "7. 检查：在 Excel 中点击“投诉台账”选项卡的按钮，或运行 complaintkit validate 本文件.xlsx。",
]
_INSTRUCTIONS_EN = [
    "How to fill in this register",
    "1. One complaint per row; row 3 is the header: do not rename headers; add your own columns to the right.",
    "2. ID number, phone and complaint ID columns are text: type them as they are; a number format loses the last digits of an 18-digit ID (1.10101E+17).",
    "3. Type dates as 2025-03-05; date cells are formatted.",
    "4. Choose channel, status, tier, business line, follow-up result, extended and escalated from the dropdowns.",
    "5. A row with status 已办结 needs a closed date; after closing, call back (回访) and record the date and result.",
    "6. Columns marked * are required.",
    "7. To check: use the 投诉台账 ribbon tab in Excel, or run complaintkit validate this-file.xlsx.",
]


def build_template(policy: Policy, lang: str = "zh", rows: int = 2000) -> Workbook:
    """A blank register workbook for this policy (``rows`` rows prepared with formats and lists)."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_EN if lang == "en" else SHEET_ZH
    required = set(policy.get("fields.required", []))
    date_fields = set(policy.get("fields.date_fields", []))
    allowed: dict[str, list[str]] = policy.get("values.allowed", {}) or {}
    names = list(FIELDS)
    last_col = get_column_letter(len(names))
    ws["A1"] = "（机构名称）投诉登记台账" if lang == "zh" else "(Institution) complaint register"
    ws["A1"].font = Font(size=14, bold=True)
    ws.merge_cells(f"A1:{last_col}1")
    ws["A2"] = "填报机构：            填报人：            填报日期：" if lang == "zh" else "Branch:            Prepared by:            Date:"
    ws.merge_cells(f"A2:{last_col}2")
    header_row, first, last = 3, 4, 3 + rows

    lists = wb.create_sheet("下拉选项" if lang == "zh" else "lists")
    lists.sheet_state = "hidden"
    list_col = 0
    for i, name in enumerate(names, start=1):
        letter = get_column_letter(i)
        label = field_label(name, "zh")
        cell = ws.cell(row=header_row, column=i, value=("*" if name in required else "") + label)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", start_color="305496", end_color="305496")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[letter].width = _WIDTHS.get(name, 12)
        fmt = "@" if name in TEXT_FIELDS else ("yyyy-mm-dd" if name in date_fields else None)
        if fmt:
            for r in range(first, last + 1):
                ws.cell(row=r, column=i).number_format = fmt
        if name in allowed:
            list_col += 1
            lc = get_column_letter(list_col)
            lists.cell(row=1, column=list_col, value=label)
            for j, value in enumerate(allowed[name], start=2):
                lists.cell(row=j, column=list_col, value=value)
            dv = DataValidation(
                type="list", formula1=f"='{lists.title}'!${lc}$2:${lc}${len(allowed[name]) + 1}",
                allow_blank=True, showErrorMessage=True, errorStyle="warning",
                errorTitle="不在下拉列表中" if lang == "zh" else "Not in the list",
                error="请从下拉列表选择" if lang == "zh" else "Choose a value from the list",
            )
            dv.add(f"{letter}{first}:{letter}{last}")
            ws.add_data_validation(dv)
        elif name in date_fields:
            dv = DataValidation(type="date", operator="between", formula1="DATE(2000,1,1)", formula2="DATE(2100,12,31)",
                                allow_blank=True, showErrorMessage=True, errorStyle="warning",
                                error="请输入日期，例如 2025-03-05" if lang == "zh" else "Type a date such as 2025-03-05")
            dv.add(f"{letter}{first}:{letter}{last}")
            ws.add_data_validation(dv)
        elif name == "transfers":
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                showErrorMessage=True, error="流转次数为不小于0的整数" if lang == "zh" else "A whole number, 0 or more")
            dv.add(f"{letter}{first}:{letter}{last}")
            ws.add_data_validation(dv)
    ws.row_dimensions[header_row].height = 30
    ws.freeze_panes = ws.cell(row=first, column=2)
    ws.auto_filter.ref = f"A{header_row}:{last_col}{header_row}"

    info = wb.create_sheet("填表说明" if lang == "zh" else "Instructions")
    for r, line in enumerate(_INSTRUCTIONS_EN if lang == "en" else _INSTRUCTIONS_ZH, start=1):
        info.cell(row=r, column=1, value=line).font = Font(bold=(r == 1), size=12 if r == 1 else 11)
    info.column_dimensions["A"].width = 120
    wb.active = 0
    return wb
