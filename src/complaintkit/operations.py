"""The operations both doors run: one registry, so the CLI's `run`, the CLI's single commands
and the add-in's buttons all call the very same functions.

An operation takes the registers and an ``OpContext`` and returns an ``OpResult``: its JSON
section, its SheetPlans per register, a one-line summary and the highest severity it found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .collector import collector_paused
from .policy import Policy
from .register import Register
from .sheetplan import SheetPlan


@dataclass(frozen=True)
class OpContext:
    """What every operation may need besides the registers. Frozen: an operation builds its rows
    and JSON when a door first asks, with the language and masking it ran with (a context changed
    meanwhile would show a result otherwise than ``OpResult.masked`` says). Its ``results`` and
    ``shared`` fill as the pipeline runs."""

    policy: Policy
    as_of: dt.date
    lang: str = "zh"
    mask: bool = False
    #: Earlier registers (``--history`` or the history store): seen by dedupe and risk only.
    history: Sequence[Register] = ()
    #: Results of operations already run in this pipeline, by name, so later ones reuse them.
    results: dict[str, "OpResult"] = field(default_factory=dict)
    #: What several operations derive from earlier results (classify's labels), derived once.
    shared: dict[str, Any] = field(default_factory=dict)


class OpResult:
    """An operation's outcome, ready for every door.

    ``data`` (the JSON section) and the plans are built when a door first asks for them, then
    kept: the add-in never needs the JSON and ``run --report`` never needs the plans, and on a
    large register each costs seconds and hundreds of megabytes. Either may be given built, or
    as a function that builds it (``data()``, ``plans(register)``).
    """

    def __init__(self, name: str, data: dict[str, Any] | Callable[[], dict[str, Any]],
                 plans: dict[tuple[str, str], list[SheetPlan]] | Callable[[Register], list[SheetPlan]],
                 summary: str, errors: int = 0, warnings: int = 0, detail: Any = None,
                 items: Callable[[], Iterable[dict[str, Any]]] | None = None) -> None:
        self.name = name
        self.summary = summary
        #: counts for the exit code: how many findings at error and at warning level.
        self.errors = errors
        self.warnings = warnings
        #: the core result object (ValidationReport, ...) for operations that build on it.
        self.detail = detail
        self._data = data
        self._items = items
        self._plans = plans if callable(plans) else None
        self._planned: dict[tuple[str, str], list[SheetPlan]] = {} if callable(plans) else dict(plans)
        #: the --mask the operation ran with (``OpContext.mask``, set by ``run_operation``): its
        #: rows and JSON arrive masked by it or not, and whatever shows them beside other
        #: values (the report) must mask alike.
        self.masked: bool | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The operation's JSON section."""
        if callable(self._data):
            self._data = self.data_once()
        return self._data

    def data_once(self) -> dict[str, Any]:
        """The JSON section for one use, not kept (unless built already): a run writing its JSON
        holds one section at a time."""
        if callable(self._data):
            with collector_paused():
                return self._data()
        return self._data

    def items(self) -> Iterable[dict[str, Any]]:
        """The JSON section's row items (findings, groups or rows), one at a time: a report walks
        them once without the whole JSON section held in memory, unless it is built already."""
        if self._items is None or not callable(self._data):
            return main_items(self.data)
        return self._items()

    def plans_for(self, register: Register) -> list[SheetPlan]:
        """The plans for one register (empty when the operation shows nothing there)."""
        key = (register.source, register.sheet)
        if key not in self._planned and self._plans is not None:
            with collector_paused():
                plans = self._plans(register)
            id_column = register.column_of_field("complaint_id")
            for plan in plans:
                plan.id_column = id_column.index + 1 if id_column else 0
            self._planned[key] = plans
        return self._planned.get(key, [])

    def __repr__(self) -> str:
        return f"OpResult({self.name!r}, {self.summary!r}, errors={self.errors}, warnings={self.warnings})"


def main_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of row items of an operation's JSON section (findings, groups or rows)."""
    for key in ("findings", "groups", "rows"):
        items = data.get(key)
        if isinstance(items, list):
            return [i for i in items if isinstance(i, dict)]
    return []


Operation = Callable[[Sequence[Register], OpContext], OpResult]
OPERATIONS: dict[str, Operation] = {}
#: The order `run` and 一键检查 use: later operations build on earlier ones.
PIPELINE_ORDER = ["validate", "dedupe", "classify", "followups", "risk"]


#: Per operation, what reads its part of the policy (raising PolicyError on a wrong value).
POLICY_READERS: dict[str, Callable[[Policy], Any]] = {}
#: The operations each runs for itself (risk: dedupe and followups; dedupe: classify).
NEEDS: dict[str, tuple[str, ...]] = {}


def operation(name: str, reads_policy: Callable[[Policy], Any] | None = None,
              needs: Sequence[str] = ()) -> Callable[[Operation], Operation]:
    """Decorator: register an operation under ``name``; ``reads_policy`` reads and checks its
    settings, so a policy can be checked whole before any register is read (``check_policy``);
    ``needs``: the operations it runs for itself, whose settings are checked with its own."""

    def wrap(func: Operation) -> Operation:
        OPERATIONS[name] = func
        NEEDS[name] = tuple(needs)
        if reads_policy is not None:
            POLICY_READERS[name] = reads_policy
        return func

    return wrap


def check_policy(policy: Policy, names: Sequence[str] | None = None) -> None:
    """Read every operation's settings (or those of ``names``) as the operation will: a mistake in
    any section is a PolicyError now, not when that check first runs (``config show``, ``run``)."""
    _load_all()
    wanted = None if names is None else set(names)
    while wanted is not None and (more := {n for w in wanted for n in NEEDS.get(w, ())} - wanted):
        wanted |= more
    for name in PIPELINE_ORDER + sorted(set(POLICY_READERS) - set(PIPELINE_ORDER)):
        if name in POLICY_READERS and (wanted is None or name in wanted):
            POLICY_READERS[name](policy)


def run_operation(name: str, registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """Run one operation (once per pipeline: a second call returns the first result)."""
    _load_all()
    if name in ctx.results:
        return ctx.results[name]
    if name not in OPERATIONS:
        raise KeyError(f"unknown operation {name!r} (known: {', '.join(sorted(OPERATIONS))})")
    # An operation builds many small objects over a large live register and no reference cycles:
    # the cycle collector would walk the register again and again (a fifth of the time or more).
    with collector_paused():
        result = OPERATIONS[name](registers, ctx)
    result.masked = ctx.mask
    ctx.results[name] = result
    return result


def run_pipeline(registers: Sequence[Register], ctx: OpContext, names: Sequence[str] | None = None) -> list[OpResult]:
    """Run several operations in pipeline order (all available ones by default)."""
    _load_all()
    wanted = [n for n in PIPELINE_ORDER if n in OPERATIONS and (names is None or n in names)]
    return [run_operation(n, registers, ctx) for n in wanted]


def available() -> list[str]:
    """Operation names in pipeline order."""
    _load_all()
    return [n for n in PIPELINE_ORDER if n in OPERATIONS] + sorted(set(OPERATIONS) - set(PIPELINE_ORDER))


def _load_all() -> None:
    # Importing a check module registers its operation; the list grows as checks are added.
    import importlib

    for module in ("validation", "dedupe", "classification", "deadlines", "risk"):
        try:
            importlib.import_module(f"complaintkit.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"complaintkit.{module}":
                raise
