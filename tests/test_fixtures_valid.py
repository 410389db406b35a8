"""The hand-written fixture manifests are what they claim to be.

Every file in fixtures/manifests/ and examples/ must load with ruamel.yaml (round-trip, pure) and pass
kubernetes_validate's strict core/v1 Pod schema. Every file in fixtures/broken/ must either fail to load or
not be a Pod, except etcd.yaml and shell-command.yaml, which are valid Pods that kauditcfg must still refuse
for other reasons (no kube-apiserver container / flags hidden inside a shell string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

ROOT = Path(__file__).resolve().parent.parent
GOOD = sorted((ROOT / "fixtures" / "manifests").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))
BROKEN_DIR = ROOT / "fixtures" / "broken"
# Valid Pods that are nevertheless not something kauditcfg can edit.
VALID_BUT_UNUSABLE = {"etcd.yaml", "shell-command.yaml"}
BROKEN = sorted(p for p in BROKEN_DIR.glob("*.yaml") if p.name not in VALID_BUT_UNUSABLE)

# kubernetes_validate ships schemas for a range of versions; core/v1 Pod has been stable for all the
# fields used here, so one shipped version covers fixtures from 1.12 to 1.31.
SCHEMA_VERSION = "1.30.0"


def load(path: Path) -> Any:
    return YAML(typ="rt", pure=True).load(path.read_text(encoding="utf-8"))


def validate_pod(data: Any) -> None:
    kubernetes_validate.validate(data, SCHEMA_VERSION, strict=True)


def test_schema_version_is_shipped() -> None:
    assert "1.30.0" in kubernetes_validate.utils.all_versions()


def test_there_are_fixtures() -> None:
    assert len(GOOD) >= 13
    assert len(BROKEN) >= 7


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_fixture_is_valid_kube_apiserver_pod(path: Path) -> None:
    data = load(path)
    assert data["apiVersion"] == "v1"
    assert data["kind"] == "Pod"
    assert data["metadata"]["name"] == "kube-apiserver"
    names = [c["name"] for c in data["spec"]["containers"]]
    assert "kube-apiserver" in names
    validate_pod(data)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_fixture_is_not_a_single_pod(path: Path) -> None:
    try:
        data = load(path)
    except YAMLError:
        return  # invalid YAML, duplicate keys, several documents
    assert not (isinstance(data, dict) and data.get("kind") == "Pod"), path.name


@pytest.mark.parametrize("name", sorted(VALID_BUT_UNUSABLE))
def test_valid_but_unusable_pods(name: str) -> None:
    data = load(BROKEN_DIR / name)
    validate_pod(data)
    containers = {c["name"]: c for c in data["spec"]["containers"]}
    if name == "etcd.yaml":
        assert "kube-apiserver" not in containers
    else:
        assert containers["kube-apiserver"]["command"][:2] == ["/bin/sh", "-c"]


def test_format_details_the_other_tests_rely_on() -> None:
    manifests = ROOT / "fixtures" / "manifests"
    assert not (manifests / "kubeadm-v1.19.16.yaml").read_bytes().endswith(b"\n")
    assert (manifests / "kubeadm-v1.22.17-rhel.yaml").read_bytes().endswith(b"\n")
    assert b"\r" not in b"".join(p.read_bytes() for p in GOOD if "crlf" not in p.name)
    crlf = (manifests / "adopt-crlf-v1.29.1.yaml").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n") > 100
    commented = (manifests / "kubeadm-v1.29.6-comments.yaml").read_text(encoding="utf-8")
    assert sum(line.endswith(" ") for line in commented.splitlines()) == 1
    assert (BROKEN_DIR / "empty.yaml").read_bytes() == b""
