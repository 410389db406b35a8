"""What the cluster-facing commands share: finding the kubeconfig, and a wait display for people."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kauditcfg.hostfs import Host

if TYPE_CHECKING:
    from kauditcfg.cluster.client import Cluster
    from kauditcfg.cluster.wait import Progress, Seen


def connect_for(host: Host, kubeconfig: str | None) -> Cluster:
    """--kubeconfig as given (a local file), else kubeadm's admin.conf on the node (under --root)."""
    from kauditcfg.cluster.client import DEFAULT_KUBECONFIG, connect

    return connect(kubeconfig if kubeconfig is not None else str(host.path(DEFAULT_KUBECONFIG)))


def tty_progress() -> Progress | None:
    """A one-line progress display on stderr, only when stderr is a terminal (never in logs or CI)."""
    stream = sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None

    def show(seen: Seen, timeout: float) -> None:
        pod = seen.pod
        state = (
            f"{pod.phase}, {pod.state}, {'ready' if pod.ready else 'not ready'}" if pod else "pod not seen"
        )
        line = (
            f"waiting for kube-apiserver ({seen.elapsed:.0f}s/{timeout:g}s): {state}; /readyz {seen.readyz}"
        )
        stream.write("\r\x1b[2K" + line[:150])
        stream.flush()

    return show


def end_progress() -> None:
    if hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()
