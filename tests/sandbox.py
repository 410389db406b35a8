"""Sandbox node roots for the preflight and check tests: real files, owners and modes under tmp_path.

The tests run as root, so directories are created with the owners a real node would have
(`os.chown`), and the same code that stats a node stats the sandbox.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
POLICY = "/etc/kubernetes/audit/policy.yaml"
LOG = "/var/log/kubernetes/audit/audit.log"
# The old docs' mistake: the log *file* mounted, so rotation (a rename) fails.
LOG_FILE_MOUNTED = [
    {"name": "audit-log", "mountPath": LOG, "host": LOG, "type": "FileOrCreate"},
    {
        "name": "audit-policy",
        "mountPath": "/etc/kubernetes/audit",
        "host": "/etc/kubernetes/audit",
        "readOnly": True,
    },
]
LOG_DIR = "/var/log/kubernetes/audit"
KAS_UID = 1203  # kubeadm-kas in fixtures/manifests/rootless-v1.30.4.yaml
KAS_GID = 1203
SA_KEY_READERS = 1204

GOOD_POLICY = b"""apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
  - group: "authentication.k8s.io"
    resources: ["tokenreviews"]
- level: Metadata
"""

V1BETA1_POLICY = GOOD_POLICY.replace(b"audit.k8s.io/v1", b"audit.k8s.io/v1beta1")

CIS_FLAGS = {
    "audit-policy-file": POLICY,
    "audit-log-path": LOG,
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
}

AUDIT_MOUNTS = [
    {
        "name": "audit-log",
        "mountPath": LOG_DIR,
        "host": LOG_DIR,
        "type": "DirectoryOrCreate",
        "readOnly": False,
    },
    {
        "name": "audit-policy",
        "mountPath": "/etc/kubernetes/audit",
        "host": "/etc/kubernetes/audit",
        "type": "DirectoryOrCreate",
        "readOnly": True,
    },
]


def manifest_text(
    flags: dict[str, str] | list[str] | None = None,
    mounts: list[dict[str, Any]] | None = None,
    security: dict[str, Any] | None = None,
    container_security: dict[str, Any] | None = None,
    image: str = "registry.k8s.io/kube-apiserver:v1.30.4",
    name: str = "kube-apiserver",
) -> str:
    """A small kubeadm-shaped kube-apiserver pod; `flags` as {name: value} or raw command items."""
    if flags is None:
        flags = CIS_FLAGS
    items = list(flags) if isinstance(flags, list) else [f"--{k}={v}" for k, v in flags.items()]
    container: dict[str, Any] = {
        "command": ["kube-apiserver", "--advertise-address=10.0.0.10", *items],
        "image": image,
        "name": "kube-apiserver",
        "volumeMounts": [{"mountPath": "/etc/kubernetes/pki", "name": "k8s-certs", "readOnly": True}],
    }
    volumes: list[dict[str, Any]] = [
        {"hostPath": {"path": "/etc/kubernetes/pki", "type": "DirectoryOrCreate"}, "name": "k8s-certs"}
    ]
    for m in AUDIT_MOUNTS if mounts is None else mounts:
        mount: dict[str, Any] = {"mountPath": m["mountPath"], "name": m["name"]}
        if m.get("readOnly"):
            mount["readOnly"] = True
        container["volumeMounts"].append(mount)
        if m.get("host") is not None:
            volumes.append(
                {
                    "hostPath": {"path": m["host"], "type": m.get("type", "DirectoryOrCreate")},
                    "name": m["name"],
                }
            )
        elif m.get("emptyDir"):
            volumes.append({"emptyDir": {}, "name": m["name"]})
    if container_security:
        container["securityContext"] = container_security
    spec: dict[str, Any] = {"containers": [container], "hostNetwork": True, "volumes": volumes}
    if security:
        spec["securityContext"] = security
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"component": "kube-apiserver"}, "name": name, "namespace": "kube-system"},
        "spec": spec,
    }
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(pod, out)
    return out.getvalue()


ROOTLESS = {"runAsUser": KAS_UID, "runAsGroup": KAS_GID, "supplementalGroups": [SA_KEY_READERS]}


def parse(text: str) -> ApiServerPod:
    return load_apiserver_pod(text, MANIFEST)


@dataclass
class Node:
    root: Path

    @property
    def host(self) -> Host:
        return Host(self.root)

    def real(self, host_path: str) -> Path:
        return self.host.path(host_path)

    def mkdir(self, host_path: str, uid: int = 0, gid: int = 0, mode: int = 0o755) -> Path:
        real = self.real(host_path)
        real.mkdir(parents=True, exist_ok=True)
        os.chown(real, uid, gid)
        os.chmod(real, mode)
        return real

    def write(self, host_path: str, data: bytes | str, uid: int = 0, gid: int = 0, mode: int = 0o600) -> Path:
        real = self.real(host_path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chown(real, uid, gid)
        os.chmod(real, mode)
        return real

    def manifest(self, text: str) -> ApiServerPod:
        self.mkdir("/etc/kubernetes/manifests", mode=0o700)
        self.write(MANIFEST, text)
        return parse(text)


def node(tmp_path: Path) -> Node:
    root = tmp_path / "node"
    root.mkdir(parents=True)
    return Node(root)


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int, int, int]]:
    """Bytes, mode and owner of every path under root: a refusal must leave all of it identical."""
    snap: dict[str, tuple[bytes | None, int, int, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        snap[str(path.relative_to(root))] = (data, st.st_mode, st.st_uid, st.st_gid)
    return snap


@dataclass
class FakeStatvfs:
    """A filesystem with `free_mb` MB available, whatever the real disk holds."""

    free_mb: float
    asked: list[str] | None = None

    def __call__(self, path: str) -> Any:
        if self.asked is not None:
            self.asked.append(path)
        frsize = 4096
        return os.statvfs_result(
            (frsize, frsize, 10**9, 0, int(self.free_mb * 1024 * 1024 / frsize), 0, 0, 0, 0, 255)
        )
