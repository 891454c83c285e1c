"""Generate the shipped sample registers (deterministic: same files on every run).

    python samples/make_samples.py            # writes into samples/

What it writes, all synthetic (names, IDs and phones are made up; IDs have valid check digits
but do not belong to anyone):
- clean_branch.xlsx            a tidy branch register: validate finds nothing (as of 2026-11-20)
- messy_branch.xlsx            a real-looking messy register; every planted problem is listed in
                               messy_branch.expected.json as (row, column, code)
- branches/                    four branch registers (xlsx and a GB18030 CSV) checked as one batch,
                               with planted duplicate entries, repeat complaints, look-alikes
                               (same common name or the same template text, different people)
                               and escalation scenarios; the truth is in truth/branches.json
- cfpb_style.csv               an English register in the US CFPB export's layout (use with
                               cfpb_policy.toml)
- escalation_history.xlsx      a year of one branch's complaints with 是否升级 marked, for
                               `complaintkit risk evaluate`: most escalations had warning signs
                               beforehand (a repeat, 回访不满意, a threat, a late answer), as in
                               practice, and some quiet complaints had signs too

legacy_branch.xls is clean_branch.xlsx saved as Excel 97-2003 by LibreOffice
(`soffice --headless --convert-to xls clean_branch.xlsx`); it is committed as made, since no
Python library writes BIFF8.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
from complaintkit.resident_id import check_digit  # noqa: E402

AS_OF = dt.date(2026, 11, 20)
START = dt.date(2025, 12, 1)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "华", "平",
         "建国", "晓东", "海燕", "志强", "桂英", "玉兰", "文博", "思远", "雨桐", "子涵", "浩然", "欣怡", "俊杰", "佳怡", "宇轩", "梓萱"]
AREAS = ["110101", "110105", "310104", "310115", "440106", "440305", "330106", "320102", "510107", "420106", "610113", "370102"]
HANDLERS = ["刘敏", "陈晓", "周婷", "黄磊", "吴静", "郑凯", "孙悦"]
TIERS = ["普通"] * 7 + ["金卡"] * 2 + ["白金", "钻石", "私人银行"]
CHANNELS = ["柜面"] * 4 + ["客服热线"] * 4 + ["电话", "手机银行", "手机银行", "网上银行", "信函", "意见簿", "上级转办"]


@dataclass
class Issue:
    """A complaint template: business line, JR/T 0169 reason, hotspot tags, texts and demands."""

    key: str
    business: str
    reason: str
    tags: tuple[str, ...]
    texts: tuple[str, ...]
    demands: tuple[str, ...]


ISSUES = [
    Issue("annual_fee", "信用卡", "定价收费", ("息费",), (
        "我的信用卡{m}月账单被收取了年费{amt}元，办卡时工作人员说首年免年费，刷卡满6次也免年费，我已经刷满了还是被扣费。",
        "信用卡被扣年费{amt}元，当初营销人员承诺终身免年费，现在却收费，对此很不满。",
        "本人信用卡{m}月份被收年费{amt}元，办卡时明确告知免年费，要求查明原因。"),
        ("要求退还年费", "退还年费并说明原因", "取消年费")),
    Issue("penalty_interest", "信用卡", "定价收费", ("息费",), (
        "信用卡还款只晚了一天，就被收取了违约金和利息共{amt}元，利息计算不透明，感觉收费过高。",
        "我按最低还款额还款后被收取全额利息{amt}元，之前没有人告诉我这个规则，利息太高了。"),
        ("要求减免利息和违约金", "退还多收的利息")),
    Issue("instalment", "信用卡", "合同条款", ("分期", "息费"), (
        "我没有申请分期，账单却被自动办理了分期，每期收取手续费{amt}元，客服说是我自己点的，我根本没有操作过。",
        "办理账单分期时说手续费很低，实际折算年化利率很高，合同里的费率说明看不懂。"),
        ("要求取消分期并退还手续费", "退还分期手续费")),
    Issue("collection", "信用卡", "债务催收方式和手段", ("催收",), (
        "信用卡逾期后催收人员每天打十几个电话，还打给我的父母和单位同事，言语带有威胁，严重影响我的生活和工作。",
        "催收人员冒充律师打电话，说要上门，还给我的通讯录联系人发短信，这是暴力催收。"),
        ("要求停止骚扰家人", "停止暴力催收，协商还款")),
    Issue("credit_report", "信用卡", "消费者信息安全", ("征信",), (
        "我的信用卡每期都按时还款，征信报告上却显示有逾期记录，导致房贷审批不通过，要求更正征信。",
        "因为银行系统原因自动还款失败，产生了逾期，现在征信有不良记录，这不是我的责任。"),
        ("要求更正征信记录", "消除征信不良记录并出具证明")),
    Issue("wealth_missell", "理财", "营销方式和手段", (), (
        "客户经理推荐我买理财产品时说保本保收益，现在亏损了{amt}元，购买时没有做风险评估，也没有告知风险。",
        "在网点被推销购买了高风险基金，我已经六十多岁了，风险等级和我不匹配，现在亏损严重。"),
        ("要求赔偿本金损失", "退还本金")),
    Issue("wealth_disclosure", "理财", "信息披露", (), (
        "理财产品到期后收益远低于宣传的预期收益率，产品说明书里的业绩基准没有解释清楚。",),
        ("要求说明收益计算方法",)),
    Issue("rude_staff", "储蓄", "服务态度及服务质量", (), (
        "今天在网点办理业务，柜员态度恶劣，不耐烦，还和我争吵，大堂经理也不管。",
        "排队等了一个多小时，窗口只开了一个，工作人员还在聊天，服务质量太差。"),
        ("要求当事员工道歉", "要求改进服务")),
    Issue("app_failure", "借记卡", "服务设施、设备、业务系统", (), (
        "手机银行转账一直提示系统繁忙，转账失败但钱被扣了{amt}元，到现在还没有退回。",
        "ATM取款时机器吞卡了，卡里的钱取不出来，打电话也没人处理。"),
        ("要求尽快退回款项", "尽快处理")),
    Issue("cash_rule", "储蓄", "管理制度、业务规则与流程", (), (
        "取现{amt}元要求提前一天预约，还要说明用途，自己的钱取不出来，规定不合理。",
        "办理销户需要本人到开户网点，异地无法办理，流程太繁琐。"),
        ("要求简化流程", "要求当天办理")),
    Issue("loan_prepay", "个人贷款", "合同条款", (), (
        "房贷提前还款要收取违约金{amt}元，签合同时没有人说明这一条，要求免除违约金。",
        "个人消费贷款合同中的利率条款和当初宣传的不一致，实际利率更高。"),
        ("要求免除违约金", "按宣传利率执行")),
    Issue("info_leak", "个人金融信息", "消费者信息安全", (), (
        "最近经常接到推销贷款的电话，对方能说出我在你行的账户信息，怀疑银行泄露了我的个人信息。",),
        ("要求查明信息泄露原因",)),
    Issue("transfer_fee", "支付结算", "定价收费", ("息费",), (
        "跨行转账被收取手续费{amt}元，之前一直免费，没有任何通知就开始收费。",),
        ("要求退还手续费",)),
]
ISSUE_BY_KEY = {i.key: i for i in ISSUES}
ESCALATION_PHRASES = ["如果不解决我就打12378投诉到金融监管总局", "我已经联系了媒体记者，准备曝光", "不解决的话我会请律师起诉到法院",
                      "我要找你们领导，马上到现场给我处理", "再不处理就去人民银行12363投诉", "我要在微博和黑猫投诉上曝光"]


@dataclass
class Person:
    name: str
    id_number: str
    phone: str
    tier: str


@dataclass
class Row:
    """One register row plus the truth about it."""

    values: dict[str, Any]
    person: Person
    issue: Issue
    event: str
    scenario: list[str] = field(default_factory=list)
    expected_risk: str | None = None


def make_id(rng: random.Random, born: dt.date | None = None) -> str:
    born = born or dt.date(rng.randint(1950, 2002), rng.randint(1, 12), rng.randint(1, 28))
    first17 = rng.choice(AREAS) + born.strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"
    return first17 + check_digit(first17)


def make_phone(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17", "19"]) + str(rng.randint(0, 9)) + f"{rng.randint(0, 99999999):08d}"


def make_person(rng: random.Random, name: str | None = None) -> Person:
    return Person(name or rng.choice(SURNAMES) + rng.choice(GIVEN), make_id(rng), make_phone(rng), rng.choice(TIERS))


def fill_text(rng: random.Random, issue: Issue, variant: int | None = None) -> str:
    template = issue.texts[variant % len(issue.texts)] if variant is not None else rng.choice(issue.texts)
    return template.format(m=rng.randint(1, 12), amt=rng.choice([88, 120, 200, 360, 580, 1200, 3000, 15000]))


def retype(rng: random.Random, text: str) -> str:
    """How a second clerk types the same complaint: punctuation, spaces, a word or two differ."""
    out = text.replace("，", ",", rng.randint(0, 2)).replace("。", "", 1)
    swaps = [("要求", "希望"), ("我的", "本人"), ("现在", "目前"), ("没有", "未"), ("工作人员", "员工")]
    a, b = rng.choice(swaps)
    out = out.replace(a, b, 1)
    if rng.random() < 0.5:
        out = "客户来电反映：" + out
    return out + ("  " if rng.random() < 0.3 else "")


def workday_after(day: dt.date, n: int) -> dt.date:
    """n weekdays after ``day`` (samples only need plausible dates, the toolkit does the real calendar)."""
    d = day
    while n > 0:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


class Builder:
    """Builds rows for one batch, numbering complaint IDs per branch."""

    def __init__(self, rng: random.Random, branch_codes: dict[str, str]) -> None:
        self.rng = rng
        self.codes = branch_codes
        self.counters: dict[str, int] = {b: 0 for b in branch_codes}
        self.rows: dict[str, list[Row]] = {b: [] for b in branch_codes}
        self.events = 0

    def new_event(self) -> str:
        self.events += 1
        return f"E{self.events:04d}"

    def add(self, branch: str, person: Person, issue: Issue, received: dt.date, *, text: str | None = None,
            channel: str | None = None, status: str | None = None, event: str | None = None,
            followup_result: str | None = None, transfers: int = 0, demand: str | None = None,
            extended: str = "否", escalated: str = "否", scenario: list[str] | None = None,
            expected_risk: str | None = None, closed_after: int | None = None) -> Row:
        rng = self.rng
        self.counters[branch] += 1
        cid = f"TS{self.codes[branch]}{received:%y%m}{self.counters[branch]:04d}"
        age = (AS_OF - received).days
        if status is None:
            status = "已办结" if age > 20 or (age > 6 and rng.random() < 0.6) else rng.choice(["处理中", "待处理", "处理中"])
        closed = followup = None
        result = None
        if status == "已办结":
            days = closed_after if closed_after is not None else rng.randint(2, 13)
            closed = min(received + dt.timedelta(days=days), AS_OF - dt.timedelta(days=1))
            if (AS_OF - closed).days > 5 or rng.random() < 0.5:
                followup = min(workday_after(closed, rng.randint(1, 3)), AS_OF)
                result = followup_result or rng.choice(["满意", "满意", "满意", "基本满意", "基本满意", "未联系上"])
        values = {
            "complaint_id": cid,
            "received_date": received,
            "channel": channel or rng.choice(CHANNELS),
            "branch": branch,
            "customer_name": person.name,
            "id_number": person.id_number,
            "phone": person.phone,
            "customer_tier": person.tier,
            "business_line": issue.business,
            "description": text or fill_text(rng, issue),
            "demand": demand or rng.choice(issue.demands),
            "category": "",
            "handler": rng.choice(HANDLERS),
            "transfers": transfers,
            "status": status,
            "extended": extended,
            "closed_date": closed,
            "followup_date": followup,
            "followup_result": result,
            "escalated": escalated,
            "remarks": "",
        }
        row = Row(values, person, issue, event or self.new_event(), list(scenario or []), expected_risk)
        self.rows[branch].append(row)
        return row


HEADERS_ZH = ["投诉编号", "受理日期", "投诉渠道", "受理机构", "客户姓名", "证件号码", "联系电话", "客户等级", "业务类型", "投诉内容",
              "客户诉求", "投诉类别", "处理人", "流转次数", "处理状态", "是否延期", "办结日期", "回访日期", "回访结果", "是否升级", "备注"]
FIELD_ORDER = ["complaint_id", "received_date", "channel", "branch", "customer_name", "id_number", "phone", "customer_tier",
               "business_line", "description", "demand", "category", "handler", "transfers", "status", "extended",
               "closed_date", "followup_date", "followup_result", "escalated", "remarks"]
TEXT_COLS = {"complaint_id", "id_number", "phone"}


def write_register(path: Path, title: str, rows: list[list[Any]], headers: list[str], text_cols: set[int],
                   note: str | None = None, extra_sheets: dict[str, list[list[Any]]] | None = None) -> None:
    """A register workbook the way branches keep them: merged title row, header, data."""
    wb = Workbook()
    ws = wb.active
    ws.title = "投诉登记台账"
    for name, content in (extra_sheets or {}).items():
        extra = wb.create_sheet(name, 0)
        for line in content:
            extra.append(line)
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font = Font(size=14, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    if note:
        ws.append([note])
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(headers))
    ws.append(headers)
    for c in ws[ws.max_row]:
        c.font = Font(bold=True)
    header_row = ws.max_row
    for values in rows:
        ws.append(values)
    for r in range(header_row + 1, ws.max_row + 1):
        for c in range(1, len(headers) + 1):
            cell = ws.cell(row=r, column=c)
            if c - 1 in text_cols:
                cell.number_format = "@"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    wb.active = wb.sheetnames.index("投诉登记台账")
    # Fixed document times so the files are byte-stable between runs.
    wb.properties.created = wb.properties.modified = dt.datetime(2026, 11, 20, 9, 0, 0)
    wb.save(path)


def row_cells(values: dict[str, Any]) -> list[Any]:
    return [values.get(f) if values.get(f) not in ("",) else None for f in FIELD_ORDER]


# --------------------------------------------------------------------------------------------
def make_clean(out: Path) -> None:
    rng = random.Random(20261120)
    b = Builder(rng, {"城南支行": "CN"})
    day = START
    for i in range(40):
        day = min(day + dt.timedelta(days=rng.randint(4, 12)), AS_OF - dt.timedelta(days=1))
        issue = ISSUES[i % len(ISSUES)]
        person = make_person(rng)
        b.add("城南支行", person, issue, day, channel=rng.choice(["柜面", "客服热线", "手机银行", "电话"]))
    rows = [row_cells(r.values) for r in b.rows["城南支行"]]
    write_register(out / "clean_branch.xlsx", "城南支行投诉登记台账（2025年12月—2026年11月）", rows, HEADERS_ZH,
                   {FIELD_ORDER.index(f) for f in TEXT_COLS})


# --------------------------------------------------------------------------------------------
MESSY_HEADERS = ["工单编号", "受理时间", "来源渠道", "经办网点", "客户姓名", "身份证号", "客户联系电话", "业务种类", "投诉事由",
                 "诉求", "办理状态", "是否延期", "完成日期", "回访时间", "回访满意度", "流转次数", "备注", "录入人"]
MESSY_FIELDS = ["complaint_id", "received_date", "channel", "branch", "customer_name", "id_number", "phone", "business_line",
                "description", "demand", "status", "extended", "closed_date", "followup_date", "followup_result", "transfers",
                "remarks", None]


def make_messy(out: Path) -> None:
    """A register with every kind of problem validate looks for, each at a known cell."""
    rng = random.Random(7)
    header_row = 3  # title (merged) on row 1, a note on row 2
    letters = {f: chr(65 + i) for i, f in enumerate(MESSY_FIELDS) if f}
    expected: list[dict[str, Any]] = []
    rows: list[list[Any]] = []

    def base(i: int) -> dict[str, Any]:
        issue = ISSUES[i % len(ISSUES)]
        p = make_person(rng)
        received = dt.date(2026, 9, 1) + dt.timedelta(days=i * 2)
        closed = received + dt.timedelta(days=6)
        return {
            "complaint_id": f"GD2026{i + 1:04d}", "received_date": received, "channel": "柜面", "branch": "城北支行",
            "customer_name": p.name, "id_number": p.id_number, "phone": p.phone, "business_line": issue.business,
            "description": fill_text(rng, issue), "demand": issue.demands[0], "status": "已办结", "extended": "否",
            "closed_date": closed, "followup_date": closed + dt.timedelta(days=2), "followup_result": "满意",
            "transfers": 0, "remarks": None, None: rng.choice(["小李", "小王"]),
        }

    def plant(row_values: dict[str, Any], field_name: str, code: str) -> None:
        expected.append({"row": header_row + 1 + len(rows), "column": letters[field_name], "field": field_name, "code": code})

    cases: list[tuple[str, Any, str] | None] = [
        None,
        ("received_date", "2026年9月3日", ""),                 # text date in Chinese form: fine
        ("received_date", "2026/9/5", ""),                     # slash date: fine
        ("received_date", "２０２６．９．７", ""),              # full-width digits: fine
        ("received_date", 46274.0, ""),                        # an Excel serial number (2026-09-09): fine
        ("received_date", "上周三", "date_unreadable"),
        ("received_date", "2026-02-30", "date_nonexistent"),
        ("received_date", dt.date(2026, 12, 24), "date_future"),
        ("closed_date", "closed_before", "closed_before_received"),
        ("followup_date", "followup_before", "followup_before_closed"),
        ("id_number", 1.10101199003071e17, "id_precision_lost"),
        ("id_number", "1.10101E+17", "id_precision_lost"),
        ("id_number", "11010119900307123", "id_length"),
        ("id_number", "bad_check", "id_check_digit"),
        ("id_number", "110101199002301235", "id_birth_date"),
        ("id_number", "110101900307123", "id_legacy_15"),
        ("phone", 13800138000.0, ""),                          # a float cell: still a valid phone
        ("phone", "1380013800", "phone_invalid"),
        ("phone", "010-62345678", ""),                         # landline: fine
        ("channel", "柜台", "value_not_allowed"),
        ("status", "已完成", ""),                               # alias of 已办结: fine
        ("status", "办理中", "value_not_allowed"),
        ("business_line", "信用咔", "value_not_allowed"),
        ("followup_result", "很满意", "value_not_allowed"),
        ("complaint_id", "dup", "duplicate_complaint_id"),
        ("closed_date", "missing_closed", "closed_without_date"),
        ("status", "open_with_closed", "open_with_closed_date"),
        ("transfers", -1, "transfers_invalid"),
        ("transfers", "1.5", "transfers_invalid"),
        ("customer_name", None, "required_missing"),
        ("description", "   ", "required_missing"),
        ("followup_date", "no_followup_date", "followup_without_date"),
        ("id_number", "11010119900307123x", ""),               # lower-case x check digit; see below
        None,
    ]
    for i, case in enumerate(cases):
        v = base(i)
        if case is not None:
            field_name, value, code = case
            if value == "closed_before":
                v["closed_date"] = v["received_date"] - dt.timedelta(days=3)
                v["followup_date"] = v["received_date"] + dt.timedelta(days=2)
            elif value == "followup_before":
                v["followup_date"] = v["closed_date"] - dt.timedelta(days=1)
            elif value == "bad_check":
                good = v["id_number"]
                v["id_number"] = good[:17] + ("0" if good[17] != "0" else "1")
            elif code == "date_future":
                v["received_date"] = value
                v.update(status="待处理", closed_date=None, followup_date=None, followup_result=None)
            elif value == "dup":
                v["complaint_id"] = rows[0][0]
            elif value == "missing_closed":
                v["closed_date"] = None
                v["followup_date"] = None
                v["followup_result"] = None
            elif value == "open_with_closed":
                v["status"] = "处理中"
                v["followup_date"] = None
                v["followup_result"] = None
            elif value == "no_followup_date":
                v["followup_date"] = None
            elif field_name == "id_number" and isinstance(value, str) and value.endswith("x"):
                first17 = "11010119900307123"
                v["id_number"] = first17 + check_digit(first17).lower()
            else:
                v[field_name] = value
            if code:
                plant(v, field_name, code)
        rows.append([v.get(f) for f in MESSY_FIELDS])
    # A footer line branches add under the table: not a complaint.
    rows.append([])
    rows.append(["制表人：小李    审核：王主任"])

    wb_path = out / "messy_branch.xlsx"
    write_register(wb_path, "城北支行 2026年 投诉登记台账", rows, MESSY_HEADERS, set(),
                   note="注：本表每周五下班前报送分行消保部；日期格式不限",
                   extra_sheets={"填表说明": [["本表由城北支行综合柜员填写"], ["如有疑问联系分行消保部"]]})
    (out / "messy_branch.expected.json").write_text(
        json.dumps({"as_of": AS_OF.isoformat(), "sheet": "投诉登记台账", "header_row": header_row, "findings": expected},
                   ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
def make_branches(out: Path, truth_dir: Path) -> None:
    """Four branches, one batch: background complaints plus planted scenarios with known truth."""
    rng = random.Random(314159)
    branches = {"城东支行": "CD", "城西支行": "CX", "高新区支行": "GX", "滨江支行": "BJ"}
    b = Builder(rng, branches)
    names = list(branches)

    def day_between(a: dt.date, z: dt.date) -> dt.date:
        return a + dt.timedelta(days=rng.randint(0, (z - a).days))

    # Background: one-off complaints from distinct customers.
    for _ in range(400):
        issue = rng.choice(ISSUES)
        b.add(rng.choice(names), make_person(rng), issue, day_between(START, AS_OF - dt.timedelta(days=1)))

    # Duplicate entries: the same event typed twice (same branch or hotline copy at another branch).
    for k in range(12):
        person, issue = make_person(rng), rng.choice(ISSUES)
        day = day_between(START, AS_OF - dt.timedelta(days=10))
        first_branch = rng.choice(names)
        original = b.add(first_branch, person, issue, day, channel="客服热线", scenario=["duplicate"])
        second_branch = first_branch if k % 2 == 0 else rng.choice([n for n in names if n != first_branch])
        copy = b.add(second_branch, person, issue, day + dt.timedelta(days=rng.randint(0, 2)), text=retype(rng, original.values["description"]),
                     channel=rng.choice(["柜面", "客服热线"]), event=original.event, scenario=["duplicate"],
                     status=original.values["status"])
        if k % 3 == 0:  # the copy lost the ID number; the phone still links it
            copy.values["id_number"] = None

    # Repeat chains: the same customer back about the same issue, 2 to 4 times in 180 days.
    for k in range(10):
        person, issue = make_person(rng), rng.choice(ISSUES)
        branch = rng.choice(names)
        n = 2 + k % 3
        day = day_between(START, AS_OF - dt.timedelta(days=30 * n + 5))
        for j in range(n):
            last = j == n - 1
            b.add(branch if rng.random() < 0.8 else rng.choice(names), person, issue, day,
                  text=fill_text(rng, issue, j), followup_result="不满意" if not last else None,
                  status="已办结" if not last else None, scenario=[f"repeat:{k}"],
                  expected_risk=("high" if n >= 3 else "medium") if last else None)
            day += dt.timedelta(days=rng.randint(15, 45))

    # Look-alikes: a common name at two branches (different people), and a mass incident where
    # many customers complain with the same words on the same day. None of these are duplicates.
    mass_issue = ISSUE_BY_KEY["app_failure"]
    mass_text = "手机银行转账一直提示系统繁忙，转账失败但钱被扣了500元，到现在还没有退回。"
    mass_day = dt.date(2026, 10, 9)
    for k in range(6):
        b.add(names[k % 4], make_person(rng), mass_issue, mass_day, text=mass_text, channel="客服热线", scenario=["lookalike:mass"])
    for common in ("张伟", "王芳", "李娜"):
        issue = rng.choice(ISSUES)
        day = day_between(START, AS_OF - dt.timedelta(days=5))
        text = fill_text(rng, issue, 0)
        for k in range(2):
            b.add(names[k], make_person(rng, common), issue, day, text=text, scenario=[f"lookalike:{common}"])

    # Escalation scenarios (risk): already escalated, threats, unsatisfied, overdue, transfers.
    esc_cases = [
        dict(channel="监管转办", scenario=["risk:regulator_transfer"], expected_risk="high"),
        dict(channel="媒体", scenario=["risk:media"], expected_risk="high"),
        dict(threat=True, scenario=["risk:threat"], expected_risk="medium"),
        dict(threat=True, overdue=True, scenario=["risk:threat+overdue"], expected_risk="high"),
        dict(overdue=True, transfers=4, scenario=["risk:overdue+transfers"], expected_risk="medium"),
        dict(unsatisfied=True, scenario=["risk:unsatisfied"], expected_risk="low"),
        dict(overdue=True, scenario=["risk:overdue"], expected_risk="low"),
    ]
    for k, case in enumerate(esc_cases * 2):
        person, issue = make_person(rng), rng.choice(ISSUES)
        branch = names[k % 4]
        if case.get("overdue"):
            day = AS_OF - dt.timedelta(days=rng.randint(25, 40))
            status = "处理中"
        else:
            day = AS_OF - dt.timedelta(days=rng.randint(3, 10))
            status = None
        text = fill_text(rng, issue)
        if case.get("threat"):
            text += rng.choice(ESCALATION_PHRASES) + "。"
        kwargs: dict[str, Any] = {}
        if case.get("unsatisfied"):
            day = AS_OF - dt.timedelta(days=30)
            status = "已办结"
            kwargs["followup_result"] = "不满意"
            kwargs["closed_after"] = 8
        b.add(branch, person, issue, day, text=text, channel=case.get("channel"), status=status,
              transfers=case.get("transfers", 0), escalated="是" if case.get("channel") in ("监管转办", "媒体") else "否",
              scenario=list(case["scenario"]), expected_risk=case["expected_risk"], **kwargs)

    truth: list[dict[str, Any]] = []
    for branch, rows in b.rows.items():
        rows.sort(key=lambda r: (r.values["received_date"], r.values["complaint_id"]))
        is_csv = branch == "高新区支行"
        header_row = 1 if is_csv else 2
        for i, r in enumerate(rows):
            truth.append({
                "file": f"{branch}.csv" if is_csv else f"{branch}.xlsx",
                "row": header_row + 1 + i,
                "id": r.values["complaint_id"],
                "person": r.person.id_number,
                "event": r.event,
                "issue": r.issue.key,
                "reason": r.issue.reason,
                "business": r.issue.business,
                "tags": list(r.issue.tags),
                "scenario": r.scenario,
                "expected_risk": r.expected_risk,
            })
        if is_csv:
            with open(out / f"{branch}.csv", "w", encoding="gb18030", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(HEADERS_ZH)
                for r in rows:
                    w.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row_cells(r.values)])
        else:
            write_register(out / f"{branch}.xlsx", f"{branch}投诉登记台账", [row_cells(r.values) for r in rows], HEADERS_ZH,
                           {FIELD_ORDER.index(f) for f in TEXT_COLS})
    (truth_dir / "branches.json").write_text(
        json.dumps({"as_of": AS_OF.isoformat(), "rows": truth}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
CFPB_HEADERS = ["Date received", "Product", "Sub-product", "Issue", "Sub-issue", "Consumer complaint narrative",
                "Company public response", "Company", "State", "ZIP code", "Tags", "Consumer consent provided?",
                "Submitted via", "Date sent to company", "Company response to consumer", "Timely response?",
                "Consumer disputed?", "Complaint ID"]
CFPB_CASES = [
    ("Credit card or prepaid card", "General-purpose credit card or charge card", "Fees or interest", "Charged too much interest",
     "I was charged a late fee and interest even though my payment was made on the due date. The bank says it posted a day late."),
    ("Checking or savings account", "Checking account", "Managing an account", "Deposits and withdrawals",
     "A mobile deposit was held for ten days without explanation and I could not pay my rent."),
    ("Debt collection", "Credit card debt", "Communication tactics", "Frequent or repeated calls",
     "The collector calls my workplace and my mother several times a day and threatened to sue me."),
    ("Credit reporting, credit repair services, or other personal consumer reports", "Credit reporting", "Incorrect information on your report",
     "Account status incorrect", "My report shows a late payment I never made. I disputed it twice and nothing changed."),
    ("Mortgage", "Conventional home mortgage", "Trouble during payment process", "",
     "My escrow payment went up with no notice and the servicer will not explain the calculation."),
    ("Money transfer, virtual currency, or money service", "Domestic (US) money transfer", "Fraud or scam", "",
     "I sent money to the wrong account because of a fake invoice and the bank refuses to recall the transfer."),
]


def make_cfpb(out: Path) -> None:
    rng = random.Random(99)
    lines = []
    day = dt.date(2026, 9, 1)
    for i in range(24):
        product, sub, issue, subissue, text = CFPB_CASES[i % len(CFPB_CASES)]
        day += dt.timedelta(days=rng.randint(1, 3))
        via = rng.choice(["Web", "Phone", "Referral", "Postal mail", "Email"])
        status = rng.choice(["Closed with explanation", "Closed with monetary relief", "In progress", "Closed with non-monetary relief"])
        lines.append([day.strftime("%m/%d/%Y"), product, sub, issue, subissue, text, "", "Example Bank, N.A.",
                      rng.choice(["CA", "NY", "TX", "FL"]), f"{rng.randint(10000, 99999)}", "", "Consent provided", via,
                      (day + dt.timedelta(days=1)).strftime("%m/%d/%Y"), status, "Yes" if status != "In progress" else "",
                      rng.choice(["N/A", "No", "Yes"]), str(9000000 + i * 137)])
    with open(out / "cfpb_style.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CFPB_HEADERS)
        w.writerows(lines)


# --------------------------------------------------------------------------------------------
def make_escalation_history(out: Path) -> None:
    """Complaints whose later escalation is marked (是否升级=是), none of them via 监管转办/媒体."""
    rng = random.Random(12378)
    b = Builder(rng, {"江北支行": "JB"})
    first, last = dt.date(2025, 11, 1), dt.date(2026, 10, 20)

    def day() -> dt.date:
        return first + dt.timedelta(days=rng.randint(0, (last - first).days))

    channels = ["柜面", "客服热线", "电话", "手机银行"]
    for _ in range(260):  # ordinary complaints; a few carry a single sign and never escalate
        issue = rng.choice(ISSUES)
        text = fill_text(rng, issue)
        if rng.random() < 0.06:
            text += rng.choice(ESCALATION_PHRASES) + "。"
        b.add("江北支行", make_person(rng), issue, day(), text=text, channel=rng.choice(channels),
              followup_result="不满意" if rng.random() < 0.05 else None, transfers=rng.choice([0, 0, 0, 1, 2]))
    for k in range(30):  # escalated later: most had signs, a few came out of the blue
        person, issue = make_person(rng), rng.choice(ISSUES)
        when = day()
        kind = k % 6
        if kind in (0, 1):  # came back about the same issue, unhappy with the answer
            earlier = when - dt.timedelta(days=rng.randint(20, 60))
            if earlier >= first:
                b.add("江北支行", person, issue, earlier, text=fill_text(rng, issue, 0), channel=rng.choice(channels),
                      status="已办结", followup_result="不满意")
            text = fill_text(rng, issue, 1)
        elif kind == 2:
            text = fill_text(rng, issue) + rng.choice(ESCALATION_PHRASES) + "。"
        elif kind == 3:
            text = fill_text(rng, issue) + "已经反映多次没人处理，要求赔偿损失并书面道歉。"
        else:
            text = fill_text(rng, issue)
        slow = kind == 4
        b.add("江北支行", person, issue, when, text=text, channel=rng.choice(channels), escalated="是",
              status="已办结", closed_after=rng.randint(25, 40) if slow else None,
              followup_result="不满意" if kind in (1, 4) else None, transfers=3 if slow else rng.choice([0, 1]))
    rows = sorted(b.rows["江北支行"], key=lambda r: (r.values["received_date"], r.values["complaint_id"]))
    write_register(out / "escalation_history.xlsx", "江北支行投诉登记台账（含升级标注）", [row_cells(r.values) for r in rows],
                   HEADERS_ZH, {FIELD_ORDER.index(f) for f in TEXT_COLS})


def main(out: Path = HERE) -> None:
    (out / "branches").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    make_clean(out)
    make_messy(out)
    make_branches(out / "branches", out / "truth")
    make_cfpb(out)
    make_escalation_history(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
