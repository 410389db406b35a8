"""Words for people: a rule's short label, a decision as one sentence, and doubtful request values.

kube-apiserver's verbs are lower case (RequestInfo lowercases the HTTP method and maps it to
get/list/watch/create/update/patch/delete/deletecollection, k8s.io/apiserver/pkg/endpoints/
request/requestinfo.go) and resources are plural (`secrets`, never `secret`): a policy or a
question written otherwise never matches anything, silently.
"""

from __future__ import annotations

from kauditcfg.policy.model import Decision, Policy, Request, Rule

KNOWN_VERBS: frozenset[str] = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy"}
)
# Singular forms people type for the plural resource kube-apiserver sees.
_IRREGULAR = {"endpoints": "endpoints", "policy": "policies", "ingress": "ingresses"}


def _join(values: tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(v if v else '""' for v in values[:limit])
    return shown + (f" +{len(values) - limit}" if len(values) > limit else "")


def rule_label(rule: Rule) -> str:
    """`Metadata: secrets, configmaps, tokenreviews` — the level, then what the rule selects."""
    parts: list[str] = []
    resources = tuple(
        r
        + (f".{gr.group}" if gr.group else "")
        + (f" ({_join(gr.resource_names, 2)})" if gr.resource_names else "")
        for gr in rule.resources
        for r in (gr.resources or ("*",))
    )
    if resources:
        parts.append(_join(resources))
    if rule.non_resource_urls:
        parts.append(_join(rule.non_resource_urls))
    if rule.verbs:
        parts.append("verbs " + _join(rule.verbs))
    if rule.namespaces:
        parts.append("in " + _join(rule.namespaces))
    if rule.users:
        parts.append("users " + _join(rule.users, 2))
    if rule.user_groups:
        parts.append("groups " + _join(rule.user_groups, 2))
    return f"{rule.level}: {'; '.join(parts)}" if parts else f"{rule.level}: everything else"


def sentence(policy: Policy, decision: Decision) -> str:
    """`rule 3 (Metadata: secrets, ...) decides: Metadata; stages omitted: RequestReceived`."""
    if decision.rule is None:
        head = "no rule matches: None (not logged)"
    else:
        label = rule_label(policy.rules[decision.rule])
        outcome = "None (not logged)" if decision.level == "None" else decision.level
        head = f"rule {decision.rule} ({label}) decides: {outcome}"
    if decision.level != "None" and decision.omit_stages:
        head += f"; stages omitted: {', '.join(decision.omit_stages)}"
    return head


def _plural(resource: str) -> str:
    if resource in _IRREGULAR:
        return _IRREGULAR[resource]
    if resource.endswith(("s", "x", "ch", "sh")):
        return resource + "es"
    if resource.endswith("y") and resource[-2:-1] not in "aeiou":
        return resource[:-1] + "ies"
    return resource + "s"


def request_warnings(req: Request, policy: Policy) -> list[str]:
    """Values kube-apiserver never produces, which therefore match nothing the user meant."""
    warnings: list[str] = []
    verb, resource = req.verb, req.resource
    if verb != verb.lower():
        warnings.append(f'verb "{verb}": kube-apiserver verbs are lower case; did you mean {verb.lower()}?')
    elif verb not in KNOWN_VERBS and req.is_resource:
        warnings.append(f'verb "{verb}" is not one kube-apiserver uses for resource requests')
    if req.verb == "create" and req.name and not req.subresource:
        warnings.append(
            f"--name {req.name} with create: kube-apiserver decides before reading the body, so it sees "
            "no name on a create (only pods/NAME/exec-like subresources carry one in the URL)"
        )
    if not (req.is_resource and resource):
        return warnings
    named = {r.split("/", 1)[0] for rule in policy.rules for gr in rule.resources for r in gr.resources}
    if resource != resource.lower():
        warnings.append(f'resource "{resource}": resources are lower case; did you mean {resource.lower()}?')
    elif resource not in named and _plural(resource) != resource and not resource.endswith("s"):
        warnings.append(f'resource "{resource}" looks singular; did you mean {_plural(resource)}?')
    return warnings
