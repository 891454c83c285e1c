"""The history store: complaints from earlier registers, kept in SQLite, so that repeat and
escalation signals see the last 12 months even when this month's file starts in January.

One row per complaint, keyed by complaint ID and received date (or, without an ID, by the
content that identifies the event): adding the same register twice, or next month's cumulative
register, updates rows instead of duplicating them. The schema carries a version number
(``PRAGMA user_version``); a store of an older version is migrated when it is opened to be
written to, and read as it is by what only looks back.

Besides the canonical fields, each complaint keeps the numbers of its second phone columns
(联系电话2, 备用电话, a second 联系电话: ``identity.second_phones``), so that a complaint giving
one of them next month is still the same customer; the registers rebuilt from the store have
those columns, where ``identity.phone_columns`` finds them.

Each complaint remembers the register it was last seen in (``source_label``): the file's path
inside the folder the batch was given as, so that two branches' 投诉台账.xlsx in 城东/ and 城西/
stay two registers, and next month's folder names them as this month's did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import ComplaintkitError
from .fields import column_letter
from .identity import second_phones
from .messages import register_messages
from .outputs import make_folder
from .register import Column, Record, Register
from .sources import batch_folder

#: 1: the canonical fields; 2: and the second phone columns' numbers (``other_phones``).
SCHEMA_VERSION = 2
#: What brings a store of version N to N + 1.
_MIGRATIONS = {1: ("ALTER TABLE complaints ADD COLUMN other_phones TEXT",)}
_DATE_FIELDS = ("received_date", "closed_date", "followup_date")

register_messages({
    "hist_no_store": ("{path}：这里没有历史库（`complaintkit history add` 会新建一个）",
                      "{path}: no history store there (`complaintkit history add` creates one)"),
    "hist_cannot_open": ("{path}：无法打开历史库（{detail}）", "{path}: history store cannot be opened ({detail})"),
    "hist_foreign": ("{path}：不是 complaintkit 的历史库（其中已有别的数据表：{tables}），不会读取或写入它：请用 --store 指定另一个文件",
                     "{path}: not a complaintkit history store (it holds other tables: {tables}); it is neither read nor "
                     "written: give another file with --store"),
    "hist_busy": ("{path}：历史库正被另一个任务写入，等了 {seconds} 秒仍未轮到：请在它结束后再试",
                  "{path}: another job is writing to the history store, and it was still at it after {seconds} s: "
                  "try again once it is done"),
    "hist_cannot_use": ("{path}：历史库读写失败（{detail}）", "{path}: the history store could not be read or written ({detail})"),
    "hist_too_new": ("{path}：历史库版本 {version} 比当前 complaintkit 支持的版本（{supported}）新：请升级 complaintkit",
                     "{path}: history store version {version} is newer than this complaintkit ({supported}): upgrade complaintkit"),
})


class HistoryError(ComplaintkitError):
    """The history store cannot be opened or is of an unknown version."""


#: How long a job waits while another writes the same store (SQLite lets one write at a time; a
#: month's batch added by `run --remember` takes tens of seconds) before it gives up, with
#: hist_busy. SQLite's own default, 5 s, failed a clerk's `history add` beside the nightly run.
BUSY_TIMEOUT_S = 120
#: The columns of a store's table in every version (version 2 adds other_phones).
_STORE_COLUMNS = frozenset({"key", "complaint_id", "received_date", "source", "sheet", "row", "values", "added_at"})


def default_store_path() -> Path:
    """``$COMPLAINTKIT_STORE`` or ``~/.complaintkit/history.sqlite``."""
    env = os.environ.get("COMPLAINTKIT_STORE")
    return Path(env) if env else Path.home() / ".complaintkit" / "history.sqlite"


def complaint_key(rec: Record) -> str:
    """What makes two rows the same complaint across registers and months."""
    v = rec.values
    received = v.get("received_date")
    if rec.id:
        basis = ["id", rec.id, received.isoformat() if received else ""]
    else:
        basis = ["content", v.get("id_number") or v.get("phone") or "", v.get("customer_name") or "",
                 v.get("branch") or "", received.isoformat() if received else "", v.get("description") or ""]
    return hashlib.sha256("\x1f".join(basis).encode("utf-8")).hexdigest()[:32]


def source_label(source: str | Path, roots: Sequence[str | Path] = ()) -> str:
    """What names a register in the store: its path inside the first of ``roots`` (the folders,
    or the fixed part of the globs, the batch was given as) that holds it, with ``/``; a file
    given by itself is its name."""
    path = Path(source)
    for root in roots:
        base = batch_folder(str(root))
        if base is None:
            continue
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except (ValueError, OSError):
            continue
    return path.name


def _encode(values: dict[str, Any]) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items() if v is not None},
                      ensure_ascii=False, sort_keys=True)


def _encode_phones(phones: Sequence[tuple[str, str]] | None) -> str | None:
    """A complaint's second phones, [[header, number], ...] (None when it has none)."""
    return json.dumps(phones, ensure_ascii=False) if phones else None


def _decode(text: str) -> dict[str, Any]:
    values = json.loads(text)
    for name in _DATE_FIELDS:
        if isinstance(values.get(name), str):
            values[name] = dt.date.fromisoformat(values[name])
    return values


@dataclass
class AddResult:
    """What ``add`` did."""

    added: int
    updated: int
    unchanged: int


@dataclass
class SourceSummary:
    """One source file's complaints in the store."""

    source: str
    complaints: int
    first_received: str | None
    last_received: str | None
    added_at: str


class HistoryStore:
    """An SQLite file of complaints from earlier registers."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """Open the store at ``path``, making it when there is none (for what writes to it).

        ``read_only``, for what only reads it (risk and run looking back, `history list`): the
        file is never written. A store of an older version is read as it is, not migrated
        (whatever writes to it next migrates it: `history add`, `history forget`, `run
        --remember` before it reads its batch), so one on a read-only share serves too, and a
        look-back leaves the file as it found it."""
        self.path = Path(path)
        if not read_only:
            make_folder(self.path.parent)  # a file in the way is one OutputError, as for every output
        # A file gone since the caller looked (``existing``) is read as an empty store: a
        # look-back makes no file where there is none.
        gone = read_only and not self.path.exists()
        if gone:
            version = 0
        else:
            try:
                # SQLite opens a write-protected file for reading by itself; query_only makes sure
                # this connection writes nothing. (Not a mode=ro URI: one made from a Windows
                # share's path, \\server\share, is easily wrong.)
                self.db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S)
                if read_only:
                    self.db.execute("PRAGMA query_only = 1")
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
            except (sqlite3.Error, OSError) as exc:
                raise self._error(exc) from None
        unversioned = version == 0 and not gone
        if not gone:
            version = self._own_version(version)
        #: the schema version the rows are read with (an older one, read-only, has fewer columns)
        self.version = version or SCHEMA_VERSION
        if version == 0 and read_only:  # no file, or an empty one: nothing stored, and nothing written
            if not gone:
                self.db.close()
            self.db = sqlite3.connect(":memory:")
            self._create()
        elif version == 0:
            self._create()
        elif read_only:
            pass  # read as it is
        elif version < SCHEMA_VERSION:
            self._migrate(version)
            self.version = SCHEMA_VERSION
        elif unversioned:
            self._create()  # the version it lacks, written

    def _own_version(self, version: int) -> int:
        """The store's version, once its tables say it is a store. A database that carries no
        version number: 0 when it holds no table (a store to be made); 1 or 2 when its one table
        is a store's (a creation stopped halfway by an older complaintkit, a store restored from
        a dump, which drops the number). Another program's database is refused, whatever number
        it carries (a --store typed wrong): read, it would look empty and every look-back would
        find nothing; written, it would gain a table of complaints."""
        try:
            # SQLite's own tables (sqlite_stat1 after ANALYZE, which a dump carries) are no one's.
            tables = [name for (name,) in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "ORDER BY name")]
            others = [name for name in tables if name != "complaints"]
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(complaints)")}
        except sqlite3.Error as exc:
            self.db.close()
            if version > SCHEMA_VERSION:  # a later schema this SQLite cannot read
                raise HistoryError("hist_too_new", path=self.path, version=version, supported=SCHEMA_VERSION) from None
            raise self._error(exc) from None
        if version == 0 and not tables:
            return 0
        if version > SCHEMA_VERSION and columns >= _STORE_COLUMNS:  # a later complaintkit's store
            self.db.close()
            raise HistoryError("hist_too_new", path=self.path, version=version, supported=SCHEMA_VERSION)
        # Without a number, only a lone table of complaints is taken for a store.
        if columns >= _STORE_COLUMNS and (version or not others):
            return version or (2 if "other_phones" in columns else 1)
        self.db.close()  # the caller gets no store to close
        if not tables:
            raise HistoryError("hist_cannot_open", path=self.path, detail=f"user_version {version}, no tables")
        raise HistoryError("hist_foreign", path=self.path, tables=", ".join((others or tables)[:3]) + ("…" if len(others or tables) > 3 else ""))

    @classmethod
    def existing(cls, path: str | Path, read_only: bool = False) -> HistoryStore | None:
        """The store at ``path`` opened, or None when there is none: only what writes to a store
        makes one, so a store looked back on, listed or pruned is never made by a mistyped path.
        Each caller says what a missing store means to it (an error, or a warning and go on)."""
        return cls(path, read_only) if Path(path).exists() else None

    def _create(self) -> None:
        """The store's table made (or finished: IF NOT EXISTS) and its version written, in one
        transaction: a job stopped halfway leaves no table without its number, and a second job
        making the same store at the same moment waits for the first and finds it made."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS complaints (
                       key TEXT PRIMARY KEY,
                       complaint_id TEXT,
                       received_date TEXT,
                       source TEXT NOT NULL,
                       sheet TEXT NOT NULL,
                       row INTEGER NOT NULL,
                       "values" TEXT NOT NULL,
                       added_at TEXT NOT NULL,
                       other_phones TEXT)"""
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS complaints_received ON complaints(received_date)")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.commit()
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.rollback()
            self.db.close()  # raised while the store is opened: the caller gets no store to close
            raise self._error(exc) from None

    def _error(self, exc: BaseException, otherwise: str = "hist_cannot_open") -> HistoryError:
        """What went wrong with the store: another job writing it (after BUSY_TIMEOUT_S), or
        what SQLite or the system said (``otherwise``: opening it, or using it)."""
        if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
            return HistoryError("hist_busy", path=self.path, seconds=BUSY_TIMEOUT_S)
        return HistoryError(otherwise, path=self.path, detail=str(exc))

    def _migrate(self, found: int) -> None:
        """Bring an older store to ``SCHEMA_VERSION``, one version at a time, in one transaction.
        The version is read again under the write lock: another process opening the same store
        at the same moment (a cron job and a clerk) migrates it once, and the other sees it done."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            # ``found``: the version the store was opened as (inferred from its table when the
            # file carries no number, see _own_version).
            version = self.db.execute("PRAGMA user_version").fetchone()[0] or found
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.commit()
        except sqlite3.Error as exc:
            self.db.rollback()
            self.db.close()  # raised while the store is opened: the caller gets no store to close
            raise self._error(exc) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def add(self, registers: Iterable[Register], now: dt.datetime | None = None, roots: Sequence[str | Path] = ()) -> AddResult:
        """Add or update every complaint of ``registers``; the same rows again change nothing.
        ``roots``: the paths the batch was given as, which name each register (``source_label``)."""
        stamp = (now or dt.datetime.now()).isoformat(timespec="seconds")
        added = updated = unchanged = 0
        with self._used(), self.db:
            for reg in registers:
                source = source_label(reg.source, roots)
                seconds = second_phones(reg)
                for i, rec in enumerate(reg.records):
                    key = complaint_key(rec)
                    encoded = _encode(rec.values)
                    phones = _encode_phones(seconds.get(i))
                    received = rec.values.get("received_date")
                    old = self.db.execute('SELECT "values", source, row, other_phones FROM complaints WHERE key = ?', (key,)).fetchone()
                    if old is None:
                        self.db.execute(
                            'INSERT INTO complaints (key, complaint_id, received_date, source, sheet, row, "values", added_at, other_phones) '
                            'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                            (key, rec.id or None, received.isoformat() if received else None, source, rec.sheet, rec.row, encoded, stamp,
                             phones),
                        )
                        added += 1
                    elif tuple(old) != (encoded, source, rec.row, phones):
                        # A row stored before version 2 gains its second phones here too.
                        self.db.execute('UPDATE complaints SET "values" = ?, source = ?, sheet = ?, row = ?, other_phones = ? WHERE key = ?',
                                        (encoded, source, rec.sheet, rec.row, phones, key))
                        updated += 1
                    else:
                        unchanged += 1
        return AddResult(added, updated, unchanged)

    def sources(self) -> list[SourceSummary]:
        """What the store holds, by register (``source_label``)."""
        with self._used():
            rows = self.db.execute(
                "SELECT source, COUNT(*), MIN(received_date), MAX(received_date), MAX(added_at) FROM complaints GROUP BY source ORDER BY source"
            ).fetchall()
        return [SourceSummary(*r) for r in rows]

    def count(self) -> int:
        """How many complaints the store holds."""
        with self._used():
            return self.db.execute("SELECT COUNT(*) FROM complaints").fetchone()[0]

    @contextlib.contextmanager
    def _used(self) -> Iterator[None]:
        """SQLite's errors while the store is read or written, as one HistoryError: another job
        still writing after BUSY_TIMEOUT_S, or what went wrong."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc, "hist_cannot_use") from None

    def ready_to_write(self) -> None:
        """Raise HistoryError now when nothing can be written to this store (a write-protected
        file, a share mounted read-only), so that a job adding to it stops before its work."""
        try:
            # Asked at once, not after waiting BUSY_TIMEOUT_S for a job that is writing: that job's
            # turn ends, and the write later waits for it.
            self.db.execute("PRAGMA busy_timeout = 0")
            # One write, rolled back (the file stays as it is): SQLite grants the transaction on a
            # store it may only read, and refuses only the write.
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(f"PRAGMA user_version = {self.version}")
        except sqlite3.OperationalError as exc:
            if _busy(exc):  # another job is adding right now: its turn ends, ours will come
                return
            raise self._error(exc) from None
        finally:
            if self.db.in_transaction:
                self.db.rollback()
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")

    def forget(self, before: dt.date) -> int:
        """Delete complaints received before ``before`` (and those with no received date); returns how many."""
        with self._used(), self.db:
            cur = self.db.execute("DELETE FROM complaints WHERE received_date IS NULL OR received_date < ?", (before.isoformat(),))
        return cur.rowcount

    def registers(self, since: dt.date | None = None, exclude: Sequence[Register] = ()) -> list[Register]:
        """Stored complaints as Registers (one per source file), for ``OpContext.history``.

        Complaints that are also in ``exclude`` (the registers being checked now) are left out,
        so a complaint is never its own history.
        """
        skip = {complaint_key(rec) for reg in exclude for rec in reg.records}
        phones_column = "other_phones" if self.version >= 2 else "NULL"  # version 1, read as it is
        query = f'SELECT key, source, sheet, row, "values", {phones_column} FROM complaints'
        params: tuple[Any, ...] = ()
        if since is not None:
            query += " WHERE received_date >= ?"
            params = (since.isoformat(),)
        by_source: dict[tuple[str, str], list[tuple[int, str, str | None]]] = defaultdict(list)
        with self._used():
            for key, source, sheet, row, values, phones in self.db.execute(query + " ORDER BY received_date, source, row", params):
                if key not in skip:
                    by_source[(f"history:{source}", sheet)].append((row, values, phones))
        return [_stored_register(src, sheet, rows) for (src, sheet), rows in by_source.items()]


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite's "database is locked" (another connection holds the lock) or "busy"."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _stored_register(source: str, sheet: str, rows: Sequence[tuple[int, str, str | None]]) -> Register:
    """A register rebuilt from the store: its complaints, and the second phone columns their
    numbers came from, as the loader reads such columns (unknown columns, their cells in
    ``Record.extra``, each also named as a second column of the phone field), so that
    ``identity.phone_columns`` finds them. Two columns of one header (a second and a third
    联系电话) stay two."""
    columns: dict[tuple[str, int], Column] = {}
    records = []
    for row, values, phones in rows:
        extra: dict[str, str] = {}
        if phones:  # most complaints have no second phone: no work for them
            seen: Counter[str] = Counter()
            for header, phone in json.loads(phones):
                slot = (header, seen[header])
                seen[header] += 1
                col = columns.get(slot)
                if col is None:
                    n = len(columns)
                    col = columns[slot] = Column(n, column_letter(n), header, None, f"{header}@{slot[1] + 1}" if slot[1] else header)
                extra[col.extra_key] = phone
        records.append(Record(source, sheet, row, _decode(values), {}, extra=extra))
    own = list(columns.values())
    return Register(source, sheet, 0, own, records, "history",
                    near_duplicate_columns=[Column(c.index, c.letter, c.header, "phone") for c in own])
