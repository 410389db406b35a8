"""Recognising a kube-apiserver static pod, and refusing everything else with a clear message."""

from __future__ import annotations

import pytest

from kauditcfg.errors import InvalidInput
from kauditcfg.manifest.pod import load_apiserver_pod, parse_flags
from tests.helpers import BROKEN, FIXTURES

REFUSALS = {
    "empty.yaml": "the file is empty",
    "comments-only.yaml": "the file is empty",
    "invalid-yaml.yaml": "invalid YAML: line ",
    "duplicate-keys.yaml": 'duplicate key: .*"volumeMounts"',
    "two-documents.yaml": "holds 2 YAML documents",
    "daemonset.yaml": "apiVersion is 'apps/v1', not 'v1'",
    "etcd.yaml": r"no kube-apiserver container \(found: etcd\)",
    "not-a-mapping.yaml": "not a mapping",
    "shell-command.yaml": "through a shell string",
}


@pytest.mark.parametrize(("name", "message"), sorted(REFUSALS.items()))
def test_bad_manifests_are_refused_naming_the_file(name: str, message: str) -> None:
    path = BROKEN / name
    with pytest.raises(InvalidInput, match=message) as info:
        load_apiserver_pod(path.read_text(), str(path))
    assert str(info.value).startswith(str(path) + ": ")
    assert "\n" not in str(info.value)


def test_container_found_by_name_among_several() -> None:
    pod = load_apiserver_pod((FIXTURES / "kops-v1.27.3-args.yaml").read_text(), "x")
    assert pod.container["name"] == "kube-apiserver"
    assert pod.flags_key == "args"


def test_hyperkube_apiserver_is_recognised_without_the_name() -> None:
    text = (
        (FIXTURES / "hyperkube-v1.12.10.yaml")
        .read_text()
        .replace("name: kube-apiserver\n    image", "name: api\n    image")
    )
    pod = load_apiserver_pod(text, "x")
    assert pod.container["command"][:2] == ["/hyperkube", "apiserver"]


def test_flags_written_as_two_items_are_read_as_one() -> None:
    flags = parse_flags(["kube-apiserver", "--audit-log-maxage", "7", "--alsologtostderr", "--v=2"])
    assert [(f.name, f.value, f.indexes) for f in flags] == [
        ("audit-log-maxage", "7", (1, 2)),
        ("alsologtostderr", None, (3,)),
        ("v", "2", (4,)),
    ]


def test_security_context_container_overrides_pod() -> None:
    pod = load_apiserver_pod((FIXTURES / "rootless-v1.30.4.yaml").read_text(), "x")
    user, group, supplemental, _ = pod.security()
    assert (user, group, supplemental) == (1203, 1203, [1204])
    assert pod.kubernetes_version() == (1, 30)
