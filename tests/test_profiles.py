"""Every profile × every supported Kubernetes version: valid, no high finding, no sensitive body."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.policy.compliance import body_leaks, c0161_failures, cis_3_2_1, cis_3_2_2
from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.lint import lint_policy_text
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.matrix import parse_target
from kauditcfg.policy.model import Policy, Request
from kauditcfg.profiles import PROFILES, get_profile, parse_set_values, render_policy
from kauditcfg.versions import SUPPORTED

MATRIX = [(name, version) for name in PROFILES for version in SUPPORTED]


@pytest.mark.parametrize(("name", "version"), MATRIX, ids=[f"{n}-{v[0]}.{v[1]}" for n, v in MATRIX])
def test_profile_renders_a_safe_valid_policy(name: str, version: tuple[int, int]) -> None:
    text = render_policy(get_profile(name), None, version)
    result = validate_policy_text(text, name, version)
    assert result.ok, result.errors
    assert result.warnings == []
    assert [f for f in lint_policy_text(text, name, version) if f.severity == "high"] == []
    assert result.policy is not None and body_leaks(result.policy) == []
    assert cis_3_2_1(result.policy) and cis_3_2_2(result.policy) == []
    assert ("omitManagedFields" in text) == (version >= (1, 23) and name != "minimal")


@pytest.mark.parametrize("name", ["cks", "cis"])
@pytest.mark.parametrize("version", SUPPORTED, ids=[f"{v[0]}.{v[1]}" for v in SUPPORTED])
def test_cks_and_cis_pass_kubescape_c0161_and_lint_low_at_most(name: str, version: tuple[int, int]) -> None:
    text = render_policy(get_profile(name), None, version)
    assert c0161_failures(YAML(typ="safe").load(text)) == []
    assert [f for f in lint_policy_text(text, name, version) if f.severity != "low"] == []
    assert get_profile(name).flags == {
        "audit-log-maxage": "30",
        "audit-log-maxbackup": "10",
        "audit-log-maxsize": "100",
    }


def test_c0161_fails_on_the_gce_and_docs_style_policies() -> None:
    text = render_policy(get_profile("production"), None, (1, 36))
    failures = c0161_failures(YAML(typ="safe").load(text))
    assert "pods/exec: no rule names it (a catch-all rule does not count)" in failures
    bad = {"rules": [{"level": "Request", "resources": [{"resources": ["secrets", "pods"]}]}]}
    assert "secrets: rules[0] logs it at Request, C-0161 requires exactly Metadata" in c0161_failures(bad)


def _policy(name: str, values: dict[str, object] | None = None) -> Policy:
    policy = validate_policy_text(render_policy(get_profile(name), values, (1, 36)), name, (1, 36)).policy
    assert policy is not None
    return policy


def test_production_is_the_gce_policy_with_the_sensitive_rule_first() -> None:
    policy = _policy("production")
    levels = [r.level for r in policy.rules]
    sensitive = levels.index("Metadata")
    assert set(levels[:sensitive]) == {"None"} and levels[-3:] == ["Request", "RequestResponse", "Metadata"]
    assert policy.rules[sensitive].resources[0].resources == (
        "secrets",
        "configmaps",
        "serviceaccounts/token",
    )


def _level(policy: Policy, **req: object) -> str:
    return Evaluator(policy).evaluate(Request(**req)).level  # type: ignore[arg-type]


SECRET_PROBES = [
    # (user, groups): a human, an attacker's expired token (401: no user), a stolen SA token (403).
    ("alice", ("system:authenticated",)),
    (None, ()),
    ("system:serviceaccount:default:app", ("system:serviceaccounts", "system:serviceaccounts:default")),
]


@pytest.mark.parametrize("name", ["cks", "cis", "production"])
@pytest.mark.parametrize(("user", "groups"), SECRET_PROBES)
def test_secret_reads_in_kube_system_are_logged_for_everyone(
    name: str, user: str | None, groups: tuple[str, ...]
) -> None:
    policy = _policy(name, {"silence_namespaces": ["kube-system"]} if name == "production" else None)
    for verb in ("get", "list", "watch"):
        assert (
            _level(policy, verb=verb, user=user, groups=groups, namespace="kube-system", resource="secrets")
            == "Metadata"
        )


@pytest.mark.parametrize("name", ["cks", "cis"])
def test_kube_system_silencing_is_narrowed_to_system_identities(name: str) -> None:
    policy = _policy(name)
    kcm = {"user": "system:kube-controller-manager", "groups": ("system:authenticated",)}
    node = {"user": "system:node:n1", "groups": ("system:nodes", "system:authenticated")}
    assert _level(policy, verb="list", namespace="kube-system", resource="pods", **kcm) == "None"
    assert _level(policy, verb="get", namespace="kube-system", resource="pods", **node) == "None"
    human = {"user": "alice", "groups": ("system:authenticated",)}
    assert _level(policy, verb="list", namespace="kube-system", resource="pods", **human) == "Metadata"
    assert _level(policy, verb="list", namespace="kube-system", resource="pods", user=None) == "Metadata"


@pytest.mark.parametrize("name", ["cks", "cis", "production"])
def test_token_requests_are_logged_at_metadata_only(name: str) -> None:
    policy = _policy(name)
    assert (
        _level(
            policy,
            verb="create",
            user="bob",
            groups=("system:authenticated",),
            namespace="prod",
            resource="serviceaccounts",
            subresource="token",
            name="app",
        )
        == "Metadata"
    )


@pytest.mark.parametrize("name", ["cks", "cis", "production"])
def test_heartbeats_and_leader_election_are_dropped_but_event_deletes_are_kept(name: str) -> None:
    policy = _policy(name)
    node = {"user": "system:node:n1", "groups": ("system:nodes", "system:authenticated")}
    lease = {"api_group": "coordination.k8s.io", "resource": "leases"}
    assert _level(policy, verb="update", namespace="kube-node-lease", **lease, **node) == "None"
    assert (
        _level(policy, verb="update", namespace="kube-system", user="system:kube-scheduler", **lease)
        == "None"
    )
    assert _level(policy, verb="update", namespace="kube-node-lease", user=None, **lease) != "None"
    assert _level(policy, verb="create", namespace="prod", resource="events", **node) == "None"
    assert _level(policy, verb="delete", namespace="prod", resource="events", **node) != "None"
    assert (
        _level(
            policy,
            verb="get",
            user="system:anonymous",
            groups=("system:unauthenticated",),
            is_resource=False,
            path="/version",
        )
        != "None"
    )


def test_minimal_logs_metadata_for_everything() -> None:
    text = render_policy(get_profile("minimal"), None, (1, 36))
    policy = validate_policy_text(text, "m", (1, 36)).policy
    assert policy is not None and [r.level for r in policy.rules] == ["Metadata"]
    assert policy.omit_stages == ("RequestReceived",)


@pytest.mark.parametrize("name", list(PROFILES))
def test_injected_namespace_cannot_change_the_structure(name: str) -> None:
    evil = 'x"\n- level: None'
    values = {"silence_namespaces": [evil], "silence_users": [evil + "\n  users: []"]}
    text = render_policy(get_profile(name), values, (1, 36))
    plain = render_policy(get_profile(name), {"silence_namespaces": ["x"], "silence_users": ["x"]}, (1, 36))
    policy = validate_policy_text(text, name, (1, 36)).policy
    assert policy is not None and len(policy.rules) == len(
        validate_policy_text(plain, name, (1, 36)).policy.rules
    )  # type: ignore[union-attr]
    assert any(evil in rule.namespaces for rule in policy.rules)
    assert any(evil + "\n  users: []" in rule.users for rule in policy.rules)


@pytest.mark.parametrize("name", ["cks", "cis", "production"])
def test_extra_sensitive_resources_stay_at_metadata(name: str) -> None:
    values = parse_set_values(["sensitive_extra=sealedsecrets.bitnami.com,vaultsecrets"], None)
    text = render_policy(get_profile(name), values, (1, 36))
    policy = validate_policy_text(text, name, (1, 36)).policy
    assert policy is not None
    extra = [parse_target("sealedsecrets.bitnami.com"), parse_target("vaultsecrets")]
    assert body_leaks(policy, extra) == []
    # and without the parameter, the write rule does log their bodies
    plain = validate_policy_text(render_policy(get_profile(name), None, (1, 36)), name, (1, 36)).policy
    assert plain is not None and body_leaks(plain, extra)


def test_set_values_are_coerced_to_parameter_types() -> None:
    values = parse_set_values(
        [
            "silence_namespaces=a, b",
            "omit_managed_fields=false",
            "write_level=RequestResponse",
            "silence_users=[u1, u2]",
        ],
        "silence_namespaces: [ignored]\nsensitive_extra:\n  - {group: example.com, resources: [things]}\n",
    )
    text = render_policy(get_profile("cks"), values, (1, 36))
    assert 'namespaces: ["a", "b"]' in text and 'users: ["u1", "u2"]' in text
    assert "omitManagedFields" not in text and '- level: "RequestResponse"' in text
    assert 'group: "example.com"' in text


@pytest.mark.parametrize(
    ("pairs", "error"),
    [(["nonsense"], UsageError), (["write_level=Everything"], InvalidInput), (["unknown=1"], InvalidInput)],
)
def test_bad_values_are_refused(pairs: list[str], error: type[Exception]) -> None:
    with pytest.raises(error):
        render_policy(get_profile("cks"), parse_set_values(pairs, None), (1, 36))


def test_cis_refuses_write_level_none() -> None:
    with pytest.raises(InvalidInput, match="write_level"):
        render_policy(get_profile("cis"), {"write_level": "None"}, (1, 36))


def test_unknown_profile() -> None:
    with pytest.raises(UsageError, match="choose one of: cis, cks, minimal, production"):
        get_profile("nope")
