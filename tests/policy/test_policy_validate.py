"""Loading and validation: kube-apiserver's verdict and its field paths."""

from __future__ import annotations

import pytest

from kauditcfg.policy.load import validate_policy_text

V1 = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"


def errors(body: str, version: tuple[int, int] = (1, 36), head: str = V1) -> list[str]:
    return validate_policy_text(head + body, "p.yaml", version).errors


def test_valid_policy_loads() -> None:
    result = validate_policy_text(V1 + "rules:\n  - level: Metadata\n", "p.yaml", (1, 30))
    assert result.ok and result.errors == [] and result.policy is not None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "rules:\n- level: Foo\n",
            'rules[0].level: Unsupported value: "Foo": supported values: "None", "Metadata", "Request", '
            '"RequestResponse"',
        ),
        ("rules:\n- level: Metadata\n- level: metadata\n", 'rules[1].level: Unsupported value: "metadata"'),
        ("rules:\n- verbs: [get]\n", "rules[0].level: Required value"),
        (
            "omitStages: [Foo]\nrules:\n- level: None\n",
            'omitStages[0]: Invalid value: "Foo": allowed stages are',
        ),
        ("rules:\n- level: None\n  omitStages: [requestreceived]\n", "rules[0].omitStages[0]: Invalid value"),
        (
            "rules:\n- level: None\n  nonResourceURLs: [healthz]\n",
            "rules[0].nonResourceURLs[0]: Invalid value: \"healthz\": non-resource URL rules must begin with a '/'",  # noqa: E501
        ),
        (
            "rules:\n- level: None\n  nonResourceURLs: [/a/*/b]\n",
            "rules[0].nonResourceURLs[0]: Invalid value: \"/a/*/b\": non-resource URL wildcards '*' must be the final",  # noqa: E501
        ),
        (
            "rules:\n- level: None\n  nonResourceURLs: [/x]\n  namespaces: ['']\n",
            'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both',
        ),
        (
            "rules:\n- level: None\n  resources: [{group: rbac.authorization.k8s.io/v1beta1}]\n",
            'rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1beta1": a lowercase RFC 1123',  # noqa: E501
        ),
        (
            "rules:\n- level: None\n  resources: [{group: '', resourceNames: [a]}]\n",
            'rules[0].resources.resourceNames: Invalid value: []string{"a"}: using resourceNames requires',
        ),
        ("rules: []\n", "p.yaml: loaded illegal policy with 0 rules"),
        ("", "p.yaml: loaded illegal policy with 0 rules"),
        ("rules:\n- level: None\n  users: alice\n", "rules[0].users: failed decoding"),
    ],
)
def test_errors_name_the_field(body: str, expected: str) -> None:
    assert any(e.startswith(expected) for e in errors(body)), errors(body)


def test_double_star_url_gives_two_errors_on_one_path() -> None:
    errs = errors("rules:\n- level: None\n  nonResourceURLs: ['**']\n")
    assert [e.split(":")[0] for e in errs] == ["rules[0].nonResourceURLs[0]"] * 2


def test_all_errors_are_collected() -> None:
    assert len(errors("rules:\n- level: Foo\n- level: Bar\n- {}\n")) == 3


def test_group_star_valid_only_from_1_36() -> None:
    body = "rules:\n- level: None\n  resources: [{group: '*'}]\n"
    assert errors(body, (1, 36)) == []
    assert errors(body, (1, 35))[0].startswith('rules[0].resources.group: Invalid value: "*"')


def test_yaml_syntax_error_is_an_error_line() -> None:
    result = validate_policy_text("rules: [\n", "p.yaml", (1, 30))
    assert not result.ok and result.errors[0].startswith("failed decoding: yaml")


@pytest.mark.parametrize("api", ["audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"])
def test_legacy_versions_load_only_before_1_24(api: str) -> None:
    head = f"apiVersion: {api}\nkind: Policy\n"
    assert errors("rules:\n- level: None\n", (1, 23), head) == []
    assert "removed in Kubernetes 1.24" in errors("rules:\n- level: None\n", (1, 24), head)[0]


@pytest.mark.parametrize(
    "head", ["apiVersion: v1\nkind: Policy\n", "apiVersion: audit.k8s.io/v2\nkind: Policy\n", ""]
)
def test_other_versions_and_missing_type_fail(head: str) -> None:
    assert errors("rules:\n- level: None\n", head=head)


def test_unknown_fields_load_with_a_warning_from_1_26_silently_before() -> None:
    text = V1 + "rules:\n- level: None\n  resource: [secrets]\n"
    result = validate_policy_text(text, "p.yaml", (1, 30))
    assert result.ok
    assert result.warnings == [
        'rules[0].resource: unknown field "resource": kube-apiserver 1.30 drops it and logs a warning'
    ]
    old = validate_policy_text(text, "p.yaml", (1, 25))
    assert old.ok
    assert old.warnings == [
        'rules[0].resource: unknown field "resource": kube-apiserver 1.25 drops it silently'
    ]


def test_verbs_inside_resources_are_dropped() -> None:
    text = V1 + "rules:\n- level: None\n  resources: [{group: '', verbs: [get]}]\n"
    result = validate_policy_text(text, "p.yaml", (1, 30))
    assert result.ok and result.warnings[0].startswith("rules[0].resources[0].verbs: unknown field")


def test_omit_managed_fields_is_unknown_before_1_23() -> None:
    text = V1 + "omitManagedFields: true\nrules:\n- level: Request\n"
    old = validate_policy_text(text, "p.yaml", (1, 22))
    assert old.ok and old.policy is not None and old.policy.omit_managed_fields is False
    assert "unknown field" in old.warnings[0]
    new = validate_policy_text(text, "p.yaml", (1, 23))
    assert new.policy is not None and new.policy.omit_managed_fields is True and new.warnings == []
