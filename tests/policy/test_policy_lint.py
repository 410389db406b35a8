"""Each lint finding, on small policies a user could have written."""

from __future__ import annotations

from kauditcfg.policy.lint import Finding, lint_policy_text

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nomitManagedFields: true\nrules:\n"  # noqa: E501
SAFE_TAIL = (
    "- level: RequestResponse\n  resources: [{group: '', resources: [pods/exec, pods/attach, pods/portforward]}]\n"  # noqa: E501
    "- level: Metadata\n  resources: [{group: '', resources: [secrets, configmaps]}, "
    "{group: authentication.k8s.io, resources: [tokenreviews]}]\n"
)


def lint(rules: str, head: str = HEAD, version: tuple[int, int] = (1, 36)) -> list[Finding]:
    return lint_policy_text(head + rules, "p.yaml", version)


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


def test_clean_policy_has_no_findings() -> None:
    assert (
        lint(SAFE_TAIL + "- level: Request\n  verbs: [create, update, patch, delete]\n- level: Metadata\n")
        == []
    )


def test_secret_bodies_reachable_through_first_match() -> None:
    findings = lint("- level: Request\n  verbs: [create]\n" + SAFE_TAIL + "- level: Metadata\n")
    leaks = [f for f in findings if f.id == "sensitive-body"]
    assert {f.severity for f in leaks} == {"high"}
    assert {f.rule for f in leaks} == {0}
    assert any(f.message.startswith("secrets bodies are logged at Request") for f in leaks)
    assert any("tokenreviews" in f.message for f in leaks)


def test_secret_rule_placed_after_catch_all_is_reported() -> None:
    findings = lint("- level: RequestResponse\n" + SAFE_TAIL)
    assert "sensitive-body" in ids(findings)
    assert any(f.id == "shadowed-rule" and f.rule == 2 for f in findings)


def test_resource_names_exception_is_found_by_evaluation() -> None:
    rules = "- level: Request\n  resources: [{group: '', resources: [configmaps], resourceNames: [leader]}]\n"
    findings = lint(rules + SAFE_TAIL + "- level: Metadata\n")
    assert [f.message.split()[0] for f in findings if f.id == "sensitive-body"] == ["configmaps"]


def test_legacy_api_version() -> None:
    findings = lint("- level: Metadata\n", head="apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n")
    assert findings[0].id == "deprecated-api-version" and findings[0].severity == "high"


def test_unknown_field_names_the_field() -> None:
    findings = lint("- level: Metadata\n  resource: [{group: ''}]\n" + SAFE_TAIL)
    typo = [f for f in findings if f.id == "unknown-field"]
    assert typo and typo[0].rule == 0 and typo[0].severity == "high"
    assert '"resource"' in typo[0].message and 'did you mean "resources"' in typo[0].message


def test_no_rules_is_high() -> None:
    assert [(f.id, f.severity) for f in lint("", head=HEAD.replace("rules:\n", ""))] == [("no-rules", "high")]


def test_invalid_policy_is_high() -> None:
    assert ("invalid", "high") in [(f.id, f.severity) for f in lint("- level: Foo\n")]


def test_shadowed_rule_reports_its_index() -> None:
    rules = "- level: None\n  namespaces: [kube-system]\n- level: None\n  namespaces: [kube-system]\n  verbs: [get]\n"  # noqa: E501
    shadowed = [f for f in lint(rules + SAFE_TAIL + "- level: Metadata\n") if f.id == "shadowed-rule"]
    assert [(f.rule, f.severity) for f in shadowed] == [(1, "medium")]


def test_no_catch_all() -> None:
    assert "no-catch-all" in ids(lint(SAFE_TAIL))


def test_request_received_not_omitted() -> None:
    head = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n"
    assert "request-received-logged" in ids(lint(SAFE_TAIL + "- level: Metadata\n", head=head))


def test_request_response_for_broad_reads() -> None:
    findings = lint(SAFE_TAIL + "- level: RequestResponse\n  resources: [{group: ''}]\n- level: Metadata\n")
    broad = [f for f in findings if f.id == "broad-read-request-response"]
    assert broad and broad[0].severity == "medium" and "pods" in broad[0].message


def test_omit_managed_fields_only_from_1_23() -> None:
    head = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
    rules = SAFE_TAIL + "- level: Request\n  verbs: [create]\n- level: Metadata\n"
    assert "omit-managed-fields-unset" in ids(lint(rules, head=head, version=(1, 23)))
    assert "omit-managed-fields-unset" not in ids(lint(rules, head=head, version=(1, 22)))


def test_exec_below_request_response_is_low() -> None:
    findings = lint("- level: Metadata\n")
    low = [f for f in findings if f.id == "interactive-below-request-response"]
    assert {f.severity for f in low} == {"low"} and len(low) == 3


def test_token_request_responses_logged_is_low() -> None:
    rules = (
        "- level: RequestResponse\n  resources: [{group: '', resources: [serviceaccounts/token]}]\n"
        + SAFE_TAIL
        + "- level: Metadata\n"
    )
    found = [f for f in lint(rules) if f.id == "token-response-logged"]
    assert [(f.severity, f.rule) for f in found] == [("low", 0)]
    assert "live bearer token" in found[0].message
    request_only = rules.replace(
        "- level: RequestResponse\n  resources: [{group: '', resources: [service",
        "- level: Request\n  resources: [{group: '', resources: [service",
    )
    assert "token-response-logged" not in ids(lint(request_only))
