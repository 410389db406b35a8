"""A kubeadm node root for the transaction's unit tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kauditcfg.hostfs import Host
from tests.helpers import FIXTURES, MANIFEST


@pytest.fixture
def host(tmp_path: Path) -> Host:
    root = tmp_path / "node"
    target = root / MANIFEST.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "kubeadm-v1.30.4.yaml", target)
    target.chmod(0o600)
    return Host(root)
