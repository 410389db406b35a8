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
from typing import Any, BinaryIO

import msgspec

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.model import Request
from kauditcfg.policy.requestinfo import parse_request_uri

CHUNK = 1 << 20


class _User(msgspec.Struct, gc=False):
    username: str | None = None
    groups: tuple[str, ...] | None = None  # a tuple: hashable, part of explain's cache key


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
    apiVersion: str | None = None
    stage: str | None = None


class _EventList(msgspec.Struct):
    kind: str | None = None
    items: list[Event] | None = None


_decode_event = msgspec.json.Decoder(Event).decode
_decode_lines = msgspec.json.Decoder(Event).decode_lines
_decode_list = msgspec.json.Decoder(_EventList).decode
_decode_any = msgspec.json.Decoder().decode
_BOM = b"\xef\xbb\xbf"
_NULL = msgspec.Raw(b"null")


@dataclass(frozen=True)
class BadLine:
    """A line (or EventList item) that is not an audit event: counted, reported once, skipped."""

    source: str
    line: int
    problem: str
    foreign: bool = False  # True: readable JSON, but something else (a GKE LogEntry, a core Event)


def foreign(event: Event) -> str | None:
    """Why a decoded object is not a kube-apiserver audit Event (None: it is one)."""
    api = event.apiVersion
    if api is not None and not api.startswith("audit.k8s.io/"):
        return f'not an audit event (apiVersion "{api}", kind "{event.kind}")'
    if event.kind != "Event" and event.auditID == _NULL and event.stage is None:
        what = f'kind "{event.kind}"' if event.kind is not None else "no kind"
        return f"not an audit event ({what}, no auditID or stage)"
    return None


def audit_id(event: Event) -> str | None:
    value = msgspec.json.decode(event.auditID)
    return None if value is None else str(value)


def _user(event: Event) -> tuple[str | None, tuple[str, ...]]:
    user = event.user
    return (user.username, user.groups or ()) if user is not None else (None, ())


def request_of(event: Event) -> Request:
    """The authorizer attributes kube-apiserver evaluated the policy with, rebuilt from the event.

    A resource request has an objectRef (LogRequestMetadata, k8s.io/apiserver/pkg/audit/request.go).
    Its name, namespace and subresource come from the URL as RequestInfo parsed it, because
    LogRequestObject fills an empty objectRef.name/namespace from the body after the policy was
    evaluated; objectRef is used where the URL is missing or is not a resource URL.
    """
    user, groups = _user(event)
    ref = event.objectRef
    uri = event.requestURI or ""
    verb = event.verb or ""
    if ref is None:
        return Request(verb=verb, user=user, groups=groups, is_resource=False, path=uri.split("?", 1)[0])
    info = parse_request_uri(uri) if uri else None
    if info is None:
        namespace, subresource, name = ref.namespace or "", ref.subresource or "", ref.name or ""
    else:
        namespace, subresource, name = info.namespace, info.subresource, info.name_for(verb)
    return Request(
        verb=verb,
        user=user,
        groups=groups,
        is_resource=True,
        namespace=namespace,
        api_group=ref.apiGroup if ref.apiGroup is not None else (info.api_group if info else ""),
        api_version=ref.apiVersion or (info.api_version if info else ""),
        resource=ref.resource or (info.resource if info else ""),
        subresource=subresource,
        name=name,
    )


def _open(path: str) -> BinaryIO:
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by read_batches
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if path.endswith(".gz") or head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _chunks(stream: BinaryIO, head: bytes = b"") -> Iterator[tuple[bytes | memoryview, int]]:
    """Runs of whole lines in order, with their line count; a line may be of any size.

    Zero-copy: each block read is sliced through a memoryview; only a line straddling blocks is
    joined into a bytes of its own (from a list of pieces: a 100 MB line costs one join).
    """
    pieces: list[bytes] = [head] if head else []
    while True:
        block = stream.read(CHUNK)
        if not block:
            rest = b"".join(pieces)
            if rest.strip():
                yield rest, rest.count(b"\n") + 1
            return
        start = 0
        if pieces:
            first_nl = block.find(b"\n")
            if first_nl < 0:
                pieces.append(block)
                continue
            start = first_nl + 1
            pieces.append(block[:start])
            joined = b"".join(pieces)
            pieces = []
            yield joined, joined.count(b"\n")
        cut = block.rfind(b"\n") + 1
        if cut > start:
            yield memoryview(block)[start:cut], block.count(b"\n", start, cut)
        if max(cut, start) < len(block):
            pieces.append(block[max(cut, start) :])


def _line_numbers(chunk: bytes | memoryview, first_line: int) -> list[tuple[int, bytes]]:
    """The non-blank lines of a chunk with their numbers (decode_lines skips blank lines too)."""
    return [
        (first_line + offset, line)
        for offset, line in enumerate(bytes(chunk).split(b"\n"))
        if line.strip()
    ]


def _problem(exc: msgspec.DecodeError) -> str:
    text = str(exc)
    if text.startswith("JSON is malformed") or "truncated" in text:
        return f"not JSON, or a torn line ({text})"
    return f"a field has the wrong type ({text})"


def _lines_one_by_one(chunk: bytes | memoryview, source: str, first_line: int) -> list[Event | BadLine]:
    found: list[Event | BadLine] = []
    for number, line in _line_numbers(chunk, first_line):
        try:
            event = _decode_event(line)
        except msgspec.DecodeError as exc:
            found.append(BadLine(source, number, _problem(exc)))
            continue
        why = foreign(event)
        found.append(BadLine(source, number, why, foreign=True) if why else event)
    return found


def _screen(batch: list[Event | BadLine], chunk: bytes | memoryview, source: str, first: int) -> None:
    """Replace decoded objects that are not audit events by a BadLine (rare: a mixed stream)."""
    if [item.kind for item in batch].count("Event") == len(batch):  # type: ignore[union-attr]
        return  # the usual case, checked at C speed
    numbers: list[tuple[int, bytes]] | None = None
    for i, item in enumerate(batch):
        if type(item) is Event and item.kind != "Event" and (why := foreign(item)) is not None:
            if numbers is None:
                numbers = _line_numbers(chunk, first)
            batch[i] = BadLine(source, numbers[i][0], why, foreign=True)


def _json_lines(stream: BinaryIO, source: str, first: bytes) -> Iterator[list[Event | BadLine]]:
    line_no = 1
    for chunk, lines in _chunks(stream, first):
        batch: list[Event | BadLine]
        try:
            batch = _decode_lines(chunk)  # type: ignore[assignment]
            _screen(batch, chunk, source, line_no)
        except msgspec.DecodeError:
            # Rare: a torn or foreign line. Redo this chunk line by line to name it and go on.
            batch = _lines_one_by_one(chunk, source, line_no)
        yield batch
        line_no += lines


def json_line_batches(stream: BinaryIO, source: str) -> Iterator[list[Event | BadLine]]:
    """Batches of a stream known to hold JSON lines (a byte range of a log); line numbers count from 1."""
    return _json_lines(stream, source, b"")


def _items(items: list[Any], source: str) -> list[Event | BadLine]:
    """The items of an EventList or array decoded one by one, so one bad item skips only itself."""
    found: list[Event | BadLine] = []
    for number, item in enumerate(items, start=1):
        try:
            event = _decode_event(msgspec.json.encode(item))
        except msgspec.DecodeError as exc:
            found.append(BadLine(source, number, f"item {number}: {_problem(exc)}"))
            continue
        why = foreign(event)
        found.append(BadLine(source, number, f"item {number}: {why}", True) if why else event)
    return found


def _whole_document(data: bytes, source: str) -> list[Event | BadLine] | None:
    """An EventList (a webhook POST body), a JSON array of events, or one pretty-printed event.

    None when the data is not one JSON document after all: the caller reads it as JSON lines.
    """
    try:
        if data[:1] == b"[":
            return list(msgspec.json.decode(data, type=list[Event]))
        listed = _decode_list(data)
        if listed.kind == "EventList" or listed.items is not None:
            return list(listed.items or ())  # `items: null` is an empty list
        return [_decode_event(data)]
    except msgspec.DecodeError:
        pass
    try:
        doc = _decode_any(data)
    except msgspec.DecodeError:
        return None
    if isinstance(doc, dict) and (doc.get("kind") == "EventList" or "items" in doc):
        items = doc.get("items") or []
        return _items(items if isinstance(items, list) else [items], source)
    return _items(doc if isinstance(doc, list) else [doc], source)


def read_events(path: str) -> Iterator[Event | BadLine]:
    """Every event of `path` (`-` is stdin), in order; unreadable lines come back as BadLine."""
    for batch in read_batches(path):
        yield from batch


def _first_line(stream: BinaryIO) -> tuple[bytes, bytes]:
    """The first line (whatever its size, without a UTF-8 BOM) and everything read so far."""
    pieces = [stream.read(CHUNK)]
    while b"\n" not in pieces[-1] and pieces[-1]:
        pieces.append(stream.read(CHUNK))
    data = b"".join(pieces)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    newline = data.find(b"\n")
    return (data if newline < 0 else data[:newline]), data


def _is_document(first_line: bytes) -> bool:
    """Whether the input is one JSON document (array, pretty-printed object, one-line EventList)."""
    head = first_line.strip()
    if head[:1] == b"[" or head == b"{":
        return True
    if b'"EventList"' not in head:
        return False
    try:
        return _decode_list(head).kind == "EventList"
    except msgspec.DecodeError:
        return False


def read_batches(path: str) -> Iterator[list[Event | BadLine]]:
    """The events of `path` in bounded batches (one per block of about CHUNK bytes)."""
    stream = _open(path)
    source = "<stdin>" if path == "-" else path
    try:
        first_line, data = _first_line(stream)
        if _is_document(first_line):
            # The whole input is one JSON document (bounded: webhook batches are small).
            data += stream.read()
            whole = _whole_document(data.strip(), source)
            if whole is not None:
                yield whole
                return
            yield from _json_lines(io.BytesIO(data), source, b"")
            return
        yield from _json_lines(stream, source, data)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
