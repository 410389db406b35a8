"""Compute the manifest text with the wanted audit configuration (or without any, for `disable`).

The edit is planned on the parsed pod, applied as splices on the original text, then the result is
parsed again and checked: the audit flags and mounts are what was asked, and everything else in
the pod is unchanged. A result that fails the check is never returned.
"""

from __future__ import annotations

import copy
import posixpath
from collections import defaultdict
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.config.defaults import HASH_ANNOTATION, LOG_VOLUME, POLICY_VOLUME
from kauditcfg.errors import InvalidInput, PreflightRefused
from kauditcfg.manifest.pod import ApiServerPod, Json, load_apiserver_pod, parse_flags, path_within
from kauditcfg.yamltext import (
    Path,
    Quoted,
    Splice,
    TextEditor,
    key_node_at,
    map_item,
    node_at,
    render_scalar,
)

# kubeadm's own volumes (cmd/kubeadm/app/phases/controlplane/volumes.go): never taken for audit
# volumes, whatever they mount.
KUBEADM_VOLUMES = {
    "k8s-certs",
    "ca-certs",
    "etc-ca-certificates",
    "usr-share-ca-certificates",
    "usr-local-share-ca-certificates",
    "etc-pki",
    "etc-pki-ca-trust",
    "etc-pki-tls-certs",
}
OUR_VOLUMES = {POLICY_VOLUME, LOG_VOLUME}
AUDIT_PATH_FLAGS = ("audit-policy-file", "audit-log-path", "audit-webhook-config-file")


def _norm(path: Any) -> str:
    text = str(path or "")
    return posixpath.normpath(text) if text else ""


def _is_sorted(names: list[str]) -> bool:
    return len(names) >= 2 and names == sorted(names)


def _ordered_like(obj: dict[str, Any], sibling: Json | None) -> dict[str, Any]:
    """`obj`'s keys in the order a neighbouring item uses, so new lines match the file's style."""
    if not sibling:
        return obj
    order = {key: i for i, key in enumerate(sibling)}
    keys = sorted(obj, key=lambda k: (order.get(k, len(order)), k))
    result: dict[str, Any] = {}
    for key in keys:
        value = obj[key]
        if isinstance(value, dict) and isinstance(sibling.get(key), dict):
            value = _ordered_like(value, sibling[key])
        result[key] = value
    return result


class _Patcher:
    def __init__(self, pod: ApiServerPod, want: AuditConfig | None) -> None:
        self.pod = pod
        self.want = want
        self.editor = TextEditor(pod.doc)
        self.root = pod.doc.node
        self.cpath: Path = ("spec", "containers", pod.container_index)
        self.removed_volumes: set[str] = set()
        self.added_volumes: set[str] = set()
        self.source = pod.doc.source

    # -- helpers -------------------------------------------------------------------------------

    def _find(self, path: Path) -> tuple[ScalarNode, Node] | None:
        try:
            parent = node_at(self.root, path[:-1])
        except (KeyError, IndexError):
            return None
        return map_item(parent, str(path[-1]))

    def _block_seq(self, path: Path) -> tuple[ScalarNode, SequenceNode] | None:
        found = self._find(path)
        if found is None:
            return None
        key, node = found
        if isinstance(node, ScalarNode) and node.value in ("", "null", "~"):
            return None
        if not isinstance(node, SequenceNode):
            raise InvalidInput(f"{self.source}: {'.'.join(map(str, path))} is not a list; fix the manifest")
        return key, node

    def _insert_new_key(self, map_path: Path, key: str, value: Any) -> None:
        """Add `key: value` to the mapping at `map_path`, at its sorted place when keys are sorted."""
        mapping = node_at(self.root, map_path)
        if not isinstance(mapping, MappingNode) or mapping.flow_style:
            raise InvalidInput(
                f"{self.source}: {'.'.join(map(str, map_path))} is written in flow style ({{...}}) or is not "
                f"a mapping; kauditcfg needs to add {key!r} there: rewrite it as a block mapping"
            )
        keys = [str(k.value) for k, _ in mapping.value]
        index = len(keys)
        if _is_sorted(keys):
            index = next((i for i, k in enumerate(keys) if k > key), len(keys))
        in_sequence = isinstance(map_path[-1], int)
        if index == 0 and in_sequence:
            index = len(keys)  # the first key shares the "- " line; never split it
        parent_key = None if in_sequence or not map_path else key_node_at(self.root, map_path)
        self.editor.insert_map_entry(parent_key, mapping, index, key, value)

    def _seq_edit(
        self, path: Path, deletes: set[int], inserts: list[tuple[str, dict[str, Any]]], items: list[Json]
    ) -> None:
        """Delete items, insert named mapping items (sorted by name when the list is)."""
        found = self._block_seq(path)
        if found is None:
            if inserts:  # no list yet: a new key, its items in kubeadm's order (sorted by name)
                self._insert_new_key(path[:-1], str(path[-1]), [obj for _, obj in sorted(inserts)])
            return
        key, seq = found
        kept = [i for i in range(len(seq.value)) if i not in deletes]
        if not kept and not inserts:
            mapping = node_at(self.root, path[:-1])
            assert isinstance(mapping, MappingNode)
            index = next(i for i, (k, _) in enumerate(mapping.value) if k.value == path[-1])
            self.editor.delete_map_entry(mapping, index)
            return
        for i in sorted(deletes):
            self.editor.delete_seq_item(seq, i)
        names = [str(items[i].get("name", "")) if i < len(items) else "" for i in kept]
        sibling = items[kept[0]] if kept and kept[0] < len(items) else (items[0] if items else None)
        by_index: dict[int, list[dict[str, Any]]] = defaultdict(list)
        ordered = sorted(inserts) if _is_sorted(names) or len(names) < 2 else inserts
        for name, obj in ordered:
            if _is_sorted(names):
                at = next((i for i, n in zip(kept, names, strict=True) if n > name), len(seq.value))
            else:
                at = len(seq.value)
            by_index[at].append(_ordered_like(obj, sibling))
        for at, objs in by_index.items():
            self.editor.insert_seq_items(key, seq, at, objs)

    # -- flags ---------------------------------------------------------------------------------

    def stray_flags(self) -> None:
        """Audit flags in `command` when the flags live in `args`: kube-apiserver sees both lists, so
        one left behind would duplicate (or, pflag's last-wins, silently override) what we set."""
        pod = self.pod
        if pod.flags_key != "args":
            return
        found = self._block_seq((*self.cpath, "command"))
        if found is None:
            return
        wanted = self.want.flags if self.want else {}
        for flag in parse_flags(list(pod.container.get("command") or [])):
            if flag.name.startswith("audit-") and (self.want is None or flag.name in wanted):
                for i in flag.indexes:
                    self.editor.delete_seq_item(found[1], i)

    def flags(self) -> None:
        pod, want = self.pod, self.want
        path = (*self.cpath, pod.flags_key)
        found = self._block_seq(path)
        wanted = want.flags if want else {}
        if found is None:
            if wanted:
                self._insert_new_key(self.cpath, pod.flags_key, [f"--{n}={v}" for n, v in wanted.items()])
            return
        key, seq = found
        items = pod.flag_items
        flags = pod.flags
        deleted: set[int] = set()
        seen: set[str] = set()
        for flag in flags:
            if not flag.name.startswith("audit-"):
                continue
            if flag.name in wanted and flag.name not in seen:
                seen.add(flag.name)
                text = f"--{flag.name}={wanted[flag.name]}"
                if flag.value_index is not None or items[flag.index] != text:
                    self.editor.replace_scalar(seq.value[flag.index], text)
                if flag.value_index is not None:
                    deleted.add(flag.value_index)
            elif want is None or flag.name in seen:
                deleted.update(flag.indexes)
        for i in sorted(deleted):
            self.editor.delete_seq_item(seq, i)

        missing = [n for n in wanted if n not in seen]
        kept = [f for f in flags if f.index not in deleted]
        names = [f.name for f in kept]
        after_last = max((max(f.indexes) for f in kept), default=len(items) - 1) + 1
        by_index: dict[int, list[str]] = defaultdict(list)
        if _is_sorted(names):
            for name in sorted(missing):
                at = next((f.index for f in kept if f.name > name), after_last)
                by_index[at].append(f"--{name}={wanted[name]}")
        else:
            by_index[after_last] = [f"--{n}={wanted[n]}" for n in missing]
        for at, texts in sorted(by_index.items()):
            if texts:
                self.editor.insert_seq_items(key, seq, at, texts)

    # -- volumes and mounts ----------------------------------------------------------------------

    def _old_audit_paths(self) -> set[str]:
        paths: set[str] = set()
        for name in AUDIT_PATH_FLAGS:
            value = self.pod.flag(name)
            if value and value.startswith("/"):
                paths.add(_norm(value))
                paths.add(posixpath.dirname(_norm(value)))
        return paths

    def _other_paths(self) -> list[str]:
        return [
            _norm(f.value)
            for f in self.pod.flags
            if not f.name.startswith("audit-") and f.value and f.value.startswith("/")
        ]

    def _audit_owned(self, mount: Json, audit_paths: set[str], other_paths: list[str]) -> bool:
        name = str(mount.get("name", ""))
        if name in KUBEADM_VOLUMES or name.startswith("etcd-certs"):
            return False
        mount_path = _norm(mount.get("mountPath"))
        if not mount_path or any(path_within(p, mount_path) for p in other_paths):
            return False
        return mount_path in audit_paths or name in OUR_VOLUMES

    def volumes(self) -> None:
        pod, want = self.pod, self.want
        mounts = pod.mounts
        volumes = pod.volumes
        raw_mounts = list(pod.container.get("volumeMounts") or [])
        raw_volumes = list(pod.spec.get("volumes") or [])
        audit_paths = self._old_audit_paths()
        other_paths = self._other_paths()
        owned = {
            i
            for i, m in enumerate(raw_mounts)
            if isinstance(m, dict) and self._audit_owned(m, audit_paths, other_paths)
        }
        needed: set[int] = set()
        new_mounts: list[tuple[str, dict[str, Any]]] = []
        new_volumes: list[tuple[str, dict[str, Any]]] = []
        reused_volumes: set[str] = set()

        def volume_host(name: str) -> str | None:
            vol = pod.volume(name)
            host = (vol or {}).get("hostPath")
            return _norm(host.get("path")) if isinstance(host, dict) else None

        for spec in want.mounts if want else ():
            cover = self._covering(raw_mounts, spec.path)
            if cover is not None:
                index, mount = cover
                host = volume_host(str(mount.get("name")))
                rel = posixpath.relpath(spec.path, _norm(mount.get("mountPath")))
                maps_right = host is not None and _norm(posixpath.join(host, rel)) == spec.path
                writable_ok = spec.read_only or not mount.get("readOnly", False)
                if maps_right and writable_ok:
                    needed.add(index)
                    continue
                if index not in owned:
                    raise PreflightRefused(self._conflict(spec, mount, host, maps_right))
            # Needs its own mount; reuse a kept volume that already points at the directory.
            taken_paths = {_norm(m.get("mountPath")) for i, m in enumerate(mounts) if i not in owned}
            if spec.path in taken_paths:
                raise PreflightRefused(self._conflict(spec, None, None, False))
            vol_name = next(
                (
                    str(v.get("name"))
                    for v in volumes
                    if volume_host(str(v.get("name"))) == spec.path and v.get("name")
                ),
                None,
            )
            if vol_name is not None:
                reused_volumes.add(vol_name)
            else:
                vol_name = self._free_name(spec.name, raw_volumes, owned, raw_mounts)
                new_volumes.append((vol_name, self._volume_obj(spec, vol_name)))
            mount_obj: dict[str, Any] = {"mountPath": spec.path, "name": vol_name}
            if spec.read_only:
                mount_obj["readOnly"] = True
            new_mounts.append((vol_name, mount_obj))

        remove_mounts = owned - needed
        kept_refs = (
            {
                str(m.get("name"))
                for i, m in enumerate(raw_mounts)
                if isinstance(m, dict) and i not in remove_mounts
            }
            | self._other_container_refs()
            | reused_volumes
        )
        removed_refs = {str(raw_mounts[i].get("name")) for i in remove_mounts}
        remove_volumes = {
            i
            for i, v in enumerate(raw_volumes)
            if isinstance(v, dict)
            and str(v.get("name")) not in kept_refs
            and (str(v.get("name")) in removed_refs or (want is None and v.get("name") in OUR_VOLUMES))
        }
        # A volume we add must not collide with one being removed under the same name (it replaces it).
        self.removed_volumes = {str(raw_volumes[i].get("name")) for i in remove_volumes} | {
            str(raw_mounts[i].get("name")) for i in remove_mounts
        }
        self.added_volumes = {name for name, _ in new_volumes} | {name for name, _ in new_mounts}
        self._seq_edit((*self.cpath, "volumeMounts"), remove_mounts, new_mounts, raw_mounts)
        self._seq_edit(("spec", "volumes"), remove_volumes, new_volumes, raw_volumes)

    def _covering(self, raw_mounts: list[Any], path: str) -> tuple[int, Json] | None:
        best: tuple[int, Json] | None = None
        for i, mount in enumerate(raw_mounts):
            if not isinstance(mount, dict):
                continue
            mount_path = _norm(mount.get("mountPath"))
            if (
                mount_path
                and path_within(path, mount_path)
                and (best is None or len(mount_path) > len(_norm(best[1].get("mountPath"))))
            ):
                best = (i, mount)
        return best

    def _other_container_refs(self) -> set[str]:
        refs: set[str] = set()
        spec = self.pod.spec
        for key in ("containers", "initContainers"):
            for i, container in enumerate(spec.get(key) or []):
                if key == "containers" and i == self.pod.container_index:
                    continue
                for mount in (container or {}).get("volumeMounts") or []:
                    if isinstance(mount, dict):
                        refs.add(str(mount.get("name")))
        return refs

    def _free_name(self, name: str, raw_volumes: list[Any], owned: set[int], raw_mounts: list[Any]) -> str:
        removed = {str(raw_mounts[i].get("name")) for i in owned}
        taken = {str(v.get("name")) for v in raw_volumes if isinstance(v, dict)} - removed
        candidate = name
        n = 1
        while candidate in taken:
            candidate = f"kauditcfg-{name}" if n == 1 else f"kauditcfg-{name}-{n}"
            n += 1
        return candidate

    def _volume_obj(self, spec: MountSpec, name: str) -> dict[str, Any]:
        return {"hostPath": {"path": spec.path, "type": spec.type}, "name": name}

    def _conflict(self, spec: MountSpec, mount: Json | None, host: str | None, maps_right: bool) -> str:
        what = "log directory" if not spec.read_only else "policy directory"
        if mount is None:
            return (
                f"{self.source}: a volumeMount already uses mountPath {spec.path} for another volume; "
                f"the audit {what} needs it: remove that mount or choose another path"
            )
        where = f"volumeMount {mount.get('name')!r} at {mount.get('mountPath')}"
        if not maps_right:
            return (
                f"{self.source}: {where} covers {spec.path} but mounts host path "
                f"{host or '(not a hostPath)'}; the audit {what} would not be the host's {spec.path}: "
                "change that mount or choose another path"
            )
        return (
            f"{self.source}: {where} is readOnly but covers the audit log directory {spec.path}, which "
            "kube-apiserver must write: make that mount writable or choose another --log-path"
        )

    # -- annotation ----------------------------------------------------------------------------

    def annotation(self) -> None:
        want = self.want
        found = self._find(("metadata", "annotations"))
        current = self.pod.annotations
        if want is None:
            if HASH_ANNOTATION not in current or found is None:
                return
            mapping = found[1]
            assert isinstance(mapping, MappingNode)
            if len(mapping.value) == 1:
                meta = node_at(self.root, ("metadata",))
                assert isinstance(meta, MappingNode)
                index = next(i for i, (k, _) in enumerate(meta.value) if k.value == "annotations")
                self.editor.delete_map_entry(meta, index)
            else:
                index = next(i for i, (k, _) in enumerate(mapping.value) if k.value == HASH_ANNOTATION)
                self.editor.delete_map_entry(mapping, index)
            return
        value = want.config_hash
        if found is None or (isinstance(found[1], ScalarNode) and found[1].value in ("", "null", "~")):
            if found is not None:
                raise InvalidInput(f"{self.source}: metadata.annotations is empty; remove the empty key")
            if self._find(("metadata",)) is None:
                raise InvalidInput(f"{self.source}: the Pod has no metadata; add metadata.name")
            self._insert_new_key(("metadata",), "annotations", {HASH_ANNOTATION: Quoted(value)})
            return
        key, mapping = found
        if not isinstance(mapping, MappingNode):
            raise InvalidInput(f"{self.source}: metadata.annotations is not a mapping")
        existing = map_item(mapping, HASH_ANNOTATION)
        quoted = render_scalar(Quoted(value))
        if existing is not None:
            if current.get(HASH_ANNOTATION) != value:
                self.editor.replace_node(existing[1], quoted)
            return
        if mapping.flow_style:
            if mapping.value:
                raise InvalidInput(
                    f"{self.source}: metadata.annotations is written in flow style ({{...}}); "
                    "rewrite it as a block mapping"
                )
            col = self.editor.column(key.start_mark.index) + self.editor.style.map_indent
            nl = self.editor.style.newline
            self.editor.splices.append(
                Splice(
                    key.end_mark.index, mapping.end_mark.index, f":{nl}{' ' * col}{HASH_ANNOTATION}: {quoted}"
                )
            )
            return
        keys = [str(k.value) for k, _ in mapping.value]
        index = len(keys)
        if _is_sorted(keys) or len(keys) == 1:
            index = next((i for i, k in enumerate(keys) if k > HASH_ANNOTATION), len(keys))
        self.editor.insert_map_entry(key, mapping, index, HASH_ANNOTATION, Quoted(value))


# -- verification ------------------------------------------------------------------------------


def _strip(pod: ApiServerPod, names: set[str]) -> Json:
    """The pod without anything audit-related, for comparing before and after."""
    data = copy.deepcopy(pod.data)
    container = data["spec"]["containers"][pod.container_index]
    items = container.get(pod.flags_key) or []
    drop = {i for f in pod.flags if f.name.startswith("audit-") for i in f.indexes}
    container[pod.flags_key] = [x for i, x in enumerate(items) if i not in drop]
    if pod.flags_key == "args" and isinstance(container.get("command"), list):
        command = container["command"]
        stray = {i for f in parse_flags(command) if f.name.startswith("audit-") for i in f.indexes}
        container["command"] = [x for i, x in enumerate(command) if i not in stray]
    for holder, key in ((container, "volumeMounts"), (data["spec"], "volumes")):
        kept = [x for x in holder.get(key) or [] if not (isinstance(x, dict) and x.get("name") in names)]
        holder[key] = kept
    meta = data.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(HASH_ANNOTATION, None)
    meta["annotations"] = annotations
    return data


def _verify(before: ApiServerPod, after: ApiServerPod, want: AuditConfig | None, names: set[str]) -> None:
    def bug(what: str) -> InvalidInput:
        return InvalidInput(
            f"{before.doc.source}: refusing to write: the edited manifest {what} (a kauditcfg bug; "
            "please report it with the manifest); nothing was written"
        )

    audit_after = [f for f in after.flags if f.name.startswith("audit-")]
    if want is None:
        if audit_after:
            raise bug("still has audit flags")
    else:
        for name, value in want.flags.items():
            hits = [f for f in audit_after if f.name == name]
            if len(hits) != 1 or hits[0].value != value or hits[0].value_index is not None:
                raise bug(f"does not set --{name}={value} exactly once")
        for spec in want.mounts:
            host, mount = after.host_path_of(spec.path)
            if host != spec.path or mount is None or (not spec.read_only and mount.get("readOnly", False)):
                raise bug(f"does not mount {spec.path}")
        if after.annotations.get(HASH_ANNOTATION) != want.config_hash:
            raise bug("lacks the config-hash annotation")
    kept_before = [
        f for f in before.flags if f.name.startswith("audit-") and (want is None or f.name not in want.flags)
    ]
    if want is not None:
        kept_after = [f for f in audit_after if f.name not in want.flags]
        if [(f.name, f.value) for f in kept_before] != [(f.name, f.value) for f in kept_after]:
            raise bug("changed audit flags it does not manage")
    if _strip(before, names) != _strip(after, names):
        raise bug("changed more than the audit settings")


def patch_pod(pod: ApiServerPod, want: AuditConfig | None) -> ApiServerPod:
    """The pod with `want` applied (None: every audit setting removed), parsed from its new text."""
    patcher = _Patcher(pod, want)
    patcher.flags()
    patcher.stray_flags()
    patcher.volumes()
    patcher.annotation()
    text = patcher.editor.render()
    if text == pod.doc.text:
        return pod
    after = load_apiserver_pod(text, pod.doc.source)
    _verify(pod, after, want, patcher.removed_volumes | patcher.added_volumes)
    return after


def patch_manifest(pod: ApiServerPod, want: AuditConfig | None) -> str:
    """The manifest text with `want` applied (None: every audit setting removed)."""
    return patch_pod(pod, want).doc.text
