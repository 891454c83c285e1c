"""Customer identity: ID number, else phone, else name + branch; never name alone; two ID numbers
are always two people."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from complaintkit.identity import VIA_ID, VIA_NAME_BRANCH, VIA_PHONE, customer_keys, id_key, phone_key
from complaintkit.policy import load_policy
from complaintkit.register import Record

from conftest import make_id


def rec(row: int, name: str | None = "张伟", id_number: str | None = None, phone: str | None = None,
        branch: str | None = "城东支行", source: str = "a.xlsx") -> Record:
    values = {"customer_name": name, "id_number": id_number, "phone": phone, "branch": branch}
    return Record(source, "台账", row, values, {})


def same(ids, a: Record, b: Record) -> bool:
    return a.key in ids and b.key in ids and ids[a.key].customer == ids[b.key].customer


def test_same_name_different_ids_are_two_people():
    a, b = rec(2, id_number=make_id(1)), rec(3, id_number=make_id(2))
    ids = customer_keys([a, b])
    assert not same(ids, a, b)
    assert ids[a.key].via == ids[b.key].via == VIA_ID


def test_same_id_links_whatever_the_name_and_branch():
    a = rec(2, name="张伟", id_number=make_id(1), branch="城东支行")
    b = rec(3, name="张 伟", id_number=make_id(1).lower(), branch="城西支行", source="b.xlsx")
    assert same(customer_keys([a, b]), a, b)


def test_phone_links_a_row_whose_id_is_missing():
    a = rec(2, id_number=make_id(1), phone="13800138000")
    b = rec(3, id_number=None, phone="13800138000", branch="滨江支行")
    ids = customer_keys([a, b])
    assert same(ids, a, b)
    assert ids[b.key].via == VIA_PHONE


def test_a_shared_phone_never_joins_two_id_numbers():
    a = rec(2, name="王芳", id_number=make_id(1), phone="13800138000")
    b = rec(3, name="王建国", id_number=make_id(2), phone="13800138000")
    mum = rec(4, name="王芳", id_number=None, phone="13800138000")
    stranger = rec(5, name="李娜", id_number=None, phone="13800138000")
    ids = customer_keys([a, b, mum, stranger])
    assert not same(ids, a, b)
    assert same(ids, a, mum)  # the one ID holder with the same name
    assert not same(ids, b, mum)
    assert not same(ids, stranger, a) and not same(ids, stranger, b)


def test_name_and_branch_link_only_rows_without_id_or_phone():
    a, b = rec(2), rec(3)
    other_branch = rec(4, branch="城西支行")
    no_branch_1, no_branch_2 = rec(5, branch=None), rec(6, branch=None)
    ids = customer_keys([a, b, other_branch, no_branch_1, no_branch_2])
    assert same(ids, a, b)
    assert ids[a.key].via == VIA_NAME_BRANCH
    assert not same(ids, a, other_branch)
    # Name alone (no branch) is never a key: such rows have no identity at all.
    assert no_branch_1.key not in ids and no_branch_2.key not in ids


def test_name_and_branch_join_a_keyed_customer_only_when_unambiguous():
    keyed = rec(2, id_number=make_id(1))
    keyless = rec(3)
    ids = customer_keys([keyed, keyless])
    assert same(ids, keyed, keyless)
    # Two different 张伟 with ID numbers at the same branch: the bare row belongs to neither.
    other = rec(4, id_number=make_id(2))
    ids = customer_keys([keyed, other, keyless])
    assert not same(ids, keyless, keyed) and not same(ids, keyless, other)


def test_legacy_15_digit_id_links_to_its_18_digit_form():
    eighteen = make_id(7, born="19650312")
    fifteen = eighteen[:6] + eighteen[8:17]
    assert id_key(fifteen) == eighteen
    a, b = rec(2, id_number=eighteen), rec(3, id_number=fifteen, branch="城西支行")
    assert same(customer_keys([a, b]), a, b)


def test_an_id_with_a_wrong_check_digit_is_not_a_key_and_the_phone_still_links():
    good = make_id(1)
    typo = good[:17] + ("0" if good[17] != "0" else "1")
    assert id_key(typo) is None
    a = rec(2, id_number=good, phone="13912345678")
    b = rec(3, id_number=typo, phone="13912345678")
    assert same(customer_keys([a, b]), a, b)


def test_placeholder_phone_used_by_many_names_links_nobody():
    names = ["赵一", "钱二", "孙三", "李四", "周五"]
    rows = [rec(i + 2, name=n, phone="010-62345678") for i, n in enumerate(names)]
    ids = customer_keys(rows)
    assert len({ids[r.key].customer for r in rows}) == len(rows)  # each is only their own name + branch
    # With a higher limit the same number would link them: the limit is a policy setting.
    policy = load_policy().with_overrides({"dedupe": {"identity": {"max_names_per_key": 10}}})
    ids = customer_keys(rows, policy)
    assert len({ids[r.key].customer for r in rows}) == 1


def test_invalid_phone_is_not_a_key():
    assert phone_key("12345") is None
    assert phone_key("010-62345678") == "01062345678"
    a, b = rec(2, name="甲", phone="12345", branch=None), rec(3, name="乙", phone="12345", branch=None)
    ids = customer_keys([a, b])
    assert a.key not in ids and b.key not in ids


def test_labels_are_deterministic_and_carry_no_personal_data():
    rows = [rec(2, id_number=make_id(1), phone="13800138000"), rec(3, id_number=make_id(2))]
    first, second = customer_keys(rows), customer_keys(rows)
    assert first == second
    for ident in first.values():
        assert ident.customer.startswith("C") and ident.customer[1:].isdigit()


POOL_IDS = [make_id(n) for n in range(4)] + [None, "123"]
POOL_PHONES = ["13800000001", "13800000002", "13800000003", None]
POOL_NAMES = ["张伟", "王芳", None]
POOL_BRANCHES = ["城东支行", "城西支行", None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(POOL_IDS), st.sampled_from(POOL_PHONES), st.sampled_from(POOL_NAMES),
                          st.sampled_from(POOL_BRANCHES)), min_size=1, max_size=12))
def test_property_ids_decide_and_names_alone_never_link(rows):
    records = [rec(i + 2, name=n, id_number=i_, phone=p, branch=b) for i, (i_, p, n, b) in enumerate(rows)]
    ids = customer_keys(records)
    for a, b in itertools.combinations(records, 2):
        ka, kb = id_key(a.get("id_number")), id_key(b.get("id_number"))
        if ka and kb:
            assert same(ids, a, b) == (ka == kb)
    for a in records:
        keyless = not id_key(a.get("id_number")) and not phone_key(a.get("phone"))
        if not keyless or a.key not in ids:
            continue
        # A row with no ID and no phone is tied to others only by its own name at its own branch.
        assert a.get("customer_name") and a.get("branch")
        mates = [b for b in records if b is not a and same(ids, a, b)]
        if mates:
            assert any((b.get("customer_name"), b.get("branch")) == (a.get("customer_name"), a.get("branch")) for b in mates)


# --------------------------------------------------------------------------------------------
# A second phone column (联系电话2, 备用电话, a second 联系电话): read by the loader as an unknown
# column beside 联系电话, and used here to identify the customer too.


def _load(path, headers, rows):
    from openpyxl import Workbook

    from complaintkit.loader import LoadOptions, load_registers

    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return load_registers([str(path)], LoadOptions(load_policy())).registers


def test_a_second_phone_column_identifies_the_customer(tmp_path):
    from complaintkit.identity import VIA_OTHER_PHONE, matched_keys, phone_columns, resolve, shared_phone

    a_regs = _load(tmp_path / "a.xlsx", ["投诉编号", "客户姓名", "证件号码", "联系电话", "联系电话2", "受理机构"], [
        ["A1", "张伟", None, "13800138000", "139 0013 9000", "城东支行"],  # a second number, typed with spaces
        ["A2", "张伟", None, "13900139000", None, "城西支行"],  # that number, in the first column
        ["A3", "李娜", None, "13700137000", 13800138000, "城东支行"],  # 张伟's number as her spare (a number cell)
        ["A4", "王芳", make_id(1), None, "13600136000", "城东支行"],  # only a second phone
        ["A5", "赵磊", None, "13500135000", None, "城东支行"],  # nobody's
    ])
    b_regs = _load(tmp_path / "b.xlsx", ["投诉编号", "客户姓名", "证件号码", "手机号码", "备用电话", "受理机构"], [
        ["B1", "王芳", None, "13300133000", "13600136000", "滨江支行"],  # 王芳's spare, her spare here too
        ["B2", "张伟", make_id(2), "13300133001", "13900139000", "滨江支行"],
    ])
    registers = a_regs + b_regs
    records = [r for reg in registers for r in reg.records]
    by = {r.id: r for r in records}
    columns = phone_columns(registers)
    assert columns[(str(tmp_path / "a.xlsx"), "台账")].others == (("联系电话2", "联系电话2"),)
    ids, keys = resolve(records, load_policy(), columns)

    def one(*names):
        return len({ids[by[n].key].customer for n in names}) == 1

    assert one("A1", "A2", "A3", "B2") and one("A4", "B1")
    assert not one("A1", "A4") and not one("A1", "A5")
    assert ids[by["A4"].key].via == VIA_ID and ids[by["B1"].key].via == VIA_PHONE
    # Which columns matched, as the reasons name them.
    pos = {r.id: i for i, r in enumerate(records)}
    assert shared_phone(keys[pos["A1"]], keys[pos["A2"]]) == ("联系电话2", "联系电话")
    assert shared_phone(keys[pos["A4"]], keys[pos["B1"]]) == ("联系电话2", "备用电话")
    assert shared_phone(keys[pos["A1"]], keys[pos["A5"]]) is None
    # The keys two records share, and the columns of a phone shared only through a second column.
    assert matched_keys(keys[pos["A1"]], keys[pos["A2"]]) == ([VIA_OTHER_PHONE], ("联系电话2", "联系电话"))
    assert matched_keys(keys[pos["A4"]], keys[pos["B1"]]) == ([VIA_OTHER_PHONE], ("联系电话2", "备用电话"))
    assert matched_keys(keys[pos["A1"]], keys[pos["A3"]]) == ([VIA_OTHER_PHONE], ("联系电话", "联系电话2"))
    assert matched_keys(keys[pos["A1"]], keys[pos["A5"]]) == ([], None)
    # The same 联系电话 is the phone key, with no columns to name, whatever the second columns hold.
    same = keys[pos["A1"]]._replace(name_branch=None)
    assert matched_keys(same, same) == ([VIA_PHONE], None)
    # Without the columns only the first phones link (the second column is not read as a phone).
    alone = customer_keys(records)
    assert alone[by["A1"].key].customer != alone[by["A2"].key].customer


def test_a_second_phone_never_joins_two_id_numbers(tmp_path):
    from complaintkit.identity import phone_columns

    registers = _load(tmp_path / "a.xlsx", ["投诉编号", "客户姓名", "证件号码", "联系电话", "备用电话", "受理机构"], [
        ["A1", "王芳", make_id(1), "13800138000", "13900139000", "城东支行"],  # a family phone as her spare
        ["A2", "王建国", make_id(2), "13900139000", None, "城东支行"],
        ["A3", "王建国", None, "13700137000", "13900139000", "城东支行"],  # no ID: goes to the same-named holder
    ])
    records = registers[0].records
    ids = customer_keys(records, load_policy(), phone_columns(registers))
    a1, a2, a3 = (ids[r.key].customer for r in records)
    assert a1 != a2 and a3 == a2


def test_a_placeholder_in_the_second_column_links_nobody(tmp_path):
    from complaintkit.identity import phone_columns

    rows = [[f"A{i}", f"客户{i}", None, f"1380013800{i}", "13000000000", "城东支行"] for i in range(6)]
    registers = _load(tmp_path / "a.xlsx", ["投诉编号", "客户姓名", "证件号码", "联系电话", "联系电话2", "受理机构"], rows)
    ids = customer_keys(registers[0].records, load_policy(), phone_columns(registers))
    assert len({i.customer for i in ids.values()}) == 6
