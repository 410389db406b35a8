"""What a candidate policy would write for a captured log: bytes per rule, per day, per cell.

Bytes are those of the captured lines, adjusted to the candidate's decision for each line:
`Metadata` drops both bodies, `Request` the response body, omitted stages drop the line, and
`omitManagedFields` drops metadata.managedFields inside the bodies (kube-apiserver:
staging/src/k8s.io/apiserver/pkg/audit/request.go, LogRequestObject / LogResponseObject). When the
candidate asks for a body the capture did not record, its size is estimated from lines of the same
(group, resource, verb, stage) that carry one, and reported apart as "estimated".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.model import LEVEL_RANK, Decision, Policy, Request, Rule
from kauditcfg.policy.replay_capture import (
    BYTES,
    EVENTS,
    REQ_BYTES,
    REQ_MF,
    RESP_BYTES,
    RESP_MF,
    Capture,
    CellKey,
)
from kauditcfg.policy.replay_coverage import needs, problem
from kauditcfg.policy.replay_gzip import gzip_ratio

DAY = 86400.0
STATUS_BYTES = len(b'"responseStatus":{"metadata":{},"code":200},')
TERMINAL = ("ResponseComplete", "Panic")
REQUEST, RESPONSE = LEVEL_RANK["Request"], LEVEL_RANK["RequestResponse"]


@dataclass
class RuleUsage:
    index: int | None  # None: no rule matched, so nothing is logged
    level: str
    label: str
    events: int = 0
    requests: int = 0
    bytes: int = 0
    estimated_bytes: int = 0
    matched_events: int = 0

    def to_json(self, span: float) -> dict[str, Any]:
        return {
            "index": self.index,
            "level": self.level,
            "label": self.label,
            "events": self.events,
            "requests": self.requests,
            "bytes": self.bytes,
            "bytes_per_day": per_day(self.bytes, span),
            "estimated_bytes": self.estimated_bytes,
            "matched_events": self.matched_events,
        }


@dataclass
class Finding:
    """A must-keep row the candidate breaks: how many requests, and the first few of them."""

    row: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "count": self.count,
            "example": self.examples[0] if self.examples else "",
            "examples": self.examples,
        }


@dataclass
class Replay:
    span_seconds: float
    rules: list[RuleUsage]
    events: int
    requests: int
    bytes: int
    estimated_bytes: int
    gzip_ratio: float
    top_cells: list[dict[str, Any]]
    violations: list[Finding]
    advisories: list[Finding]
    skipped_lines: int
    header: dict[str, Any]

    @property
    def bytes_per_day(self) -> int:
        return per_day(self.bytes, self.span_seconds)

    def totals(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "requests": self.requests,
            "bytes": self.bytes,
            "bytes_per_day": self.bytes_per_day,
            "gzip_bytes_per_day": round(self.bytes_per_day * self.gzip_ratio),
            "estimated_bytes": self.estimated_bytes,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "span_seconds": self.span_seconds,
            "capture": self.header,
            "totals": self.totals(),
            "rules": [r.to_json(self.span_seconds) for r in self.rules],
            "top_cells": self.top_cells,
            "coverage": {
                "violations": [v.to_json() for v in self.violations],
                "advisories": [a.to_json() for a in self.advisories],
            },
            "skipped_lines": self.skipped_lines,
        }


def per_day(size: int, span: float) -> int:
    return round(size * DAY / span) if span > 0 else size


def span_of(capture: Capture) -> float:
    """Seconds between the first and last stageTimestamp (at least one second)."""
    try:
        first = datetime.fromisoformat(capture.first.replace("Z", "+00:00"))
        last = datetime.fromisoformat(capture.last.replace("Z", "+00:00"))
    except ValueError:
        return 1.0
    return max(1.0, (last - first).total_seconds())


def request_of_cell(key: CellKey) -> Request:
    user, groups, verb, namespace, group, resource, sub, name, path = key[:9]
    if path is not None:
        return Request(verb=verb, user=user, groups=groups, is_resource=False, path=path)
    return Request(
        verb=verb,
        user=user,
        groups=groups,
        namespace=namespace,
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name or "",
    )


def rule_label(rule: Rule) -> str:
    parts: list[str] = []
    who = [*rule.users, *(f"group:{g}" for g in rule.user_groups)]
    if who:
        parts.append(",".join(who))
    if rule.verbs:
        parts.append(",".join(rule.verbs))
    what = [f"{r}.{gr.group}" if gr.group else r for gr in rule.resources for r in (gr.resources or ("*",))]
    if what:
        parts.append(",".join(what))
    if rule.namespaces:
        parts.append("ns=" + ",".join(n or '""' for n in rule.namespaces))
    if rule.non_resource_urls:
        parts.append(",".join(rule.non_resource_urls))
    label = " ".join(parts) or "everything else"
    return label if len(label) <= 72 else label[:71] + "…"


class _Estimates:
    """Average body sizes per (group, resource, subresource, verb, stage), from lines that carry them."""

    def __init__(self, capture: Capture) -> None:
        self.table: dict[tuple[str, ...], list[int]] = {}
        for key, acc in capture.cells.items():
            rank = LEVEL_RANK.get(key[11], 0)
            if rank < REQUEST:
                continue
            slot = self.table.setdefault((key[4], key[5], key[6], key[2], key[9]), [0, 0, 0, 0, 0, 0, 0])
            slot[0] += acc[EVENTS]
            slot[1] += acc[REQ_BYTES]
            slot[2] += acc[REQ_MF]
            if rank >= RESPONSE:
                slot[3] += acc[EVENTS]
                slot[4] += acc[RESP_BYTES]
                slot[5] += acc[RESP_MF]

    def missing(self, key: CellKey, acc: list[int], level: int, omf: bool, captured: int) -> int:
        slot = self.table.get((key[4], key[5], key[6], key[2], key[9]))
        if slot is None:
            return 0
        size = 0.0
        if level >= REQUEST > captured and slot[0]:
            size += acc[EVENTS] * (slot[1] - (slot[2] if omf else 0)) / slot[0]
        if level >= RESPONSE > captured and slot[3]:
            size += acc[EVENTS] * (slot[4] - (slot[5] if omf else 0)) / slot[3]
        return round(size)


def cell_bytes(key: CellKey, acc: list[int], decision: Decision) -> int:
    """Bytes the candidate writes for a cell's captured lines (bodies the capture lacks excluded)."""
    level = decision.level
    if level == "None" or key[9] in decision.omit_stages:
        return 0
    size = acc[BYTES] + acc[EVENTS] * (len(level) - len(key[11]))
    omf = decision.omit_managed_fields
    if level == "Metadata":
        size -= acc[REQ_BYTES] + acc[RESP_BYTES]
    elif level == "Request":
        size -= acc[RESP_BYTES] + (acc[REQ_MF] if omf else 0)
    elif omf:
        size -= acc[REQ_MF] + acc[RESP_MF]
    return size


def _who(user: str | None) -> str:
    if user is None:
        return "<no user: 401>"
    return "system:nodes" if user.startswith("system:node:") else user


def _cell_label(key: CellKey) -> dict[str, Any]:
    what = (
        key[8]
        if key[8] is not None
        else ((f"{key[4]}/" if key[4] else "") + key[5] + (f"/{key[6]}" if key[6] else ""))
    )
    return {"who": _who(key[0]), "verb": key[2], "resource": what, "namespace": key[3]}


def describe(key: CellKey, example: str) -> str:
    c = _cell_label(key)
    where = f" in {c['namespace']}" if c["namespace"] else ""
    return f"{example}: {c['who']} {c['verb']} {c['resource']}{where} ({key[10] or '-'})"


class Accountant:
    """A capture, ready to be accounted against any number of candidate policies."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.span = span_of(capture)
        self.estimates = _Estimates(capture)
        self.requests = {key[:9]: request_of_cell(key) for key in capture.cells}
        stages = {key[9] for key in capture.cells}
        # A capture that omitted RequestReceived cannot show those lines; a candidate that keeps
        # them gets them estimated from each request's final line.
        self.unseen_received = "RequestReceived" not in stages
        # Requests are counted by their final stage line (one per auditID); a capture that omitted
        # it is counted by whichever stage it kept.
        self.count_stages = next(
            (s for s in (TERMINAL, ("ResponseStarted",), ("RequestReceived",)) if stages & set(s)), TERMINAL
        )

    def decisions(self, policy: Policy) -> Callable[[CellKey], Decision]:
        evaluator = Evaluator(policy)
        cache: dict[tuple[object, ...], Decision] = {}
        requests = self.requests

        def decide(key: CellKey) -> Decision:
            short = key[:9]
            hit = cache.get(short)
            if hit is None:
                hit = cache[short] = evaluator.evaluate(requests[short])
            return hit

        return decide

    def cell_costs(self, policy: Policy) -> dict[CellKey, tuple[int, int, Decision]]:
        """For each cell: measured bytes, estimated bytes, decision."""
        decide = self.decisions(policy)
        out: dict[CellKey, tuple[int, int, Decision]] = {}
        for key, acc in self.capture.cells.items():
            d = decide(key)
            measured = cell_bytes(key, acc, d)
            estimated = 0
            if measured:
                estimated = self.estimates.missing(
                    key, acc, LEVEL_RANK[d.level], d.omit_managed_fields, LEVEL_RANK.get(key[11], 0)
                )
            if self.unseen_received and key[9] in TERMINAL and d.level != "None":
                estimated += self._received(key, acc, d)
            out[key] = (measured, estimated, d)
        return out

    def _received(self, key: CellKey, acc: list[int], d: Decision) -> int:
        """The RequestReceived line a capture without that stage hides: the final line, less its
        bodies and responseStatus (kube-apiserver writes neither at that stage)."""
        if "RequestReceived" in d.omit_stages:
            return 0
        line = acc[BYTES] - acc[REQ_BYTES] - acc[RESP_BYTES] + acc[EVENTS] * (len(d.level) - len(key[11]))
        return max(0, line - acc[EVENTS] * STATUS_BYTES)

    def total(self, policy: Policy) -> int:
        return sum(m + e for m, e, _ in self.cell_costs(policy).values())

    def replay(self, policy: Policy, top: int = 20) -> Replay:
        cap = self.capture
        usage = {i: RuleUsage(i, r.level, rule_label(r)) for i, r in enumerate(policy.rules)}
        nomatch = RuleUsage(None, "None", "(no rule matches: not logged)")
        cells: dict[tuple[str, ...], list[int]] = {}
        findings: dict[str, Finding] = {}
        advice: dict[str, Finding] = {}
        events = requests = size = estimated = 0
        for key, (measured, guessed, d) in sorted(self.cell_costs(policy).items(), key=_order):
            acc = cap.cells[key]
            u = usage[d.rule] if d.rule is not None else nomatch
            u.matched_events += acc[EVENTS]
            terminal = key[9] in self.count_stages
            if measured:
                u.events += acc[EVENTS]
                events += acc[EVENTS]
            if d.level != "None" and terminal:
                u.requests += acc[EVENTS]
                requests += acc[EVENTS]
            u.bytes += measured + guessed
            u.estimated_bytes += guessed
            size += measured + guessed
            estimated += guessed
            if measured:
                c = _cell_label(key)
                slot = cells.setdefault((c["who"], c["verb"], c["resource"], c["namespace"]), [0, 0])
                slot[0] += measured + guessed
                slot[1] += acc[EVENTS]
            self._coverage(key, acc, d, terminal, findings, advice)
        rules = list(usage.values()) + ([nomatch] if nomatch.matched_events else [])
        top_cells = [
            {
                "who": k[0],
                "verb": k[1],
                "resource": k[2],
                "namespace": k[3],
                "bytes": v[0],
                "bytes_per_day": per_day(v[0], self.span),
                "events": v[1],
            }
            for k, v in sorted(cells.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]
        ]
        return Replay(
            span_seconds=round(self.span, 3),
            rules=rules,
            events=events,
            requests=requests,
            bytes=size,
            estimated_bytes=estimated,
            gzip_ratio=gzip_ratio(cap.samples, policy),
            top_cells=top_cells,
            violations=sorted(findings.values(), key=_row_order),
            advisories=sorted(advice.values(), key=_row_order),
            skipped_lines=cap.skipped,
            header=self.header(),
        )

    def _coverage(
        self,
        key: CellKey,
        acc: list[int],
        d: Decision,
        terminal: bool,
        findings: dict[str, Finding],
        advice: dict[str, Finding],
    ) -> None:
        for need in needs(self.requests[key[:9]], key[10]):
            why = problem(need, d.level, d.omit_stages, key[9])
            stage_problem = why is not None and why.startswith("stage")
            if why is not None and (terminal or stage_problem):
                _note(findings, need.row, acc[EVENTS], f"{describe(key, self.capture.examples[key])}: {why}")
            elif why is None and terminal and need.wanted and LEVEL_RANK[d.level] < LEVEL_RANK[need.wanted]:
                example = describe(key, self.capture.examples[key])
                text = f"{example}: logged at {d.level}, detections want {need.wanted}"
                _note(advice, need.row, acc[EVENTS], text)

    def header(self) -> dict[str, Any]:
        cap = self.capture
        levels: dict[str, int] = {}
        stages: dict[str, int] = {}
        for key, acc in cap.cells.items():
            levels[key[11]] = levels.get(key[11], 0) + acc[EVENTS]
            stages[key[9]] = stages.get(key[9], 0) + acc[EVENTS]
        return {
            "sources": cap.sources,
            "lines": cap.lines,
            "first": cap.first,
            "last": cap.last,
            "capture_levels": dict(sorted(levels.items(), key=lambda kv: LEVEL_RANK.get(kv[0], 9))),
            "capture_stages": dict(sorted(stages.items())),
            "note": "requests the capture policy did not log are invisible here; what it logged below the "
            "candidate's level is estimated from requests of the same kind that carry bodies",
        }


def _note(into: dict[str, Finding], row: str, count: int, example: str) -> None:
    finding = into.setdefault(row, Finding(row))
    finding.count += count
    if len(finding.examples) < 3:
        finding.examples.append(example)


def _row_order(f: Finding) -> int:
    return int(f.row[1:])


def _order(item: tuple[CellKey, Any]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in item[0])
