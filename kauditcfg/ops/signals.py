"""SIGTERM, SIGINT and SIGHUP during a run: treated as a failed step (undo, then exit 128 + n)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from kauditcfg.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalGuard:
    """Turns the signals into `Interrupted` at the next step; while undoing, only remembers them."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.deferring = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False


@contextmanager
def guarded() -> Iterator[SignalGuard]:
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard  # signal handlers can only be set from the main thread
        return
    previous: dict[int, Any] = {}
    for sig in SIGNALS:
        previous[int(sig)] = signal.signal(sig, guard._handle)
    try:
        yield guard
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
