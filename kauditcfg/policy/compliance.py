"""Pure compliance checks other commands report: CIS 3.2.1 / 3.2.2 and kubescape C-0161.

C-0161 is checked literally, as kubescape does: it reads resource names in rules and levels,
it does not evaluate the policy, so a catch-all rule does not count as naming a resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.matrix import SENSITIVE, Target, requests_for
from kauditcfg.policy.model import Policy, Request

C0161_METADATA_ONLY: tuple[str, ...] = ("secrets", "configmaps", "tokenreviews")
C0161_NEVER_NONE: tuple[str, ...] = (
    "pods",
    "deployments",
    "pods/exec",
    "pods/portforward",
    "pods/proxy",
    "services/proxy",
)


def _named_resources(rule: Any) -> set[str]:
    names: set[str] = set()
    if not isinstance(rule, dict):
        return names
    for entry in rule.get("resources") or []:
        if isinstance(entry, dict):
            names.update(str(r) for r in entry.get("resources") or [])
    return names


def c0161_failures(policy_data: dict[str, Any]) -> list[str]:
    """Why kubescape control C-0161 fails for this policy (empty: it passes)."""
    rules = policy_data.get("rules") if isinstance(policy_data, dict) else None
    if not isinstance(rules, list) or not rules:
        return ["the policy has no rules"]
    failures: list[str] = []
    named = [(i, rule.get("level") if isinstance(rule, dict) else None, _named_resources(rule)) for i, rule in
             enumerate(rules)]  # fmt: skip
    for resource in C0161_METADATA_ONLY:
        naming = [(i, level) for i, level, names in named if resource in names]
        if not naming:
            failures.append(f"{resource}: no rule names it (it must be logged at exactly Metadata)")
        failures.extend(
            f"{resource}: rules[{i}] logs it at {level}, C-0161 requires exactly Metadata"
            for i, level in naming
            if level != "Metadata"
        )
    for resource in C0161_NEVER_NONE:
        naming = [(i, level) for i, level, names in named if resource in names]
        if not naming:
            failures.append(f"{resource}: no rule names it (a catch-all rule does not count)")
        failures.extend(
            f"{resource}: rules[{i}] sets level None, C-0161 requires it to be logged"
            for i, level in naming
            if level == "None"
        )
    return failures


def cis_3_2_1(policy: Policy | None) -> bool:
    """CIS 3.2.1 "ensure a minimal audit policy is created": a policy file that loads with rules."""
    return policy is not None and bool(policy.rules)


# Which requests carry a body into the log at each level. At Request only the request body is
# written, and only create/update/patch send an object: a delete or deletecollection body is
# DeleteOptions, reads send none. RequestResponse adds the response: the object(s) returned by
# reads and writes (k8s.io/apiserver/pkg/audit/request.go: LogRequestObject, LogResponseObject).
BODY_VERBS: dict[str, frozenset[str]] = {
    "Request": frozenset({"create", "update", "patch"}),
    "RequestResponse": frozenset({"create", "update", "patch", "get", "list", "watch"}),
}


def logs_body(level: str, verb: str) -> bool:
    return verb in BODY_VERBS.get(level, frozenset())


@dataclass(frozen=True)
class Leak:
    """A sensitive resource whose request or response body reaches the log, and one request proving it."""

    target: Target
    rule: int | None
    level: str
    request: Request

    @property
    def example(self) -> str:
        req = self.request
        where = f'namespace "{req.namespace}"' if req.namespace else "cluster scope"
        groups = [g for g in req.groups if g != "system:authenticated"]
        who = f'"{req.user}"' + (f" in group {', '.join(groups)}" if groups else "")
        named = f' named "{req.name}"' if req.name else ""
        return f"{req.verb}{named} by {who} in {where}"


def body_leaks(policy: Policy, extra: Iterable[Target] = ()) -> list[Leak]:
    """Rules that write a body of Secrets, ConfigMaps, TokenReviews or `extra` into the log.

    One leak per (resource, rule), found by evaluating the synthetic request matrix; the example
    request is one whose body really is logged (a write for a rule at Request).
    """
    evaluator = Evaluator(policy)
    found: dict[tuple[Target, int | None], Leak] = {}
    for target, req in requests_for(policy, (*SENSITIVE, *extra)):
        decision = evaluator.evaluate(req)
        if not logs_body(decision.level, req.verb):
            continue
        key = (target, decision.rule)
        if key not in found:
            found[key] = Leak(target, decision.rule, decision.level, req)
    return list(found.values())


def cis_3_2_2(policy: Policy | None) -> list[str]:
    """CIS 3.2.2 "the audit policy covers key security concerns": why it fails (empty: it passes).

    Secrets, ConfigMaps and TokenReviews must be logged at Metadata at most, for every request.
    """
    if policy is None or not policy.rules:
        return ["no audit policy with rules"]
    return [
        f"{leak.target.label}: bodies logged at {leak.level} by rules[{leak.rule}] (e.g. {leak.example})"
        for leak in body_leaks(policy)
    ]
