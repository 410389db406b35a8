"""Synthetic requests that exercise a policy: every equivalence class its literals can tell apart.

Matching is set membership on literals, so evaluating the policy's own users, groups, namespaces,
verbs and resource names plus one value it does not name covers every way a rule can decide. This
is how lint proves (rather than greps) that Secret bodies never reach the log.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kauditcfg.policy.model import Policy, Request

VERBS: tuple[str, ...] = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
NAMESPACES: tuple[str, ...] = ("default", "kube-system", "prod", "")
_AUTH = "system:authenticated"
IDENTITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("alice", (_AUTH,)),
    ("kubernetes-admin", ("system:masters", _AUTH)),
    (
        "system:serviceaccount:default:app",
        ("system:serviceaccounts", "system:serviceaccounts:default", _AUTH),
    ),
    (
        "system:serviceaccount:kube-system:namespace-controller",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system", _AUTH),
    ),
    ("system:kube-controller-manager", (_AUTH,)),
    ("system:node:node-1", ("system:nodes", _AUTH)),
    ("system:anonymous", ("system:unauthenticated",)),
)
# People whose interactive sessions an auditor wants recorded (not controllers or nodes).
HUMANS: tuple[tuple[str, tuple[str, ...]], ...] = IDENTITIES[:3]


@dataclass(frozen=True)
class Target:
    """A resource whose requests we probe, e.g. core `secrets` or `authentication.k8s.io` `tokenreviews`."""

    resource: str
    group: str = ""
    subresource: str = ""
    namespaced: bool = True

    @property
    def label(self) -> str:
        name = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{name}.{self.group}" if self.group else name


SENSITIVE: tuple[Target, ...] = (
    Target("secrets"),
    Target("configmaps"),
    Target("tokenreviews", "authentication.k8s.io", namespaced=False),
)


def parse_target(text: str) -> Target:
    """kubectl's `resource[.group]` form; a `/sub` suffix on the resource names a subresource."""
    resource, _, group = text.partition(".")
    resource, _, sub = resource.partition("/")
    return Target(resource=resource, group=group, subresource=sub)


# Bounds the users x groups product of a policy that names very many of both.
MAX_IDENTITIES = 1024


def identities(policy: Policy) -> list[tuple[str, tuple[str, ...]]]:
    """The default identities plus every policy user paired with every policy group (and none).

    A rule naming both `users` and `userGroups` only matches a user in both (checker.go), so the
    product is needed. One group at a time is enough: matching is monotone in the groups (more
    groups never un-match a rule), so whichever rule decides for a set of groups also decides for
    the one group that made it match.
    """
    users = list(dict.fromkeys(u for rule in policy.rules for u in rule.users))
    groups = list(dict.fromkeys(g for rule in policy.rules for g in rule.user_groups))
    found = list(IDENTITIES)
    for user in [*users, "someone"]:
        found.append((user, (_AUTH,)))
        found.extend((user, (group, _AUTH)) for group in groups)
    return list(dict.fromkeys(found))[:MAX_IDENTITIES]


def _named(policy: Policy, attr: str) -> list[str]:
    values: list[str] = []
    for rule in policy.rules:
        values.extend(getattr(rule, attr))
    return values


def possible_name(verb: str, subresource: str) -> bool:
    """Whether kube-apiserver can see an object name on such a request (RequestInfo: from the URL).

    A create posts to the collection (its name is in the body, read after the policy decided),
    unless it creates a subresource (pods/NAME/exec, serviceaccounts/NAME/token); a
    deletecollection is a delete without a name.
    """
    return verb != "deletecollection" and (verb != "create" or bool(subresource))


def requests_for(
    policy: Policy,
    targets: Iterable[Target],
    verbs: Iterable[str] | None = None,
    people: Iterable[tuple[str, tuple[str, ...]]] | None = None,
) -> Iterator[tuple[Target, Request]]:
    """Every request on `targets` the policy could tell apart."""
    verb_list = list(verbs) if verbs is not None else list(dict.fromkeys([*VERBS, *_named(policy, "verbs")]))
    namespaces = list(dict.fromkeys([*NAMESPACES, *_named(policy, "namespaces")]))
    names = list(
        dict.fromkeys(["", "x", *(n for r in policy.rules for g in r.resources for n in g.resource_names)])
    )
    people = list(people) if people is not None else identities(policy)
    for target in targets:
        for verb, (user, groups), namespace, name in itertools.product(verb_list, people, namespaces, names):
            if not target.namespaced and namespace:
                continue
            if name and not possible_name(verb, target.subresource):
                continue
            yield (
                target,
                Request(
                    verb=verb,
                    user=user,
                    groups=groups,
                    namespace=namespace,
                    api_group=target.group,
                    resource=target.resource,
                    subresource=target.subresource,
                    name=name,
                ),
            )
