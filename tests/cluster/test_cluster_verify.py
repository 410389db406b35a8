"""`kauditcfg verify`: a probe request, found (or not) in the node's audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kauditcfg.cluster.verify
from kauditcfg.cli import app
from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import Request
from tests.cluster.fake_api import FakeCluster

runner = CliRunner()
LOG = "var/log/kubernetes/audit/audit.log"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kauditcfg.cluster.verify, "POLL_SECONDS", 0.001)


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def enabled_node(sandbox) -> Path:  # type: ignore[no-untyped-def]
    root: Path = sandbox()
    code, _, err = cli("enable", "--root", str(root), "--profile", "cks")
    assert code == 0, err
    return root


def test_verify_finds_the_probe_and_names_the_rule(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    (root / LOG).parent.mkdir(parents=True, exist_ok=True)
    (root / LOG).write_text(
        '{"kind":"Event","level":"Metadata","requestURI":"/api/v1/nodes"}\n'
    )  # older traffic
    with FakeCluster(root) as fake:
        fake.audit_log = root / LOG
        code, out, err = cli(
            "verify", "--root", str(root), "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json"
        )
    assert code == 0, err
    result = json.loads(out)
    assert result["found"] is True and result["level"] == "Metadata" and result["stage"] == "ResponseComplete"
    assert result["probe"].startswith("/api/v1/namespaces/kauditcfg-verify-")
    assert result["user"] == "kubernetes-admin"
    # the rule named is the one the cks policy on disk gives this request
    policy = validate_policy_text(
        (root / "etc/kubernetes/audit/policy.yaml").read_text(), "p", (1, 30)
    ).policy
    assert policy is not None
    name = result["probe"].rsplit("/", 1)[-1]
    groups = ("kubeadm:cluster-admins", "system:authenticated")
    request = Request(
        verb="get",
        user="kubernetes-admin",
        groups=groups,
        is_resource=True,
        namespace=name,
        resource="namespaces",
        name=name,
        api_version="v1",
    )
    decision = Evaluator(policy).evaluate(request)
    assert decision.level == "Metadata" and result["rule"] == decision.rule
    assert result["warnings"] == []


def test_verify_human_output(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    with FakeCluster(root) as fake:
        fake.audit_log = root / LOG
        code, out, err = cli("verify", "--root", str(root), "--kubeconfig", str(fake.kubeconfig(tmp_path)))
    assert code == 0
    assert out == ""
    assert "audit logging works: the probe /api/v1/namespaces/kauditcfg-verify-" in err
    assert "logged at level Metadata" in err and "decided by rules[" in err
    assert "of /etc/kubernetes/audit/policy.yaml in /var/log/kubernetes/audit/audit.log" in err


def test_verify_exits_1_when_nothing_is_logged(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    with FakeCluster(root) as fake:  # audit_log unset: kube-apiserver writes nothing
        kubeconfig = str(fake.kubeconfig(tmp_path))
        code, _, err = cli("verify", "--root", str(root), "--kubeconfig", kubeconfig, "--timeout", "0.05")
        assert (
            "GET",
            "/api/v1/namespaces/" + err.split("/api/v1/namespaces/")[1].split()[0],
        ) in fake.requests
    assert code == 1
    assert "configured but not working" in err
    assert "/var/log/kubernetes/audit/audit.log" in err


def test_verify_warns_when_the_running_policy_is_not_the_file(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    with FakeCluster(root) as fake:
        fake.audit_log = root / LOG
        fake.audit_level = "RequestResponse"  # what an older policy, loaded at start, said
        code, out, _ = cli(
            "verify", "--root", str(root), "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json"
        )
    assert code == 0
    (warning,) = json.loads(out)["warnings"]
    assert "reads the policy only at start" in warning


def test_verify_without_audit_flags_says_audit_is_off(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        code, _, err = cli("verify", "--root", str(root), "--kubeconfig", str(fake.kubeconfig(tmp_path)))
        assert fake.requests == []  # refused before any request
    assert code == 3
    assert "has no --audit-log-path, so audit logging is off" in err


def test_verify_unreachable_is_one_line(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    fake = FakeCluster(root)
    kubeconfig = fake.kubeconfig(tmp_path)
    fake.server.server_close()
    code, _, err = cli("verify", "--root", str(root), "--kubeconfig", str(kubeconfig))
    assert code == 6
    assert "cannot reach the Kubernetes API" in err and len(err.strip().splitlines()) == 1


def test_verify_reads_the_legacy_format(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = enabled_node(sandbox)
    log = root / LOG
    log.parent.mkdir(parents=True, exist_ok=True)

    class LegacyFake(FakeCluster):
        def _audit(self, path: str, user_agent: str) -> None:  # what --audit-log-format=legacy writes
            with log.open("a") as handle:
                handle.write(
                    '2026-11-25T16:30:01.123456789Z AUDIT: id="6b3c0f0e-3f59-4e1b-9d2a-0c1f5b7d9e21" '
                    'stage="ResponseComplete" ip="127.0.0.1" method="get" user="kubernetes-admin" '
                    'groups="\\"kubeadm:cluster-admins\\",\\"system:authenticated\\"" as="<self>" '
                    f'asgroups="<lookup>" user-agent="{user_agent}" namespace="" uri="{path}" '
                    'response="404"\n'
                )

    with LegacyFake(root) as fake:
        code, out, _ = cli(
            "verify", "--root", str(root), "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json"
        )
    assert code == 0
    result = json.loads(out)
    assert result["found"] is True and result["level"] is None
    assert (
        result["auditID"] == "6b3c0f0e-3f59-4e1b-9d2a-0c1f5b7d9e21" and result["stage"] == "ResponseComplete"
    )
    assert result["warnings"] == ["the log is in the legacy format, which does not record the level"]
