"""The kube-apiserver static pod as data: which container, where its flags live, what it mounts.

Pure reading over plain data (no text, no I/O), shared by the patcher, preflight and `check`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from kauditcfg.errors import InvalidInput
from kauditcfg.yamltext import YamlDoc, parse_documents

Json = dict[str, Any]


@dataclass(frozen=True)
class Flag:
    """One `--name[=value]` on the command line; `value_index` is set for `--name value` pairs."""

    name: str
    value: str | None
    index: int
    value_index: int | None = None

    @property
    def indexes(self) -> tuple[int, ...]:
        return (self.index,) if self.value_index is None else (self.index, self.value_index)


# Flags whose value never stands alone as the next item (`--alsologtostderr --log-file=...`).
_BOOL_FLAGS = {
    "audit-log-compress",
    "audit-webhook-truncate-enabled",
    "audit-log-truncate-enabled",
    "audit-log-batch-throttle-enable",
    "audit-webhook-batch-throttle-enable",
}


def parse_flags(items: list[Any]) -> list[Flag]:
    flags: list[Flag] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, str) and item.startswith("--") and len(item) > 2:
            body = item[2:]
            if "=" in body:
                name, value = body.split("=", 1)
                flags.append(Flag(name, value, i))
            else:
                nxt = items[i + 1] if i + 1 < len(items) else None
                if (
                    body.startswith("audit-")
                    and body not in _BOOL_FLAGS
                    and isinstance(nxt, str | int)
                    and not str(nxt).startswith("-")
                ):
                    flags.append(Flag(body, str(nxt), i, i + 1))
                    i += 1
                else:
                    flags.append(Flag(body, None, i))
        i += 1
    return flags


def _runs_apiserver(container: Json) -> bool:
    words = [w for w in (container.get("command") or []) if isinstance(w, str)]
    words += [w for w in (container.get("args") or []) if isinstance(w, str)]
    for i, word in enumerate(words):
        if word.startswith("-"):
            continue
        base = posixpath.basename(word.split()[0]) if word.strip() else ""
        if base == "kube-apiserver":
            return True
        if base == "hyperkube" and i + 1 < len(words) and words[i + 1] in ("apiserver", "kube-apiserver"):
            return True
    return False


@dataclass
class ApiServerPod:
    """The parsed manifest plus where the kube-apiserver container and its flags are."""

    doc: YamlDoc
    container_index: int
    flags_key: str  # "command" (kubeadm) or "args" (kops and others)

    @property
    def data(self) -> Json:
        return self.doc.data  # type: ignore[no-any-return]

    @property
    def spec(self) -> Json:
        return self.data["spec"]  # type: ignore[no-any-return]

    @property
    def container(self) -> Json:
        return self.spec["containers"][self.container_index]  # type: ignore[no-any-return]

    @property
    def flag_items(self) -> list[Any]:
        return list(self.container.get(self.flags_key) or [])

    @property
    def flags(self) -> list[Flag]:
        return parse_flags(self.flag_items)

    def flag(self, name: str) -> str | None:
        """The value kube-apiserver uses: pflag keeps the last occurrence."""
        value = None
        for flag in self.flags:
            if flag.name == name:
                value = flag.value if flag.value is not None else "true"
        return value

    def audit_flags(self) -> dict[str, str | None]:
        return {f.name: f.value for f in self.flags if f.name.startswith("audit-")}

    @property
    def volumes(self) -> list[Json]:
        return [v for v in (self.spec.get("volumes") or []) if isinstance(v, dict)]

    @property
    def mounts(self) -> list[Json]:
        return [m for m in (self.container.get("volumeMounts") or []) if isinstance(m, dict)]

    @property
    def annotations(self) -> Json:
        meta = self.data.get("metadata") or {}
        return dict(meta.get("annotations") or {})

    def volume(self, name: str) -> Json | None:
        for vol in self.volumes:
            if vol.get("name") == name:
                return vol
        return None

    def host_path_of(self, container_path: str) -> tuple[str | None, Json | None]:
        """Where a path inside the container lives on the host, through the deepest covering mount.

        Returns (host path, mount); host path is None when the path is not under a hostPath mount.
        """
        best: Json | None = None
        for mount in self.mounts:
            mp = str(mount.get("mountPath", "")).rstrip("/") or "/"
            if path_within(container_path, mp) and (
                best is None or len(mp) > len(str(best.get("mountPath", "")).rstrip("/"))
            ):
                best = mount
        if best is None:
            return None, None
        vol = self.volume(str(best.get("name")))
        host = (vol or {}).get("hostPath") or {}
        if not isinstance(host, dict) or "path" not in host:
            return None, best
        mp = str(best.get("mountPath", "")).rstrip("/") or "/"
        rel = posixpath.relpath(container_path, mp) if container_path != mp else ""
        base = posixpath.normpath(str(host["path"]))
        return (posixpath.normpath(posixpath.join(base, rel)) if rel else base), best

    def security(self) -> tuple[int, int | None, list[int], int | None]:
        """(runAsUser, runAsGroup, supplementalGroups, fsGroup); the container overrides the pod."""
        pod_sc = self.spec.get("securityContext") or {}
        ctr_sc = self.container.get("securityContext") or {}

        def pick(key: str) -> Any:
            if key in ctr_sc and ctr_sc[key] is not None:
                return ctr_sc[key]
            return pod_sc.get(key)

        user = pick("runAsUser")
        group = pick("runAsGroup")
        supplemental = [int(g) for g in (pod_sc.get("supplementalGroups") or []) if _is_int(g)]
        fs_group = pod_sc.get("fsGroup")
        return (
            int(user) if _is_int(user) else 0,
            int(group) if _is_int(group) else None,
            supplemental,
            int(fs_group) if _is_int(fs_group) else None,
        )

    def kubernetes_version(self) -> tuple[int, int] | None:
        """X.Y from the image tag (`registry.k8s.io/kube-apiserver:v1.29.0`), if it says."""
        image = str(self.container.get("image", ""))
        match = re.search(r":v?(\d+)\.(\d+)", image.rsplit("/", 1)[-1])
        return (int(match.group(1)), int(match.group(2))) if match else None


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def path_within(path: str, base: str) -> bool:
    path = posixpath.normpath(path)
    base = posixpath.normpath(base)
    return path == base or base == "/" or path.startswith(base + "/")


def load_apiserver_pod(text: str, source: str) -> ApiServerPod:
    """Parse and identify a kube-apiserver static pod, or raise InvalidInput (exit 3)."""
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise InvalidInput(f"{source}: the file is empty; expected a kube-apiserver static Pod manifest")
    docs = parse_documents(text, source)
    if not docs:
        raise InvalidInput(f"{source}: the file holds no YAML document; expected a kube-apiserver Pod")
    if len(docs) > 1:
        raise InvalidInput(
            f"{source}: holds {len(docs)} YAML documents; a static pod manifest must hold exactly one Pod"
        )
    doc = docs[0]
    data = doc.data
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: the document is not a mapping; expected a kube-apiserver Pod")
    # The kubelet decodes a static pod file only as apiVersion v1, kind Pod
    # (pkg/kubelet/config/common.go tryDecodeSinglePod); anything else it never runs.
    api_version = data.get("apiVersion")
    if api_version is None:
        near = [k for k in data if isinstance(k, str) and k.lower().endswith("version")]
        hint = f" (found {near[0]!r}: a typo?)" if near else ""
        raise InvalidInput(f"{source}: apiVersion is missing{hint}; a static Pod needs 'apiVersion: v1'")
    if api_version != "v1":
        raise InvalidInput(
            f"{source}: apiVersion is {api_version!r}, not 'v1'; the kubelet cannot decode it as a Pod"
        )
    kind = data.get("kind")
    if kind != "Pod":
        raise InvalidInput(
            f"{source}: kind is {kind!r}, not 'Pod'; kauditcfg edits the kube-apiserver static Pod "
            "manifest (for a self-hosted DaemonSet, edit its pod template by hand)"
        )
    spec = data.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not containers:
        raise InvalidInput(f"{source}: spec.containers is missing or empty; expected a kube-apiserver Pod")
    index = _find_container(containers, source)
    if index is None:
        names = ", ".join(str(c.get("name")) for c in containers if isinstance(c, dict))
        raise InvalidInput(
            f"{source}: no kube-apiserver container (found: {names or 'none'}); "
            "pass --manifest with the kube-apiserver manifest"
        )
    container = containers[index]
    for key in ("command", "args"):
        if key in container and container[key] is not None and not isinstance(container[key], list):
            raise InvalidInput(f"{source}: spec.containers[{index}].{key} is not a list")
    flags_key = _flags_key(container)
    items = container.get(flags_key) or []
    if any(isinstance(w, str) and " --" in w and not w.startswith("--") for w in items):
        raise InvalidInput(
            f"{source}: spec.containers[{index}].{flags_key} runs kube-apiserver through a shell string; "
            "kauditcfg edits flags only when each is its own list item"
        )
    return ApiServerPod(doc, index, flags_key)


def _find_container(containers: list[Any], source: str) -> int | None:
    """The one kube-apiserver container, by name or by command; two is ambiguous (exit 3).

    Sidecars (a KMS plugin, konnectivity) neither bear the name nor run kube-apiserver.
    """
    found = [
        i
        for i, c in enumerate(containers)
        if isinstance(c, dict) and (c.get("name") == "kube-apiserver" or _runs_apiserver(c))
    ]
    if len(found) > 1:
        where = " and ".join(f"spec.containers[{i}] ({containers[i].get('name')!r})" for i in found)
        raise InvalidInput(
            f"{source}: {where} both run kube-apiserver; kauditcfg will not guess which one to edit: "
            "keep one kube-apiserver container per manifest"
        )
    return found[0] if found else None


def _flags_key(container: Json) -> str:
    def has_flags(key: str) -> bool:
        return any(isinstance(w, str) and w.startswith("--") for w in container.get(key) or [])

    if has_flags("args"):
        return "args"
    if has_flags("command"):
        return "command"
    return "args" if isinstance(container.get("args"), list) else "command"
