"""Body leaks are judged by verb, and rules that combine subjects are exercised."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.policy.compliance import body_leaks, cis_3_2_2, logs_body
from kauditcfg.policy.evaluate import evaluate
from kauditcfg.policy.lint import lint_policy_text
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import Policy

REPO = Path(__file__).resolve().parents[2]
HEAD = (
    "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
    "omitManagedFields: true\nrules:\n"
)
SAFE = (
    "- level: Metadata\n  resources: [{group: '', resources: [secrets, configmaps]}, "
    "{group: authentication.k8s.io, resources: [tokenreviews]}]\n- level: Metadata\n"
)
SECRETS = "resources: [{group: '', resources: [secrets]}]"


def load(rules: str) -> Policy:
    result = validate_policy_text(HEAD + rules, "p.yaml", (1, 30))
    assert result.ok and result.policy is not None, result.errors
    return result.policy


def leak_messages(rules: str) -> list[str]:
    return [f.message for f in lint_policy_text(HEAD + rules, "p.yaml", (1, 30)) if f.id == "sensitive-body"]


def test_the_gce_reference_policy_passes_fail_on_high() -> None:
    result = runner.invoke(
        app, ["policy", "lint", str(REPO / "fixtures/policies/gce-reference.yaml"), "--fail-on", "high"]
    )
    assert result.exit_code == 0, result.output
    assert "sensitive-body" not in result.output


runner = CliRunner()


@pytest.mark.parametrize(
    "verbs", ["[deletecollection]", "[delete]", "[get, list, watch]", "[delete, deletecollection, get]"]
)
def test_request_level_without_a_request_body_does_not_leak(verbs: str) -> None:
    assert leak_messages(f"- level: Request\n  verbs: {verbs}\n  {SECRETS}\n" + SAFE) == []


def test_request_level_on_writes_leaks_and_the_example_is_a_write() -> None:
    (message,) = leak_messages(f"- level: Request\n  verbs: [get, delete, patch]\n  {SECRETS}\n" + SAFE)
    assert message.startswith("secrets bodies are logged at Request by rules[0] (e.g. patch by ")


def test_request_response_leaks_reads_and_the_example_is_a_read() -> None:
    (message,) = leak_messages(
        f"- level: RequestResponse\n  verbs: [get, deletecollection]\n  {SECRETS}\n" + SAFE
    )
    assert "(e.g. get by " in message
    assert (
        leak_messages(f"- level: RequestResponse\n  verbs: [delete, deletecollection]\n  {SECRETS}\n" + SAFE)
        == []
    )


@pytest.mark.parametrize(
    ("selectors", "who"),
    [
        ("users: [tim]\n  userGroups: [testers]", 'by "tim" in group testers'),
        ("users: [tim]\n  verbs: [update]", 'update by "tim"'),
        ("userGroups: [testers]\n  namespaces: [qa]", 'in group testers in namespace "qa"'),
        (
            "users: [tim]\n  userGroups: [testers]\n  namespaces: [qa]\n  verbs: [create]",
            'create by "tim" in group testers in namespace "qa"',
        ),
        (
            "users: [tim]\n  resources: [{group: '', resources: [secrets], resourceNames: [db-password]}]",
            'named "db-password" by "tim"',
        ),
        (
            "userGroups: [testers, admins]\n  users: [ann, tim]\n  verbs: [watch]",
            'watch by "ann" in group testers',
        ),
    ],
)
def test_every_combination_of_subjects_is_exercised(selectors: str, who: str) -> None:
    resources = "" if "resources:" in selectors else f"\n  {SECRETS}"
    rules = f"- level: RequestResponse\n  {selectors}{resources}\n" + SAFE
    (message,) = leak_messages(rules)
    assert message.startswith("secrets bodies are logged at RequestResponse by rules[0]") and who in message
    assert cis_3_2_2(load(rules))  # CIS 3.2.2 relies on the same leak test


def test_every_reported_leak_is_reproduced_by_evaluation() -> None:
    policy = load(
        "- level: RequestResponse\n  users: [tim]\n  userGroups: [testers]\n  " + SECRETS + "\n" + SAFE
    )
    leaks = body_leaks(policy)
    assert leaks
    for leak in leaks:
        decision = evaluate(policy, leak.request)
        assert decision.rule == leak.rule and logs_body(decision.level, leak.request.verb)
