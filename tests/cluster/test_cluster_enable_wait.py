"""enable / disable / rollback --wait: wait for the new kube-apiserver, restore when it never comes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kauditcfg.cluster.wait
from kauditcfg.cli import app
from kauditcfg.cli.cluster_opts import tty_progress
from kauditcfg.cluster.wait import PodView, Seen
from tests.cluster.fake_api import MANIFEST, FakeCluster
from tests.helpers import tree_snapshot

runner = CliRunner()
POLICY = "etc/kubernetes/audit/policy.yaml"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kauditcfg.cluster.wait, "POLL_SECONDS", 0.001)


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_enable_wait_returns_when_the_new_pod_is_ready(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        fake.restart_polls = 3
        code, out, err = cli(
            "enable", "--root", str(root), "--wait", "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json"
        )
        pod = fake.pod()
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is True and result["ready"] is True
    assert pod["metadata"]["annotations"]["kauditcfg.io/config-hash"] in (root / MANIFEST).read_text()
    assert "\r" not in err  # no progress display: stderr is not a terminal


def test_enable_wait_restores_the_previous_files_and_exits_5(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = (root / MANIFEST).read_bytes()
    with FakeCluster(root) as fake:
        fake.crash_if = "--audit-policy-file"
        code, out, err = cli(
            "enable",
            "--root",
            str(root),
            "--wait",
            "--timeout",
            "1",
            "--kubeconfig",
            str(fake.kubeconfig(tmp_path)),
            "--json",
        )
        back = fake.pod()
    assert code == 5
    assert (root / MANIFEST).read_bytes() == original
    assert not (root / POLICY).exists()  # the policy enable created is gone again
    errors = json.loads(out)["errors"]
    assert "did not become ready with the new configuration within 1s" in errors[0]
    assert "container waiting (CrashLoopBackOff)" in errors[0] and "phase Running" in errors[0]
    assert "previous kube-apiserver is ready again" in errors[0]
    assert any("permission denied" in line for line in errors[1:])
    assert "Traceback" not in err
    assert back["status"]["containerStatuses"][0]["ready"] is True
    assert "kauditcfg.io/config-hash" not in back["metadata"]["annotations"]


def test_enable_wait_refuses_before_writing_when_the_cluster_is_unreachable(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    fake = FakeCluster(root)
    kubeconfig = fake.kubeconfig(tmp_path)
    fake.server.server_close()
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root), "--wait", "--kubeconfig", str(kubeconfig))
    assert code == 6
    assert "cannot reach the Kubernetes API" in err and len(err.strip().splitlines()) == 1
    assert tree_snapshot(root) == before


def test_enable_wait_without_kubeconfig_is_a_usage_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root), "--wait")
    assert code == 2 and "admin.conf: no such kubeconfig" in err
    assert tree_snapshot(root) == before


def test_disable_and_rollback_wait_too(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = (root / MANIFEST).read_bytes()
    with FakeCluster(root) as fake:
        kubeconfig = str(fake.kubeconfig(tmp_path))
        assert cli("enable", "--root", str(root), "--wait", "--kubeconfig", kubeconfig)[0] == 0
        code, _, err = cli("disable", "--root", str(root), "--wait", "--kubeconfig", kubeconfig)
        assert code == 0, err
        assert "kube-apiserver is ready" in err and "config-hash (none)" in err
        assert (root / MANIFEST).read_bytes() == original
        code, _, err = cli("rollback", "--root", str(root), "--wait", "--kubeconfig", kubeconfig)
        assert code == 0, err
        assert "kauditcfg.io/config-hash" in fake.pod()["metadata"]["annotations"]


def test_nothing_to_change_means_nothing_to_wait_for(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        kubeconfig = str(fake.kubeconfig(tmp_path))
        assert cli("enable", "--root", str(root))[0] == 0
        fake.requests.clear()
        code, out, _ = cli("enable", "--root", str(root), "--wait", "--kubeconfig", kubeconfig, "--json")
        assert code == 0 and json.loads(out)["changed"] is False
        assert ("GET", "/readyz") not in fake.requests


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert tty_progress() is None
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    show = tty_progress()
    assert show is not None
    pod = PodView("kube-apiserver-cp-1", "Running", None, "abc", False, "waiting (CrashLoopBackOff)", 3)
    show(Seen(pod=pod, readyz="failing etcd", elapsed=12.4), 300)
    assert tty.getvalue() == (
        "\r\x1b[2Kwaiting for kube-apiserver (12s/300s): Running, waiting (CrashLoopBackOff), not ready; "
        "/readyz failing etcd"
    )


def test_rollback_wait_undoes_itself_when_the_restored_setup_never_comes_up(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    assert cli("disable", "--root", str(root))[0] == 0
    disabled = (root / MANIFEST).read_bytes()
    with FakeCluster(root) as fake:
        fake.crash_if = "--audit-policy-file"  # the enabled setup, which rollback brings back, crashes
        code, out, _ = cli(
            "rollback",
            "--root",
            str(root),
            "--wait",
            "--timeout",
            "1",
            "--kubeconfig",
            str(fake.kubeconfig(tmp_path)),
            "--json",
        )
    assert code == 5
    assert (root / MANIFEST).read_bytes() == disabled  # rollback takes no backup: its plan held the bytes
    assert "previous kube-apiserver is ready again" in json.loads(out)["errors"][0]
