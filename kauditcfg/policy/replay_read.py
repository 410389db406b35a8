"""Read audit logs into a Capture: JSON lines, EventLists, `.gz` rotations, stdin; several files and
the byte ranges of a large one in parallel, on every core.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from types import ModuleType
from typing import BinaryIO, cast

import msgspec
import orjson

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.parallel import ByteRange, line_cuts
from kauditcfg.policy.replay_capture import Capture, RawList, Reader

_gzip: ModuleType
try:  # python-isal decompresses about 2.5x faster than zlib (same API as gzip)
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency; a bare install still works
    _gzip = gzip

BLOCK = 4 << 20
PARALLEL_BYTES = 24 << 20
BOM = b"\xef\xbb\xbf"


def _blocks(read: Callable[[int], bytes]) -> Iterator[tuple[bytes, int, int]]:
    """Runs of whole lines as (buffer, start, end): only the line straddling two reads is copied."""
    rest = b""
    while True:
        block = read(BLOCK)
        if not block:
            if rest:
                yield rest, 0, len(rest)
            return
        start = 0
        if rest:
            first = block.find(b"\n")
            if first < 0:
                rest += block
                continue
            start = first + 1
            joined = rest + block[:first]
            yield joined, 0, len(joined)
        cut = block.rfind(b"\n")
        if cut >= start:
            yield block, start, cut
            rest = block[cut + 1 :]
        else:
            rest = block[start:]


def _feed_all(reader: Reader, read: Callable[[int], bytes]) -> None:
    number = 1
    for block, start, end in _blocks(read):
        number += reader.feed(block, number, start, end)


def _open(path: str) -> BinaryIO:
    if path == "-":
        stdin = sys.stdin.buffer
        if isinstance(stdin, io.BufferedReader) and stdin.peek(2)[:2] == b"\x1f\x8b":
            return cast(BinaryIO, _gzip.GzipFile(fileobj=stdin, mode="rb"))
        return stdin
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        head = raw.read(2)
        raw.seek(0)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.endswith(".gz") or head == b"\x1f\x8b":
        return cast(BinaryIO, _gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw


class _Kind(msgspec.Struct):
    kind: str = ""


def _is_document(first: bytes) -> bool:
    """An EventList, a JSON array or one pretty-printed event rather than JSON lines."""
    head = first.lstrip()[:1]
    if head == b"[":
        return True
    newline = first.find(b"\n")
    line = first if newline < 0 else first[:newline]
    try:
        return msgspec.json.decode(line, type=_Kind).kind == "EventList"
    except (msgspec.DecodeError, msgspec.ValidationError):
        # A first line that is not JSON by itself: pretty-printed when the rest completes it.
        return head == b"{" and len(first) < BLOCK


def _read_stream(reader: Reader, stream: BinaryIO) -> None:
    first = stream.read(BLOCK)
    if first.startswith(BOM):
        first = first[len(BOM) :]
    if _is_document(first):
        data = first + stream.read()
        try:
            _read_document(reader, data)
            return
        except InvalidInput:
            if data.lstrip()[:1] == b"[" or b'"EventList"' in data[:4096]:
                raise
        # Not a document after all: JSON lines whose first line is bad.
        reader.feed(data, 1)
        return
    pending: list[bytes] = [first]

    def again(size: int) -> bytes:
        return pending.pop() if pending else stream.read(size)

    _feed_all(reader, again)


def _read_document(reader: Reader, data: bytes) -> None:
    """An EventList (a webhook batch) or a JSON array: each item counts as one line of its own."""
    try:
        stripped = data.strip()
        if stripped[:1] == b"[":
            items = msgspec.json.decode(stripped, type=list[msgspec.Raw])
        elif msgspec.json.decode(stripped, type=_Kind).kind == "EventList":
            items = msgspec.json.decode(stripped, type=RawList).items or []
        else:
            items = [msgspec.Raw(stripped)]  # one pretty-printed event
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"{reader.source}: not audit events (JSON lines or an EventList): {exc}") from None
    # kube-apiserver's log backend writes each event as one compact line: count that form.
    reader.feed(b"\n".join(_compact(bytes(item)) for item in items), 1)


def _compact(item: bytes) -> bytes:
    try:
        return orjson.dumps(orjson.loads(item))
    except orjson.JSONDecodeError:
        return item.replace(b"\n", b" ")


def read_unit(path: str, start: int, end: int | None, keep_names: frozenset[str] | None) -> Capture:
    """The capture of one file, or of bytes [start, end) of a plain one."""
    reader = Reader("<stdin>" if path == "-" else path, keep_names)
    stream = _open(path)
    try:
        if end is None:
            _read_stream(reader, stream)
        else:
            _feed_all(reader, ByteRange(stream, start, end).read)
            if start and reader.capture.skipped_examples:
                with open(path, "rb") as handle:  # line numbers were counted from the range start
                    before = handle.read(start).count(b"\n")
                for skipped in reader.capture.skipped_examples:
                    skipped.line += before
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        # A rotation caught mid-write: keep what was read, report the rest.
        reader._skip(reader.capture.lines + reader.capture.skipped + 1, f"truncated or corrupt file: {exc}")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return reader.capture


def _units(paths: list[str], cores: int) -> list[tuple[str, int, int | None]]:
    units: list[tuple[str, int, int | None]] = []
    for path in paths:
        size = 0
        compressed = path.endswith(".gz")
        plain_lines = False
        if path != "-":
            try:
                size = os.stat(path).st_size
                with open(path, "rb") as handle:
                    start = handle.read(4096)
                compressed = compressed or start[:2] == b"\x1f\x8b"
            except OSError as exc:
                raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
            plain_lines = (
                start.lstrip(BOM)[:1] == b"{" and b'"EventList"' not in start[: start.find(b"\n") + 1]
            )
        if path != "-" and not compressed and plain_lines and size >= PARALLEL_BYTES and cores > 1:
            cuts = line_cuts(path, cores)
            units.extend((path, cuts[i], cuts[i + 1]) for i in range(cores) if cuts[i + 1] > cuts[i])
        else:
            units.append((path, 0, None))
    return units


def _work(unit: tuple[str, int, int | None], keep_names: frozenset[str] | None) -> Capture:
    import gc

    gc.disable()  # decoded events hold no cycles; the collector would only rescan the cells
    return read_unit(*unit, keep_names=keep_names)


def read_capture(paths: list[str], keep_names: frozenset[str] | None = frozenset()) -> Capture:
    """Read every log (in parallel across cores when there is enough to read) into one Capture."""
    cores = min(os.cpu_count() or 1, 8)
    units = _units(paths, cores)
    total = sum(os.stat(p).st_size for p, *_ in units if p != "-") if units else 0
    capture = Capture()
    if len(units) > 1 and cores > 1 and total >= PARALLEL_BYTES and hasattr(os, "fork") and "-" not in paths:
        with ProcessPoolExecutor(max_workers=cores, mp_context=get_context("fork")) as pool:
            for part in pool.map(_work, units, [keep_names] * len(units)):
                capture.merge(part)
        return capture.finish()
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        for unit in units:
            capture.merge(read_unit(*unit, keep_names=keep_names))
    finally:
        if enabled:
            gc.enable()
    return capture.finish()
