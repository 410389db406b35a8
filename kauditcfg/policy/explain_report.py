"""`policy explain` for people: a summary of a log's decisions, and per-event rows that fit a terminal.

An event whose stage the decision omits (`RequestReceived` under `omitStages`) is never written by
kube-apiserver (k8s.io/apiserver/pkg/audit/policy/checker.go returns the stages; the audit
backend skips them): it is counted and shown as dropped, not as logged at its level.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kauditcfg.config.defaults import LEVELS
from kauditcfg.policy.describe import rule_label
from kauditcfg.policy.model import Decision, Policy, Request


def dropped(decision: Decision, stage: str | None) -> bool:
    """Whether kube-apiserver writes nothing for an event of `stage` under `decision`."""
    return decision.level == "None" or (stage is not None and stage in decision.omit_stages)


@dataclass
class Summary:
    events: int = 0
    per_rule: Counter[int | None] = field(default_factory=Counter)
    per_level: Counter[str] = field(default_factory=Counter)
    dropped_stages: Counter[str] = field(default_factory=Counter)  # logged level, stage omitted

    def add(self, decision: Decision, stage: str | None) -> None:
        self.events += 1
        self.per_rule[decision.rule] += 1
        self.per_level[decision.level] += 1
        if decision.level != "None" and stage is not None and stage in decision.omit_stages:
            self.dropped_stages[stage] += 1


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:5.1f}%" if total else "    -"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def summary_lines(summary: Summary, policy: Policy, width: int) -> list[str]:
    """Events per rule (with its label), per level, and the events dropped by omitStages."""
    total = summary.events
    lines = [f"{total} event(s)", "", f"{'RULE':>4}  {'EVENTS':>8}  {'SHARE':>6}  WHAT THE RULE SELECTS"]
    label_width = max(width - 26, 20)
    for index, rule in enumerate(policy.rules):
        count = summary.per_rule.get(index, 0)
        label = _cut(rule_label(rule), label_width)
        lines.append(f"{index:>4}  {count:>8}  {_share(count, total)}  {label}")
    unmatched = summary.per_rule.get(None, 0)
    if unmatched:
        share = _share(unmatched, total)
        lines.append(f"{'-':>4}  {unmatched:>8}  {share}  no rule matched: None (not logged)")
    lines += ["", f"{'LEVEL':<16}{'EVENTS':>8}  {'SHARE':>6}"]
    for level in LEVELS:
        count = summary.per_level.get(level, 0)
        note = "  (not logged)" if level == "None" and count else ""
        lines.append(f"{level:<16}{count:>8}  {_share(count, total)}{note}")
    stages = sum(summary.dropped_stages.values())
    detail = ", ".join(f"{stage} {n}" for stage, n in sorted(summary.dropped_stages.items()))
    lines += ["", f"dropped by omitStages: {stages}" + (f" ({detail})" if detail else "")]
    return lines


def describe_request(req: Request) -> str:
    if not req.is_resource:
        return req.path
    what = req.resource + (f"/{req.subresource}" if req.subresource else "")
    what = f"{what}.{req.api_group}" if req.api_group else what
    if req.name:
        what += f" {req.name}"
    return f"{req.namespace}/{what}" if req.namespace else what


def outcome(decision: Decision, stage: str | None) -> str:
    if decision.level == "None":
        return "None (not logged)"
    if stage is not None and stage in decision.omit_stages:
        return f"dropped: {stage}"
    return decision.level


@dataclass(frozen=True)
class Row:
    audit_id: str
    stage: str
    verb: str
    user: str
    request: str
    outcome: str
    rule: str


def event_lines(rows: list[Row], width: int, header: bool) -> list[str]:
    """Per-event rows cut to `width` columns: long user names and URLs are shortened, not wrapped;
    the stage and the audit ID are shown when the terminal has room for them."""
    with_stage, with_id = width >= 120, width >= 170
    level_w = 25
    fixed = 10 + level_w + 5 + (17 if with_stage else 0) + (38 if with_id else 0)
    room = max(width - fixed - 1, 30)
    user_w = max(room * 2 // 5, 12)
    request_w = room - user_w - 1

    def line(row: Row) -> str:
        start = f"{_cut(row.audit_id, 36):<36}  " if with_id else ""
        start += f"{_cut(row.stage, 16):<17}" if with_stage else ""
        level = _cut(row.outcome, level_w - 1)
        return (
            f"{start}{_cut(row.verb, 9):<10}{_cut(row.user, user_w):<{user_w}} "
            f"{_cut(row.request, request_w):<{request_w}} {level:<{level_w}}{row.rule}"
        ).rstrip()

    titles = Row("AUDIT-ID", "STAGE", "VERB", "USER", "REQUEST", "LEVEL", "RULE")
    return [line(row) for row in ([titles] if header else []) + rows]
