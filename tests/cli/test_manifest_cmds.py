"""enable / diff / disable / rollback end to end on a sandbox root, through the CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from tests.helpers import BROKEN, FIXTURES, MANIFEST, tree_snapshot

POLICY = "etc/kubernetes/audit/policy.yaml"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def manifest_of(root: Path) -> Path:
    return root / MANIFEST.lstrip("/")


def test_enable_writes_policy_and_manifest(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = manifest_of(root).read_bytes()
    code, _, err = cli("enable", "--root", str(root), "--profile", "cks")
    assert code == 0, err
    text = manifest_of(root).read_text()
    assert "- --audit-policy-file=/etc/kubernetes/audit/policy.yaml\n" in text
    assert "- --audit-log-maxage=30\n" in text
    policy = root / POLICY
    assert policy.read_text().startswith("# Audit policy rendered by kauditcfg")
    assert stat.S_IMODE(policy.stat().st_mode) == 0o600
    assert stat.S_IMODE(manifest_of(root).stat().st_mode) == 0o600
    assert "backup of the replaced files" in err
    # nothing but the manifest in the static pod directory: no temp file, no backup
    assert [p.name for p in manifest_of(root).parent.iterdir()] == ["kube-apiserver.yaml"]
    backups = list((root / "var/lib/kauditcfg/backups").iterdir())
    assert len(backups) == 1
    assert (backups[0] / "files" / MANIFEST.lstrip("/")).read_bytes() == original


def test_second_enable_reports_no_change_and_writes_nothing(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    before = tree_snapshot(root)
    code, out, _ = cli("enable", "--root", str(root), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["changed"] is False
    assert result["backup"] is None
    assert {f["action"] for f in result["files"]} == {"unchanged"}
    assert tree_snapshot(root) == before


def test_diff_exit_codes_follow_kubectl_diff(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, out, _ = cli("diff", "--root", str(root), "--profile", "cks")
    assert code == 1
    assert f"+++ {MANIFEST}\n" in out
    assert "+    - --audit-log-path=/var/log/kubernetes/audit/audit.log\n" in out
    assert "--- /dev/null\n+++ /etc/kubernetes/audit/policy.yaml\n" in out
    assert "\x1b[" not in out  # no colour when not a TTY
    assert tree_snapshot(root) == before
    assert cli("enable", "--root", str(root))[0] == 0
    code, out, _ = cli("diff", "--root", str(root), "--profile", "cks")
    assert (code, out) == (0, "")


def test_dry_run_prints_the_diff_and_writes_nothing(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, out, _ = cli("enable", "--root", str(root), "--dry-run")
    assert code == 0
    assert "+    - --audit-log-maxsize=100\n" in out
    assert tree_snapshot(root) == before


def test_json_result_has_the_ansible_shape(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, out, _ = cli("enable", "--root", str(root), "--json")
    assert code == 0
    result = json.loads(out)
    assert {"changed", "restart_required", "files", "diff", "backup", "warnings", "errors"} <= set(result)
    assert result["changed"] is True and result["restart_required"] is True
    actions = {f["path"]: (f["action"], f["mode"]) for f in result["files"]}
    assert actions[MANIFEST] == ("modified", "0600")
    assert actions["/etc/kubernetes/audit/policy.yaml"] == ("created", "0600")
    entry = next(d for d in result["diff"] if d["after_header"] == MANIFEST)
    assert entry["before"] == (FIXTURES / "kubeadm-v1.30.4.yaml").read_text()
    assert result["backup"].startswith("/var/lib/kauditcfg/backups/")


def test_disable_after_enable_restores_the_manifest_bytes(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = manifest_of(root).read_bytes()
    assert cli("enable", "--root", str(root))[0] == 0
    code, _, err = cli("disable", "--root", str(root))
    assert code == 0, err
    assert manifest_of(root).read_bytes() == original
    assert (root / POLICY).exists()  # kept without --purge
    assert cli("disable", "--root", str(root), "--purge")[0] == 0
    assert not (root / POLICY).exists()


def test_rollback_restores_what_enable_replaced(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = manifest_of(root).read_bytes()
    assert cli("enable", "--root", str(root))[0] == 0
    code, out, err = cli("rollback", "--root", str(root), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is True
    assert manifest_of(root).read_bytes() == original
    assert not (root / POLICY).exists()  # enable created it, so rollback removes it


def test_rollback_without_backup_is_a_clear_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, _, err = cli("rollback", "--root", str(root))
    assert code == 3
    assert "no backup to roll back to" in err


def test_bring_your_own_policy_is_copied(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    mine = tmp_path / "mine.yaml"
    mine.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    code, _, err = cli("enable", "--root", str(root), "--policy-file", str(mine))
    assert code == 0, err
    assert (root / POLICY).read_bytes() == mine.read_bytes()


def test_log_options_become_flags(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, _, err = cli(
        "enable",
        "--root",
        str(root),
        "--log-path",
        "/var/log/audit/kube/audit.log",
        "--log-maxage",
        "45",
        "--log-maxbackup",
        "12",
        "--log-maxsize",
        "200",
        "--log-format",
        "json",
    )
    assert code == 0, err
    text = manifest_of(root).read_text()
    for flag in (
        "--audit-log-path=/var/log/audit/kube/audit.log",
        "--audit-log-maxage=45",
        "--audit-log-maxbackup=12",
        "--audit-log-maxsize=200",
        "--audit-log-format=json",
    ):
        assert f"    - {flag}\n" in text
    assert "path: /var/log/audit/kube\n" in text


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_bad_manifest_exits_3_with_one_line_and_changes_nothing(sandbox, name: str) -> None:  # type: ignore[no-untyped-def]
    root = sandbox(BROKEN / name)
    before = tree_snapshot(root)
    for command in ("enable", "diff", "disable"):
        code, _, err = cli(command, "--root", str(root))
        assert code == 3, (command, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"kauditcfg: error: {MANIFEST}: "), err
        assert "Traceback" not in err
        assert tree_snapshot(root) == before


def test_missing_manifest_is_exit_3_and_json_errors(tmp_path: Path) -> None:
    code, out, _ = cli("enable", "--root", str(tmp_path), "--json")
    assert code == 3
    result = json.loads(out)
    assert result["changed"] is False
    assert result["errors"] == [
        f"{MANIFEST}: no such file; pass --manifest with the kube-apiserver manifest path"
    ]
    assert list(tmp_path.iterdir()) == []


def test_policy_path_inside_the_manifests_directory_is_refused(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, _, err = cli(
        "enable", "--root", str(root), "--policy-path", "/etc/kubernetes/manifests/policy.yaml"
    )
    assert code == 4
    assert "inside the static pod directory" in err
    assert tree_snapshot(root) == before


def test_unknown_profile_is_a_usage_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, _, err = cli("enable", "--root", str(root), "--profile", "nope")
    assert code == 2
    assert "unknown profile 'nope'" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_corrupt_state_file_is_refused_naming_it(sandbox, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    state = root / "var/lib/kauditcfg/state.json"
    state.write_text("{truncated")
    before = tree_snapshot(root)
    code, out, err = cli("disable", "--purge", "--root", str(root), *(["--json"] if as_json else []))
    assert code == 3 and "/var/lib/kauditcfg/state.json" in err and "corrupt" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if as_json:
        assert "/var/lib/kauditcfg/state.json" in json.loads(out)["errors"][0]
    assert tree_snapshot(root) == before
