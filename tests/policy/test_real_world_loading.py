"""Loading policies as kube-apiserver does, on the hand-edited files users really have."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.policy.evaluate import evaluate
from kauditcfg.policy.lint import lint_policy_text
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import Request

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "fixtures" / "policies"
runner = CliRunner()


def text(name: str) -> str:
    return (POLICIES / name).read_text()


def test_duplicate_key_loads_with_the_last_value_and_is_a_medium_finding() -> None:
    result = validate_policy_text(text("duplicate-keys.yaml"), "d.yaml", (1, 30))
    assert result.ok and result.policy is not None
    assert result.warnings == [
        "rules[0].level: duplicate field (lines 7 and 11): kube-apiserver 1.30 keeps the last value "
        "and logs a warning"
    ]
    # go-yaml keeps the last `level:` (Metadata), not the first (RequestResponse).
    secret_read = Request(verb="get", user="alice", namespace="prod", resource="secrets", name="db")
    assert evaluate(result.policy, secret_read).level == "Metadata"
    old = validate_policy_text(text("duplicate-keys.yaml"), "d.yaml", (1, 25))
    assert old.warnings[0].endswith("keeps the last value, without a warning")
    dup = [
        f for f in lint_policy_text(text("duplicate-keys.yaml"), "d.yaml", (1, 30)) if f.id == "duplicate-key"
    ]
    assert [(f.severity, f.rule) for f in dup] == [("medium", 0)]
    assert "lines 7 and 11" in dup[0].message and "keeps the last value" in dup[0].message


def test_duplicate_key_exit_codes_on_the_command_line() -> None:
    path = str(POLICIES / "duplicate-keys.yaml")
    result = runner.invoke(app, ["policy", "validate", path])
    assert result.exit_code == 0 and "keeps the last value" in result.stderr
    assert runner.invoke(app, ["policy", "lint", path, "--fail-on", "medium"]).exit_code == 1
    single = runner.invoke(
        app, ["policy", "explain", "--policy", path, "--json", "--verb", "get", "--resource", "secrets"]
    )
    assert single.exit_code == 0 and '"level": "Metadata"' in single.stdout


def test_a_broken_later_document_is_ignored_with_a_warning() -> None:
    path = str(POLICIES / "multi-document-broken-tail.yaml")
    result = runner.invoke(app, ["policy", "validate", path])
    assert result.exit_code == 0
    assert "holds 2 YAML documents; kube-apiserver reads only the first and ignores the rest" in result.stderr
    assert "does not even parse" in result.stderr


def test_an_empty_first_document_is_refused_and_says_why() -> None:
    result = runner.invoke(app, ["policy", "validate", str(POLICIES / "empty-first-document.yaml")])
    assert result.exit_code == 3
    assert "the first YAML document is empty and kube-apiserver reads only the first one" in result.stdout
    assert "remove the leading `---`" in result.stdout


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("1.25", "kube-apiserver 1.25 drops it silently"),
        ("1.26", "kube-apiserver 1.26 drops it and logs a warning"),
    ],
)
def test_unknown_field_message_follows_the_strict_pass(version: str, words: str) -> None:
    result = runner.invoke(
        app,
        ["policy", "validate", str(POLICIES / "verbs-under-resources.yaml"), "--kubernetes-version", version],
    )
    assert result.exit_code == 0
    assert f'rules[0].resources[0].verbs: unknown field "verbs": {words}' in result.stderr


def test_a_misindented_field_is_not_answered_with_did_you_mean_itself() -> None:
    findings = lint_policy_text(text("verbs-under-resources.yaml"), "v.yaml", (1, 30))
    unknown = [f for f in findings if f.id == "unknown-field"]
    assert len(unknown) == 1 and unknown[0].severity == "high"
    assert "this field belongs to the rule, not to a resources entry" in unknown[0].message
    assert "did you mean" not in unknown[0].message
    typo = lint_policy_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "- level: None\n  resourceNames: [a]\n- level: Metadata\n",
        "t.yaml",
        (1, 30),
    )
    assert any("belongs to a resources entry, not to the rule" in f.message for f in typo)


def test_missing_group_version_is_said_first_and_alone() -> None:
    result = validate_policy_text(text("no-apiversion-kind.yaml"), "n.yaml", (1, 30))
    assert len(result.errors) == 1  # not also the invalid level `metadata`
    assert result.errors[0].startswith("apiVersion and kind: failed decoding: Object 'Kind' is missing")
    cli = runner.invoke(app, ["policy", "validate", str(POLICIES / "no-apiversion-kind.yaml")])
    assert cli.exit_code == 3 and "Unsupported value" not in cli.stderr


@pytest.mark.parametrize("command", ["validate", "lint"])
def test_versions_below_the_modelled_range_are_a_usage_error(command: str) -> None:
    result = runner.invoke(
        app, ["policy", command, str(POLICIES / "gce-reference.yaml"), "--kubernetes-version", "1.18"]
    )
    assert result.exit_code == 2
    assert "models Kubernetes 1.19 to 1.36" in result.stderr


def test_hostile_yaml_aliases_do_not_explode() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    result = validate_policy_text("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + bomb, "b.yaml", (1, 30))
    assert not result.ok and any("0 rules" in e for e in result.errors)
