"""Is the kube-apiserver Pod one the kubelet can run? Checked before `enable` writes and by `check`.

Two checks with two costs:
- `fatal_problems`: what makes the kubelet reject the static pod, so kube-apiserver never comes
  back (k8s.io/kubernetes pkg/apis/core/validation: ValidateVolumes "name: Required value",
  "Duplicate value"; validateVolumeMounts "mountPath: Required value", "name: Not found").
  Plain dict walking, no import: `enable` pays nothing for it.
- `unknown_fields`: keys the Pod schema does not have (`readOlny`). The kubelet decodes static
  pods leniently and drops them silently, so a typo such as `readOlny: true` leaves a mount
  writable. The schema is the official kubernetes client's models, precomputed into
  data/pod_schema.json by tools/gen_pod_schema.py: importing the client takes 1-3 s on a busy
  node, reading the table a few ms. The newest API's fields are a superset of older versions',
  so no field of an older manifest is called unknown.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from kauditcfg.config.findings import Finding
from kauditcfg.manifest.pod import ApiServerPod

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class PodProblem:
    path: FieldPath
    message: str


def dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def line_of(node: Node, path: FieldPath) -> int | None:
    """The 1-based line of the node at `path` (the key's line for a mapping entry)."""
    line = None
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def fatal_problems(data: Any) -> list[PodProblem]:
    """Volumes and mounts the kubelet's validation refuses (the pod would never start)."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return []
    out: list[PodProblem] = []
    names: set[str] = set()
    for i, volume in _items(spec.get("volumes")):
        name = volume.get("name")
        where: FieldPath = ("spec", "volumes", i)
        if not name:
            out.append(PodProblem(where, "a volume without `name`; add name: <a name its mount uses>"))
        elif name in names:
            out.append(PodProblem((*where, "name"), f"volume name {name!r} is used twice; rename one"))
        else:
            names.add(str(name))
    for c, container in _items(spec.get("containers")):
        for m, mount in _items(container.get("volumeMounts")):
            where = ("spec", "containers", c, "volumeMounts", m)
            name = mount.get("name")
            if not name:
                out.append(PodProblem(where, "a volumeMount without `name`; name the volume it mounts"))
            elif str(name) not in names:
                out.append(
                    PodProblem(
                        (*where, "name"),
                        f"mounts volume {name!r}, but spec.volumes has no volume of that name; add the "
                        "volume or fix the name",
                    )
                )
            if not mount.get("mountPath"):
                out.append(PodProblem(where, "a volumeMount without `mountPath`; add the container path"))
    return out


@functools.cache
def _models() -> dict[str, dict[str, str]]:
    text = resources.files("kauditcfg").joinpath("data/pod_schema.json").read_text(encoding="utf-8")
    models: dict[str, dict[str, str]] = json.loads(text)["models"]
    return models


def _fields(type_name: str) -> dict[str, str] | None:
    """{jsonKey: type} of a model, None for a primitive (str, int, object, ...)."""
    return _models().get(type_name)


def _walk(value: Any, type_name: str, path: FieldPath, out: list[PodProblem]) -> None:
    if type_name.startswith("List[") and isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, type_name[5:-1], (*path, i), out)
        return
    if type_name.startswith("Dict[") and isinstance(value, dict):
        inner = type_name[5:-1].split(",", 1)[1].strip()
        for key, item in value.items():
            _walk(item, inner, (*path, str(key)), out)
        return
    fields = _fields(type_name)
    if fields is None or not isinstance(value, dict):
        return  # a primitive, or a shape the kubelet would refuse anyway
    for key, item in value.items():
        if key in fields:
            _walk(item, fields[key], (*path, key), out)
        else:
            out.append(PodProblem((*path, key), f"unknown field {key!r}"))


def unknown_fields(data: Any) -> list[PodProblem]:
    """Keys the Pod schema does not know, with their paths."""
    out: list[PodProblem] = []
    _walk(data, "V1Pod", (), out)
    return out


def _where(pod: ApiServerPod, manifest: str, path: FieldPath) -> str:
    line = line_of(pod.doc.node, path)
    return f"{manifest}:{line}: {dotted(path)}" if line else f"{manifest}: {dotted(path)}"


def refuse_fatal(pod: ApiServerPod, manifest: str) -> str | None:
    """The first kubelet-fatal problem as a message naming the file, line and field, or None."""
    problems = fatal_problems(pod.data)
    if not problems:
        return None
    first = problems[0]
    return (
        f"{_where(pod, manifest, first.path)}: {first.message}; the kubelet would refuse this pod and "
        "kube-apiserver would not start"
    )


def pod_schema_findings(pod: ApiServerPod, manifest: str) -> list[Finding]:
    """`pod-invalid` (high): the kubelet refuses the pod; `pod-unknown-field` (medium): dropped silently."""
    out = [
        Finding(
            "pod-invalid",
            "high",
            f"{_where(pod, manifest, p.path)}: {p.message}; the kubelet refuses this pod, kube-apiserver "
            "does not start",
            manifest,
        )
        for p in fatal_problems(pod.data)
    ]
    for p in unknown_fields(pod.data):
        near = _suggest(p.path)
        out.append(
            Finding(
                "pod-unknown-field",
                "medium",
                f"{_where(pod, manifest, p.path)}: {p.message}: the kubelet drops it silently{near}",
                manifest,
            )
        )
    return out


def _suggest(path: FieldPath) -> str:
    """'; did you mean readOnly?' from the known keys of the parent object."""
    import difflib

    parent_type = "V1Pod"
    for part in path[:-1]:
        fields = _fields(parent_type)
        if isinstance(part, int) or fields is None:
            continue
        parent_type = fields.get(str(part), "")
        if parent_type.startswith(("List[", "Dict[")):
            parent_type = parent_type[5:-1].split(",")[-1].strip()
    known = _fields(parent_type)
    if known is None:
        return ""
    match = difflib.get_close_matches(str(path[-1]), list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else "; remove it"
