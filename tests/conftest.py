"""Shared test fixtures: the project's own manifests, the shared corpus, and sandbox roots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import FIXTURES


@pytest.fixture
def sandbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A node root with a kubeadm manifest (pass a fixture name to `sandbox(name)`)."""

    def make(name: str | Path = "kubeadm-v1.30.4.yaml") -> Path:
        root = tmp_path / "node"
        manifests = root / "etc/kubernetes/manifests"
        manifests.mkdir(parents=True, exist_ok=True)
        source = name if isinstance(name, Path) else FIXTURES / name
        target = manifests / "kube-apiserver.yaml"
        shutil.copyfile(source, target)
        target.chmod(0o600)
        return root

    return make


class _RoomyDisk:
    """statvfs of a filesystem with 1 TiB available: CI machines sometimes have little free disk, and
    the preflight's budget check would then (rightly) refuse; tests that test that check set their own."""

    f_frsize = 4096
    f_bavail = (1 << 40) // 4096


@pytest.fixture(autouse=True)
def _roomy_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    import kauditcfg.node.disk

    monkeypatch.setattr(kauditcfg.node.disk, "default_statvfs", lambda path: _RoomyDisk())
