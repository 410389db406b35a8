"""`kubeadm sync`: put the audit settings into kube-system/kubeadm-config, where `kubeadm upgrade`
and `kubeadm join --control-plane` read ClusterConfiguration from (kubeadm's "upload-config" phase).

The stored text is merged like a config file (every other field kept byte for byte) and written
back with the resourceVersion it was read at; a 409 means someone else wrote in between, so the
ConfigMap is read again and the merge redone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kauditcfg.cluster.client import Cluster, ClusterError, Conflict, NotFound
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput
from kauditcfg.kubeadm.merge import load_kubeadm_config
from kauditcfg.kubeadm.plans import merged_config

NAMESPACE = "kube-system"
NAME = "kubeadm-config"
KEY = "ClusterConfiguration"
SOURCE = f"ConfigMap {NAMESPACE}/{NAME} (data.{KEY})"
ATTEMPTS = 5


@dataclass
class SyncResult:
    before: str
    after: str
    written: bool
    api: str | None
    resource_version: str | None
    conflicts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def sync_kubeadm_config(
    cluster: Cluster, opts: EnableOptions, explicit: set[str], dry_run: bool
) -> SyncResult:
    conflicts = 0
    for _ in range(ATTEMPTS):
        try:
            configmap = cluster.get_configmap(NAMESPACE, NAME)
        except NotFound:
            raise InvalidInput(
                f"{SOURCE}: not found; this cluster was not made by kubeadm (or predates kubeadm 1.8)"
            ) from None
        data = configmap.get("data") or {}
        text = data.get(KEY)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"{SOURCE}: missing or empty; is this a kubeadm cluster?")
        config = load_kubeadm_config(text, SOURCE)
        if config.cluster is None:
            raise InvalidInput(f"{SOURCE}: holds no kubeadm {KEY} document")
        emitted, _ = merged_config(config, opts, explicit, None)
        version = (configmap.get("metadata") or {}).get("resourceVersion")
        result = SyncResult(text, emitted.text, False, config.api, version, conflicts, emitted.notes)
        if dry_run or not result.changed:
            return result
        # The object as read, one key changed: labels, annotations and other keys go back untouched,
        # and metadata.resourceVersion makes the API refuse (409) if anyone wrote in between.
        configmap["data"] = {**data, KEY: emitted.text}
        try:
            written = cluster.replace_configmap(NAMESPACE, NAME, configmap)
        except Conflict:
            conflicts += 1
            continue
        except NotFound:
            raise ClusterError(
                f"{SOURCE}: deleted while kauditcfg was updating it; nothing was written"
            ) from None
        result.written = True
        result.resource_version = (written.get("metadata") or {}).get("resourceVersion")
        return result
    raise ClusterError(
        f"{SOURCE}: changed by someone else {conflicts} times while kauditcfg was updating it; "
        "nothing was written: run again"
    )
