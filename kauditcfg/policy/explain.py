"""What a policy decides for each recorded audit event, streamed in input order.

Real logs repeat the same few request shapes millions of times (controllers, kubelets), so each
shape is evaluated once and its encoded answer reused; the cache is bounded to keep memory flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec
import orjson

from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.events import BadLine, Event, _ObjectRef, read_batches, read_events, request_of
from kauditcfg.policy.model import Decision, Policy, Request
from kauditcfg.policy.requestinfo import UrlInfo, canonical_path, parse_request_uri

_CACHE_LIMIT = 65536
# URLs mostly differ by object name: a smaller cache keeps memory flat, repeated URLs (list,
# watch, leases, creates) still hit.
_URL_CACHE_LIMIT = 16384
_UNSEEN = object()
_LIST_WATCH = frozenset({"list", "watch"})


@dataclass(frozen=True)
class Explained:
    event: Event
    request: Request
    decision: Decision


@dataclass
class Skips:
    """Lines that were not audit events: counted per kind, the first of each kept for the warning."""

    unreadable: int = 0
    foreign: int = 0
    first_unreadable: BadLine | None = None
    first_foreign: BadLine | None = None

    def add(self, line: BadLine) -> None:
        if line.foreign:
            self.foreign += 1
            self.first_foreign = self.first_foreign or line
        else:
            self.unreadable += 1
            self.first_unreadable = self.first_unreadable or line

    @property
    def total(self) -> int:
        return self.unreadable + self.foreign


def skipped_record(line: BadLine) -> bytes:
    """The --json line standing for a skipped input line, so output stays aligned with input."""
    return orjson.dumps({"skipped": line.problem}) + b"\n"


class Explainer:
    def __init__(self, policy: Policy) -> None:
        self.evaluator = Evaluator(policy)
        self._names_matter = policy.uses_resource_names
        self._cache: dict[tuple[object, ...], tuple[Decision, bytes]] = {}
        self._urls: dict[str, UrlInfo | None] = {}
        self.skips = Skips()
        self.events = 0  # events explained so far
        self.total_skipped = 0  # over every file, for the caller's "nothing could be read" check

    def _url(self, uri: str, ref: _ObjectRef) -> UrlInfo | None:
        """RequestInfo of `uri`, remembered; cheap when the URL is the one the objectRef implies."""
        urls = self._urls
        if len(urls) >= _URL_CACHE_LIMIT:
            urls.clear()
        path, _, query = uri.partition("?")
        ns, name, sub = ref.namespace or "", ref.name or "", ref.subresource or ""
        group, version, resource = ref.apiGroup or "", ref.apiVersion or "", ref.resource or ""
        info: UrlInfo | None
        if path == canonical_path(group, version, ns, resource, name, sub) and (
            name or "fieldSelector" not in query
        ):
            # tuple.__new__: the NamedTuple constructor costs more than the rest of this check.
            info = tuple.__new__(UrlInfo, (group, version, ns, resource, sub, name, ""))
        else:
            info = parse_request_uri(uri)
        urls[uri] = info
        return info

    def _key(self, event: Event) -> tuple[object, ...]:
        user = event.user
        who = (user.username, user.groups) if user is not None else None
        ref = event.objectRef
        uri = event.requestURI or ""
        if ref is None:
            return (who, event.verb, uri.split("?", 1)[0])
        info = self._urls.get(uri, _UNSEEN) if uri else None
        if info is _UNSEEN:
            info = self._url(uri, ref)
        return self._resource_key(who, event.verb, ref, info)  # type: ignore[arg-type]

    def _resource_key(
        self, who: object, verb: str | None, ref: _ObjectRef, info: UrlInfo | None
    ) -> tuple[object, ...]:
        """The key holds exactly what request_of() takes from the event, so equal keys decide alike."""
        if info is None:
            name = (ref.name or "") if self._names_matter else None
            return (who, verb, ref.namespace or "", ref.apiGroup or "", ref.resource or "",
                    ref.subresource or "", name)  # fmt: skip
        name = info.name_for(verb) if self._names_matter else None
        group = ref.apiGroup if ref.apiGroup is not None else info.api_group
        return (who, verb, info.namespace, group, ref.resource or info.resource, info.subresource, name)

    def decide(self, event: Event) -> tuple[Decision, bytes]:
        """The decision and its JSON encoding after the auditID (`,"level":...}`)."""
        key = self._key(event)
        hit = self._cache.get(key)
        if hit is None:
            decision = self.evaluator.evaluate(request_of(event))
            tail = orjson.dumps(decision.to_json())
            hit = (decision, b"," + tail[1:] + b"\n")
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def json_lines(self, batches: Iterable[list[Event | BadLine]]) -> Iterator[bytes]:
        """One `{"auditID", "level", "omitStages", "omitManagedFields", "rule"}` line per event, and
        one `{"skipped": reason}` per line that is not an event, joined into one bytes per batch."""
        cache = self._cache
        urls = self._urls
        decide = self.decide
        names_matter = self._names_matter
        for batch in batches:
            out: list[bytes | msgspec.Raw] = []
            append = out.append
            skipped = 0
            for item in batch:
                if type(item) is BadLine:
                    self.skips.add(item)
                    skipped += 1
                    append(skipped_record(item))
                    continue
                event: Event = item  # type: ignore[assignment]
                # Inlined _key(): this loop runs once per event of logs of millions of lines.
                user = event.user
                who = (user.username, user.groups) if user is not None else None
                ref = event.objectRef
                uri = event.requestURI or ""
                if ref is None:
                    key: tuple[object, ...] = (who, event.verb, uri.split("?", 1)[0])
                else:  # inlined _resource_key()
                    info = urls.get(uri, _UNSEEN) if uri else None
                    if info is _UNSEEN:
                        info = self._url(uri, ref)
                    if info is None:
                        key = (who, event.verb, ref.namespace or "", ref.apiGroup or "", ref.resource or "",
                               ref.subresource or "", (ref.name or "") if names_matter else None)  # fmt: skip
                    else:
                        key = (who, event.verb, info[2], info[0] if ref.apiGroup is None else ref.apiGroup,  # type: ignore[index]
                               ref.resource or info[3], info[4],  # type: ignore[index]
                               (info[5] or (info[6] if event.verb in _LIST_WATCH else "")) if names_matter  # type: ignore[index]
                               else None)  # fmt: skip
                hit = cache.get(key)
                append(b'{"auditID":')
                append(event.auditID)
                append(hit[1] if hit is not None else decide(event)[1])
            self.events += len(batch) - skipped
            if out:
                yield b"".join(out)

    def decisions(self, items: Iterable[Event | BadLine]) -> Iterator[tuple[Event, Decision] | BadLine]:
        """Each event with its decision (cached per request shape); skipped lines are counted."""
        for item in items:
            if isinstance(item, BadLine):
                self.skips.add(item)
                yield item
            else:
                self.events += 1
                yield item, self.decide(item)[0]

    def explained(self, items: Iterable[Event | BadLine]) -> Iterator[Explained | BadLine]:
        for item in items:
            if isinstance(item, BadLine):
                self.skips.add(item)
                yield item
            else:
                self.events += 1
                yield Explained(item, request_of(item), self.decide(item)[0])


def events_from(paths: Iterable[str]) -> Iterator[Event | BadLine]:
    for path in paths:
        yield from read_events(path)


def batches_from(paths: Iterable[str]) -> Iterator[list[Event | BadLine]]:
    for path in paths:
        yield from read_batches(path)
