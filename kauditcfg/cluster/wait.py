"""Wait until the kubelet runs kube-apiserver with the configuration just written, and it is ready.

The kubelet restarts a static pod only when its manifest changes, and re-creates the mirror pod
with the manifest's annotations, so the mirror pod carrying the new `kauditcfg.io/config-hash` says
the new configuration was picked up; its Ready condition (the kubelet's /readyz probe) and the API's
own GET /readyz say it serves. While kube-apiserver restarts, the API is unreachable: every error
during the wait is a reason to look again, until the timeout.
"""

from __future__ import annotations

import glob
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kauditcfg.cluster.client import Cluster, ClusterError, NotFound
from kauditcfg.config.defaults import HASH_ANNOTATION
from kauditcfg.errors import NotReady
from kauditcfg.hostfs import Host

NAMESPACE = "kube-system"
KUBELET_HASH = "kubernetes.io/config.hash"
POLL_SECONDS = 2.0  # between looks at the pod; the kubelet syncs static pods about every 20 s
LOG_LINES = 10


@dataclass(frozen=True)
class PodView:
    """What the mirror pod says, reduced to what a person needs to judge it."""

    name: str
    phase: str
    config_hash: str | None  # ours
    kubelet_hash: str | None
    ready: bool
    state: str
    restarts: int

    def describe(self) -> str:
        return (
            f"pod {self.name}: phase {self.phase}, container {self.state}, restarts {self.restarts}, "
            f"{'ready' if self.ready else 'not ready'}, config-hash {self.config_hash or '(none)'}"
        )


def pod_view(pod: dict[str, Any], container: str = "kube-apiserver") -> PodView:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    annotations = meta.get("annotations") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    statuses = status.get("containerStatuses") or []
    mine = next((s for s in statuses if s.get("name") == container), statuses[0] if statuses else {})
    state_text = "unknown"
    for kind, detail in (mine.get("state") or {}).items():
        detail = detail or {}
        reason = detail.get("reason")
        if kind == "terminated":
            state_text = f"terminated ({reason or 'exit'} {detail.get('exitCode')})"
        else:
            state_text = kind + (f" ({reason})" if reason else "")
        message = str(detail.get("message") or "").strip().splitlines()
        if message:
            state_text += f": {message[0][:160]}"
    return PodView(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase", "Unknown")),
        config_hash=annotations.get(HASH_ANNOTATION),
        kubelet_hash=annotations.get(KUBELET_HASH),
        ready=ready,
        state=state_text,
        restarts=int(mine.get("restartCount", 0) or 0),
    )


@dataclass
class Seen:
    """The last look: the pod (if it could be read), /readyz, and any error on the way."""

    pod: PodView | None = None
    readyz: str = "not asked"
    error: str | None = None
    elapsed: float = 0.0

    def describe(self) -> str:
        parts = [self.pod.describe() if self.pod else "mirror pod not seen"]
        parts.append(f"/readyz: {self.readyz}")
        if self.error:
            parts.append(f"last error: {self.error}")
        return "; ".join(parts)


Progress = Callable[[Seen, float], None]


def node_names(node: str | None) -> list[str]:
    """The kubelet names its node after the host name, lower-cased, unless --hostname-override."""
    if node:
        return [node]
    host = socket.gethostname()
    return list(dict.fromkeys([host, host.lower(), host.split(".")[0].lower()]))


@dataclass
class ApiServerWatch:
    cluster: Cluster
    node: str | None = None
    pod_name: str = ""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    history: list[Seen] = field(default_factory=list)

    def locate(self) -> PodView:
        """Find this node's kube-apiserver mirror pod now, before anything is written: waiting on
        the wrong pod would roll back a good change."""
        pods = self.cluster.list_pods(NAMESPACE, "component=kube-apiserver")
        names = node_names(self.node)
        mine = [p for p in pods if (p.get("spec") or {}).get("nodeName") in names]
        if not mine and self.node is None and len(pods) == 1:
            mine = pods
        if len(mine) != 1:
            found = ", ".join(sorted(str((p.get("metadata") or {}).get("name")) for p in pods)) or "none"
            raise ClusterError(
                f"{self.cluster.server}: cannot tell which kube-apiserver pod runs on this node "
                f"(looked for node {' or '.join(names)}; found: {found}); pass --node with this node's name"
            )
        view = pod_view(mine[0])
        self.pod_name = view.name
        return view

    def look(self, started: float) -> Seen:
        seen = Seen(elapsed=self.clock() - started)
        try:
            seen.pod = pod_view(self.cluster.get_pod(NAMESPACE, self.pod_name))
        except NotFound:
            seen.error = f"pod {self.pod_name} not found (the kubelet re-creates it)"
        except ClusterError as exc:
            seen.error = exc.message
        ok, body = self.cluster.readyz()
        seen.readyz = "ok" if ok else (body.splitlines()[-1] if body else "no answer")[:200]
        if not ok and "[-]" in body:
            failing = [line[3:].split(" ")[0] for line in body.splitlines() if line.startswith("[-]")]
            seen.readyz = "failing " + ", ".join(failing)
        self.history.append(seen)
        return seen

    def wait(
        self,
        want_hash: str | None,
        timeout: float,
        progress: Progress | None = None,
        not_kubelet_hash: str | None = None,
    ) -> tuple[bool, Seen]:
        """Until the pod carries `want_hash` (None: no annotation), is Ready, and /readyz says ok.

        `not_kubelet_hash`: the kubelet's hash before the write, when the annotation alone cannot
        tell old from new (both without one)."""
        started = self.clock()
        while True:
            seen = self.look(started)
            pod = seen.pod
            if (
                pod is not None
                and pod.config_hash == want_hash
                and (not_kubelet_hash is None or pod.kubelet_hash != not_kubelet_hash)
                and pod.ready
                and pod.phase == "Running"
                and seen.readyz == "ok"
            ):
                return True, seen
            if progress is not None:
                progress(seen, timeout)
            if self.clock() - started >= timeout:
                return False, seen
            self.sleep(POLL_SECONDS)


def last_log_lines(host: Host, cluster: Cluster | None, pod: str, lines: int = LOG_LINES) -> list[str]:
    """The container's last lines: from the node's /var/log/pods (readable while the API is down),
    else through the API; [] when neither answers."""
    pattern = str(host.path(f"/var/log/pods/{NAMESPACE}_{pod}_*/kube-apiserver/*.log"))
    files = sorted(glob.glob(pattern), key=os.path.getmtime)
    if files:
        with open(files[-1], "rb") as handle:
            tail = handle.read()[-65536:].decode("utf-8", errors="replace").splitlines()[-lines:]
        # CRI log lines: "<time> <stream> <P|F> <message>"
        return [line.split(" ", 3)[3] if line.count(" ") >= 3 else line for line in tail]
    if cluster is not None and pod:
        try:
            return cluster.pod_log(NAMESPACE, pod, "kube-apiserver", lines).splitlines()[-lines:]
        except (ClusterError, NotFound):
            return []
    return []


class NotReadyRestored(NotReady):
    """Exit 5: applied, not ready in time, previous files restored; `problems` holds what was seen."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message, problems)


def wait_or_restore(
    watch: ApiServerWatch,
    host: Host,
    new_hash: str | None,
    old: PodView,
    timeout: float,
    restore: Callable[[], None],
    progress: Progress | None = None,
) -> Seen:
    """Wait for the new configuration; on timeout restore the previous files, wait for the old pod
    to come back, and raise NotReadyRestored (exit 5) saying what was seen."""
    same = new_hash == old.config_hash
    ok, seen = watch.wait(new_hash, timeout, progress, old.kubelet_hash if same else None)
    if ok:
        return seen
    logs = last_log_lines(host, watch.cluster, watch.pod_name)
    restore()
    back, seen_old = watch.wait(old.config_hash, timeout, progress)
    after = (
        "the previous kube-apiserver is ready again"
        if back
        else f"the previous kube-apiserver is not ready yet either ({seen_old.describe()})"
    )
    message = (
        f"kube-apiserver did not become ready with the new configuration within {timeout:g}s "
        f"({seen.describe()}); the previous files were restored and {after}"
    )
    problems = [message] + [f"kube-apiserver log: {line}" for line in logs]
    raise NotReadyRestored(message, problems)
