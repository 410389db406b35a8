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
from kauditcfg.policy.events import BadLine, Event, read_batches, read_events, request_of
from kauditcfg.policy.model import Decision, Policy, Request

_CACHE_LIMIT = 65536


@dataclass(frozen=True)
class Explained:
    event: Event
    request: Request
    decision: Decision


class Explainer:
    def __init__(self, policy: Policy) -> None:
        self.evaluator = Evaluator(policy)
        self._names_matter = policy.uses_resource_names
        self._cache: dict[tuple[object, ...], tuple[Decision, bytes]] = {}

    def _key(self, event: Event) -> tuple[object, ...]:
        user = event.user
        who = (user.username, tuple(user.groups) if user.groups else ()) if user is not None else None
        ref = event.objectRef
        if ref is None:
            uri = event.requestURI or ""
            return (who, event.verb, uri.split("?", 1)[0])
        name = ref.name if self._names_matter else None
        return (who, event.verb, ref.namespace, ref.apiGroup, ref.resource, ref.subresource, name)

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

    def json_lines(self, batches: Iterable[list[Event | BadLine]]) -> Iterator[bytes | BadLine]:
        """One `{"auditID", "level", "omitStages", "omitManagedFields", "rule"}` line per event,
        joined into one bytes per input batch (BadLines come back as they are)."""
        cache = self._cache
        names_matter = self._names_matter
        decide = self.decide
        for batch in batches:
            out: list[bytes | msgspec.Raw] = []
            append = out.append
            for item in batch:
                if isinstance(item, BadLine):
                    if out:
                        yield b"".join(out)
                        out = []
                        append = out.append
                    yield item
                    continue
                # Inlined _key(): this loop runs once per event of logs of millions of lines.
                user = item.user
                who = (user.username, tuple(user.groups) if user.groups else ()) if user is not None else None
                ref = item.objectRef
                if ref is None:
                    key: tuple[object, ...] = (who, item.verb, (item.requestURI or "").split("?", 1)[0])
                else:
                    name = ref.name if names_matter else None
                    key = (who, item.verb, ref.namespace, ref.apiGroup, ref.resource, ref.subresource, name)
                hit = cache.get(key)
                append(b'{"auditID":')
                append(item.auditID)
                append(hit[1] if hit is not None else decide(item)[1])
            if out:
                yield b"".join(out)

    def explained(self, items: Iterable[Event | BadLine]) -> Iterator[Explained | BadLine]:
        for item in items:
            if isinstance(item, BadLine):
                yield item
            else:
                yield Explained(item, request_of(item), self.decide(item)[0])


def events_from(paths: Iterable[str]) -> Iterator[Event | BadLine]:
    for path in paths:
        yield from read_events(path)


def batches_from(paths: Iterable[str]) -> Iterator[list[Event | BadLine]]:
    for path in paths:
        yield from read_batches(path)
