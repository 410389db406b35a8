"""Lint: what a policy leaks, hides, wastes or gets wrong, ranked high, medium or low.

Leaks and costs are decided by evaluating synthetic requests through the engine (first match
wins), never by grepping the file for resource names.
"""

from __future__ import annotations

import difflib
import re

from kauditcfg.config.findings import SEVERITY_RANK, Finding, Severity
from kauditcfg.policy.compliance import body_leaks
from kauditcfg.policy.evaluate import Evaluator, url_matches
from kauditcfg.policy.load import (
    GR_FIELDS,
    POLICY_FIELDS,
    RULE_FIELDS,
    UnknownField,
    ValidationResult,
    has_strict_pass,
    validate_policy_text,
)
from kauditcfg.policy.matrix import HUMANS, Target, requests_for
from kauditcfg.policy.model import LEGACY_APIS, LEVEL_RANK, GroupResources, Policy, Rule
from kauditcfg.versions import Version, format_version, only_v1_policies, supports_omit_managed_fields

# Reads of these return whole collections: RequestResponse serialises every object into the log.
BROAD: tuple[Target, ...] = (
    Target("pods"),
    Target("nodes", namespaced=False),
    Target("namespaces", namespaced=False),
    Target("services"),
    Target("endpoints"),
    Target("events"),
    Target("deployments", "apps"),
    Target("replicasets", "apps"),
    Target("endpointslices", "discovery.k8s.io"),
    Target("leases", "coordination.k8s.io"),
)
INTERACTIVE: tuple[Target, ...] = (
    Target("pods", subresource="exec"),
    Target("pods", subresource="attach"),
    Target("pods", subresource="portforward"),
)


def _lint(id_: str, severity: Severity, rule: int | None, message: str) -> Finding:
    return Finding(id_, severity, message, rule=rule)


def at_or_above(finding: Finding, threshold: str) -> bool:
    return finding.at_or_above(threshold)


_RULE_INDEX = re.compile(r"^rules\[(\d+)\]")
_KNOWN_NAMES = (
    "apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields", "level", "users",
    "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "group", "resourceNames",
)  # fmt: skip


def _rule_of(path: str) -> int | None:
    match = _RULE_INDEX.match(path)
    return int(match.group(1)) if match else None


# Where each field belongs: a known field at the wrong level is mis-indented, not misspelt.
_LEVEL_FIELDS: dict[str, frozenset[str]] = {
    "the policy": frozenset(POLICY_FIELDS),
    "the rule": frozenset(RULE_FIELDS),
    "a resources entry": frozenset(GR_FIELDS),
}


def _level_of(path: str) -> str:
    if ".resources[" in path:
        return "a resources entry"
    if path.startswith("rules["):
        return "the rule"
    return "the metadata" if path.startswith("metadata.") else "the policy"


def _unknown_field(u: UnknownField, version: Version) -> Finding:
    here = _level_of(u.path)
    homes = [level for level, names in _LEVEL_FIELDS.items() if u.name in names and level != here]
    if u.name == "omitManagedFields" and not supports_omit_managed_fields(version):
        hint = "omitManagedFields exists from Kubernetes 1.23"
    elif homes:
        hint = f"this field belongs to {homes[-1]}, not to {here}: check its indentation"
    else:
        close = difflib.get_close_matches(u.name, _KNOWN_NAMES, n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"?' if close else "not a field of audit.k8s.io/v1 Policy"
    dropped = "dropped with a warning" if has_strict_pass(version) else "silently dropped"
    return _lint(
        "unknown-field",
        "high",
        u.rule,
        f'{u.path}: unknown field "{u.name}" is {dropped} by kube-apiserver {format_version(version)}; '
        f"{hint}",
    )


def _duplicate_findings(result: ValidationResult) -> list[Finding]:
    if result.tree is None:
        return []
    return [
        _lint(
            "duplicate-key",
            "medium",
            _rule_of(dup.path),
            f"{dup.path}: set twice (lines {dup.first.line} and {dup.second.line}); kube-apiserver keeps "
            f"the last value and silently ignores the first",
        )
        for dup in result.tree.duplicates
    ]


def _load_findings(result: ValidationResult, version: Version) -> list[Finding]:
    findings: list[Finding] = []
    if result.api_version in LEGACY_APIS:
        findings.append(
            _lint(
                "deprecated-api-version",
                "high",
                None,
                f"apiVersion {result.api_version} was removed in Kubernetes 1.24"
                + (": kube-apiserver will not start" if only_v1_policies(version) else " (deprecated)")
                + "; run `kauditcfg policy migrate`",
            )
        )
    if result.policy is not None and not result.policy.rules:
        findings.append(
            _lint("no-rules", "high", None, "the policy has no rules: kube-apiserver refuses to start")
        )
    for error in result.errors:
        if "illegal policy with 0 rules" in error or (
            result.api_version in LEGACY_APIS and error.startswith("apiVersion:")
        ):
            continue
        findings.append(_lint("invalid", "high", _rule_of(error), error))
    findings.extend(_unknown_field(u, version) for u in result.unknown_fields)
    findings.extend(_duplicate_findings(result))
    return findings


def _covers_entry(a: GroupResources, b: GroupResources, wildcard: bool) -> bool:
    """Every request matching entry `b` also matches entry `a`."""
    if a.group != b.group and not (wildcard and a.group == "*"):
        return False
    if not a.resources:
        return True
    if a.resource_names and not (b.resource_names and set(b.resource_names) <= set(a.resource_names)):
        return False
    if not b.resources:
        return "*" in a.resources
    return all(_covers_pattern(a.resources, p) for p in b.resources)


def _covers_pattern(patterns: tuple[str, ...], pattern: str) -> bool:
    if "*" in patterns or pattern in patterns:
        return True
    resource, _, sub = pattern.partition("/")
    if resource == "*":  # `*/X` and `*` in b are only covered by the same pattern or `*`
        return False
    if sub == "*":
        return False
    if sub and f"*/{sub}" in patterns:
        return True
    return f"{resource}/*" in patterns


def _covers_selector(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return not a or (bool(b) and set(b) <= set(a))


def covers(a: Rule, b: Rule, wildcard: bool = False) -> bool:
    """Rule `a` matches every request rule `b` matches, so `b` placed after `a` can never win."""
    if a.users and not (b.users and set(b.users) <= set(a.users)):
        return False
    if a.user_groups and not (b.user_groups and set(b.user_groups) <= set(a.user_groups)):
        return False
    if not _covers_selector(a.verbs, b.verbs):
        return False
    if a.is_resource_rule:
        if not b.is_resource_rule:
            return False
        if not _covers_selector(a.namespaces, b.namespaces):
            return False
        if not a.resources:
            return True
        if not b.resources:
            return False
        return all(any(_covers_entry(ea, eb, wildcard) for ea in a.resources) for eb in b.resources)
    if a.non_resource_urls:
        if b.is_resource_rule or not b.non_resource_urls:
            return False
        return all(
            any(u == p or (p.endswith("*") and url_matches(p, u.rstrip("*"))) for p in a.non_resource_urls)
            or "*" in a.non_resource_urls
            for u in b.non_resource_urls
        )
    return True


def _shadowed(policy: Policy) -> list[Finding]:
    findings = []
    for j, later in enumerate(policy.rules):
        for i in range(j):
            if covers(policy.rules[i], later, policy.group_wildcard):
                findings.append(
                    _lint(
                        "shadowed-rule",
                        "medium",
                        j,
                        f"rules[{j}] can never match: rules[{i}] ({policy.rules[i].level}) matches "
                        "every request it would, and the first match wins",
                    )
                )
                break
    return findings


def _stage_findings(policy: Policy) -> list[Finding]:
    if "RequestReceived" in policy.omit_stages:
        return []
    logging = [(i, r) for i, r in enumerate(policy.rules) if r.level != "None"]
    offenders = [i for i, r in logging if "RequestReceived" not in r.omit_stages]
    if not offenders:
        return []
    text = "RequestReceived is not omitted: every request is logged twice (received and completed)"
    if len(offenders) == len(logging):
        return [
            _lint("request-received-logged", "medium", None, text + "; add omitStages: [RequestReceived]")
        ]
    return [_lint("request-received-logged", "medium", i, f"rules[{i}]: {text}") for i in offenders]


def _cost_findings(policy: Policy, evaluator: Evaluator) -> list[Finding]:
    hits: dict[int | None, set[str]] = {}
    for target, req in requests_for(policy, BROAD, verbs=("get", "list", "watch")):
        decision = evaluator.evaluate(req)
        if decision.level == "RequestResponse":
            hits.setdefault(decision.rule, set()).add(target.label)
    return [
        _lint(
            "broad-read-request-response",
            "medium",
            rule,
            f"rules[{rule}] logs get/list/watch of {', '.join(sorted(labels))} at RequestResponse: "
            "every listed object is serialised into the log (apiserver CPU, disk)",
        )
        for rule, labels in hits.items()
    ]


def _interactive_findings(policy: Policy, evaluator: Evaluator) -> list[Finding]:
    worst: dict[str, tuple[str, int | None]] = {}
    for target, req in requests_for(policy, INTERACTIVE, verbs=("create", "get"), people=HUMANS):
        decision = evaluator.evaluate(req)
        seen = worst.get(target.label)
        if seen is None or LEVEL_RANK[decision.level] < LEVEL_RANK[seen[0]]:
            worst[target.label] = (decision.level, decision.rule)
    return [
        _lint(
            "interactive-below-request-response",
            "low",
            rule,
            f"{label} can be logged at {level} (not RequestResponse): what was run is lost",
        )
        for label, (level, rule) in worst.items()
        if level != "RequestResponse"
    ]


TOKEN_REQUEST = Target("serviceaccounts", subresource="token")


def _token_findings(policy: Policy, evaluator: Evaluator) -> list[Finding]:
    """A TokenRequest's response body is a working bearer token: RequestResponse writes it to the log."""
    rules = sorted(
        {
            decision.rule
            for _, req in requests_for(policy, (TOKEN_REQUEST,), verbs=("create",))
            if (decision := evaluator.evaluate(req)).level == "RequestResponse" and decision.rule is not None
        }
    )
    return [
        _lint(
            "token-response-logged",
            "low",
            rule,
            f"rules[{rule}] logs serviceaccounts/token at RequestResponse: the response holds a live "
            "bearer token, readable by anyone who can read the audit log; Request keeps who asked for it",
        )
        for rule in rules
    ]


def lint_policy(policy: Policy, version: Version) -> list[Finding]:
    """Findings about a decoded policy (its load problems are reported by lint_policy_text)."""
    if not policy.rules or any(rule.level not in LEVEL_RANK for rule in policy.rules):
        # Nothing to evaluate: a rule without a valid level is already an `invalid` finding.
        return []
    evaluator = Evaluator(policy)
    findings = [
        _lint(
            "sensitive-body",
            "high",
            leak.rule,
            f"{leak.target.label} bodies are logged at {leak.level} by rules[{leak.rule}] "
            f"(e.g. {leak.example}): keep {leak.target.resource} at Metadata in a rule above it",
        )
        for leak in body_leaks(policy)
    ]
    findings.extend(_shadowed(policy))
    if not any(rule.is_catch_all for rule in policy.rules):
        findings.append(
            _lint(
                "no-catch-all",
                "medium",
                None,
                "no catch-all rule: requests no rule matches are silently not logged; "
                "end with `- level: Metadata`",
            )
        )
    findings.extend(_stage_findings(policy))
    findings.extend(_cost_findings(policy, evaluator))
    if supports_omit_managed_fields(version) and not policy.omit_managed_fields:
        logging = [r for r in policy.rules if r.level in ("Request", "RequestResponse")]
        if any(r.omit_managed_fields is not True for r in logging):
            findings.append(
                _lint(
                    "omit-managed-fields-unset",
                    "low",
                    None,
                    "omitManagedFields is not set: managedFields bloat every logged body; "
                    "set omitManagedFields: true",
                )
            )
    findings.extend(_interactive_findings(policy, evaluator))
    findings.extend(_token_findings(policy, evaluator))
    return findings


def lint_result(result: ValidationResult, version: Version) -> list[Finding]:
    """Every finding for a loaded policy file, highest severity first, then by rule index."""
    findings = _load_findings(result, version)
    if result.policy is not None:
        findings.extend(lint_policy(result.policy, version))
    return sorted(
        findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.rule if f.rule is not None else -1, f.id)
    )


def lint_policy_text(text: str, source: str, version: Version) -> list[Finding]:
    """Every finding for a policy file, highest severity first, then by rule index."""
    return lint_result(validate_policy_text(text, source, version), version)
