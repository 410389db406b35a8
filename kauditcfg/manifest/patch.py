"""Compute the manifest text with the wanted audit configuration (or without any, for `disable`).

The edit is planned on the parsed pod, applied as splices on the original text, then the result is
parsed again and checked: the audit flags and mounts are what was asked, and everything else in
the pod is unchanged. A result that fails the check is never returned.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Any

from ruamel.yaml.nodes import MappingNode, ScalarNode

from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.config.defaults import HASH_ANNOTATION, LOG_VOLUME, POLICY_VOLUME, WEBHOOK_VOLUME
from kauditcfg.errors import InvalidInput, PreflightRefused
from kauditcfg.manifest.editing import PodEditor, is_sorted, norm_path
from kauditcfg.manifest.pod import ApiServerPod, Json, load_apiserver_pod, parse_flags, path_within
from kauditcfg.manifest.verify import verify_patch
from kauditcfg.yamltext import (
    Quoted,
    Splice,
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


def _ours(name: Any) -> bool:
    """A volume kauditcfg names: the webhook's certificate directories appear in no flag, only here."""
    return name in OUR_VOLUMES or str(name).removeprefix("kauditcfg-").startswith(WEBHOOK_VOLUME)


AUDIT_PATH_FLAGS = ("audit-policy-file", "audit-log-path", "audit-webhook-config-file")


class _Patcher(PodEditor):
    def __init__(self, pod: ApiServerPod, want: AuditConfig | None) -> None:
        super().__init__(pod)
        self.want = want

    def stray_flags(self) -> None:
        """Audit flags in `command` when the flags live in `args`: kube-apiserver sees both lists, so
        one left behind would duplicate (or, pflag's last-wins, silently override) what we set."""
        pod = self.pod
        if pod.flags_key != "args":
            return
        found = self.block_seq((*self.cpath, "command"))
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
        found = self.block_seq(path)
        wanted = want.flags if want else {}
        if found is None:
            if wanted:
                self.insert_new_key(self.cpath, pod.flags_key, [f"--{n}={v}" for n, v in wanted.items()])
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
        if is_sorted(names):
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
                paths.add(norm_path(value))
                paths.add(posixpath.dirname(norm_path(value)))
        return paths

    def _other_paths(self) -> list[str]:
        return [
            norm_path(f.value)
            for f in self.pod.flags
            if not f.name.startswith("audit-") and f.value and f.value.startswith("/")
        ]

    def _audit_owned(self, mount: Json, audit_paths: set[str], other_paths: list[str]) -> bool:
        name = str(mount.get("name", ""))
        if name in KUBEADM_VOLUMES or name.startswith("etcd-certs"):
            return False
        mount_path = norm_path(mount.get("mountPath"))
        if not mount_path or any(path_within(p, mount_path) for p in other_paths):
            return False
        return mount_path in audit_paths or _ours(name)

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
            return norm_path(host.get("path")) if isinstance(host, dict) else None

        for spec in want.mounts if want else ():
            cover = self._covering(raw_mounts, spec.path)
            if cover is not None:
                index, mount = cover
                host = volume_host(str(mount.get("name")))
                rel = posixpath.relpath(spec.path, norm_path(mount.get("mountPath")))
                maps_right = host is not None and norm_path(posixpath.join(host, rel)) == spec.path
                writable_ok = spec.read_only or not mount.get("readOnly", False)
                if maps_right and writable_ok:
                    needed.add(index)
                    continue
                if index not in owned:
                    raise PreflightRefused(self._conflict(spec, mount, host, maps_right))
            # Needs its own mount; reuse a kept volume that already points at the directory.
            taken_paths = {norm_path(m.get("mountPath")) for i, m in enumerate(mounts) if i not in owned}
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

        needed |= self._kept_mounts(raw_mounts)
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
            and (str(v.get("name")) in removed_refs or (want is None and _ours(v.get("name"))))
        }
        # A volume we add must not collide with one being removed under the same name (it replaces it).
        self.removed_volumes = {str(raw_volumes[i].get("name")) for i in remove_volumes} | {
            str(raw_mounts[i].get("name")) for i in remove_mounts
        }
        self.added_volumes = {name for name, _ in new_volumes} | {name for name, _ in new_mounts}
        self.seq_edit((*self.cpath, "volumeMounts"), remove_mounts, new_mounts, raw_mounts)
        self.seq_edit(("spec", "volumes"), remove_volumes, new_volumes, raw_volumes)

    def _kept_mounts(self, raw_mounts: list[Any]) -> set[int]:
        """Mounts an audit path flag left as it is by this run still needs (a webhook set up by hand,
        or by an earlier enable, when this one passes no --webhook-url): the mount of its path and,
        for the webhook, those of its certificate directories, named only in its kubeconfig."""
        want = self.want
        if want is None:
            return set()
        kept: set[int] = set()
        for flag in AUDIT_PATH_FLAGS:
            value = self.pod.flag(flag)
            if flag in want.flags or not value or not value.startswith("/"):
                continue
            cover = self._covering(raw_mounts, norm_path(value))
            if cover is not None:
                kept.add(cover[0])
            if flag == "audit-webhook-config-file":
                kept |= {
                    i
                    for i, m in enumerate(raw_mounts)
                    if isinstance(m, dict) and _ours(m.get("name")) and m.get("name") not in OUR_VOLUMES
                }
        return kept

    def _covering(self, raw_mounts: list[Any], path: str) -> tuple[int, Json] | None:
        best: tuple[int, Json] | None = None
        for i, mount in enumerate(raw_mounts):
            if not isinstance(mount, dict):
                continue
            mount_path = norm_path(mount.get("mountPath"))
            if (
                mount_path
                and path_within(path, mount_path)
                and (best is None or len(mount_path) > len(norm_path(best[1].get("mountPath"))))
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
        if spec.name.startswith(WEBHOOK_VOLUME):
            what = "webhook certificate directory"
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
        found = self.find(("metadata", "annotations"))
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
            if self.find(("metadata",)) is None:
                raise InvalidInput(f"{self.source}: the Pod has no metadata; add metadata.name")
            self.insert_new_key(("metadata",), "annotations", {HASH_ANNOTATION: Quoted(value)})
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
        if is_sorted(keys) or len(keys) == 1:
            index = next((i for i, k in enumerate(keys) if k > HASH_ANNOTATION), len(keys))
        self.editor.insert_map_entry(key, mapping, index, HASH_ANNOTATION, Quoted(value))


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
    verify_patch(pod, after, want, patcher.removed_volumes | patcher.added_volumes)
    return after


def patch_manifest(pod: ApiServerPod, want: AuditConfig | None) -> str:
    """The manifest text with `want` applied (None: every audit setting removed)."""
    return patch_pod(pod, want).doc.text
