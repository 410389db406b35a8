"""`--wait`: the step after a write that proves kube-apiserver came back, or undoes the write.

Used by enable, disable and rollback (and so by the Ansible role through `enable --wait --json`).
`before()` runs before anything is written: an unreachable cluster or an unidentifiable pod
refuses the command with nothing changed, instead of rolling back a good change later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kauditcfg.cluster.client import connect
from kauditcfg.cluster.wait import ApiServerWatch, PodView, Progress, Seen, wait_or_restore
from kauditcfg.config.defaults import HASH_ANNOTATION
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import load_apiserver_pod

DEFAULT_TIMEOUT = 300.0


def manifest_hash(manifest: bytes, source: str) -> str | None:
    """The config-hash annotation the kubelet will copy onto the mirror pod (None: there is none)."""
    try:
        text = manifest.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}: not UTF-8 text") from None
    value = load_apiserver_pod(text, source).annotations.get(HASH_ANNOTATION)
    return None if value is None else str(value)


@dataclass
class ReadinessGate:
    host: Host
    kubeconfig: str
    node: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    progress: Progress | None = None
    watch: ApiServerWatch | None = None
    old: PodView | None = None
    seen: Seen | None = None  # the last look, once the wait succeeded

    def before(self) -> None:
        self.watch = ApiServerWatch(connect(self.kubeconfig), node=self.node)
        self.old = self.watch.locate()

    def after(self, manifest_path: str, manifest_after: bytes, restore: Callable[[], None]) -> Seen:
        """Wait for the pod the manifest now describes; restore and raise NotReadyRestored (exit 5)
        when it does not become ready within the timeout."""
        if self.watch is None or self.old is None:
            self.before()
        assert self.watch is not None and self.old is not None
        new_hash = manifest_hash(manifest_after, manifest_path)
        watch, old = self.watch, self.old
        return wait_or_restore(watch, self.host, new_hash, old, self.timeout, restore, self.progress)
