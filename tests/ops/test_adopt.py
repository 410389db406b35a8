"""Real-world audit setups: adopted (paths, mounts, values kept), fixed only where broken, refused
when kube-apiserver could not run them; each asserts the exit code, the message, the bytes and the
JSON warnings, through the CLI on a sandbox root."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.manifest.pod import load_apiserver_pod
from tests.helpers import FIXTURES, MANIFEST, tree_snapshot

runner = CliRunner()
REFUSED = FIXTURES / "refused"


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def node(tmp_path: Path, source: Path) -> Path:
    root = tmp_path / "node"
    target = root / MANIFEST.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    return root


def manifest(root: Path) -> Path:
    return root / MANIFEST.lstrip("/")


def enable_json(root: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    code, out, err = cli("enable", "--root", str(root), "--json", *extra)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def removed_lines(before: str, after: str) -> list[str]:
    return [x[2:] for x in difflib.ndiff(before.splitlines(), after.splitlines()) if x.startswith("- ")]


def added_lines(before: str, after: str) -> list[str]:
    return [x[2:] for x in difflib.ndiff(before.splitlines(), after.splitlines()) if x.startswith("+ ")]


# -- adopt ----------------------------------------------------------------------------------------


def test_kubespray_setup_is_adopted_byte_for_byte(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-kubespray-v1.29.2.yaml")
    original = manifest(root).read_text()
    result = enable_json(root, "--profile", "cks")
    after = manifest(root).read_text()
    # nothing removed or moved; the only new lines are the two annotations
    assert removed_lines(original, after) == []
    assert [x.strip().split(":")[0] for x in added_lines(original, after)] == [
        "kauditcfg.io/adopted-volumes",
        "kauditcfg.io/config-hash",
    ]
    assert 'kauditcfg.io/adopted-volumes: "audit-logs,audit-policy"' in after
    assert "adopted existing log path /var/log/audit/kube-apiserver-audit.log" in result["warnings"]
    assert any(
        w.startswith("adopted existing policy path /etc/kubernetes/audit-policy/") for w in result["warnings"]
    )
    policy = root / "etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"
    assert policy.read_text().startswith("# Audit policy rendered by kauditcfg")
    assert not (root / "etc/kubernetes/audit/policy.yaml").exists()
    # a second run changes nothing
    snapshot = tree_snapshot(root)
    assert enable_json(root)["changed"] is False
    assert tree_snapshot(root) == snapshot
    # disable takes the flags out and keeps the user's (kubespray's) mounts
    assert cli("disable", "--root", str(root))[0] == 0
    pod = load_apiserver_pod(manifest(root).read_text(), "x")
    assert not [f for f in pod.flags if f.name.startswith("audit-")]
    assert {"audit-logs", "audit-policy"} <= {m["name"] for m in pod.mounts}
    assert "kauditcfg.io" not in manifest(root).read_text()


def test_existing_policy_file_is_backed_up_before_it_is_replaced(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-kubespray-v1.29.2.yaml")
    policy = root / "etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"
    policy.parent.mkdir(parents=True)
    policy.write_bytes(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    result = enable_json(root)
    assert result["backup"]
    copy = (
        root
        / result["backup"].lstrip("/")
        / "files"
        / "etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"
    )
    assert copy.read_bytes().endswith(b"- level: Metadata\n")
    # the user's file stays theirs: disable --purge does not delete it
    assert cli("disable", "--root", str(root), "--purge")[0] == 0
    assert policy.exists()


def test_file_mounted_log_is_fixed_to_a_directory_mount(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-file-mounted-log-v1.27.11.yaml")
    original = manifest(root).read_text()
    result = enable_json(root)
    after = manifest(root).read_text()
    pod = load_apiserver_pod(after, "x")
    assert pod.flag("audit-log-path") == "/var/log/kubernetes/audit/audit.log"
    assert pod.flag("audit-policy-file") == "/etc/kubernetes/audit-policy.yaml"
    assert any(
        w.startswith(
            "fixed: volumeMount 'audit-log' mounted the log file /var/log/kubernetes/audit/audit.log"
        )
        for w in result["warnings"]
    )
    assert [w for w in result["warnings"] if w.startswith("fixed")] == [
        "fixed: volumeMount 'audit-log' mounted the log file /var/log/kubernetes/audit/audit.log itself "
        "(rotation renames the file, which a file mount forbids); it now mounts the directory "
        "/var/log/kubernetes/audit"
    ]
    mounts = {m["name"]: m["mountPath"] for m in pod.mounts}
    assert mounts["audit-log"] == "/var/log/kubernetes/audit"
    assert mounts["audit"] == "/etc/kubernetes/audit-policy.yaml"  # the policy file mount is fine: kept
    assert "FileOrCreate" not in after
    removed = removed_lines(original, after)
    assert all(
        "audit" in line or line.strip().startswith(("hostPath:", "readOnly:", "type:")) for line in removed
    ), removed
    assert (root / "etc/kubernetes/audit-policy.yaml").is_file()
    # disable removes the mount kauditcfg fixed, keeps the user's policy mount
    assert cli("disable", "--root", str(root))[0] == 0
    pod = load_apiserver_pod(manifest(root).read_text(), "x")
    assert "audit-log" not in {m["name"] for m in pod.mounts}
    assert "audit" in {m["name"] for m in pod.mounts}


def test_stdout_log_is_kept_without_mount_and_with_a_warning(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-stdout-v1.28.6.yaml")
    original = manifest(root).read_text()
    result = enable_json(root)
    after = manifest(root).read_text()
    assert removed_lines(original, after) == []
    assert "- --audit-log-path=-\n" in after
    assert "audit-log-max" not in after
    assert len(load_apiserver_pod(after, "x").mounts) == len(load_apiserver_pod(original, "x").mounts)
    assert any(
        "do not apply to stdout" in w and w.startswith("kept --audit-log-path=-") for w in result["warnings"]
    )
    # --log-path switches it to a file (with its directory mounted)
    result = enable_json(root, "--log-path", "/var/log/kubernetes/audit/audit.log")
    pod = load_apiserver_pod(manifest(root).read_text(), "x")
    assert pod.flag("audit-log-path") == "/var/log/kubernetes/audit/audit.log"
    assert pod.host_path_of("/var/log/kubernetes/audit")[0] == "/var/log/kubernetes/audit"


def test_compliant_high_rotation_values_stay_and_explicit_options_win(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-high-rotation-v1.31.1.yaml")
    original = manifest(root).read_text()
    result = enable_json(root, "--profile", "cis")
    after = manifest(root).read_text()
    assert removed_lines(original, after) == []
    pod = load_apiserver_pod(after, "x")
    assert (pod.flag("audit-log-maxage"), pod.flag("audit-log-maxbackup"), pod.flag("audit-log-maxsize")) == (
        "90",
        "20",
        "1000",
    )
    assert "kept --audit-log-maxsize=1000 (at least the profile's 100)" in result["warnings"]
    # the new flag goes to its sorted place in the sorted run, not after the appended flags
    names = [f.name for f in pod.flags]
    assert names.index("audit-policy-file") == names.index("audit-log-path") + 1
    assert names[-2:] == ["profiling", "event-ttl"]
    enable_json(root, "--log-maxsize", "200")
    assert load_apiserver_pod(manifest(root).read_text(), "x").flag("audit-log-maxsize") == "200"


def test_low_rotation_value_is_raised_and_said(tmp_path: Path) -> None:
    src = tmp_path / "low.yaml"
    src.write_text(
        (FIXTURES / "adopt-high-rotation-v1.31.1.yaml").read_text().replace("maxage=90", "maxage=7")
    )
    root = node(tmp_path, src)
    result = enable_json(root)
    assert load_apiserver_pod(manifest(root).read_text(), "x").flag("audit-log-maxage") == "30"
    assert "fixed --audit-log-maxage: 7 is under the profile's minimum; set to 30" in result["warnings"]


def test_policy_inside_the_log_dir_is_kept_with_a_warning(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-policy-in-logdir-v1.26.14.yaml")
    original = manifest(root).read_text()
    result = enable_json(root)
    assert removed_lines(original, manifest(root).read_text()) == []
    assert (root / "var/log/kube-apiserver/audit-policy.yaml").is_file()
    assert any(
        "inside the writable audit log directory /var/log/kube-apiserver" in w for w in result["warnings"]
    )
    _, out, _ = cli("check", "--root", str(root), "--json")
    ids = {f["id"]: f["severity"] for f in json.loads(out)["findings"]}
    assert ids["policy-in-log-dir"] == "medium"


def test_crlf_setup_with_an_unmounted_log_dir_gets_the_mount_in_crlf(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-crlf-v1.29.1.yaml")
    original = manifest(root).read_bytes()
    result = enable_json(root)
    after = manifest(root).read_bytes()
    assert after.count(b"\r\n") == after.count(b"\n")
    assert (
        "fixed: --audit-log-path=/var/log/kube-audit/audit.log was under no hostPath mount; added volume "
        "'audit-log' mounting /var/log/kube-audit (read-write)"
    ) in result["warnings"]
    pod = load_apiserver_pod(after.decode(), "x")
    assert pod.flag("audit-log-path") == "/var/log/kube-audit/audit.log"
    assert pod.flag("audit-log-maxage") == "30"
    # disable: the user's policy mount stays, the log mount kauditcfg added goes
    assert cli("disable", "--root", str(root))[0] == 0
    pod = load_apiserver_pod(manifest(root).read_text(), "x")
    assert [m["name"] for m in pod.mounts if "audit" in m["name"]] == ["audit"]
    assert manifest(root).read_bytes().count(b"\r\n") == original.count(b"\r\n") - 3  # the 3 audit flags


def test_sidecars_are_left_alone_and_disable_gives_back_the_bytes(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "sidecars-kms-konnectivity-v1.30.4.yaml")
    original = manifest(root).read_bytes()
    enable_json(root)
    pod = load_apiserver_pod(manifest(root).read_text(), "x")
    assert pod.container["name"] == "kube-apiserver" and pod.flag("audit-log-path")
    others = [c for c in pod.spec["containers"] if c["name"] != "kube-apiserver"]
    assert all("audit" not in json.dumps(c) for c in others)
    assert cli("disable", "--root", str(root))[0] == 0
    assert manifest(root).read_bytes() == original


# -- refuse ---------------------------------------------------------------------------------------


def refused(tmp_path: Path, source: Path, *args: str) -> tuple[int, str]:
    root = node(tmp_path, source)
    before = tree_snapshot(root)
    code, _, err = cli(*args, "--root", str(root))
    assert tree_snapshot(root) == before
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return code, lines[0]


REFUSALS = [
    ("piversion-typo.yaml", "apiVersion is missing (found 'piVersion': a typo?)"),
    ("wrong-kind.yaml", "kind is 'StaticPod', not 'Pod'"),
    ("two-apiservers.yaml", "spec.containers[0] ('kube-apiserver') and spec.containers[1] "),
    (
        "anchored-mounts.yaml",
        "anchored list `volumeMounts` (&mnts) cannot be edited without changing its aliases",
    ),
    ("anchored-volumes.yaml", "anchored list `volumes` (&v) cannot be edited without changing its aliases"),
]
# disable has nothing to remove from the anchored files: it edits nothing there (tested below)
CASES = [("enable", n, m) for n, m in REFUSALS] + [
    ("disable", n, m) for n, m in REFUSALS if not n.startswith("anchored")
]


@pytest.mark.parametrize(("command", "name", "message"), CASES)
def test_what_the_kubelet_could_not_run_is_refused(
    tmp_path: Path, command: str, name: str, message: str
) -> None:
    code, line = refused(tmp_path, REFUSED / name, command)
    assert code == 3
    assert MANIFEST in line and message in line


def test_disable_on_an_anchored_manifest_without_audit_changes_nothing(tmp_path: Path) -> None:
    root = node(tmp_path, REFUSED / "anchored-mounts.yaml")
    before = tree_snapshot(root)
    code, out, err = cli("disable", "--root", str(root), "--json")
    assert code == 0, err
    assert json.loads(out)["changed"] is False
    assert {k: v for k, v in tree_snapshot(root).items() if "kauditcfg" not in k} == before


@pytest.mark.parametrize(
    ("name", "version"), [("old-kubeadm-v1.18.20.yaml", "1.18"), ("old-kubeadm-v1.11.10.yaml", "1.11")]
)
def test_old_releases_are_refused_by_enable_and_high_in_check(
    tmp_path: Path, name: str, version: str
) -> None:
    code, line = refused(tmp_path, FIXTURES / name, "enable")
    assert code == 4
    assert f"is Kubernetes {version}, below the supported range 1.19 to 1.36" in line
    root = node(tmp_path / "c", FIXTURES / name)
    code, out, _ = cli("check", "--root", str(root), "--json")
    findings = {f["id"]: f["severity"] for f in json.loads(out)["findings"]}
    assert findings["unsupported-version"] == "high"


def test_kubernetes_version_below_the_range_is_a_usage_error(tmp_path: Path) -> None:
    code, line = refused(
        tmp_path, FIXTURES / "kubeadm-v1.30.4.yaml", "enable", "--kubernetes-version", "1.17"
    )
    assert code == 2
    assert "--kubernetes-version 1.17: below the supported range 1.19 to 1.36" in line


def test_log_path_in_the_manifests_dir_is_refused_and_high_in_check(tmp_path: Path) -> None:
    code, line = refused(tmp_path, FIXTURES / "adopt-log-in-manifests-dir-v1.29.4.yaml", "enable")
    assert code == 4
    assert (
        "--audit-log-path=/etc/kubernetes/manifests/audit/audit.log: inside the static pod directory" in line
    )
    root = node(tmp_path / "c", FIXTURES / "adopt-log-in-manifests-dir-v1.29.4.yaml")
    findings = {f["id"]: f for f in json.loads(cli("check", "--root", str(root), "--json")[1])["findings"]}
    assert findings["log-in-manifest-dir"]["severity"] == "high"


def test_our_own_broken_edit_is_an_internal_error_not_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kauditcfg.yamltext.editor import TextEditor

    render = TextEditor.render
    monkeypatch.setattr(TextEditor, "render", lambda self: render(self) + "  broken: [\n")
    code, line = refused(tmp_path, FIXTURES / "kubeadm-v1.30.4.yaml", "enable")
    assert code == 3
    assert "internal error: kauditcfg's edit of this manifest does not parse" in line
    assert "fix the syntax" not in line


# -- check tells the truth ------------------------------------------------------------------------


def test_check_file_mounted_log_is_not_called_unmounted(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-file-mounted-log-v1.27.11.yaml")
    findings = json.loads(cli("check", "--root", str(root), "--json")[1])["findings"]
    ids = [f["id"] for f in findings]
    assert "log-file-mounted" in ids
    assert "path-not-mounted" not in ids
    assert not any("exits at start" in f["message"] and "audit-log-path" in f["message"] for f in findings)


def test_check_unmounted_log_dir_says_where_the_log_goes(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-crlf-v1.29.1.yaml")
    findings = json.loads(cli("check", "--root", str(root), "--json")[1])["findings"]
    [finding] = [f for f in findings if f["id"] == "path-not-mounted"]
    assert (
        "written inside the container's filesystem: lost on every restart and invisible on the host"
        in (finding["message"])
    )


def test_check_notes_commented_out_audit_flags(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "adopt-commented-out-v1.30.2.yaml")
    findings = json.loads(cli("check", "--root", str(root), "--json")[1])["findings"]
    [finding] = [f for f in findings if f["id"] == "audit-flags-commented-out"]
    assert finding["severity"] == "low"
    assert "audit flags are commented out at lines 18, 19" in finding["message"]


# -- symlinked manifests --------------------------------------------------------------------------


def test_symlinked_manifest_target_is_written_and_the_link_kept(tmp_path: Path) -> None:
    root = node(tmp_path, FIXTURES / "kubeadm-v1.30.4.yaml")
    link = manifest(root)
    target = root / "srv/config-repo/kube-apiserver.yaml"
    target.parent.mkdir(parents=True)
    link.rename(target)
    link.symlink_to("../../../srv/config-repo/kube-apiserver.yaml")
    original = target.read_bytes()
    enable_json(root)
    assert link.is_symlink() and link.readlink() == Path("../../../srv/config-repo/kube-apiserver.yaml")
    assert b"--audit-log-path=" in target.read_bytes()
    # nothing stray beside the link, nor beside the target
    assert sorted(p.name for p in link.parent.iterdir()) == ["kube-apiserver.yaml"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["kube-apiserver.yaml"]
    assert cli("rollback", "--root", str(root))[0] == 0
    assert link.is_symlink() and target.read_bytes() == original


@pytest.mark.parametrize("escape", ["relative", "device"])
def test_symlinked_manifest_leading_out_of_the_root_is_refused(tmp_path: Path, escape: str) -> None:
    """A link out of the sandbox (or onto a device) is never followed by a write: renaming over
    /dev/null or a file outside --root would damage the machine running the tests or the build."""
    root = node(tmp_path, FIXTURES / "kubeadm-v1.30.4.yaml")
    link = manifest(root)
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(os.path.relpath(outside, link.parent) if escape == "relative" else "/dev/null")
    before_outside = outside.read_bytes()
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root))
    assert code == 3, err
    if escape == "relative":
        assert "kube-apiserver.yaml: symbolic link leads outside --root" in err
    assert tree_snapshot(root) == before
    assert outside.read_bytes() == before_outside
    assert Path("/dev/null").is_char_device()


def test_a_policy_kauditcfg_wrote_stays_its_own_across_profiles(tmp_path: Path) -> None:
    """cks then cis rewrites kauditcfg's own policy: `disable --purge` still removes it, no warning."""
    root = node(tmp_path, FIXTURES / "kubeadm-v1.30.4.yaml")
    original = manifest(root).read_bytes()
    assert cli("enable", "--root", str(root), "--profile", "cks")[0] == 0
    assert cli("enable", "--root", str(root), "--profile", "cis")[0] == 0
    code, out, err = cli("disable", "--root", str(root), "--purge")
    assert code == 0, err
    assert "edited by hand" not in err
    assert "removed  /etc/kubernetes/audit/policy.yaml" in out
    assert not (root / "etc/kubernetes/audit/policy.yaml").exists()
    assert manifest(root).read_bytes() == original
