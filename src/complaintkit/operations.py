"""The operations both doors run: one registry, so the CLI's `run`, the CLI's single commands
and the add-in's buttons all call the very same functions.

An operation takes the registers and an ``OpContext`` and returns an ``OpResult``: its JSON
section, its SheetPlans per register, a one-line summary and the highest severity it found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .policy import Policy
from .register import Register
from .sheetplan import SheetPlan


@dataclass
class OpContext:
    """What every operation may need besides the registers."""

    policy: Policy
    as_of: dt.date
    lang: str = "zh"
    mask: bool = False
    #: Earlier registers (``--history`` or the history store): seen by dedupe and risk only.
    history: Sequence[Register] = ()
    #: Results of operations already run in this pipeline, by name, so later ones reuse them.
    results: dict[str, "OpResult"] = field(default_factory=dict)


@dataclass
class OpResult:
    """An operation's outcome, ready for every door."""

    name: str
    data: dict[str, Any]
    plans: dict[tuple[str, str], list[SheetPlan]]
    summary: str
    #: counts for the exit code: how many findings at error and at warning level.
    errors: int = 0
    warnings: int = 0
    #: the core result object (ValidationReport, ...) for operations that build on it.
    detail: Any = None

    def plans_for(self, register: Register) -> list[SheetPlan]:
        """The plans for one register (empty when the operation shows nothing there)."""
        return self.plans.get((register.source, register.sheet), [])


Operation = Callable[[Sequence[Register], OpContext], OpResult]
OPERATIONS: dict[str, Operation] = {}
#: The order `run` and 一键检查 use: later operations build on earlier ones.
PIPELINE_ORDER = ["validate", "dedupe", "classify", "followups", "risk"]


def operation(name: str) -> Callable[[Operation], Operation]:
    """Decorator: register an operation under ``name``."""

    def wrap(func: Operation) -> Operation:
        OPERATIONS[name] = func
        return func

    return wrap


def run_operation(name: str, registers: Sequence[Register], ctx: OpContext) -> OpResult:
    """Run one operation (once per pipeline: a second call returns the first result)."""
    _load_all()
    if name in ctx.results:
        return ctx.results[name]
    if name not in OPERATIONS:
        raise KeyError(f"unknown operation {name!r} (known: {', '.join(sorted(OPERATIONS))})")
    result = OPERATIONS[name](registers, ctx)
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
