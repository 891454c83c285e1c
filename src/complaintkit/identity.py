"""Who is the customer behind a complaint row: one identity per person across a batch.

The rule (shared/DOMAIN.md "Duplicates and repeats"): the ID number identifies a person, else
the phone, else name + branch. The same name alone never links two people (张伟 and 王芳 are
everywhere), and two different ID numbers are always two people, even when they share a phone
(a family phone, a branch's own number typed for walk-in customers).

Linking is a union-find over records:
1. records with the same usable ID number are one customer (a 15-digit legacy ID is widened to
   its 18-digit form first, so both forms of one ID link);
2. records with the same usable phone are joined, unless that would put two different ID
   numbers into one customer; when a phone is shared by several ID numbers, a record without an
   ID joins the one ID holder with the same name, or none. A record's phones are its 联系电话 and
   those of a second phone column beside it (联系电话2, 备用电话, a second 联系电话: read as
   unknown columns by the loader, named by ``phone_columns``): any phone two records share
   links them, whichever column holds it;
3. records with neither a usable ID nor a usable phone are linked on name + branch (never on
   name alone, and not at all when the branch is blank), and join a customer found in steps 1-2
   only when exactly one such customer has that name at that branch.

A key that many different names share (more than ``dedupe.identity.max_names_per_key``) is a
placeholder or a shared number, not a person, and is not used for linking.

``customer_keys`` is the reusable entry point: dedupe blocks on it, risk scoring counts a
customer's complaints with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from .collector import collector_paused
from .normalize import phone_is_valid, phone_value
from .policy import Policy, load_policy
from .register import Record, Register
from .resident_id import check_digit, check_id

RecordKey = tuple[str, str, int]
#: A sheet of a batch: (file, sheet).
SheetKey = tuple[str, str]

#: How a record was tied to its customer, strongest first.
VIA_ID, VIA_PHONE, VIA_NAME_BRANCH = "id_number", "phone", "name_branch"
#: Two records share a phone, held by a second phone column (联系电话2, 备用电话) in one of them or both.
VIA_OTHER_PHONE = "other_phone"

_NAME_NOISE = re.compile(r"[\s·•.．\-_()（）]+")


# A NamedTuple rather than a dataclass: cheap to build, and a 200,000-row batch maps every row to one.
class Identity(NamedTuple):
    """A record's customer: ``customer`` is a batch-local label ("C00012", no personal data);
    ``via`` is the key that tied this record to it (id_number, phone or name_branch)."""

    customer: str
    via: str


class RecordKeys(NamedTuple):
    """The normalised identity keys of one record (None when absent or unusable).
    ``name_branch`` is set only when both are present: a name alone is never a key.
    ``phone_column`` is the header of the record's 联系电话 column ('' when not known),
    ``other_phones`` the (header, phone) of each usable phone in its second phone columns."""

    id_number: str | None
    phone: str | None
    name: str | None
    branch: str | None
    name_branch: tuple[str, str] | None
    phone_column: str = ""
    other_phones: tuple[tuple[str, str], ...] = ()


class PhoneColumns(NamedTuple):
    """A sheet's phone columns: the header of the one read as 联系电话, and the key in
    ``Record.extra`` and the header of each second one (联系电话2, 备用电话)."""

    first: str
    others: tuple[tuple[str, str], ...] = ()


def second_columns(register: Register) -> dict[str, str]:
    """The unknown columns of ``register`` that hold a second copy of a field (a second 联系电话,
    or 联系电话2 or 备用电话 beside 联系电话: the loader reads the first one only): their key in
    ``Record.extra`` -> the field, in sheet order."""
    own = {c.index: c for c in register.columns}
    out: dict[str, str] = {}
    for col in sorted([*register.duplicate_columns, *register.near_duplicate_columns], key=lambda c: c.index):
        if col.field and col.index in own:
            out[own[col.index].extra_key] = col.field
    return out


def phone_columns(registers: Iterable[Register]) -> dict[SheetKey, PhoneColumns]:
    """The phone columns of every sheet of ``registers`` that has one, by (file, sheet)."""
    out: dict[SheetKey, PhoneColumns] = {}
    for reg in registers:
        first = reg.column_of_field("phone")
        headers = {c.extra_key: c.header for c in reg.columns}
        others = tuple((key, headers[key]) for key, name in second_columns(reg).items() if name == "phone")
        if first is not None or others:
            out[(reg.source, reg.sheet)] = PhoneColumns(first.header if first is not None else "", others)
    return out


def id_key(value: str | None) -> str | None:
    """The ID number as a linking key, or None when it is not a usable ID.

    Usable: a valid 18-digit ID (structure, birth date and check digit) or a 15-digit legacy ID
    with a real birth date, widened to 18 digits. An ID with a wrong check digit is a typo and
    is not used: it would block the phone from linking the row to the right person.
    """
    if not value:
        return None
    text = value.strip().upper()
    problem = check_id(text)
    if problem is None:
        return text
    if problem[0] == "id_legacy_15":
        first17 = text[:6] + "19" + text[6:]
        return first17 + check_digit(first17)
    return None


def phone_key(value: str | None) -> str | None:
    """The phone as a linking key (landline dashes dropped), or None when it is not a valid number."""
    if not value or not phone_is_valid(value):
        return None
    return value.replace("-", "")


def name_key(value: str | None) -> str | None:
    """The name folded for comparison: NFKC, case, spaces and separator dots dropped."""
    if not value:
        return None
    folded = _NAME_NOISE.sub("", unicodedata.normalize("NFKC", str(value))).casefold()
    return folded or None


def branch_key(value: str | None) -> str | None:
    """The branch folded for comparison: NFKC, spaces trimmed."""
    if not value:
        return None
    return unicodedata.normalize("NFKC", str(value)).strip() or None


_UNSEEN = object()


def _column(values: Sequence[Any], fold: Callable[[Any], str | None]) -> list[str | None]:
    """One folded key per value; each distinct value is folded once (a customer's ID is checked
    once, not once per complaint)."""
    cache: dict[Any, str | None] = {}
    out: list[str | None] = []
    append = out.append
    for value in values:
        key = cache.get(value, _UNSEEN)
        if key is _UNSEEN:
            key = cache[value] = fold(value)
        append(key)  # type: ignore[arg-type]
    return out


class KeyTable:
    """The usable identity keys of a batch, column by column (placeholders already dropped), and
    each record's key (file, sheet, row) in ``rows``. ``others``: the (header, phone) of the
    usable phones in second phone columns, for the few records that have one, by position;
    ``columns``: the phone columns of each sheet."""

    def __init__(self, rows: list[RecordKey], ids: list[str | None], phones: list[str | None], names: list[str | None],
                 branches: list[str | None], others: Mapping[int, tuple[tuple[str, str], ...]] | None = None,
                 columns: Mapping[SheetKey, PhoneColumns] | None = None) -> None:
        self.rows = rows
        self.ids, self.phones, self.names, self.branches = ids, phones, names, branches
        self.others = others or {}
        self.columns = columns or {}

    def __getitem__(self, i: int) -> RecordKeys:
        name, branch = self.names[i], self.branches[i]
        sheet = self.columns.get(self.rows[i][:2])
        return RecordKeys(self.ids[i], self.phones[i], name, branch, (name, branch) if name and branch else None,
                          sheet.first if sheet else "", self.others.get(i, ()))

    def __len__(self) -> int:
        return len(self.ids)


class _UnionFind:
    """Union-find over record indexes that keeps at most one ID number per set."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.id_of: dict[int, str | None] = {}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression keeps later finds O(1)
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> bool:
        """Join the sets of a and b unless they hold different ID numbers; True when joined."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ia, ib = self.id_of.get(ra), self.id_of.get(rb)
        if ia and ib and ia != ib:
            return False
        self.parent[rb] = ra
        self.id_of[ra] = ia or ib
        return True


def _shared_keys(values: Sequence[str | None], names: Sequence[str | None], limit: int) -> set[str]:
    """Keys carried by more than ``limit`` different names: placeholders or shared numbers."""
    first: dict[str, str] = {}
    several: dict[str, set[str]] = defaultdict(set)
    for value, name in zip(values, names):
        if value and name:
            seen = first.setdefault(value, name)
            if seen != name:  # only keys with a second name need a set
                several[value].update((seen, name))
    return {value for value, distinct in several.items() if len(distinct) > limit}


def resolve(records: Sequence[Record], policy: Policy | None = None,
            columns: Mapping[SheetKey, PhoneColumns] | None = None) -> tuple[dict[RecordKey, Identity], KeyTable]:
    """Identities of ``records`` (records with no usable key are absent) and their keys.
    ``columns``: the phone columns of the records' sheets (``phone_columns``), so that a second
    phone column links too."""
    with collector_paused():
        return _resolve(records, policy, columns or {})


def _other_phones(records: Sequence[Record], phones: Sequence[str | None],
                  columns: Mapping[SheetKey, PhoneColumns]) -> dict[int, tuple[tuple[str, str], ...]]:
    """Position -> the (header, phone) of each usable phone of a record's second phone columns
    that is not its 联系电话, for the records of sheets that have such columns."""
    seconds = {sheet: cols.others for sheet, cols in columns.items() if cols.others}
    if not seconds:
        return {}
    folded: dict[Any, str | None] = {}
    out: dict[int, tuple[tuple[str, str], ...]] = {}
    for i, rec in enumerate(records):
        wanted = seconds.get((rec.source, rec.sheet))
        if not wanted:
            continue
        found: list[tuple[str, str]] = []
        for key, header in wanted:
            value = rec.extra.get(key)
            if value is None:
                continue
            if value not in folded:
                folded[value] = phone_key(phone_value(value))
            phone = folded[value]
            if phone and phone != phones[i] and all(phone != p for _, p in found):
                found.append((header, phone))
        if found:
            out[i] = tuple(found)
    return out


def second_phones(register: Register) -> dict[int, tuple[tuple[str, str], ...]]:
    """Position in ``register.records`` -> the (header, phone) of each usable phone of that
    record's second phone columns that is not its 联系电话 (what the history store keeps of them)."""
    columns = phone_columns([register])
    if not any(cols.others for cols in columns.values()):
        return {}
    records = register.records
    return _other_phones(records, _phones(records), columns)


def _phones(records: Sequence[Record]) -> list[str | None]:
    """Each record's phone key. A phone is checked faster than it is looked up among a million
    distinct numbers, so there is no table of them as for IDs (a million rows: 0.21 s against
    0.52 s; the same at 100,000)."""
    return [phone_key(r.values.get("phone")) for r in records]


def _resolve(records: Sequence[Record], policy: Policy | None,
             columns: Mapping[SheetKey, PhoneColumns]) -> tuple[dict[RecordKey, Identity], KeyTable]:
    policy = policy or load_policy()
    limit = int(policy.get("dedupe.identity.max_names_per_key", 3))
    # Plain columns, few new containers: on a large batch every tuple allocated costs garbage
    # collector passes over all the records, which is what makes Python scale worse than linear.
    ids = _column([r.values.get("id_number") for r in records], id_key)
    phones = _phones(records)
    names = _column([r.values.get("customer_name") for r in records], name_key)
    branches = _column([r.values.get("branch") for r in records], branch_key)
    others = _other_phones(records, phones, columns)
    bad_ids = _shared_keys(ids, names, limit)
    # A placeholder number is one whichever column it is typed in.
    bad_phones = _shared_keys(phones + [p for i in others for _, p in others[i]],
                              names + [names[i] for i in others for _ in others[i]], limit)
    if bad_ids:
        ids = [k if k not in bad_ids else None for k in ids]
    if bad_phones:
        phones = [k if k not in bad_phones else None for k in phones]
        others = {i: kept for i, found in others.items() if (kept := tuple(o for o in found if o[1] not in bad_phones))}
    # Name + branch as one string (strings are not tracked by the garbage collector, tuples are).
    name_branch = [f"{n}\x1f{b}" if n and b else None for n, b in zip(names, branches)]

    uf = _UnionFind(len(records))
    first_with_id: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value:
            # Rows of one ID hang directly under its first row: no find() needed yet.
            root = first_with_id.setdefault(value, i)
            uf.parent[i] = root
            uf.id_of[root] = value

    by_phone: dict[str, list[int]] = defaultdict(list)
    for i, value in enumerate(phones):
        if value:
            by_phone[value].append(i)
    for i, found in others.items():  # a record is in the block of each of its phones
        for _, value in found:
            by_phone[value].append(i)
    for members in by_phone.values():
        if len(members) < 2:
            continue
        holders = {uf.id_of.get(uf.find(i)) for i in members} - {None}
        if len(holders) <= 1:
            for i in members[1:]:
                uf.union(members[0], i)
            continue
        # Several people share this phone: a row without an ID goes to the same-named holder only.
        for i in members:
            if ids[i]:
                continue
            same_name = {uf.find(j) for j in members if j != i and names[i] and names[j] == names[i]}
            same_name_ids = {uf.id_of.get(r) for r in same_name} - {None}
            if len(same_name_ids) <= 1:
                for root in same_name:
                    uf.union(root, i)

    # Rows with neither ID nor phone are few: find them first, then only their names + branches.
    first_keyless: dict[str, int] = {}
    for i, nb in enumerate(name_branch):
        if nb is not None and not ids[i] and not phones[i] and i not in others:
            if nb in first_keyless:
                uf.union(first_keyless[nb], i)
            else:
                first_keyless[nb] = i
    if first_keyless:
        keyed_roots: dict[str, set[int]] = defaultdict(set)
        for i, nb in enumerate(name_branch):
            if nb in first_keyless and (ids[i] or phones[i] or i in others):
                keyed_roots[nb].add(uf.find(i))
        for nb, i in first_keyless.items():
            roots = keyed_roots.get(nb, set())
            if len(roots) == 1:
                uf.union(roots.pop(), i)

    labels: dict[int, str] = {}
    made: dict[str, dict[int, Identity]] = {VIA_ID: {}, VIA_PHONE: {}, VIA_NAME_BRANCH: {}}
    out: dict[RecordKey, Identity] = {}
    rows = [r.key for r in records]
    for i, key in enumerate(rows):
        if ids[i]:
            via = VIA_ID
        elif phones[i] or i in others:
            via = VIA_PHONE
        elif name_branch[i]:
            via = VIA_NAME_BRANCH
        else:
            continue
        root = uf.find(i)
        ident = made[via].get(root)
        if ident is None:
            if root not in labels:
                labels[root] = f"C{len(labels) + 1:05d}"
            ident = made[via][root] = Identity(labels[root], via)
        out[key] = ident
    return out, KeyTable(rows, ids, phones, names, branches, others, columns)


def customer_keys(records: Iterable[Record], policy: Policy | None = None,
                  columns: Mapping[SheetKey, PhoneColumns] | None = None) -> dict[RecordKey, Identity]:
    """Record key (file, sheet, row) -> Identity for every record that can be identified
    (``columns`` as for ``resolve``).

    Customer labels are numbered in record order, so the same batch gives the same labels.
    """
    return resolve(list(records), policy, columns)[0]


def matched_keys(a: RecordKeys, b: RecordKeys) -> tuple[list[str], tuple[str, str] | None]:
    """Which identity keys two records share: id_number, phone (both in their 联系电话),
    other_phone (a phone in a second phone column of either), name_branch (in that order); and
    for other_phone, the headers of the columns that hold it (``shared_phone``), else None."""
    out = []
    columns = None
    if a.id_number and a.id_number == b.id_number:
        out.append(VIA_ID)
    if a.phone and a.phone == b.phone:
        out.append(VIA_PHONE)
    elif (a.other_phones or b.other_phones) and (columns := shared_phone(a, b)):
        out.append(VIA_OTHER_PHONE)
    if a.name_branch and a.name_branch == b.name_branch:
        out.append(VIA_NAME_BRANCH)
    return out, columns


def shared_phone(a: RecordKeys, b: RecordKeys) -> tuple[str, str] | None:
    """The headers of the columns of ``a`` and of ``b`` that hold the first phone they share
    (联系电话 first, then the second columns in sheet order; '' for a header not known), or
    None when they share none."""
    mine = ([(a.phone_column, a.phone)] if a.phone else []) + list(a.other_phones)
    theirs = ([(b.phone_column, b.phone)] if b.phone else []) + list(b.other_phones)
    for header, phone in mine:
        for other, same in theirs:
            if phone == same:
                return header, other
    return None
