"""The one place that writes: back up, make directories, write files atomically, manifest last."""

from __future__ import annotations

import contextlib
import os

from kauditcfg.hostfs import Host
from kauditcfg.ops.backup import write_backup
from kauditcfg.ops.plan import MANIFEST, FileChange, HostAction, Plan
from kauditcfg.ops.state import load_state, save_state
from kauditcfg.ops.writer import atomic_write


def do_action(host: Host, action: HostAction) -> None:
    real = host.path(action.path)
    if action.kind == "mkdir":
        real.mkdir(parents=True, exist_ok=True)
    if action.mode is not None:
        os.chmod(real, action.mode)
    if action.uid is not None or action.gid is not None:
        os.chown(real, -1 if action.uid is None else action.uid, -1 if action.gid is None else action.gid)


def write_change(host: Host, change: FileChange) -> None:
    real = host.path(change.path)
    if change.after is None:
        with contextlib.suppress(FileNotFoundError):
            real.unlink()
        return
    atomic_write(real, change.after, change.mode, change.uid, change.gid)


def apply_plan(host: Host, plan: Plan) -> str | None:
    """Carry out `plan`; returns the host path of the backup taken (None when nothing changed).

    The manifest is written last: the kubelet restarts kube-apiserver as soon as it changes, and by
    then the policy and directories it points at must already be in place.
    """
    changes = [f for f in plan.files if f.changed]
    if not changes and not plan.actions:
        return None
    state = load_state(host)
    backup_dir = write_backup(host, changes, plan.command) if plan.backup and changes else None
    for action in plan.actions:
        do_action(host, action)
    for change in sorted(changes, key=lambda f: f.role == MANIFEST):
        write_change(host, change)
    new_state = state.after(changes)
    if new_state.written != sorted(set(state.written)):
        save_state(host, new_state)
    return backup_dir
