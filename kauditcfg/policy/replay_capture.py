"""A capture: the byte counts of audit log lines, summed per distinct request shape (a cell).

Each line is decoded with a struct holding only what a policy or the accounting needs; the request
and response bodies stay `msgspec.Raw` slices, so their sizes cost nothing to learn. Lines of the
same shape (who, verb, object, stage, status, captured level) are summed into one cell, so memory
grows with the number of distinct shapes, never with the size of the log, and any candidate policy
can later be accounted from the cells alone (tune replays dozens of them without re-reading).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

SAMPLE_CAP = 2048
SAMPLE_LINE_MAX = 1 << 16  # a sample of a few MB whatever the lines (list responses reach MBs)
# Accumulator slots of a cell. REQ_MF/RESP_MF: managedFields bytes in the bodies measured, which
# were REQ_SEEN/RESP_SEEN bytes long (every body of a cell's first MF_EVERY_UNTIL, then one in
# MF_EVERY): `finish` scales them to all the cell's bodies. A cell repeats one request shape, so
# its managedFields are a steady share of its bodies; this halves the cost of reading a log.
EVENTS, BYTES, REQ_N, REQ_BYTES, RESP_N, RESP_BYTES, REQ_MF, RESP_MF, REQ_SEEN, RESP_SEEN = range(10)
MF_EVERY_UNTIL, MF_EVERY = 8, 32
# Around a body `"requestObject":{...},` the key and one comma go too when the body is dropped.
REQ_KEY = len(b'"requestObject":') + 1
RESP_KEY = len(b'"responseObject":') + 1
MF_KEY = len(b'"managedFields":') + 1

# (user, groups, verb, namespace, group, resource, subresource, name, path, stage, code, level)
CellKey = tuple[str | None, tuple[str, ...], str, str, str, str, str, str | None, str | None, str, int, str]


class _User(msgspec.Struct, gc=False):
    username: str | None = None
    groups: list[str] | None = None


class _Ref(msgspec.Struct, gc=False):
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    apiGroup: str = ""


class _Status(msgspec.Struct, gc=False):
    code: int = 0


class _Event(msgspec.Struct, gc=False):
    # user, objectRef and responseStatus stay raw: lines of one request shape repeat them byte for
    # byte, so their bytes key a cache and are decoded once per distinct shape (see Reader.cell).
    auditID: msgspec.Raw = msgspec.Raw()
    level: str = ""
    stage: str = ""
    requestURI: msgspec.Raw = msgspec.Raw()  # only non-resource requests need it: decoded per shape
    verb: str = ""
    user: msgspec.Raw = msgspec.Raw()
    objectRef: msgspec.Raw = msgspec.Raw()
    responseStatus: msgspec.Raw = msgspec.Raw()
    requestObject: msgspec.Raw = msgspec.Raw()
    responseObject: msgspec.Raw = msgspec.Raw()
    stageTimestamp: str = ""


class _Meta(msgspec.Struct, gc=False):
    managedFields: msgspec.Raw = msgspec.Raw()


class _Item(msgspec.Struct, gc=False):
    metadata: _Meta | None = None


class _Body(msgspec.Struct, gc=False):
    metadata: _Meta | None = None
    items: list[_Item] | None = None


class RawList(msgspec.Struct):
    items: list[msgspec.Raw] | None = None


_decode = msgspec.json.Decoder(_Event).decode
_decode_user = msgspec.json.Decoder(_User | None).decode
_decode_ref = msgspec.json.Decoder(_Ref | None).decode
_decode_status = msgspec.json.Decoder(_Status | None).decode
NOT_EVENT: list[int] = []  # the accumulator of shapes that are not audit events (no stage or verb)
SHAPES = 1 << 15  # raw shapes remembered per reader; beyond, the cache starts over (memory cap)
_decode_body = msgspec.json.Decoder(_Body).decode


def managed_fields_bytes(body: msgspec.Raw) -> int:
    """Bytes `omitManagedFields` removes from a body: metadata.managedFields, in each list item too."""
    try:
        decoded = _decode_body(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0
    size = 0
    meta = decoded.metadata
    if meta is not None and len(meta.managedFields) > 2:
        size += len(meta.managedFields) + MF_KEY
    for item in decoded.items or ():
        meta = item.metadata
        if meta is not None and len(meta.managedFields) > 2:
            size += len(meta.managedFields) + MF_KEY
    return size


@dataclass
class Skipped:
    source: str
    line: int
    problem: str


@dataclass
class Capture:
    """What a set of logs holds, summed per cell; `merge` adds another capture (from a worker)."""

    cells: dict[CellKey, list[int]] = field(default_factory=dict)
    examples: dict[CellKey, str] = field(default_factory=dict)
    lines: int = 0
    skipped: int = 0
    skipped_examples: list[Skipped] = field(default_factory=list)
    first: str = ""
    last: str = ""
    samples: list[bytes] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def finish(self) -> Capture:
        """Scale the managedFields measured on part of each cell's bodies to all of them."""
        for acc in self.cells.values():
            if acc[REQ_SEEN] and acc[REQ_SEEN] != acc[REQ_BYTES]:
                acc[REQ_MF] = round(acc[REQ_MF] * acc[REQ_BYTES] / acc[REQ_SEEN])
            if acc[RESP_SEEN] and acc[RESP_SEEN] != acc[RESP_BYTES]:
                acc[RESP_MF] = round(acc[RESP_MF] * acc[RESP_BYTES] / acc[RESP_SEEN])
            acc[REQ_SEEN] = acc[REQ_BYTES]
            acc[RESP_SEEN] = acc[RESP_BYTES]
        return self

    def merge(self, other: Capture) -> None:
        cells = self.cells
        for key, acc in other.cells.items():
            mine = cells.get(key)
            if mine is None:
                cells[key] = acc
                self.examples[key] = other.examples.get(key, "")
            else:
                for i, value in enumerate(acc):
                    mine[i] += value
        self.lines += other.lines
        self.skipped += other.skipped
        self.skipped_examples.extend(other.skipped_examples[: max(0, 5 - len(self.skipped_examples))])
        if other.first and (not self.first or other.first < self.first):
            self.first = other.first
        if other.last > self.last:
            self.last = other.last
        self.samples.extend(other.samples)
        if len(self.samples) > SAMPLE_CAP:
            self.samples = self.samples[:: -(-len(self.samples) // SAMPLE_CAP)]
        self.sources.extend(s for s in other.sources if s not in self.sources)


class Reader:
    """Folds lines into a Capture. One per unit of work (a file, or a byte range of one)."""

    def __init__(self, source: str, keep_names: frozenset[str] | None) -> None:
        self.capture = Capture(sources=[source])
        self.source = source
        self.keep_names = keep_names  # None: every object name matters (the policy uses resourceNames)
        self._stride = 1  # every n-th line goes to the compression sample (thinned as it grows)
        self._shapes: dict[tuple[object, ...], list[int]] = {}
        self._lo = "~"
        self._hi = ""

    def feed(self, block: bytes, first_line: int, start: int = 0, stop: int | None = None) -> int:
        """Fold the whole lines of block[start:stop] in; returns how many lines it held.

        Lines are memoryview slices of the block: nothing is copied but the sampled lines.
        """
        cap = self.capture
        find = self._shapes.get
        decode = _decode
        mf_bytes = managed_fields_bytes
        lo, hi = self._lo, self._hi
        count = cap.lines
        number = first_line - 1
        stride = self._stride
        samples = cap.samples
        view = memoryview(block)
        newline = block.find
        pos, end = start, len(block) if stop is None else stop
        while pos < end:
            cut = newline(b"\n", pos)
            if cut < 0:
                cut = end
            line = view[pos:cut]
            pos = cut + 1
            number += 1
            if not line:
                continue
            try:
                ev = decode(line)
            except msgspec.DecodeError as exc:
                if not bytes(line).isspace():
                    self._skip(number, str(exc))
                continue
            ref = ev.objectRef
            shape = (bytes(ev.user), bytes(ref or ev.requestURI), ev.verb, ev.stage, bytes(ev.responseStatus),
                     ev.level)  # fmt: skip
            acc = find(shape)
            if acc is None:
                acc = self._cell(ev, shape)
            if acc is NOT_EVENT:
                self._skip(number, "not an audit event (no stage or verb)")
                continue
            count += 1
            if not count % stride and len(line) <= SAMPLE_LINE_MAX:
                samples.append(bytes(line))
                if len(samples) >= SAMPLE_CAP:
                    del samples[::2]
                    stride *= 2
            seen = acc[0] = acc[0] + 1
            acc[1] += len(line) + 1  # the newline is written too
            body = ev.requestObject
            if body:
                size = len(body) + REQ_KEY
                acc[2] += 1
                acc[3] += size
                if seen <= MF_EVERY_UNTIL or not seen % MF_EVERY:
                    acc[6] += mf_bytes(body)
                    acc[8] += size
            body = ev.responseObject
            if body:
                size = len(body) + RESP_KEY
                acc[4] += 1
                acc[5] += size
                if seen <= MF_EVERY_UNTIL or not seen % MF_EVERY:
                    acc[7] += mf_bytes(body)
                    acc[9] += size
            ts = ev.stageTimestamp
            if ts:
                if ts < lo:
                    lo = ts
                if ts > hi:
                    hi = ts
        cap.lines = count
        self._stride = stride
        self._lo, self._hi = lo, hi
        cap.first = "" if lo == "~" else lo
        cap.last = hi
        return number - first_line + 1

    def cell(self, ev: _Event) -> CellKey | None:
        """The cell of a decoded line (None: its user, objectRef or status is not what it should be)."""
        try:
            user = _decode_user(ev.user) if ev.user else None
            ref = _decode_ref(ev.objectRef) if ev.objectRef else None
            status = _decode_status(ev.responseStatus) if ev.responseStatus else None
            uri = msgspec.json.decode(ev.requestURI, type=str) if ev.requestURI and ref is None else ""
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if user is None or user.username is None:
            who: str | None = None
            groups: tuple[str, ...] = ()
        else:
            who, groups = user.username, tuple(user.groups or ())
        code = status.code if status is not None else 0
        if ref is None:
            path = uri.split("?", 1)[0]
            return (who, groups, ev.verb, "", "", "", "", None, path, ev.stage, code, ev.level)
        keep = self.keep_names
        name = ref.name if keep is None or ref.name in keep else None
        return (who, groups, ev.verb, ref.namespace, ref.apiGroup, ref.resource, ref.subresource, name, None,
                ev.stage, code, ev.level)  # fmt: skip

    def _cell(self, ev: _Event, shape: tuple[object, ...]) -> list[int]:
        """The accumulator of a shape seen for the first time (shared by every shape of its cell)."""
        if not ev.stage or not ev.verb:
            self._shapes[shape] = NOT_EVENT
            return NOT_EVENT
        key = self.cell(ev)
        if key is None:
            bad = "<malformed user, objectRef or status>"
            key = (None, (), ev.verb, "", "", "", "", None, bad, ev.stage, 0, ev.level)
        cells = self.capture.cells
        acc = cells.get(key)
        if acc is None:
            acc = cells[key] = [0] * 10
            self.capture.examples[key] = bytes(ev.auditID).strip(b'"').decode("utf-8", "replace")
        if len(self._shapes) >= SHAPES:
            self._shapes.clear()
        self._shapes[shape] = acc
        return acc

    def _skip(self, line: int, problem: str) -> None:
        cap = self.capture
        cap.skipped += 1
        if len(cap.skipped_examples) < 5:
            cap.skipped_examples.append(Skipped(self.source, line, problem))
