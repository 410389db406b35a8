"""The kube-apiserver patch kubeadm applies at init, join and upgrade (`--patches DIR`).

kubeadm patches the Pod it generates, never the file on disk, so a patch is applied to clean output
every time (cmd/kubeadm/app/util/patches/patches.go). Two formats are safe:
- strategic: `command` has no patch strategy in core/v1 and would be replaced whole (every kubeadm
  flag lost, kustomize issue #2492), so the flags go in `args`, which kube-apiserver reads after
  `command`; volumes merge by `name`, volumeMounts by `mountPath`.
- json (RFC 6902): `add .../command/-` appends each flag; kubeadm's pod has one container.
`+merge` (RFC 7386) replaces the whole containers list and is never written.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from kauditcfg import __version__
from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.config.defaults import HASH_ANNOTATION
from kauditcfg.yamltext import Quoted, Style, render_mapping_lines, render_seq_lines

FORMATS = ("strategic", "json")
SUFFIX = "-kauditcfg"
DEFAULT_DIR = "/etc/kubernetes/patches"

# patches.go: ^(target)([^.+\n]*)?(\+)?(json|merge|strategic)?  and the extension .json|.yaml
_NAME = re.compile(r"^(kube-apiserver)([^.+\n]*)?(\+)?(json|merge|strategic)?")
_EXTENSION = re.compile(r".+\.(json|yaml)$")


def file_name(fmt: str) -> str:
    """`.yaml` for both: kubeadm ignores `.yml`, and YAML lets the file say what wrote it."""
    return f"kube-apiserver{SUFFIX}+{fmt}.yaml"


def _header(fmt: str) -> list[str]:
    return [
        f"# Written by kauditcfg {__version__} (kauditcfg kubeadm patches --format {fmt}): kube-apiserver",
        "# audit logging. kubeadm applies it at init/join/upgrade with --patches (or patches.directory).",
        "# Regenerate it with kauditcfg rather than editing it; the policy file must exist on this node.",
        "# Use it or the ClusterConfiguration extraArgs (kauditcfg kubeadm config/sync), not both.",
    ]


def _flag_items(config: AuditConfig) -> list[str]:
    return [f"--{name}={config.flags[name]}" for name in sorted(config.flags)]


def _mount(spec: MountSpec) -> dict[str, Any]:
    mount: dict[str, Any] = {"mountPath": spec.path, "name": spec.name}
    if spec.read_only:
        mount["readOnly"] = True
    return mount


def _volume(spec: MountSpec) -> dict[str, Any]:
    return {"hostPath": {"path": spec.path, "type": spec.type}, "name": spec.name}


def strategic_patch(config: AuditConfig) -> str:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {HASH_ANNOTATION: Quoted(config.config_hash)},
            "name": "kube-apiserver",
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [
                {
                    "args": _flag_items(config),
                    "name": "kube-apiserver",
                    "volumeMounts": [_mount(m) for m in config.mounts],
                }
            ],
            "volumes": [_volume(m) for m in config.mounts],
        },
    }
    return "\n".join(_header("strategic") + render_mapping_lines(body, 0, Style())) + "\n"


def json_patch(config: AuditConfig) -> str:
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/spec/containers/0/command/-", "value": item} for item in _flag_items(config)
    ]
    ops += [
        {"op": "add", "path": "/spec/containers/0/volumeMounts/-", "value": _mount(m)} for m in config.mounts
    ]
    ops += [{"op": "add", "path": "/spec/volumes/-", "value": _volume(m)} for m in config.mounts]
    # "~1" is "/" escaped (RFC 6901); kubeadm's pod always has annotations, so the parent exists.
    ops.append(
        {
            "op": "add",
            "path": "/metadata/annotations/" + HASH_ANNOTATION.replace("~", "~0").replace("/", "~1"),
            "value": Quoted(config.config_hash),
        }
    )
    return "\n".join(_header("json") + render_seq_lines(ops, 0, Style())) + "\n"


def patch_text(config: AuditConfig, fmt: str) -> str:
    return strategic_patch(config) if fmt == "strategic" else json_patch(config)


@dataclass(frozen=True)
class PatchFileIssue:
    name: str
    problem: str


def review_directory(names: list[str], own: str) -> list[PatchFileIssue]:
    """What kubeadm will make of the other kube-apiserver files in the directory (patches.go)."""
    issues: list[PatchFileIssue] = []
    for name in sorted(names):
        if name == own or not name.startswith("kube-apiserver"):
            continue
        match = _NAME.match(name)
        if match is None:
            continue
        if name.startswith(f"kube-apiserver{SUFFIX}+"):
            issues.append(PatchFileIssue(name, "an older kauditcfg patch in another format; it is removed"))
        elif match.group(3) and not match.group(4):
            issues.append(PatchFileIssue(name, "unknown patch type after '+': kubeadm stops with an error"))
        elif not _EXTENSION.match(name):
            issues.append(PatchFileIssue(name, "kubeadm ignores it (only .yaml and .json are read)"))
        elif match.group(4) == "merge":
            issues.append(
                PatchFileIssue(name, "a +merge patch replaces the whole containers list; prefer +strategic")
            )
        else:
            issues.append(
                PatchFileIssue(name, "also patches kube-apiserver; check it does not set audit flags")
            )
    return issues


def own_files(names: list[str]) -> list[str]:
    """Every file kauditcfg wrote in the directory, whatever its format."""
    return [n for n in names if n.startswith(f"kube-apiserver{SUFFIX}+")]


def patch_path(directory: str, fmt: str) -> str:
    return posixpath.join(directory, file_name(fmt))
