"""Streaming reader of kube-apiserver audit events: JSON lines, an EventList, stdin, `.gz`.

Only the fields a policy looks at are decoded (msgspec skips the rest without building it), in
bounded chunks of lines, so memory stays constant whatever the size of the log.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import msgspec

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.model import Request

CHUNK = 1 << 20


class _User(msgspec.Struct, gc=False):
    username: str | None = None
    groups: list[str] | None = None


class _ObjectRef(msgspec.Struct, gc=False):
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    apiGroup: str | None = None
    apiVersion: str | None = None


class Event(msgspec.Struct, gc=False):
    # Kept as raw JSON: explain --json copies it to its output without decoding and re-encoding.
    auditID: msgspec.Raw = msgspec.Raw(b"null")
    verb: str | None = None
    user: _User | None = None
    objectRef: _ObjectRef | None = None
    requestURI: str | None = None
    kind: str | None = None


class _EventList(msgspec.Struct):
    items: list[Event] | None = None


_decode_event = msgspec.json.Decoder(Event).decode
_decode_lines = msgspec.json.Decoder(Event).decode_lines
_decode_list = msgspec.json.Decoder(_EventList).decode


@dataclass(frozen=True)
class BadLine:
    """A line that is not an audit event; reported, then skipped."""

    source: str
    line: int
    problem: str


def audit_id(event: Event) -> str | None:
    value = msgspec.json.decode(event.auditID)
    return None if value is None else str(value)


def request_of(event: Event) -> Request:
    """The authorizer attributes kube-apiserver evaluated the policy with, rebuilt from the event."""
    user = event.user
    ref = event.objectRef
    if ref is None:
        uri = event.requestURI or ""
        return Request(
            verb=event.verb or "",
            user=user.username if user is not None else None,
            groups=tuple(user.groups or ()) if user is not None else (),
            is_resource=False,
            path=uri.split("?", 1)[0],
        )
    return Request(
        verb=event.verb or "",
        user=user.username if user is not None else None,
        groups=tuple(user.groups or ()) if user is not None else (),
        is_resource=True,
        namespace=ref.namespace or "",
        api_group=ref.apiGroup or "",
        api_version=ref.apiVersion or "",
        resource=ref.resource or "",
        subresource=ref.subresource or "",
        name=ref.name or "",
    )


def _open(path: str) -> BinaryIO:
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by read_events
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if path.endswith(".gz") or head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _chunks(stream: BinaryIO, head: bytes = b"") -> Iterator[tuple[bytes | memoryview, int]]:
    """Runs of whole lines in order, with their line count.

    Zero-copy: each block read is sliced through a memoryview; only the line straddling two
    blocks is joined into a small bytes of its own.
    """
    rest = head
    while True:
        block = stream.read(CHUNK)
        if not block:
            if rest.strip():
                yield rest, rest.count(b"\n") + 1
            return
        start = 0
        if rest:
            first_nl = block.find(b"\n")
            if first_nl < 0:
                rest += block
                continue
            start = first_nl + 1
            joined = rest + block[:start]
            yield joined, joined.count(b"\n")
        cut = block.rfind(b"\n") + 1
        if cut > start:
            yield memoryview(block)[start:cut], block.count(b"\n", start, cut)
        rest = block[max(cut, start) :]


def _lines_one_by_one(chunk: bytes | memoryview, source: str, first_line: int) -> list[Event | BadLine]:
    found: list[Event | BadLine] = []
    for offset, line in enumerate(bytes(chunk).split(b"\n")):
        if not line.strip():
            continue
        try:
            found.append(_decode_event(line))
        except msgspec.DecodeError as exc:
            found.append(BadLine(source, first_line + offset, str(exc)))
    return found


def _json_lines(stream: BinaryIO, source: str, first: bytes) -> Iterator[list[Event | BadLine]]:
    line_no = 1
    for chunk, lines in _chunks(stream, first):
        try:
            yield _decode_lines(chunk)  # type: ignore[misc]
        except msgspec.DecodeError:
            # Rare: a torn or foreign line. Redo this chunk line by line to name it and go on.
            yield _lines_one_by_one(chunk, source, line_no)
        line_no += lines


def json_line_batches(stream: BinaryIO, source: str) -> Iterator[list[Event | BadLine]]:
    """Batches of a stream known to hold JSON lines (a byte range of a log); line numbers count from 1."""
    return _json_lines(stream, source, b"")


def _whole_document(data: bytes, source: str) -> list[Event | BadLine]:
    """An EventList (a webhook POST body), a JSON array of events, or one pretty-printed event."""
    try:
        stripped = data.lstrip()
        if stripped[:1] == b"[":
            return list(msgspec.json.decode(stripped, type=list[Event]))
        if b'"EventList"' in stripped[:4096] or b'"items"' in stripped:
            items = _decode_list(stripped).items
            if items is not None:
                return list(items)
        return [_decode_event(stripped)]
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"{source}: not audit events (JSON lines or an EventList): {exc}") from None


def read_events(path: str) -> Iterator[Event | BadLine]:
    """Every event of `path` (`-` is stdin), in order; unreadable lines come back as BadLine."""
    for batch in read_batches(path):
        yield from batch


def read_batches(path: str) -> Iterator[list[Event | BadLine]]:
    """The events of `path` in bounded batches (one per block of about CHUNK bytes)."""
    stream = _open(path)
    source = "<stdin>" if path == "-" else path
    try:
        first = stream.read(CHUNK)
        newline = first.find(b"\n")
        first_line = first if newline < 0 else first[:newline]
        kind_list = False
        try:
            head = _decode_event(first_line) if first_line.strip() else None
            kind_list = head is not None and head.kind == "EventList"
        except msgspec.DecodeError:
            head = None
        if first_line.strip() and (head is None or kind_list):
            # Not JSON lines: the whole input is one JSON document (bounded: webhook batches are small).
            yield _whole_document(first + stream.read(), source)
            return
        yield from _json_lines(stream, source, first)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
