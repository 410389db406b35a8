"""`check`, the doctor: every finding on a sandbox node, the CIS block, and the CLI's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kauditcfg.node.disk
from kauditcfg.cli import app
from kauditcfg.node.check import CheckReport, run_check
from tests.helpers import CORPUS
from tests.sandbox import (
    CIS_FLAGS,
    GOOD_POLICY,
    KAS_GID,
    KAS_UID,
    LOG,
    LOG_DIR,
    LOG_FILE_MOUNTED,
    MANIFEST,
    POLICY,
    ROOTLESS,
    V1BETA1_POLICY,
    FakeStatvfs,
    Node,
    manifest_text,
    node,
)

BIG_DISK = FakeStatvfs(free_mb=1_000_000)


def healthy_node(tmp_path: Path, text: str | None = None, uid: int = 0, gid: int = 0) -> Node:
    """A node as a correct enable leaves it: policy in place, log directory owned by the pod's user."""
    n = node(tmp_path)
    n.manifest(text if text is not None else manifest_text())
    n.mkdir("/etc/kubernetes/audit", mode=0o755)
    n.write(POLICY, GOOD_POLICY, uid=0, gid=gid, mode=0o640 if gid else 0o600)
    n.mkdir(LOG_DIR, uid=uid, gid=gid, mode=0o700)
    return n


def check(n: Node, statvfs: FakeStatvfs = BIG_DISK) -> CheckReport:
    return run_check(n.host, MANIFEST, None, statvfs=statvfs)


def ids(report: CheckReport, severity: str | None = None) -> list[str]:
    return [f.id for f in report.findings if severity is None or f.severity == severity]


def finding(report: CheckReport, id_: str) -> str:
    matches = [f for f in report.findings if f.id == id_]
    assert matches, (id_, report.findings)
    assert "\n" not in matches[0].message
    return matches[0].message


# --- healthy setups ----------------------------------------------------------------------------


def test_healthy_root_setup_has_no_findings_and_passes_cis(tmp_path: Path) -> None:
    report = check(healthy_node(tmp_path))
    assert report.findings == []
    assert {k: v["result"] for k, v in report.cis.items() if k != "C-0161"} == {
        "1.2.16": "pass",
        "1.2.17": "pass",
        "1.2.18": "pass",
        "1.2.19": "pass",
        "3.2.1": "pass",
        "3.2.2": "warn",  # a manual control in the benchmark: kube-bench says WARN
    }
    assert report.cis["C-0161"]["result"] == "pass"


def test_healthy_rootless_setup_has_no_findings(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(security=ROOTLESS), uid=KAS_UID, gid=KAS_GID)
    assert check(n).findings == []


def test_manifest_without_audit_is_reported_as_disabled(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.manifest(manifest_text(flags={}, mounts=[]))
    report = check(n)
    # audit off is high, and every CIS/kubescape control it fails is a finding of its own
    assert ids(report) == ["audit-disabled", "cis-1.2.16", "cis-1.2.17", "cis-1.2.18", "cis-1.2.19",
                           "cis-3.2.1", "cis-3.2.2", "kubescape-C-0161"]  # fmt: skip
    severity = {f.id: f.severity for f in report.findings}
    assert severity["audit-disabled"] == severity["cis-1.2.16"] == severity["cis-3.2.1"] == "high"
    assert severity["cis-1.2.17"] == "medium" and severity["kubescape-C-0161"] == "low"
    assert report.failing("high")


# --- high ----------------------------------------------------------------------------------------


def test_hand_edited_flags_without_mounts(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.manifest(manifest_text(mounts=[]))
    report = check(n)
    messages = [f.message for f in report.findings if f.id == "path-not-mounted"]
    assert len(messages) == 2
    assert any(POLICY in m for m in messages) and any(LOG_DIR in m for m in messages)


def test_corpus_hand_partial_manifest_flags_but_no_mounts(tmp_path: Path) -> None:
    source = CORPUS / "hand-partial-audit-cis-v1.24.6-calvarado.yaml"
    if not source.is_file():
        pytest.skip("the shared corpus (../shared/corpus/manifests) is not available")
    n = node(tmp_path)
    n.manifest(source.read_text())
    report = check(n)
    assert "/var/log/apiserver" in finding(report, "path-not-mounted")
    assert "without --audit-policy-file" in finding(report, "log-without-policy")
    assert report.cis["1.2.17"]["result"] == "pass"


def test_policy_without_backend(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text({"audit-policy-file": POLICY}))
    assert "events go nowhere" in finding(check(n), "policy-without-backend")


def test_policy_missing_on_host(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.real(POLICY).unlink()
    assert POLICY in finding(check(n), "policy-missing")


def test_v1beta1_policy_on_disk(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.write(POLICY, V1BETA1_POLICY)
    report = check(n)
    message = finding(report, "policy-invalid")
    assert POLICY in message and "v1beta1" in message
    assert report.cis["3.2.1"]["result"] == "fail"


def test_policy_unreadable_by_rootless_user(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(security=ROOTLESS), uid=KAS_UID, gid=KAS_GID)
    n.write(POLICY, GOOD_POLICY, uid=0, gid=0, mode=0o600)
    message = finding(check(n), "policy-unreadable")
    assert "uid 1203" in message and "owner 0:0 mode 0600" in message


def test_log_file_mounted_instead_of_directory(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(mounts=LOG_FILE_MOUNTED))
    report = check(n)
    assert "mount the directory /var/log/kubernetes/audit" in finding(report, "log-file-mounted")
    assert next(f.severity for f in report.findings if f.id == "log-file-mounted") == "high"


def test_rootless_log_dir_not_writable(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(security=ROOTLESS), uid=0, gid=KAS_GID)
    n.mkdir(LOG_DIR, uid=0, gid=0, mode=0o755)
    message = finding(check(n), "log-dir-not-writable")
    assert "uid 1203" in message and "owner 0:0 mode 0755" in message
    assert "chown 1203:1203 /var/log/kubernetes/audit && chmod 0700" in message


def test_rootless_missing_log_dir_would_be_created_root_owned_by_the_kubelet(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(security=ROOTLESS), uid=KAS_UID, gid=KAS_GID)
    n.real(LOG_DIR).rmdir()
    assert "root-owned 0755" in finding(check(n), "log-dir-not-writable")


def test_log_file_not_writable(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(security=ROOTLESS), uid=KAS_UID, gid=KAS_GID)
    n.write(LOG, b"{}\n", uid=0, gid=0, mode=0o600)
    assert LOG in finding(check(n), "log-dir-not-writable")


def test_read_only_log_mount(tmp_path: Path) -> None:
    mounts = [
        {"name": "audit-log", "mountPath": LOG_DIR, "host": LOG_DIR, "readOnly": True},
        {
            "name": "audit-policy",
            "mountPath": "/etc/kubernetes/audit",
            "host": "/etc/kubernetes/audit",
            "readOnly": True,
        },
    ]
    n = healthy_node(tmp_path, manifest_text(mounts=mounts))
    assert "readOnly: true" in finding(check(n), "log-mount-read-only")


def test_unknown_audit_flag(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(dict(CIS_FLAGS, **{"audit-log-max-age": "30"})))
    assert "did you mean --audit-log-maxage?" in finding(check(n), "unknown-flag")


@pytest.mark.parametrize(
    "name",
    [
        "kube-apiserver.yaml.bak",
        "kube-apiserver.yaml.orig",
        "kube-apiserver.yaml.swp",
        "kube-apiserver.yaml~",
    ],
)
def test_backup_and_editor_files_beside_the_manifest(tmp_path: Path, name: str) -> None:
    n = healthy_node(tmp_path)
    n.write(f"/etc/kubernetes/manifests/{name}", manifest_text())
    message = finding(check(n), "stray-manifest-file")
    assert f"/etc/kubernetes/manifests/{name}" in message and "non-dot file" in message


def test_policy_placed_in_the_manifests_directory(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.write("/etc/kubernetes/manifests/audit-policy.yaml", GOOD_POLICY)
    assert "is a Policy, not a Pod" in finding(check(n), "stray-manifest-file")


def test_two_files_defining_the_same_pod(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.write("/etc/kubernetes/manifests/apiserver-copy.yaml", manifest_text())
    n.write("/etc/kubernetes/manifests/etcd.yaml", manifest_text(name="etcd"))
    n.write("/etc/kubernetes/manifests/.kube-apiserver.yaml.kauditcfg.tmp", manifest_text())
    report = check(n)
    assert ids(report) == ["duplicate-static-pod"]
    assert "apiserver-copy.yaml" in finding(report, "duplicate-static-pod")


def test_stray_files_are_not_judged_outside_a_static_pod_directory(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.write("/srv/repo/kube-apiserver.yaml", manifest_text())
    n.write("/srv/repo/kube-apiserver.yaml.bak", manifest_text())
    assert run_check(n.host, "/srv/repo/kube-apiserver.yaml", None, statvfs=BIG_DISK).findings == []


def test_kubelet_static_pod_path_is_honoured(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.write("/var/lib/kubelet/config.yaml", "kind: KubeletConfiguration\nstaticPodPath: /srv/pods\n")
    n.write("/srv/pods/kube-apiserver.yaml", manifest_text())
    n.write("/srv/pods/kube-apiserver.yaml.bak", manifest_text())
    report = run_check(n.host, "/srv/pods/kube-apiserver.yaml", None, statvfs=BIG_DISK)
    assert ids(report) == ["stray-manifest-file"]


# --- medium --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"audit-log-maxage": "7"}, "under the CIS minimum 30"),
        ({"audit-log-maxage": "0"}, "is 0"),
    ],
)
def test_rotation_under_cis(tmp_path: Path, flags: dict[str, str], expected: str) -> None:
    n = healthy_node(tmp_path, manifest_text(dict(CIS_FLAGS, **flags)))
    report = check(n)
    assert expected in finding(report, "rotation-maxage")
    assert ids(report, "medium") == ["rotation-maxage"]
    assert report.cis["1.2.17"]["result"] == "fail"


def test_rotation_flags_missing(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text({"audit-policy-file": POLICY, "audit-log-path": LOG}))
    assert sorted(ids(check(n), "medium")) == ["rotation-maxage", "rotation-maxbackup", "rotation-maxsize"]


def test_rotation_budget_over_a_quarter_of_free_disk(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    message = finding(check(n, statvfs=FakeStatvfs(free_mb=2000)), "disk-budget")
    assert "1100 MB" in message and "2000 MB" in message and "55%" in message


def test_policy_that_logs_secret_bodies(tmp_path: Path) -> None:
    pytest.importorskip("kauditcfg.policy.lint", reason="the policy engine (issue 3) is not installed")
    n = healthy_node(tmp_path)
    n.write(POLICY, b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n")
    report = check(n)
    leaks = [f for f in report.findings if f.id == "policy-sensitive-body"]
    assert leaks and all(f.severity == "high" for f in leaks)  # lint's own rank
    assert any("secrets" in f.message for f in leaks)


def test_blocking_webhook(tmp_path: Path) -> None:
    webhook = "/etc/kubernetes/audit/webhook.yaml"
    flags = dict(CIS_FLAGS, **{"audit-webhook-config-file": webhook, "audit-webhook-mode": "blocking-strict"})
    n = healthy_node(tmp_path, manifest_text(flags))
    n.write(webhook, b"apiVersion: v1\nkind: Config\nclusters: []\n")
    report = check(n)
    assert ids(report) == ["webhook-blocking"]


# --- low ------------------------------------------------------------------------------------------


def test_selinux_enforcing_with_a_custom_log_directory(tmp_path: Path) -> None:
    custom = "/srv/audit-logs"
    flags = dict(CIS_FLAGS, **{"audit-log-path": f"{custom}/audit.log"})
    mounts = [
        {"name": "audit-log", "mountPath": custom, "host": custom},
        {
            "name": "audit-policy",
            "mountPath": "/etc/kubernetes/audit",
            "host": "/etc/kubernetes/audit",
            "readOnly": True,
        },
    ]
    n = healthy_node(tmp_path, manifest_text(flags, mounts=mounts))
    n.mkdir(custom, mode=0o700)
    assert check(n).findings == []
    n.write("/sys/fs/selinux/enforce", b"1")
    report = check(n)
    assert ids(report) == ["selinux-log-dir"]
    assert "container_file_t" in finding(report, "selinux-log-dir")


def test_log_directory_on_etcds_filesystem(tmp_path: Path) -> None:
    n = healthy_node(tmp_path)
    n.mkdir("/var/lib/etcd", mode=0o700)
    report = check(n)
    assert ids(report) == ["log-on-etcd-filesystem"]
    assert report.findings[0].severity == "low"


# --- CIS --------------------------------------------------------------------------------------------


def test_cis_needs_the_equals_form(tmp_path: Path) -> None:
    items = [f"--audit-policy-file={POLICY}", f"--audit-log-path={LOG}", "--audit-log-maxage", "30"]
    items += ["--audit-log-maxbackup=10", "--audit-log-maxsize=100"]
    n = healthy_node(tmp_path, manifest_text(items))
    report = check(n)
    assert [(f.id, f.severity) for f in report.findings] == [("cis-1.2.17", "medium")]
    assert report.cis["1.2.17"]["result"] == "fail"
    assert "kube-bench only reads --audit-log-maxage=30" in report.cis["1.2.17"]["detail"]


def test_cis_c0161_reported_when_the_engine_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("kauditcfg.policy.compliance", reason="the policy engine (issue 3) is not installed")
    n = healthy_node(tmp_path)
    n.write(POLICY, b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
            b"rules:\n- level: Metadata\n")
    report = check(n)
    assert report.cis["C-0161"]["result"] == "fail"  # a catch-all names no resource
    assert [(f.id, f.severity) for f in report.findings] == [("kubescape-C-0161", "low")]


# --- CLI --------------------------------------------------------------------------------------------


@pytest.fixture
def big_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kauditcfg.node.disk, "default_statvfs", BIG_DISK)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("big_disk")
def test_clean_enable_cks_then_check_exits_0(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox("rootless-v1.30.4.yaml")
    n = Node(root)
    n.mkdir(LOG_DIR, mode=0o755)
    code, _, err = cli("enable", "--root", str(root), "--profile", "cks", "--fix-ownership")
    assert code == 0, err
    code, out, err = cli("check", "--root", str(root), "--json")
    assert code == 0, out
    data = json.loads(out)
    # cks names kubescape's C-0161 resources literally: a clean node has no finding at all
    assert data["findings"] == []
    assert data["cis"]["C-0161"]["result"] == "pass"
    assert set(data) == {"findings", "cis"}
    code, out, err = cli("check", "--root", str(root))
    assert code == 0 and err == "" and "\x1b[" not in out
    assert "6 pass, 0 fail, 1 warn\nverdict: PASS: no findings\n" in out


@pytest.mark.usefixtures("big_disk")
def test_cli_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    n = healthy_node(tmp_path, manifest_text(dict(CIS_FLAGS, **{"audit-log-maxage": "7"})))
    root = str(n.root)
    code, out, _ = cli("check", "--root", root, "--json")
    assert code == 1
    assert json.loads(out)["findings"][0] == {
        "id": "rotation-maxage",
        "severity": "medium",
        "message": json.loads(out)["findings"][0]["message"],
        "path": MANIFEST,
    }
    assert cli("check", "--root", root, "--fail-on", "high")[0] == 0
    code, out, _ = cli("check", "--root", root, "--fail-on", "HIGH")
    assert code == 0 and "verdict: PASS" in out and "rotation-maxage" in out
    n.mkdir("/var/lib/etcd")
    assert cli("check", "--root", root, "--fail-on", "high")[0] == 0
    code, out, _ = cli("check", "--root", root, "--fail-on", "Low")
    assert code == 1 and "verdict: FAIL" in out


def test_cli_unparseable_manifest_exits_3_with_one_line(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir("/etc/kubernetes/manifests")
    n.write(MANIFEST, b"apiVersion: v1\nkind: Pod\nspec: [unclosed\n")
    code, out, err = cli("check", "--root", str(n.root))
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and MANIFEST in err and "Traceback" not in err
    code, out, _ = cli("check", "--root", str(n.root), "--json")
    assert code == 3 and json.loads(out)["errors"]


def test_cli_missing_manifest_and_explicit_version(tmp_path: Path) -> None:
    n = node(tmp_path)
    code, _, err = cli("check", "--root", str(n.root))
    assert code == 3 and "no such file" in err
    healthy_node(tmp_path / "two", manifest_text(dict(CIS_FLAGS, **{"audit-log-compress": "true"})))
    root = str(tmp_path / "two" / "node")
    assert cli("check", "--root", root, "--json", "--kubernetes-version", "1.20")[0] == 0
    code, out, _ = cli("check", "--root", root, "--json", "--kubernetes-version", "1.19")
    assert code == 1 and json.loads(out)["findings"][0]["id"] == "unknown-flag"
