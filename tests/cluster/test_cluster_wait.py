"""Waiting for kube-apiserver after a write, and restoring the previous files when it never comes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.cluster.client import ClusterError, connect
from kauditcfg.cluster.wait import ApiServerWatch, NotReadyRestored, wait_or_restore
from kauditcfg.hostfs import Host
from tests.cluster.fake_api import NODE, FakeCluster

runner = CliRunner()
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"


class FakeClock:
    """Time that passes only when the watcher sleeps: no test depends on the wall clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def watch_for(fake: FakeCluster, tmp_path: Path) -> ApiServerWatch:
    clock = FakeClock()
    return ApiServerWatch(connect(fake.kubeconfig(tmp_path)), node=None, clock=clock, sleep=clock.sleep)


def enable(root: Path) -> str:
    res = runner.invoke(app, ["enable", "--root", str(root)])
    assert res.exit_code == 0, res.stderr
    text = (root / MANIFEST).read_text()
    return text.split('kauditcfg.io/config-hash: "', 1)[1].split('"', 1)[0]


def test_ready_at_once(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        watch = watch_for(fake, tmp_path)
        old = watch.locate()
        assert old.name == f"kube-apiserver-{NODE}" and old.config_hash is None and old.ready
        new_hash = enable(root)
        ok, seen = watch.wait(new_hash, timeout=300)
    assert ok and seen.pod is not None and seen.pod.config_hash == new_hash
    assert len(watch.history) == 1


def test_ready_after_the_kubelet_restarts_it(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        fake.restart_polls = 4
        watch = watch_for(fake, tmp_path)
        watch.locate()
        new_hash = enable(root)
        ok, _ = watch.wait(new_hash, timeout=300)
    assert ok
    # the first looks saw the old pod, not ready, and /readyz failing: the wait went on
    assert [s.pod.config_hash if s.pod else None for s in watch.history[:4]] == [None] * 4
    assert watch.history[0].readyz == "failing etcd"
    assert watch.history[-1].pod is not None and watch.history[-1].pod.config_hash == new_hash


def test_never_ready_restores_the_backup_and_reports_what_was_seen(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = (root / MANIFEST).read_bytes()
    with FakeCluster(root) as fake:
        fake.crash_if = "--audit-policy-file"
        fake.restart_polls = 1
        watch = watch_for(fake, tmp_path)
        old = watch.locate()
        new_hash = enable(root)

        def restore() -> None:
            res = runner.invoke(app, ["rollback", "--root", str(root)])
            assert res.exit_code == 0, res.stderr

        with pytest.raises(NotReadyRestored) as caught:
            wait_or_restore(watch, Host(root), new_hash, old, timeout=30, restore=restore)
    assert (root / MANIFEST).read_bytes() == original
    message = caught.value.message
    assert caught.value.exit_code == 5
    assert "did not become ready with the new configuration within 30s" in message
    assert "container waiting (CrashLoopBackOff)" in message and "phase Running" in message
    assert "the previous files were restored and the previous kube-apiserver is ready again" in message
    assert any("permission denied" in p for p in caught.value.problems[1:])  # its last log lines


def test_locate_refuses_when_this_node_cannot_be_told(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    with FakeCluster(root) as fake:
        watch = watch_for(fake, tmp_path)
        watch.node = "cp-9"
        with pytest.raises(ClusterError) as caught:
            watch.locate()
    assert "pass --node" in caught.value.message and f"kube-apiserver-{NODE}" in caught.value.message


def test_unreachable_during_the_wait_is_looked_at_again(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    fake = FakeCluster(root)
    kubeconfig = fake.kubeconfig(tmp_path)
    fake.server.server_close()  # kube-apiserver restarting: nothing listens
    clock = FakeClock()
    watch = ApiServerWatch(
        connect(kubeconfig), clock=clock, sleep=clock.sleep, pod_name=f"kube-apiserver-{NODE}"
    )
    ok, seen = watch.wait("sha256:0", timeout=10)
    assert not ok and len(watch.history) > 1
    assert seen.error is not None and "connection refused" in seen.error
