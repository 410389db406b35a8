"""Matching, table-driven against kube-apiserver's checker semantics (POLICY_SEMANTICS.md)."""

from __future__ import annotations

import pytest

from kauditcfg.policy.evaluate import evaluate, rule_matches
from kauditcfg.policy.model import GroupResources, Policy, Request, Rule


def res(*resources: str, group: str = "", names: tuple[str, ...] = ()) -> GroupResources:
    return GroupResources(group=group, resources=resources, resource_names=names)


def req(verb: str = "get", **kw: object) -> Request:
    kw.setdefault("user", "alice")
    kw.setdefault("groups", ("system:authenticated",))
    return Request(verb=verb, **kw)  # type: ignore[arg-type]


CASES = [
    # users / groups: exact, "*" literal, no user never matches
    ("user exact", Rule("Metadata", users=("alice",)), req(), True),
    ("user other", Rule("Metadata", users=("bob",)), req(), False),
    ("user star is literal", Rule("Metadata", users=("*",)), req(), False),
    ("user case-sensitive", Rule("Metadata", users=("Alice",)), req(), False),
    ("no user vs users", Rule("Metadata", users=("",)), req(user=None), False),
    ("group any of", Rule("Metadata", user_groups=("x", "system:authenticated")), req(), True),
    ("group none", Rule("Metadata", user_groups=("system:masters",)), req(), False),
    ("no user vs groups", Rule("Metadata", user_groups=("system:authenticated",)), req(user=None), False),
    # verbs
    ("verb in list", Rule("Metadata", verbs=("get", "list")), req("list"), True),
    ("verb star literal", Rule("Metadata", verbs=("*",)), req("get"), False),
    # namespaces
    ("namespace", Rule("Metadata", namespaces=("prod",)), req(namespace="prod", resource="pods"), True),
    ("namespace other", Rule("Metadata", namespaces=("prod",)), req(namespace="dev", resource="pods"), False),
    ("cluster-scoped via empty ns", Rule("Metadata", namespaces=("",)), req(resource="nodes"), True),
    (
        "empty ns not namespaced",
        Rule("Metadata", namespaces=("",)),
        req(namespace="a", resource="pods"),
        False,
    ),
    (
        "namespace star literal",
        Rule("Metadata", namespaces=("*",)),
        req(namespace="a", resource="pods"),
        False,
    ),
    (
        "namespace rule vs non-resource",
        Rule("Metadata", namespaces=("a",)),
        req(is_resource=False, path="/x"),
        False,
    ),
    # groups
    ("core group", Rule("Metadata", resources=(res("pods"),)), req(resource="pods"), True),
    (
        "core is not apps",
        Rule("Metadata", resources=(res("deployments"),)),
        req(resource="deployments", api_group="apps"),
        False,
    ),
    (
        "named group",
        Rule("Metadata", resources=(res("deployments", group="apps"),)),
        req(resource="deployments", api_group="apps"),
        True,
    ),
    (
        "group without resources = all",
        Rule("Metadata", resources=(res(group="apps"),)),
        req(resource="x", subresource="y", api_group="apps"),
        True,
    ),
    # resources
    (
        "pods not pods/log",
        Rule("Metadata", resources=(res("pods"),)),
        req(resource="pods", subresource="log"),
        False,
    ),
    ("pods/log not pods", Rule("Metadata", resources=(res("pods/log"),)), req(resource="pods"), False),
    (
        "pods/log",
        Rule("Metadata", resources=(res("pods/log"),)),
        req(resource="pods", subresource="log"),
        True,
    ),
    ("star any", Rule("Metadata", resources=(res("*"),)), req(resource="pods", subresource="exec"), True),
    (
        "*/sub",
        Rule("Metadata", resources=(res("*/status"),)),
        req(resource="nodes", subresource="status"),
        True,
    ),
    ("*/sub needs sub", Rule("Metadata", resources=(res("*/status"),)), req(resource="status"), False),
    (
        "name/* with sub",
        Rule("Metadata", resources=(res("pods/*"),)),
        req(resource="pods", subresource="exec"),
        True,
    ),
    ("name/* quirk: plain", Rule("Metadata", resources=(res("pods/*"),)), req(resource="pods"), True),
    ("name/* other resource", Rule("Metadata", resources=(res("pods/*"),)), req(resource="nodes"), False),
    (
        "*/* matches nothing",
        Rule("Metadata", resources=(res("*/*"),)),
        req(resource="pods", subresource="log"),
        False,
    ),
    # resourceNames
    (
        "resourceNames hit",
        Rule("Metadata", resources=(res("configmaps", names=("a",)),)),
        req(resource="configmaps", name="a"),
        True,
    ),
    (
        "resourceNames miss",
        Rule("Metadata", resources=(res("configmaps", names=("a",)),)),
        req(resource="configmaps", name="b"),
        False,
    ),
    (
        "resourceNames vs list",
        Rule("Metadata", resources=(res("configmaps", names=("a",)),)),
        req("list", resource="configmaps"),
        False,
    ),
    (
        "resourceNames star literal",
        Rule("Metadata", resources=(res("configmaps", names=("*",)),)),
        req(resource="configmaps", name="a"),
        False,
    ),
    # non-resource URLs
    (
        "url exact",
        Rule("Metadata", non_resource_urls=("/version",)),
        req(is_resource=False, path="/version"),
        True,
    ),
    (
        "url prefix",
        Rule("Metadata", non_resource_urls=("/healthz*",)),
        req(is_resource=False, path="/healthz/etcd"),
        True,
    ),
    (
        "url prefix no boundary",
        Rule("Metadata", non_resource_urls=("/healthz*",)),
        req(is_resource=False, path="/healthzfoo"),
        True,
    ),
    (
        "/api* matches /apis",
        Rule("Metadata", non_resource_urls=("/api*",)),
        req(is_resource=False, path="/apis"),
        True,
    ),
    (
        "/apis/* not /apis",
        Rule("Metadata", non_resource_urls=("/apis/*",)),
        req(is_resource=False, path="/apis"),
        False,
    ),
    ("url star", Rule("Metadata", non_resource_urls=("*",)), req(is_resource=False, path="/x"), True),
    (
        "url case",
        Rule("Metadata", non_resource_urls=("/Version",)),
        req(is_resource=False, path="/version"),
        False,
    ),
    ("url rule vs resource", Rule("Metadata", non_resource_urls=("*",)), req(resource="pods"), False),
    (
        "resource rule vs url",
        Rule("Metadata", resources=(res("*"),)),
        req(is_resource=False, path="/x"),
        False,
    ),
    # catch-all
    ("catch-all resource", Rule("Metadata"), req(resource="pods"), True),
    ("catch-all url", Rule("Metadata"), req(is_resource=False, path="/x"), True),
]


@pytest.mark.parametrize(("rule", "request_", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_matches(rule: Rule, request_: Request, expected: bool) -> None:
    assert rule_matches(rule, request_) is expected


def test_group_wildcard_only_from_1_36() -> None:
    rule = Rule("Metadata", resources=(res("deployments", group="*"),))
    r = req(resource="deployments", api_group="apps")
    assert rule_matches(rule, r, group_wildcard=True)
    assert not rule_matches(rule, r, group_wildcard=False)


def test_first_match_wins_and_none_stops() -> None:
    policy = Policy(
        rules=(
            Rule("None", users=("system:kube-proxy",)),
            Rule("Metadata", resources=(res("secrets"),)),
            Rule("RequestResponse"),
        )
    )
    assert evaluate(policy, req(resource="secrets")).rule == 1
    assert evaluate(policy, req(resource="secrets")).level == "Metadata"
    d = evaluate(policy, req(user="system:kube-proxy", resource="secrets"))
    assert (d.level, d.rule) == ("None", 0)
    assert evaluate(policy, req(resource="pods")).level == "RequestResponse"


def test_no_match_gives_policy_defaults() -> None:
    policy = Policy(
        rules=(Rule("Metadata", users=("bob",)),), omit_stages=("Panic", "Panic"), omit_managed_fields=True
    )
    d = evaluate(policy, req())
    assert (d.level, d.rule, d.omit_stages, d.omit_managed_fields) == ("None", None, ("Panic",), True)


def test_stage_union_is_deduplicated_and_sorted() -> None:
    policy = Policy(
        rules=(Rule("Metadata", omit_stages=("ResponseStarted", "RequestReceived")),),
        omit_stages=("RequestReceived", "Panic"),
    )
    assert evaluate(policy, req()).omit_stages == ("RequestReceived", "ResponseStarted", "Panic")


@pytest.mark.parametrize(
    ("policy_level", "rule_level", "expected"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_omit_managed_fields_rule_overrides_policy(
    policy_level: bool, rule_level: bool | None, expected: bool
) -> None:
    policy = Policy(
        rules=(Rule("Request", omit_managed_fields=rule_level),), omit_managed_fields=policy_level
    )
    assert evaluate(policy, req()).omit_managed_fields is expected
