"""A lock so two runs (two cron jobs, or cron and a person) never write the same outputs."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .errors import OutputError
from .messages import register_messages
from .outputs import make_folder

register_messages({
    "out_run_lock": ("{path}：另一个 complaintkit 任务正在写这些输出（锁文件 {lock}），请等它结束",
                     "{path}: another complaintkit run is writing these outputs (lock {lock})"),
})


@contextlib.contextmanager
def output_lock(target: str | Path) -> Iterator[Path]:
    """Hold ``<target>.lock`` for the duration; a second holder gets an OutputError at once.

    The OS releases the lock when the process ends, so a killed run leaves no stale lock behind.
    The small lock file itself stays: deleting it would let a third run lock a new file while a
    second still waits on the old one.
    """
    target = Path(target)
    lock_path = target.parent / f".{target.name}.lock"
    make_folder(lock_path.parent)  # a file where the folder should be: said as for every output
    try:
        fh = open(lock_path, "a+")
    except OSError as exc:  # a read-only share
        raise OutputError("out_cannot_write", path=target, detail=exc.strerror or exc) from None
    try:
        try:
            if os.name == "nt":  # pragma: no cover - Windows branch PCs
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError("out_run_lock", path=target, lock=lock_path) from None
        yield lock_path
    finally:
        fh.close()
