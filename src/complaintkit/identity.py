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
   ID joins the one ID holder with the same name, or none;
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
from dataclasses import dataclass
from typing import Iterable, Sequence

from .normalize import phone_is_valid
from .policy import Policy, load_policy
from .register import Record
from .resident_id import check_digit, check_id

RecordKey = tuple[str, str, int]

#: How a record was tied to its customer, strongest first.
VIA_ID, VIA_PHONE, VIA_NAME_BRANCH = "id_number", "phone", "name_branch"

_NAME_NOISE = re.compile(r"[\s·•.．\-_()（）]+")


@dataclass(frozen=True)
class Identity:
    """A record's customer: ``customer`` is a batch-local label ("C00012", no personal data);
    ``via`` is the key that tied this record to it (id_number, phone or name_branch)."""

    customer: str
    via: str


@dataclass(frozen=True)
class RecordKeys:
    """The normalised identity keys of one record (None when absent or unusable)."""

    id_number: str | None
    phone: str | None
    name: str | None
    branch: str | None

    @property
    def name_branch(self) -> tuple[str, str] | None:
        """(name, branch), only when both are present: a name alone is never a key."""
        return (self.name, self.branch) if self.name and self.branch else None


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


def record_keys(rec: Record) -> RecordKeys:
    """The identity keys of one record."""
    branch = rec.get("branch")
    branch = unicodedata.normalize("NFKC", str(branch)).strip() if branch else None
    return RecordKeys(id_key(rec.get("id_number")), phone_key(rec.get("phone")), name_key(rec.get("customer_name")), branch or None)


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
    seen: dict[str, set[str]] = defaultdict(set)
    for value, name in zip(values, names):
        if value and name:
            seen[value].add(name)
    return {value for value, distinct in seen.items() if len(distinct) > limit}


def resolve(records: Sequence[Record], policy: Policy | None = None) -> tuple[dict[RecordKey, Identity], list[RecordKeys]]:
    """Identities of ``records`` (records with no usable key are absent) and each record's keys."""
    policy = policy or load_policy()
    limit = int(policy.get("dedupe.identity.max_names_per_key", 3))
    keys = [record_keys(r) for r in records]
    names = [k.name for k in keys]
    bad_ids = _shared_keys([k.id_number for k in keys], names, limit)
    bad_phones = _shared_keys([k.phone for k in keys], names, limit)
    ids = [k.id_number if k.id_number not in bad_ids else None for k in keys]
    phones = [k.phone if k.phone not in bad_phones else None for k in keys]

    uf = _UnionFind(len(records))
    first_with_id: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value:
            uf.id_of.setdefault(i, value)
            if value in first_with_id:
                uf.union(first_with_id[value], i)
            else:
                first_with_id[value] = i

    by_phone: dict[str, list[int]] = defaultdict(list)
    for i, value in enumerate(phones):
        if value:
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

    keyed_by_nb: dict[tuple[str, str], set[int]] = defaultdict(set)
    first_keyless: dict[tuple[str, str], int] = {}
    for i, k in enumerate(keys):
        nb = k.name_branch
        if nb is None:
            continue
        if ids[i] or phones[i]:
            keyed_by_nb[nb].add(i)
        elif nb in first_keyless:
            uf.union(first_keyless[nb], i)
        else:
            first_keyless[nb] = i
    for nb, i in first_keyless.items():
        roots = {uf.find(j) for j in keyed_by_nb.get(nb, ())}
        if len(roots) == 1:
            uf.union(roots.pop(), i)

    labels: dict[int, str] = {}
    out: dict[RecordKey, Identity] = {}
    for i, rec in enumerate(records):
        if ids[i]:
            via = VIA_ID
        elif phones[i]:
            via = VIA_PHONE
        elif keys[i].name_branch:
            via = VIA_NAME_BRANCH
        else:
            continue
        root = uf.find(i)
        if root not in labels:
            labels[root] = f"C{len(labels) + 1:05d}"
        out[rec.key] = Identity(labels[root], via)
    return out, keys


def customer_keys(records: Iterable[Record], policy: Policy | None = None) -> dict[RecordKey, Identity]:
    """Record key (file, sheet, row) -> Identity for every record that can be identified.

    Customer labels are numbered in record order, so the same batch gives the same labels.
    """
    return resolve(list(records), policy)[0]


def matched_keys(a: RecordKeys, b: RecordKeys) -> list[str]:
    """Which identity keys two records share: id_number, phone, name_branch (in that order)."""
    out = []
    if a.id_number and a.id_number == b.id_number:
        out.append(VIA_ID)
    if a.phone and a.phone == b.phone:
        out.append(VIA_PHONE)
    if a.name_branch and a.name_branch == b.name_branch:
        out.append(VIA_NAME_BRANCH)
    return out
