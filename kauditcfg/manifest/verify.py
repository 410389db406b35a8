"""The patcher's own check: the edited pod sets exactly what was asked and changes nothing else.

A failure here is kauditcfg's bug, never the user's file: it is reported as such and nothing is
written.
"""

from __future__ import annotations

import copy
import posixpath

from kauditcfg.config.audit import AuditConfig
from kauditcfg.config.defaults import ADOPTED_ANNOTATION, HASH_ANNOTATION
from kauditcfg.errors import InvalidInput
from kauditcfg.manifest.pod import ApiServerPod, Json, parse_flags


def strip_audit(pod: ApiServerPod, names: set[str]) -> Json:
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
    annotations.pop(ADOPTED_ANNOTATION, None)
    meta["annotations"] = annotations
    return data


def internal_error(pod: ApiServerPod, what: str) -> InvalidInput:
    """kauditcfg's own edit went wrong: said as such, never blamed on the user's file (exit 3)."""
    return InvalidInput(
        f"{pod.doc.source}: internal error: kauditcfg's edit of this manifest {what}; nothing was written "
        "(a kauditcfg bug: please report it with the manifest)"
    )


def _serves(after: ApiServerPod, flag: str, value: str) -> bool:
    """kube-apiserver can open `value` on the host: the log's directory through a writable hostPath
    mount (never the file itself), a file it reads through any hostPath mount."""
    path = posixpath.normpath(value)
    if flag != "audit-log-path":
        return after.host_path_of(path)[0] is not None
    if any(posixpath.normpath(str(m.get("mountPath", ""))) == path for m in after.mounts):
        return False
    host, mount = after.host_path_of(posixpath.dirname(path))
    return host is not None and mount is not None and not mount.get("readOnly", False)


def verify_patch(
    before: ApiServerPod, after: ApiServerPod, want: AuditConfig | None, names: set[str]
) -> None:
    def bug(what: str) -> InvalidInput:
        return internal_error(before, what)

    audit_after = [f for f in after.flags if f.name.startswith("audit-")]
    if want is None:
        if audit_after:
            raise bug("still has audit flags")
    else:
        for name, value in want.flags.items():
            hits = [f for f in audit_after if f.name == name]
            if len(hits) != 1 or hits[0].value != value or hits[0].value_index is not None:
                raise bug(f"does not set --{name}={value} exactly once")
        for flag in ("audit-policy-file", "audit-log-path", "audit-webhook-config-file"):
            path = want.flags.get(flag)
            if path and path != "-" and not _serves(after, flag, path):
                raise bug(f"does not mount the path of --{flag}={path}")
        if after.annotations.get(HASH_ANNOTATION) != want.config_hash:
            raise bug("lacks the config-hash annotation")
    kept_before = [
        f for f in before.flags if f.name.startswith("audit-") and (want is None or f.name not in want.flags)
    ]
    if want is not None:
        kept_after = [f for f in audit_after if f.name not in want.flags]
        if [(f.name, f.value) for f in kept_before] != [(f.name, f.value) for f in kept_after]:
            raise bug("changed audit flags it does not manage")
    if strip_audit(before, names) != strip_audit(after, names):
        raise bug("changed more than the audit settings")
