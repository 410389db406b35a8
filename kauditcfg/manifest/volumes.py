"""Volumes and mounts: reuse what already covers an audit path, add or fix only what is missing.

A mount that already maps a path to a hostPath is kept byte for byte, even when it binds another
host directory (kubespray mounts host /var/log/kubernetes/audit at /var/log/audit). What is broken
is fixed: a log *file* mount (rotation renames the file, which a single-file bind mount forbids)
becomes a directory mount; a path under no hostPath mount gets one. The user's mounts that were
reused are named in an annotation so that `disable` removes only what kauditcfg added.
"""

from __future__ import annotations

import posixpath
from typing import Any

from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.config.defaults import (
    ADOPTED_ANNOTATION,
    HASH_ANNOTATION,
    LOG_VOLUME,
    POLICY_VOLUME,
    WEBHOOK_VOLUME,
)
from kauditcfg.errors import PreflightRefused
from kauditcfg.manifest.editing import PodEditor, norm_path
from kauditcfg.manifest.pod import ApiServerPod, Json, path_within

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
READ_FLAGS = ("audit-policy-file", "audit-webhook-config-file")


def adopted_names(pod: ApiServerPod) -> set[str]:
    raw = str(pod.annotations.get(ADOPTED_ANNOTATION) or "")
    return {name.strip() for name in raw.split(",") if name.strip()}


class VolumeEditor(PodEditor):
    def __init__(self, pod: ApiServerPod, want: AuditConfig | None) -> None:
        super().__init__(pod)
        self.want = want
        self.adopted: set[str] = set()  # the user's mounts reused (kept by disable)
        self.notes: list[str] = []  # what was fixed, for the user
        # by name, once: a lookup per mount must not scan every volume (5 MB manifests stay linear)
        self.volume_by_name = {str(v.get("name")): v for v in reversed(pod.volumes)}

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
        """A mount that exists only for auditing (disable removes it unless it was adopted)."""
        name = str(mount.get("name", ""))
        if name in KUBEADM_VOLUMES or name.startswith("etcd-certs"):
            return False
        mount_path = norm_path(mount.get("mountPath"))
        if not mount_path or not (mount_path in audit_paths or _ours(name)):
            return False
        return not any(path_within(p, mount_path) for p in other_paths)

    def _volume_host(self, name: str) -> str | None:
        host = (self.volume_by_name.get(name) or {}).get("hostPath")
        return norm_path(host.get("path")) if isinstance(host, dict) and host.get("path") else None

    def _served(self, raw_mounts: list[Any], path: str, adopted: bool) -> int | None:
        """The index of the hostPath mount that serves `path`, if one does.

        A mount binding another host directory (kubespray binds host /var/log/kubernetes/audit at
        /var/log/audit) serves only a path the manifest already used through it, and never
        through one of kubeadm's own volumes: a new path there would land in, say, the PKI dir.
        """
        cover = self._covering(raw_mounts, path)
        if cover is None:
            return None
        index, mount = cover
        name = str(mount.get("name"))
        host = self._volume_host(name)
        if host is None:
            return None
        rel = posixpath.relpath(path, norm_path(mount.get("mountPath")))
        if norm_path(posixpath.join(host, rel)) == path:
            return index
        kubeadm = name in KUBEADM_VOLUMES or name.startswith("etcd-certs")
        return index if adopted and not kubeadm else None

    def _satisfied(self, spec: MountSpec, raw_mounts: list[Any]) -> set[int] | None:
        """The mounts that already give kube-apiserver what `spec` asks for, None when none do."""
        want = self.want
        assert want is not None
        flags = [f for f in READ_FLAGS if want.flags.get(f)] if spec.read_only else ["audit-log-path"]
        mine = [f for f in flags if posixpath.dirname(norm_path(want.flags[f])) == spec.path]
        adopted = bool(mine) and all(self.pod.flag(f) == want.flags[f] for f in mine)
        if spec.read_only:
            # The files kube-apiserver only reads may be served by any hostPath mount, a file
            # mount included: nothing renames them.
            found = [self._served(raw_mounts, norm_path(want.flags[f]), adopted) for f in mine]
            if mine and all(i is not None for i in found):
                return {i for i in found if i is not None}
        index = self._served(raw_mounts, spec.path, adopted)
        if index is None:
            return None
        mount = raw_mounts[index]
        if not spec.read_only and mount.get("readOnly", False):
            raise PreflightRefused(self._conflict(spec, mount, None, True))
        return {index}

    def volumes(self) -> None:
        pod, want = self.pod, self.want
        mounts = pod.mounts
        volumes = pod.volumes
        raw_mounts = list(pod.container.get("volumeMounts") or [])
        raw_volumes = list(pod.spec.get("volumes") or [])
        audit_paths = self._old_audit_paths()
        other_paths = self._other_paths()
        before = adopted_names(pod)
        owned = {
            i
            for i, m in enumerate(raw_mounts)
            if isinstance(m, dict)
            and self._audit_owned(m, audit_paths, other_paths)
            and (want is not None or str(m.get("name")) not in before)
        }
        needed: set[int] = set()
        new_mounts: list[tuple[str, dict[str, Any]]] = []
        new_volumes: list[tuple[str, dict[str, Any]]] = []
        reused_volumes: set[str] = set()

        for spec in want.mounts if want else ():
            reuse = self._satisfied(spec, raw_mounts)
            if reuse is not None:
                needed |= reuse
                continue
            cover = self._covering(raw_mounts, spec.path)
            if cover is not None and cover[0] not in owned:
                mount = cover[1]
                host = self._volume_host(str(mount.get("name")))
                if not spec.read_only and host is not None and mount.get("readOnly", False):
                    raise PreflightRefused(self._conflict(spec, mount, None, True))
                raise PreflightRefused(self._conflict(spec, mount, host, False))
            # Needs its own mount; reuse a kept volume that already points at the directory.
            taken_paths = {norm_path(m.get("mountPath")) for i, m in enumerate(mounts) if i not in owned}
            if spec.path in taken_paths:
                raise PreflightRefused(self._conflict(spec, None, None, False))
            vol_name = next(
                (
                    str(v.get("name"))
                    for v in volumes
                    if v.get("name") and self._volume_host(str(v.get("name"))) == spec.path
                ),
                None,
            )
            if vol_name is not None:
                reused_volumes.add(vol_name)
            else:
                vol_name = self._free_name(spec.name, raw_volumes, owned, raw_mounts)
                new_volumes.append(
                    (vol_name, {"hostPath": {"path": spec.path, "type": spec.type}, "name": vol_name})
                )
            mount_obj: dict[str, Any] = {"mountPath": spec.path, "name": vol_name}
            if spec.read_only:
                mount_obj["readOnly"] = True
            new_mounts.append((vol_name, mount_obj))
            self._note_added(spec, vol_name)

        needed |= self._kept_mounts(raw_mounts)
        remove_mounts = owned - needed
        if want is not None:
            self._note_removed(raw_mounts, remove_mounts)
            first = HASH_ANNOTATION not in pod.annotations
            for i in needed:
                name = str(raw_mounts[i].get("name"))
                if name in before or (first and i in owned):
                    self.adopted.add(name)
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
        self.removed_volumes = {str(raw_volumes[i].get("name")) for i in remove_volumes} | removed_refs
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

    def _note_added(self, spec: MountSpec, name: str) -> None:
        """Adding a mount for a path the manifest already set is a fix worth saying."""
        assert self.want is not None
        flags = ("audit-log-path",) if not spec.read_only else READ_FLAGS
        for flag in flags:
            value = self.want.flags.get(flag)
            if not value or value == "-" or self.pod.flag(flag) != value:
                continue
            if HASH_ANNOTATION in self.pod.annotations:
                continue
            if any(norm_path(m.get("mountPath")) == norm_path(value) for m in self.pod.mounts):
                continue  # the file itself was mounted: said by _note_removed
            directory = posixpath.dirname(norm_path(value))
            if directory == spec.path:
                self.notes.append(
                    f"fixed: --{flag}={value} was under no hostPath mount; added volume {name!r} mounting "
                    f"{spec.path} ({'readOnly' if spec.read_only else 'read-write'})"
                )

    def _note_removed(self, raw_mounts: list[Any], removed: set[int]) -> None:
        assert self.want is not None
        log = self.want.flags.get("audit-log-path")
        for i in sorted(removed):
            mount = raw_mounts[i]
            path = norm_path(mount.get("mountPath"))
            if log and log != "-" and path == norm_path(log):
                self.notes.append(
                    f"fixed: volumeMount {mount.get('name')!r} mounted the log file {path} itself (rotation "
                    "renames the file, which a file mount forbids); it now mounts the directory "
                    f"{posixpath.dirname(path)}"
                )
            elif HASH_ANNOTATION not in self.pod.annotations:
                self.notes.append(
                    f"removed volumeMount {mount.get('name')!r} at {path}: no audit path needs it now"
                )

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

    def _conflict(self, spec: MountSpec, mount: Json | None, host: str | None, read_only: bool) -> str:
        what = "log directory" if not spec.read_only else "policy directory"
        if spec.name.startswith(WEBHOOK_VOLUME):
            what = "webhook certificate directory"
        if mount is None:
            return (
                f"{self.source}: a volumeMount already uses mountPath {spec.path} for another volume; "
                f"the audit {what} needs it: remove that mount or choose another path"
            )
        where = f"volumeMount {mount.get('name')!r} at {mount.get('mountPath')}"
        if read_only:
            return (
                f"{self.source}: {where} is readOnly but covers the audit log directory {spec.path}, which "
                "kube-apiserver must write: make that mount writable or choose another --log-path"
            )
        if host is None:
            return (
                f"{self.source}: {where} covers {spec.path} but is not a hostPath volume; the audit {what} "
                "would not be on the host: change that mount or choose another path"
            )
        return (
            f"{self.source}: {where} covers {spec.path} but mounts host path {host}; the audit {what} "
            f"would not be the host's {spec.path}: change that mount or choose another path"
        )
