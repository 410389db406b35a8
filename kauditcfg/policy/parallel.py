"""`explain --json` over a large plain audit log on every core, output still in input order.

The log is cut into byte ranges at line ends; forked workers explain ranges 1..n-1 into
temporary files while this process streams range 0 straight out, then the workers' results are
copied out in order. Memory stays flat; only plain JSON-lines files big enough to pay for the
forks take this path (stdin, .gz and EventLists are read by one process).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
from typing import IO, Any, BinaryIO

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.events import BadLine, json_line_batches
from kauditcfg.policy.explain import Explainer, Skips

MIN_BYTES = 32 << 20


class ByteRange:
    """A read-only view of bytes [start, end) of an open file."""

    def __init__(self, handle: BinaryIO, start: int, end: int) -> None:
        handle.seek(start)
        self._handle = handle
        self._left = end - start

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data


def _eligible(path: str, min_bytes: int) -> int:
    """How many workers `path` deserves (0: read it the ordinary way)."""
    cores = os.cpu_count() or 1
    if path == "-" or cores < 2 or not hasattr(os, "fork"):
        return 0
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            first = handle.readline(1 << 16).strip()
    except OSError:
        return 0
    if size < min_bytes or head == b"\x1f\x8b" or path.endswith(".gz"):
        return 0
    if not first.startswith(b"{") or b'"EventList"' in first:
        return 0
    return min(cores, 8)


def line_cuts(path: str, parts: int) -> list[int]:
    size = os.stat(path).st_size
    cuts = [0]
    with open(path, "rb") as handle:
        for i in range(1, parts):
            handle.seek(size * i // parts)
            handle.readline()
            cuts.append(max(handle.tell(), cuts[-1]))
    cuts.append(size)
    return cuts


def _explain_range(
    explainer: Explainer, path: str, start: int, end: int, out: IO[bytes], bad: IO[bytes]
) -> None:
    """Explain bytes [start, end) of `path` into `out`; what was skipped goes to `bad` as JSON."""
    explainer.skips = Skips()
    explainer.events = 0
    with open(path, "rb") as handle:
        stream = ByteRange(handle, start, end)
        for chunk in explainer.json_lines(json_line_batches(stream, path)):  # type: ignore[arg-type]
            out.write(chunk)
    skips = explainer.skips
    firsts = [
        [line.line, line.problem, line.foreign] if line else None
        for line in (skips.first_unreadable, skips.first_foreign)
    ]
    summary = {"events": explainer.events, "unreadable": skips.unreadable, "foreign": skips.foreign}
    bad.write(json.dumps({**summary, "firsts": firsts}).encode())


def explain_file_parallel(explainer: Explainer, path: str, out: BinaryIO, min_bytes: int = MIN_BYTES) -> bool:
    """Explain `path` with several processes into `out`, counting into explainer.events/skips.

    False when it is not worth it (the caller reads the file itself).
    """
    parts = _eligible(path, min_bytes)
    if parts < 2:
        return False
    cuts = line_cuts(path, parts)
    events, skips = explainer.events, explainer.skips
    with contextlib.ExitStack() as stack:
        spools = [
            (stack.enter_context(tempfile.TemporaryFile()), stack.enter_context(tempfile.TemporaryFile()))
            for _ in range(parts)
        ]
        out.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        pids = [_fork_worker(explainer, path, cuts[i], cuts[i + 1], *spools[i]) for i in range(1, parts)]
        try:
            _explain_range(explainer, path, cuts[0], cuts[1], out, spools[0][1])
            summaries = [_summary(spools[0][1])]
            for i, pid in enumerate(pids, start=1):
                _, status = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise InvalidInput(
                        f"{path}: a worker failed reading from byte {cuts[i]}; output incomplete"
                    )
                result, bad = spools[i]
                result.seek(0)
                shutil.copyfileobj(result, out, 1 << 20)
                summaries.append(_summary(bad))
        finally:
            for pid in pids:  # after an error: do not leave zombies behind
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
    explainer.events, explainer.skips = events, skips
    for start, summary in zip(cuts, summaries, strict=False):
        _merge(explainer, path, start, summary)
    return True


def _summary(bad: IO[bytes]) -> dict[str, Any]:
    bad.seek(0)
    return dict(json.loads(bad.read()))


def _merge(explainer: Explainer, path: str, start: int, summary: dict[str, Any]) -> None:
    """Add a range's counts; its first skipped lines are renumbered from the start of the file."""
    explainer.events += int(summary["events"])
    skips = explainer.skips
    before: int | None = None
    for first in summary["firsts"]:
        if first is None:
            continue
        if before is None:  # line numbers were counted from the range start
            with open(path, "rb") as handle:
                before = handle.read(start).count(b"\n") if start else 0
        line = BadLine(path, before + int(first[0]), str(first[1]), bool(first[2]))
        if line.foreign and skips.first_foreign is None:
            skips.first_foreign = line
        elif not line.foreign and skips.first_unreadable is None:
            skips.first_unreadable = line
    skips.unreadable += int(summary["unreadable"])
    skips.foreign += int(summary["foreign"])


def _fork_worker(
    explainer: Explainer, path: str, start: int, end: int, result: IO[bytes], bad: IO[bytes]
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0  # the worker: explain its range, then leave without running any of the parent's cleanup
    try:
        gc.disable()
        _explain_range(explainer, path, start, end, result, bad)
        result.flush()
        bad.flush()
    except BaseException:
        code = 1
    os._exit(code)
