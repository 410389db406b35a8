"""The one place that writes: back up, make directories, write files atomically, manifest last."""

from __future__ import annotations

import contextlib
import os

from kauditcfg.hostfs import Host, atomic_write, write_backup
from kauditcfg.plan import FileChange, HostAction, Plan
from kauditcfg.state import load_state, save_state


def _do_action(host: Host, action: HostAction) -> None:
    real = host.path(action.path)
    if action.kind == "mkdir":
        real.mkdir(parents=True, exist_ok=True)
    if action.mode is not None:
        os.chmod(real, action.mode)
    if action.uid is not None or action.gid is not None:
        os.chown(real, -1 if action.uid is None else action.uid, -1 if action.gid is None else action.gid)


def _write(host: Host, change: FileChange) -> None:
    real = host.path(change.path)
    if change.after is None:
        with contextlib.suppress(FileNotFoundError):
            real.unlink()
        return
    if change.keep_mode and change.before_stat is not None:
        mode, uid, gid = change.before_stat
        atomic_write(real, change.after, mode, uid, gid)
    else:
        atomic_write(real, change.after, change.mode, change.uid, change.gid)


def apply_plan(host: Host, plan: Plan, manifest: str, backup: bool = True) -> str | None:
    """Carry out `plan`; returns the host path of the backup taken (None when nothing changed).

    The manifest is written last: the kubelet restarts kube-apiserver as soon as it changes, and by
    then the policy and directories it points at must already be in place.
    """
    changes = [f for f in plan.files if f.changed]
    if not changes and not plan.actions:
        return None
    backup_dir = write_backup(host, [f.path for f in changes], plan.command) if backup and changes else None
    for action in plan.actions:
        _do_action(host, action)
    for change in sorted(changes, key=lambda f: f.path == manifest):
        _write(host, change)
    state = load_state(host)
    written = set(state.written)
    for change in changes:
        if change.path == manifest:
            continue
        if plan.command == "enable" and change.after is not None:
            written.add(change.path)
        elif change.after is None:
            written.discard(change.path)
    if written != set(state.written):
        state.written = sorted(written)
        save_state(host, state)
    return backup_dir
