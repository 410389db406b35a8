"""What the cluster-facing commands share: the kubeconfig, --wait (options, gate, after-write step,
undo), and a wait display for people."""

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
    from kauditcfg.ops.plan import Plan
    from kauditcfg.ops.transaction import AfterWrite, Applied


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


def after_write(gate: ReadinessGate) -> AfterWrite:
    """The transaction's after-write step for --wait: wait when the manifest changed (else the
    kubelet restarts nothing); when kube-apiserver does not come back, put every file back through
    the same writer and raise NotReadyRestored (exit 5)."""

    def hook(applied: Applied) -> None:
        change = applied.plan.manifest
        if change is None or not change.changed or change.after is None:
            return

        def restore() -> None:
            if applied.backup is not None:
                applied.restore()
            else:  # rollback takes no backup of its own: its plan still holds the bytes it replaced
                from kauditcfg.ops.apply import apply_plan

                apply_plan(applied.host, undo_plan(applied.plan))

        try:
            gate.seen = gate.after(change.path, change.after, restore)
        finally:
            end_progress()

    return hook


def undo_plan(plan: Plan) -> Plan:
    """The plan that puts every file `plan` changed back as it was (bytes, mode and owner)."""
    from kauditcfg.ops.plan import FileChange
    from kauditcfg.ops.plan import Plan as PlanType

    undo = PlanType(command="rollback", restart_required=plan.restart_required, backup=False)
    for f in plan.files:
        if f.changed:
            mode, uid, gid = f.before_stat if f.before_stat is not None else (f.mode, None, None)
            undo.files.append(FileChange(f.path, f.after, f.before, f.role, f.owned, mode, uid, gid))
    return undo
