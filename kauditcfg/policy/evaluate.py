"""kube-apiserver's policy checker: the first rule whose every selector matches decides.

Mirrors k8s.io/apiserver/pkg/audit/policy/checker.go as summarised in POLICY_SEMANTICS.md,
including its quirks (`pods/*` matches plain `pods`, `*` is literal outside resources and URLs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kauditcfg.policy.model import STAGES, Decision, GroupResources, Policy, Request, Rule

_STAGE_ORDER = {stage: i for i, stage in enumerate(STAGES)}


def sorted_stages(stages: Iterable[str]) -> tuple[str, ...]:
    """Stage sets come out of kube-apiserver in map order; we sort them for stable output."""
    return tuple(sorted(set(stages), key=lambda s: (_STAGE_ORDER.get(s, len(STAGES)), s)))


def resource_pattern_matches(pattern: str, resource: str, subresource: str) -> bool:
    if pattern == "*":
        return True
    combined = f"{resource}/{subresource}" if subresource else resource
    if pattern == combined:
        return True
    if pattern.startswith("*/"):
        return bool(subresource) and pattern[2:] == subresource
    # `R/*` checks the resource only, so it also matches R without a subresource (upstream quirk).
    return pattern.endswith("/*") and pattern[:-2] == resource


def url_matches(pattern: str, path: str) -> bool:
    if pattern == "*" or pattern == path:
        return True
    # A plain string prefix, no segment boundary: "/healthz*" matches "/healthzfoo".
    return pattern.endswith("*") and path.startswith(pattern.rstrip("*"))


def _group_resources_match(entries: tuple[GroupResources, ...], req: Request, group_wildcard: bool) -> bool:
    for entry in entries:
        if entry.group != req.api_group and not (group_wildcard and entry.group == "*"):
            continue
        if not entry.resources:
            return True
        for pattern in entry.resources:
            if entry.resource_names and req.name not in entry.resource_names:
                continue
            if resource_pattern_matches(pattern, req.resource, req.subresource):
                return True
    return False


def rule_matches(rule: Rule, req: Request, group_wildcard: bool = False) -> bool:
    if rule.users and (req.user is None or req.user not in rule.users):
        return False
    if rule.user_groups and (req.user is None or not any(g in rule.user_groups for g in req.groups)):
        return False
    if rule.verbs and req.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        if not req.is_resource:
            return False
        if rule.namespaces and req.namespace not in rule.namespaces:
            return False
        return not rule.resources or _group_resources_match(rule.resources, req, group_wildcard)
    if rule.non_resource_urls:
        if req.is_resource:
            return False
        return any(url_matches(p, req.path) for p in rule.non_resource_urls)
    return True


@dataclass(frozen=True)
class _Compiled:
    """Per-rule results fixed when the evaluator is built, as upstream does with the stage union."""

    rule: Rule
    decision: Decision


class Evaluator:
    """A policy prepared for many evaluations (the stage unions are computed once)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._rules = tuple(
            _Compiled(
                rule,
                Decision(
                    level=rule.level,
                    omit_stages=sorted_stages((*policy.omit_stages, *rule.omit_stages)),
                    omit_managed_fields=(
                        rule.omit_managed_fields
                        if rule.omit_managed_fields is not None
                        else policy.omit_managed_fields
                    ),
                    rule=index,
                ),
            )
            for index, rule in enumerate(policy.rules)
        )
        self.no_match = Decision(
            level="None",
            omit_stages=sorted_stages(policy.omit_stages),
            omit_managed_fields=policy.omit_managed_fields,
            rule=None,
        )

    def evaluate(self, req: Request) -> Decision:
        wildcard = self.policy.group_wildcard
        for compiled in self._rules:
            if rule_matches(compiled.rule, req, wildcard):
                return compiled.decision
        return self.no_match


def evaluate(policy: Policy, request: Request) -> Decision:
    """The level, omitted stages and omitManagedFields kube-apiserver would apply to `request`."""
    return Evaluator(policy).evaluate(request)
