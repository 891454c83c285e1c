"""Python's cycle collector, paused while a large batch builds its many small objects."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a large batch builds its many small objects.

    Each collection walks every live object, the whole register included, so on a large batch
    the collector alone makes the cost grow faster than the rows. What the reader, the loader and
    the checks build forms no reference cycle, so reference counting still frees it all; the
    collector resumes (if it was on) afterwards, with what was made meanwhile counted as old.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                # Made old at once (two list splices, no walk): otherwise the first object made
                # after resuming starts a collection of every object made while paused, young
                # all along, which finds no cycle and walks millions of objects (a risk check of
                # a million rows: 5.5 s of 44). A full collection still frees any cycle among
                # them. Not done while someone else keeps objects frozen: theirs would thaw
                # (counting them walks them; complaintkit pauses the collector where it freezes).
                gc.freeze()
                gc.unfreeze()
            gc.enable()
