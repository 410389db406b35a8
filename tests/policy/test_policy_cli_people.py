"""`policy explain`, `lint` and `validate` as people read them: results on stdout, warnings on stderr,
text that fits 80 columns, exit codes, JSON."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "fixtures" / "policies"
CKS_LIKE = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    resources: [{group: "", resources: ["pods/exec"]}]
  - level: None
    users: ["system:kube-proxy"]
  - level: Metadata
    resources: [{group: "", resources: ["secrets", "configmaps"]}]
  - level: Metadata
"""
LONG_USER = "system:serviceaccount:very-long-namespace-name:a-service-account-with-a-long-name"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


def _event(i: int, stage: str, user: str, uri: str, ref: dict[str, str] | None) -> str:
    e: dict[str, object] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"id-{i}", "stage": stage,
        "verb": "get", "requestURI": uri, "user": {"username": user, "groups": []},
    }  # fmt: skip
    if ref is not None:
        e["objectRef"] = ref
    return json.dumps(e)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(CKS_LIKE)
    secret = {"resource": "secrets", "namespace": "prod", "name": "db", "apiVersion": "v1"}
    lines = []
    for i in range(30):
        stage = "RequestReceived" if i % 3 == 0 else "ResponseComplete"
        if i % 5 == 0:
            lines.append(_event(i, stage, "system:kube-proxy", "/api/v1/services", None))
        else:
            lines.append(_event(i, stage, LONG_USER, "/api/v1/namespaces/prod/secrets/db", secret))
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    return policy, log


def test_explain_prints_a_summary_first(runner: CliRunner, files: tuple[Path, Path]) -> None:
    policy, log = files
    result = runner.invoke(app, ["policy", "explain", "--policy", str(policy), str(log)])
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "30 event(s)"
    assert all(len(line) <= 80 for line in lines)
    assert "   0         0    0.0%  RequestResponse: pods/exec" in lines
    assert "   1         6   20.0%  None: users system:kube-proxy" in lines
    assert "   2        24   80.0%  Metadata: secrets, configmaps" in lines
    assert "None                   6   20.0%  (not logged)" in lines
    assert "Metadata              24   80.0%" in lines
    # 10 events are RequestReceived; 8 of them would be logged at Metadata but the stage is omitted.
    assert lines[-1] == "dropped by omitStages: 8 (RequestReceived 8)"


def test_explain_events_rows_fit_80_columns(runner: CliRunner, files: tuple[Path, Path]) -> None:
    policy, log = files
    result = runner.invoke(app, ["policy", "explain", "--policy", str(policy), "--events", str(log)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 31 and re.match(r"VERB +USER +REQUEST +LEVEL +RULE$", lines[0])
    assert all(len(line) <= 80 for line in lines)
    # id-0: kube-proxy (rule 1, not logged); id-1: a secret read (Metadata); id-3: the same read at
    # RequestReceived, which omitStages drops.
    assert lines[1].split()[-4:] == ["None", "(not", "logged)", "1"]
    assert lines[2].split()[-2:] == ["Metadata", "2"]
    assert lines[4].split()[-3:] == ["dropped:", "RequestReceived", "2"]
    assert lines[2].startswith("get       system:service… prod/secrets db")


def test_explain_json_is_unchanged(runner: CliRunner, files: tuple[Path, Path]) -> None:
    policy, log = files
    result = runner.invoke(app, ["policy", "explain", "--policy", str(policy), "--json", str(log)])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(rows) == 30
    assert rows[3] == {"auditID": "id-3", "level": "Metadata", "omitStages": ["RequestReceived"],
                       "omitManagedFields": False, "rule": 2}  # fmt: skip


def test_single_request_is_one_sentence_with_warnings(runner: CliRunner, files: tuple[Path, Path]) -> None:
    policy, _ = files
    args = ["policy", "explain", "--policy", str(policy), "--user", "alice", "--namespace", "prod"]
    result = runner.invoke(app, [*args, "--verb", "get", "--resource", "secrets"])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == (
        "rule 2 (Metadata: secrets, configmaps) decides: Metadata; stages omitted: RequestReceived\n"
    )
    doubtful = runner.invoke(app, [*args, "--verb", "GET", "--resource", "secret"])
    assert doubtful.exit_code == 0
    assert doubtful.stdout == (
        "rule 3 (Metadata: everything else) decides: Metadata; stages omitted: RequestReceived\n"
    )
    assert 'verb "GET": kube-apiserver verbs are lower case; did you mean get?' in doubtful.stderr
    assert 'resource "secret" looks singular; did you mean secrets?' in doubtful.stderr
    proxy = runner.invoke(app, ["policy", "explain", "--policy", str(policy), "--verb", "get",
                                "--user", "system:kube-proxy", "--path", "/metrics"])  # fmt: skip
    assert proxy.stdout == "rule 1 (None: users system:kube-proxy) decides: None (not logged)\n"


def test_without_policy_the_nodes_policy_is_used(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "node"
    manifests = root / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    source = REPO / "fixtures/manifests/hand-audit-full-v1.25.16.yaml"
    shutil.copyfile(source, manifests / "kube-apiserver.yaml")
    args = ["policy", "explain", "--root", str(root), "--verb", "get", "--resource", "secrets"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 3
    assert "/etc/kubernetes/audit-policy.yaml: no such file (named by --audit-policy-file" in missing.stderr
    (root / "etc/kubernetes/audit-policy.yaml").write_text(CKS_LIKE)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("rule 2 (Metadata: secrets, configmaps) decides: Metadata")


def test_without_policy_and_without_audit_it_says_so(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    target = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
    shutil.copyfile(REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml", target)
    result = runner.invoke(app, ["policy", "explain", "--root", str(root), "--verb", "get"])
    assert result.exit_code == 3
    assert "no --audit-policy-file: audit logging is off; give --policy FILE" in result.stderr


FINDING = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<id>[a-z-]+) (?P<sev>high|medium|low) .+$"
)


def test_lint_several_files_and_stdin_like_a_linter(runner: CliRunner) -> None:
    dup, misindented = str(POLICIES / "duplicate-keys.yaml"), str(POLICIES / "verbs-under-resources.yaml")
    leak = (POLICIES / "user-and-group-leak.yaml").read_text()
    result = runner.invoke(app, ["policy", "lint", dup, misindented, "-"], input=leak)
    assert result.exit_code == 1 and result.stderr == ""
    *rows, summary = result.stdout.splitlines()
    parsed = [FINDING.match(row) for row in rows]
    assert all(parsed), rows
    where = {(m["file"], m["id"]): (int(m["line"]), int(m["col"])) for m in parsed if m}
    assert where[(dup, "duplicate-key")] == (11, 5)  # the second `level:`, the one kube-apiserver keeps
    assert where[(misindented, "unknown-field")] == (11, 9)
    assert where[("<stdin>", "sensitive-body")] == (6, 5)
    assert re.fullmatch(r"\d+ finding\(s\) in 3 files: 2 high, 1 medium, \d+ low", summary)


def test_lint_ignores_by_option_and_by_comment(runner: CliRunner, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        (POLICIES / "user-and-group-leak.yaml").read_text().replace(
            "  - level: RequestResponse\n",
            "  # kauditcfg: ignore=sensitive-body\n  - level: RequestResponse\n",
        )
    )
    ignores = ["--ignore", "interactive-below-request-response", "--ignore", "omit-managed-fields-unset"]
    result = runner.invoke(app, ["policy", "lint", str(policy), *ignores])
    assert result.exit_code == 0
    assert result.stdout == "0 finding(s) in 1 file: 0 high, 0 medium, 0 low (5 ignored)\n"
    as_json = json.loads(runner.invoke(app, ["policy", "lint", str(policy), "--json"]).stdout)
    assert as_json["ignored"] == 1 and len(as_json["findings"]) == len(as_json["locations"]) == 4
    assert set(as_json["findings"][0]) == {"id", "severity", "rule", "message"}
    assert as_json["findings"][0]["id"] == "omit-managed-fields-unset"  # about the whole policy: 1:1
    assert as_json["locations"][0] == {"file": str(policy), "line": 1, "column": 1}
    assert as_json["locations"][1] == {"file": str(policy), "line": 19, "column": 5}  # the catch-all rule
    assert runner.invoke(app, ["policy", "lint", str(policy), "--fail-on", "LOW"]).exit_code == 1


def test_validate_names_each_path_once(runner: CliRunner, tmp_path: Path) -> None:
    norules = tmp_path / "norules.yaml"
    norules.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")
    good = str(POLICIES / "gce-reference.yaml")
    result = runner.invoke(app, ["policy", "validate", str(norules), good, "-"], input=CKS_LIKE)
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        f"{norules}: error: loaded illegal policy with 0 rules",
        f"{good}: valid audit policy for Kubernetes 1.36",
        "<stdin>: valid audit policy for Kubernetes 1.36",
    ]
    assert result.stderr == ""
    one = json.loads(runner.invoke(app, ["policy", "validate", str(norules), "--json"]).stdout)
    assert one["valid"] is False and one["errors"] == ["loaded illegal policy with 0 rules"]
