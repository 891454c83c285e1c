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
    collector resumes (if it was on) afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
