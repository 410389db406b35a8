"""What the cluster-facing commands share: finding the kubeconfig, and a wait display for people."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from kauditcfg.hostfs import Host

if TYPE_CHECKING:
    from kauditcfg.cluster.client import Cluster
    from kauditcfg.cluster.gate import ReadinessGate
    from kauditcfg.cluster.wait import Progress, Seen
    from kauditcfg.plan import Plan


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


# --wait for enable, disable and rollback, declared once.
Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="After writing, wait until kube-apiserver runs the new configuration and /readyz is ok; "
        "if it does not within --timeout, restore the previous files and exit 5.",
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds --wait waits (each way).", min=1)]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", help="kubeconfig to reach the cluster (default /etc/kubernetes/admin.conf)."
    ),
]
Node = Annotated[
    str | None,
    typer.Option("--node", help="This node's name, when the kubelet does not use the host name."),
]


def readiness_gate(host: Host, kubeconfig: str | None, node: str | None, timeout: float) -> ReadinessGate:
    """The --wait step, connected and pointed at this node's kube-apiserver before anything is written."""
    from kauditcfg.cluster.client import DEFAULT_KUBECONFIG
    from kauditcfg.cluster.gate import ReadinessGate

    path = kubeconfig if kubeconfig is not None else str(host.path(DEFAULT_KUBECONFIG))
    gate = ReadinessGate(host, path, node=node, timeout=timeout, progress=tty_progress())
    gate.before()
    return gate


@dataclass(frozen=True)
class WaitOptions:
    """--wait and its settings, as given to enable, disable or rollback."""

    timeout: float
    kubeconfig: str | None
    node: str | None

    @classmethod
    def of(cls, wait: bool, timeout: float, kubeconfig: str | None, node: str | None) -> WaitOptions | None:
        return cls(timeout, kubeconfig, node) if wait else None

    def gate(self, host: Host) -> ReadinessGate:
        return readiness_gate(host, self.kubeconfig, self.node, self.timeout)

    def after(self, gate: ReadinessGate, plan: Plan, manifest: str) -> Seen | None:
        """Wait when the manifest changed (else the kubelet restarts nothing); on failure write every
        file of `plan` back as it was, through the same writer, and raise NotReadyRestored (exit 5)."""
        from kauditcfg.apply import apply_plan

        change = next((f for f in plan.files if f.path == manifest and f.changed), None)
        if change is None or change.after is None:
            return None

        def restore() -> None:
            apply_plan(gate.host, undo_plan(plan), manifest, backup=False)

        try:
            return gate.after(manifest, change.after, restore)
        finally:
            end_progress()


def undo_plan(plan: Plan) -> Plan:
    """The plan that puts every file `plan` changed back as it was (bytes, mode and owner)."""
    from kauditcfg.plan import FileChange
    from kauditcfg.plan import Plan as PlanType

    undo = PlanType(command="rollback", restart_required=plan.restart_required)
    for f in plan.files:
        if not f.changed:
            continue
        mode, uid, gid = f.before_stat if f.before_stat is not None else (f.mode, None, None)
        undo.files.append(FileChange(f.path, f.after, f.before, mode=mode, uid=uid, gid=gid))
    return undo
