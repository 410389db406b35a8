"""Host: host paths mapped under --root, reads that say what went wrong, the run lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from kauditcfg.errors import InvalidInput, PreflightRefused, UsageError
from kauditcfg.hostfs import Host


def test_paths_are_mapped_under_the_root(tmp_path: Path) -> None:
    host = Host(tmp_path)
    assert host.path("/etc/kubernetes/x.yaml") == tmp_path / "etc/kubernetes/x.yaml"
    assert host.path("/") == tmp_path


def test_relative_host_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="expected an absolute host path") as caught:
        Host(tmp_path).path("etc/x")
    assert caught.value.exit_code == 2


def test_paths_are_normalised_and_never_leave_the_root(tmp_path: Path) -> None:
    host = Host(tmp_path)
    assert host.path("/etc/kubernetes/../kubernetes/./x.yaml") == tmp_path / "etc/kubernetes/x.yaml"
    for escape in ("/../etc/x", "/etc/../../etc/x", "/../../../etc/kubernetes/manifests/kube-apiserver.yaml"):
        with pytest.raises(UsageError, match="climbs above /"):
            host.path(escape)


def test_read_and_stat(tmp_path: Path) -> None:
    host = Host(tmp_path)
    assert host.read_bytes("/missing") is None and host.stat("/missing") is None
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "f").chmod(0o640)
    assert host.read_bytes("/f") == b"x"
    mode, _uid, _gid = host.stat("/f") or (0, 0, 0)
    assert mode == 0o640
    (tmp_path / "d").mkdir()
    with pytest.raises(InvalidInput, match="is a directory"):
        host.read_bytes("/d")


def test_the_lock_refuses_a_second_run(tmp_path: Path) -> None:
    (tmp_path / "etc/kubernetes/manifests").mkdir(parents=True)
    host = Host(tmp_path)
    manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    held = pytest.raises(PreflightRefused, match="another kauditcfg run holds the lock")
    with host.lock(manifest), held, host.lock(manifest, timeout=0.2):
        pass
    with host.lock(manifest, timeout=0.2):  # released again
        pass
