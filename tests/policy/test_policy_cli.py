"""The policy and profiles commands as a user runs them: exit codes, stdout, JSON."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app

runner = CliRunner()
GOOD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n" + (
    "- level: RequestResponse\n  resources: [{group: '', resources: [pods/exec]}]\n"
    "- level: Metadata\n  resources: [{group: '', resources: [secrets, configmaps]}, "
    "{group: authentication.k8s.io, resources: [tokenreviews]}]\n"
    "- level: Request\n  verbs: [create]\n"
    "- level: Metadata\n"
)


def event(
    audit_id: str, verb: str, user: str, ref: dict[str, str] | None = None, uri: str = "/x"
) -> dict[str, object]:
    e: dict[str, object] = {"kind": "Event", "auditID": audit_id, "verb": verb, "requestURI": uri,
                            "user": {"username": user, "groups": ["system:authenticated"]}}  # fmt: skip
    if ref is not None:
        e["objectRef"] = ref
    return e


EVENTS = [
    event(
        "1", "create", "alice", {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "w"}
    ),
    event("2", "create", "alice", {"resource": "secrets", "namespace": "prod"}),
    event("3", "get", "bob", None, "/healthz?verbose=1"),
    event("4", "create", "alice", {"resource": "deployments", "apiGroup": "apps", "namespace": "prod"}),
]
EXPECTED = [("1", "RequestResponse", 0), ("2", "Metadata", 1), ("3", "Metadata", 3), ("4", "Request", 2)]


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    return path


def test_validate_ok_and_invalid(tmp_path: Path, policy: Path) -> None:
    assert runner.invoke(app, ["policy", "validate", str(policy)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.replace("- level: Request\n", "- level: Foo\n").replace(
            "omitStages:", "resource: []\nomitStages:"
        )
    )
    result = runner.invoke(app, ["policy", "validate", str(bad)])
    assert result.exit_code == 3
    assert f'{bad}: error: rules[2].level: Unsupported value: "Foo"' in result.stdout
    assert 'unknown field "resource"' in result.stderr
    as_json = json.loads(runner.invoke(app, ["policy", "validate", str(bad), "--json"]).stdout)
    assert as_json["valid"] is False and as_json["errors"][0].startswith("rules[2].level")


def test_validate_v1beta1_depends_on_version(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(GOOD.replace("audit.k8s.io/v1", "audit.k8s.io/v1beta1"))
    assert runner.invoke(app, ["policy", "validate", str(old), "--kubernetes-version", "1.23"]).exit_code == 0
    assert runner.invoke(app, ["policy", "validate", str(old), "--kubernetes-version", "1.24"]).exit_code == 3
    assert runner.invoke(app, ["policy", "validate", str(old), "--kubernetes-version", "x"]).exit_code == 2


def _explain(policy: Path, *args: str, stdin: bytes | None = None) -> list[tuple[str, str, int | None]]:
    result = runner.invoke(app, ["policy", "explain", "--policy", str(policy), "--json", *args], input=stdin)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(r) == {"auditID", "level", "omitStages", "omitManagedFields", "rule"} for r in rows)
    return [(r["auditID"], r["level"], r["rule"]) for r in rows]


def test_explain_jsonl_gz_eventlist_and_stdin(tmp_path: Path, policy: Path) -> None:
    lines = "\n".join(json.dumps(e) for e in EVENTS) + "\n"
    (tmp_path / "a.log").write_text(lines)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(lines.encode()))
    (tmp_path / "batch.json").write_text(json.dumps({"kind": "EventList", "items": EVENTS}, indent=2))
    assert _explain(policy, str(tmp_path / "a.log")) == EXPECTED
    assert _explain(policy, str(tmp_path / "a.log.gz")) == EXPECTED
    assert _explain(policy, str(tmp_path / "batch.json")) == EXPECTED
    assert _explain(policy, "-", stdin=lines.encode()) == EXPECTED


def test_explain_skips_a_torn_line_with_a_warning(tmp_path: Path, policy: Path) -> None:
    (tmp_path / "a.log").write_text(json.dumps(EVENTS[0]) + '\n{"kind": "Ev\n' + json.dumps(EVENTS[1]) + "\n")
    result = runner.invoke(
        app, ["policy", "explain", "--policy", str(policy), "--json", str(tmp_path / "a.log")]
    )
    assert result.exit_code == 0
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r.get("auditID") for r in rows] == ["1", None, "2"]
    assert rows[1]["skipped"].startswith("not JSON, or a torn line")
    assert "a.log: skipped 1 line(s) that are not readable audit events; the first: line 2: " in result.stderr


def test_explain_single_request_and_table(tmp_path: Path, policy: Path) -> None:
    result = runner.invoke(
        app,
        ["policy", "explain", "--policy", str(policy), "--user", "alice", "--verb", "create",
         "--namespace", "prod", "--resource", "pods/exec"],
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.stdout == (
        "rule 0 (RequestResponse: pods/exec) decides: RequestResponse; stages omitted: RequestReceived\n"
    )
    (tmp_path / "a.log").write_text(json.dumps(EVENTS[1]) + "\n")
    table = runner.invoke(
        app, ["policy", "explain", "--policy", str(policy), "--events", str(tmp_path / "a.log")]
    ).stdout
    assert "prod/secrets" in table and "Metadata" in table


def test_explain_refuses_an_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")
    result = runner.invoke(app, ["policy", "explain", "--policy", str(bad), "--verb", "get"])
    assert result.exit_code == 3 and "0 rules" in result.stderr


def test_lint_exit_codes_and_json(tmp_path: Path, policy: Path) -> None:
    result = runner.invoke(app, ["policy", "lint", str(policy), "--json"])
    findings = json.loads(result.stdout)["findings"]
    assert result.exit_code == 0 and {f["severity"] for f in findings} <= {"medium", "low"}
    assert set(findings[0]) == {"id", "severity", "rule", "message"}
    assert runner.invoke(app, ["policy", "lint", str(policy), "--fail-on", "low"]).exit_code == 1
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text(
        GOOD.replace("- level: Request\n  verbs: [create]\n", "").replace(
            "rules:\n", "rules:\n- level: Request\n  verbs: [create]\n"
        )
    )
    result = runner.invoke(app, ["policy", "lint", str(leaky)])
    assert result.exit_code == 1 and "secrets bodies are logged at Request" in result.stdout


def test_migrate_prints_or_rewrites(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("# keep me\n" + GOOD.replace("audit.k8s.io/v1", "audit.k8s.io/v1beta1"))
    result = runner.invoke(app, ["policy", "migrate", str(old)])
    assert result.exit_code == 0 and result.stdout == "# keep me\n" + GOOD
    assert runner.invoke(app, ["policy", "migrate", str(old), "--in-place"]).exit_code == 0
    assert old.read_text() == "# keep me\n" + GOOD


def test_render_and_profiles_commands() -> None:
    result = runner.invoke(app, ["policy", "render", "--profile", "cks", "--set", "silence_namespaces=a,b"])
    assert result.exit_code == 0 and 'namespaces: ["a", "b"]' in result.stdout
    assert runner.invoke(app, ["policy", "render", "--profile", "nope"]).exit_code == 2
    listed = json.loads(runner.invoke(app, ["profiles", "list", "--json"]).stdout)
    assert [p["name"] for p in listed] == ["cks", "cis", "production", "minimal"]
    assert all(set(p) == {"name", "description"} for p in listed)
    shown = runner.invoke(app, ["profiles", "show", "cis"])
    assert (
        shown.exit_code == 0
        and "write_level = Request" in shown.stdout
        and "--audit-log-maxage=30" in shown.stdout
    )


def test_migrate_in_place_keeps_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    old = tmp_path / "policy.yaml"
    old.write_text("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: Metadata\n")
    old.chmod(0o640)
    assert runner.invoke(app, ["policy", "migrate", str(old), "--in-place"]).exit_code == 0
    assert old.read_text().startswith("apiVersion: audit.k8s.io/v1\n")
    assert old.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml"]
