"""Propose the smallest change to a policy that fits a byte budget, never touching must-keep traffic.

Global settings first (omit RequestReceived, omitManagedFields from Kubernetes 1.23), then rules
placed ahead of the base policy, greedily by bytes saved: `None` for reads and known churn
(Leases, Events other than deletes), `Metadata` for other bodies. Every rule names a system
identity (a user, or group `system:nodes` for per-node users), a verb, a group/resource and a
namespace: a rule without users would also swallow 401s, whose requests have no user at all
(kubernetes/apiserver pkg/endpoints/filters/authn_audit.go), and `resources` without `group` only
ever matches the core group (kubernetes/kubernetes#110116, sapcc/kubernikus#638).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from kauditcfg.policy.evaluate import Evaluator, rule_matches, sorted_stages
from kauditcfg.policy.lint import lint_policy
from kauditcfg.policy.model import LEVEL_RANK, Decision, GroupResources, Policy, Request, Rule
from kauditcfg.policy.replay import Accountant, Replay, cell_bytes, per_day
from kauditcfg.policy.replay_capture import EVENTS, CellKey
from kauditcfg.policy.replay_coverage import HEALTH, needs, probes
from kauditcfg.versions import Version, supports_omit_managed_fields

READS = frozenset({"get", "list", "watch"})
CHURN = frozenset({("coordination.k8s.io", "leases"), ("", "events"), ("events.k8s.io", "events")})
NODES = "system:nodes"
REVIEWS = frozenset(
    {
        ("authorization.k8s.io", r)
        for r in ("subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectaccessreviews")
    }
)

# (subject kind, subject, verb, group, resource, subresource, namespace, path)
TuneCell = tuple[str, str, str, str, str, str, str, str | None]


@dataclass
class Added:
    rule: Rule
    saved_bytes: int
    saved_events: int
    cells: list[str]

    def to_json(self, index: int, span: float) -> dict[str, Any]:
        return {
            "index": index,
            "level": self.rule.level,
            "rule": rule_json(self.rule),
            "saved_bytes_per_day": per_day(self.saved_bytes, span),
            "saved_events_per_day": per_day(self.saved_events, span),
            "cells": self.cells,
        }


@dataclass
class Proposal:
    policy: Policy
    budget: int
    settings: list[str]
    added: list[Added]
    before: Replay
    after: Replay
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    protected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.after.bytes_per_day <= self.budget and not self.problems


def rule_json(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"level": rule.level}
    for name, value in (
        ("users", rule.users),
        ("userGroups", rule.user_groups),
        ("verbs", rule.verbs),
        ("namespaces", rule.namespaces),
        ("nonResourceURLs", rule.non_resource_urls),
    ):
        if value:
            out[name] = list(value)
    if rule.resources:
        out["resources"] = [{"group": gr.group, "resources": list(gr.resources)} for gr in rule.resources]
    return out


def _tune_cell(key: CellKey) -> TuneCell | None:
    """The cell a rule can select, or None when the request must not be touched at all."""
    user, path = key[0], key[8]
    if user is None or not user.startswith("system:") or key[10] in (401, 403):
        return None
    anonymous = user == "system:anonymous" or "system:unauthenticated" in key[1]
    if anonymous and not (user == "system:anonymous" and path is not None and path.startswith(HEALTH)):
        return None  # anonymous requests are kept, but for kubelet health probes
    subject = ("group", NODES) if user.startswith("system:node:") and NODES in key[1] else ("user", user)
    return (*subject, key[2], key[4], key[5], key[6], key[3], key[8])


def _rule_for(cell: TuneCell, level: str) -> Rule:
    kind, subject, verb, group, resource, sub, namespace, path = cell
    who: dict[str, Any] = {"user_groups": (subject,)} if kind == "group" else {"users": (subject,)}
    if path is not None:
        return Rule(level=level, verbs=(verb,), non_resource_urls=(path,), **who)
    name = f"{resource}/{sub}" if sub else resource
    return Rule(
        level=level,
        verbs=(verb,),
        namespaces=(namespace,),
        resources=(GroupResources(group=group, resources=(name,)),),
        **who,
    )


def _levels_for(cell: TuneCell) -> tuple[str, ...]:
    """The levels a rule for `cell` may set, the gentler first."""
    verb, group, resource, sub, path = cell[2], cell[3], cell[4], cell[5], cell[7]
    if path is not None or verb in READS:
        return ("None",)
    if (group, resource) in CHURN and verb not in ("delete", "deletecollection"):
        return ("None",)
    if (verb in ("update", "patch") and sub == "status") or (group, resource) in REVIEWS:
        # A controller's or kubelet's status report, a delegated authorization check: first their
        # bodies, then, if the budget still needs it, the line.
        return ("Metadata", "None")
    return ("Metadata",)


def _describe(cell: TuneCell) -> str:
    _, subject, verb, group, resource, sub, namespace, path = cell
    what = (
        path if path is not None else ((f"{group}/" if group else "") + resource + (f"/{sub}" if sub else ""))
    )
    return f"{subject} {verb} {what}" + (f" in {namespace}" if namespace else "")


class Tuner:
    def __init__(self, accountant: Accountant, base: Policy, version: Version) -> None:
        self.acc = accountant
        self.base = base
        self.version = version
        self.protected: list[Request] = []
        self.cells: dict[TuneCell, list[CellKey]] = {}
        for key in accountant.capture.cells:
            req = accountant.requests[key[:9]]
            if needs(req, key[10]):
                self.protected.append(req)
                continue
            cell = _tune_cell(key)
            if cell is not None:
                self.cells.setdefault(cell, []).append(key)
        self.protected.extend(req for _, req, _ in probes())
        self.protected_cells = {
            c
            for c, keys in self.cells.items()
            if any(rule_matches(_rule_for(c, "None"), r) for r in self.protected)
        }

    def settings(self) -> tuple[Policy, list[str]]:
        policy, done = self.base, []
        if "RequestReceived" not in policy.omit_stages:
            policy = replace(policy, omit_stages=sorted_stages((*policy.omit_stages, "RequestReceived")))
            done.append("omitStages: [RequestReceived]")
        if supports_omit_managed_fields(self.version) and not policy.omit_managed_fields:
            policy = replace(policy, omit_managed_fields=True)
            done.append("omitManagedFields: true")
        return policy, done

    def _saving(
        self, policy: Policy, costs: dict[CellKey, tuple[int, int, Decision]], cell: TuneCell, level: str
    ) -> tuple[int, int]:
        """Bytes and events a rule for `cell` at `level` would save under `policy`."""
        after = Decision(level, sorted_stages(policy.omit_stages), policy.omit_managed_fields, 0)
        saved = events = 0
        for key in self.cells[cell]:
            measured, guessed, _ = costs[key]
            new = cell_bytes(key, self.acc.capture.cells[key], after)
            if new < measured + guessed:
                saved += measured + guessed - new
                if level == "None" and measured:
                    events += self.acc.capture.cells[key][EVENTS]
        return saved, events

    def _ranked(self, policy: Policy, step: int) -> list[tuple[int, str, TuneCell, str, int]]:
        """Candidate rules of this step (0: gentlest level, 1: the next), largest saving first."""
        costs = self.acc.cell_costs(policy)
        ranked: list[tuple[int, str, TuneCell, str, int]] = []
        for cell in self.cells:
            levels = _levels_for(cell)
            if cell in self.protected_cells or step >= len(levels):
                continue
            saved, events = self._saving(policy, costs, cell, levels[step])
            if saved > 0:
                ranked.append((saved, _describe(cell), cell, levels[step], events))
        return sorted(ranked, key=lambda r: (-r[0], r[1]))

    def propose(self, budget: int) -> Proposal:
        span = self.acc.span
        before = self.acc.replay(self.base)
        policy, settings = self.settings()
        chosen: dict[TuneCell, Added] = {}
        total = self.acc.total(policy)
        for step in (0, 1):
            current = replace(policy, rules=(*(a.rule for a in chosen.values()), *self.base.rules))
            for _, label, cell, level, events in self._ranked(current, step):
                if per_day(total, span) <= budget:
                    break
                trial_rules = {**chosen, cell: Added(_rule_for(cell, level), 0, events, [label])}
                trial = replace(policy, rules=(*(a.rule for a in trial_rules.values()), *self.base.rules))
                new_total = self.acc.total(trial)
                if new_total >= total:
                    continue
                previous = chosen.get(cell)
                trial_rules[cell].saved_bytes = total - new_total + (previous.saved_bytes if previous else 0)
                chosen, total = trial_rules, new_total
        added = merge_verbs(list(chosen.values()))
        proposal_policy = replace(policy, rules=(*(a.rule for a in added), *self.base.rules))
        proposal = Proposal(
            proposal_policy, budget, settings, added, before, self.acc.replay(proposal_policy)
        )
        proposal.problems = self.verify(proposal)
        if proposal.after.bytes_per_day > budget:
            proposal.protected = self.largest_protected(proposal_policy)
        return proposal

    def verify(self, proposal: Proposal) -> list[str]:
        """The proposal keeps every must-keep request at the base's level, and lints no worse."""
        problems: list[str] = []
        base, new = Evaluator(self.base), Evaluator(proposal.policy)
        for row, req, _ in probes():
            was, now = base.evaluate(req).level, new.evaluate(req).level
            if LEVEL_RANK[now] < LEVEL_RANK[was]:
                problems.append(
                    f"probe {row} ({req.user} {req.verb} {req.resource or req.path}): {was} -> {now}"
                )
        before = {v.row: v.count for v in proposal.before.violations}
        for v in proposal.after.violations:
            if v.count > before.get(v.row, 0):
                problems.append(f"must-keep row {v.row} lost: {v.examples[0] if v.examples else ''}")
        base_high = [f for f in lint_policy(self.base, self.version) if f.severity == "high"]
        proposal.warnings = [f"the base policy already has a high lint finding (not changed): {f.message}"
                             for f in base_high]  # fmt: skip
        known = {_unindexed(f.message) for f in base_high}
        problems += [
            f"lint: {f.message}"
            for f in lint_policy(proposal.policy, self.version)
            if f.severity == "high" and _unindexed(f.message) not in known
        ]
        return problems

    def largest_protected(self, policy: Policy, top: int = 10) -> list[dict[str, Any]]:
        """Where the remaining bytes are, among cells the tuner may not touch."""
        costs = self.acc.cell_costs(policy)
        free = {k for c, keys in self.cells.items() if c not in self.protected_cells for k in keys}
        sums: dict[tuple[str, ...], int] = {}
        for key, (measured, guessed, _) in costs.items():
            if key in free or not measured + guessed:
                continue
            who = "<no user: 401>" if key[0] is None else key[0]
            what = key[8] or ((f"{key[4]}/" if key[4] else "") + key[5] + (f"/{key[6]}" if key[6] else ""))
            label = (who, key[2], what, key[3])
            sums[label] = sums.get(label, 0) + measured + guessed
        ordered = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return [
            {
                "who": k[0],
                "verb": k[1],
                "resource": k[2],
                "namespace": k[3],
                "bytes_per_day": per_day(v, self.acc.span),
            }
            for k, v in ordered
        ]


def _unindexed(message: str) -> str:
    """A finding's text without rule numbers (the proposal shifts the base's rules down)."""
    return re.sub(r"rules\[\d+\]", "rules[]", message)


def merge_verbs(added: list[Added]) -> list[Added]:
    """One rule per (level, subject, object) with all its verbs: the same matches, fewer rules."""
    merged: dict[Rule, Added] = {}
    for item in added:
        shape = replace(item.rule, verbs=())
        into = merged.get(shape)
        if into is None:
            merged[shape] = Added(item.rule, item.saved_bytes, item.saved_events, list(item.cells))
            continue
        into.rule = replace(into.rule, verbs=(*into.rule.verbs, *item.rule.verbs))
        into.saved_bytes += item.saved_bytes
        into.saved_events += item.saved_events
        into.cells += item.cells
    return list(merged.values())
