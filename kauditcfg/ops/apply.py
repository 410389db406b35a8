"""Carry out a plan as one transaction: all of it, or none of it.

Order: journal → backup (complete or absent) → directories → new and changed files → the
manifest (compare-and-swap) → journal "committed" → deletions → state.json. Any failure or
signal before the end undoes the steps already done, from the run's own backup, and removes
that backup. Writing the manifest last means the kubelet never starts a kube-apiserver whose
policy or directories are not in place, and deleting last means it never points at a file that
is gone.
"""

from __future__ import annotations

import posixpath

from kauditcfg.config.defaults import BACKUP_DIR, STATE_DIR, STATE_FILE
from kauditcfg.hostfs import Host
from kauditcfg.ops.backup import backup_copy, make_dirs, new_stamp, read_backup, remove_backup, write_backup
from kauditcfg.ops.fs import FS
from kauditcfg.ops.journal import COMMITTED, JOURNAL_FILE, UNDO_DIR, Journal
from kauditcfg.ops.plan import MANIFEST, FileChange, HostAction, Plan
from kauditcfg.ops.state import digest, load_state
from kauditcfg.ops.writer import atomic_write, temp_name


def missing_dirs(host: Host, paths: list[str]) -> list[str]:
    """Directories that must be created (parents first) for `paths` to exist."""
    out: list[str] = []
    for path in paths:
        chain = []
        current = path
        while current != "/" and not host.path(current).exists():
            chain.append(current)
            current = posixpath.dirname(current)
        for directory in reversed(chain):
            if directory not in out:
                out.append(directory)
    return out


def prepare(host: Host, plan: Plan, fs: FS) -> Journal:
    """The journal of `plan` (save it before anything else changes); makes the state directory."""
    own_dirs = make_dirs(fs, host, STATE_DIR)
    try:
        return _journal(host, plan, own_dirs)
    except BaseException:
        _remove_own_dirs(fs, host, own_dirs)
        raise


def _journal(host: Host, plan: Plan, own_dirs: list[str]) -> Journal:
    changes = [f for f in plan.files if f.changed]
    stamp = new_stamp()
    keep = plan.backup and bool(changes)
    state = load_state(host)
    new_state = state.after(changes)
    state_raw = host.read_bytes(STATE_FILE)
    state_after = None if new_state.encode() == state.encode() else new_state.encode().decode()
    mkdirs = [a.path for a in plan.actions if a.kind == "mkdir"]
    parents = [posixpath.dirname(f.path) for f in changes if f.after is not None]
    prior: dict[str, list[int]] = {}
    for action in plan.actions:
        stat = host.stat(action.path) if action.kind != "mkdir" else None
        if stat is not None:
            prior.setdefault(action.path, list(stat))
    return Journal(
        command=plan.command,
        backup=f"{BACKUP_DIR if keep else UNDO_DIR}/{stamp}",
        keep_backup=keep,
        manifest=plan.manifest.path if plan.manifest is not None else None,
        files=[f.path for f in changes],
        written={f.path: None if f.after is None else digest(f.after) for f in changes},
        deletions=[f.path for f in changes if f.after is None],
        created_dirs=missing_dirs(host, mkdirs + parents),
        prior=prior,
        state_before=None if state_raw is None else state_raw.decode("utf-8", "replace"),
        state_after=state_after,
        own_dirs=own_dirs,
    )


def _remove_own_dirs(fs: FS, host: Host, own_dirs: list[str]) -> None:
    """A state directory this run created holds nothing but this run's files: remove it whole."""
    if STATE_DIR in own_dirs:
        fs.discard(host.path(STATE_DIR))
    for directory in reversed(own_dirs):
        real = host.path(directory)
        if real.is_dir() and not any(real.iterdir()):
            fs.discard(real)


def _action(fs: FS, host: Host, action: HostAction) -> None:
    real = host.path(action.path)
    if action.mode is not None:
        fs.chmod(real, action.mode)
    if action.uid is not None or action.gid is not None:
        fs.chown(real, action.uid, action.gid)


def _write(fs: FS, host: Host, change: FileChange) -> None:
    assert change.after is not None
    expect = change.before if change.role == MANIFEST and change.before is not None else None
    atomic_write(
        host.path(change.path), change.after, change.mode, change.uid, change.gid,
        fs=fs, expect=expect, expect_label=change.path,
    )  # fmt: skip


def execute(host: Host, plan: Plan, journal: Journal, fs: FS) -> None:
    """Every step, the journal first; raises on the first failure (the caller undoes)."""
    journal.save(fs, host)
    changes = [f for f in plan.files if f.changed]
    write_backup(fs, host, journal.backup, changes, plan.command)
    for directory in journal.created_dirs:
        fs.mkdir(host.path(directory), 0o755)
    for action in plan.actions:
        _action(fs, host, action)
    for change in changes:
        if change.after is not None and change.role != MANIFEST:
            _write(fs, host, change)
    for change in changes:
        if change.after is not None and change.role == MANIFEST:
            _write(fs, host, change)
    journal.phase = COMMITTED
    journal.save(fs, host)
    finish(host, journal, fs)


def finish(host: Host, journal: Journal, fs: FS) -> None:
    """The steps after the manifest: deletions, then state.json. Safe to repeat (roll forward)."""
    for path in journal.deletions:
        fs.unlink(host.path(path))
    if journal.state_after is not None:
        atomic_write(host.path(STATE_FILE), journal.state_after.encode(), 0o600, fs=fs)


def close(host: Host, journal: Journal, fs: FS) -> list[str]:
    """The run is complete: drop the undo copies and the journal. Returns warnings, never raises."""
    if not journal.keep_backup:
        remove_backup(fs, host, journal.backup)
    fs.discard(host.path(JOURNAL_FILE))
    return []


def undo(host: Host, journal: Journal, fs: FS) -> None:
    """Put every file and directory back as the backup and journal recorded them; remove the backup.

    Without a complete backup no change was made yet (the backup comes before the first change).
    """
    entries = read_backup(host, journal.backup)
    if entries is not None:
        for entry in entries:
            fs.discard(temp_name(host.path(entry.path)))
        # The old state's order: files it refers to first, then the manifest, then what it lacked.
        existed = sorted((e for e in entries if e.existed), key=lambda e: e.role == MANIFEST)
        for entry in existed:
            data = backup_copy(host, journal.backup, entry.path)
            mode = entry.mode if entry.mode is not None else 0o600
            current = host.read_bytes(entry.path)
            if current == data and host.stat(entry.path) == (mode, entry.uid, entry.gid):
                continue
            if current == data or _ours(journal, entry.path, current):
                atomic_write(host.path(entry.path), data, mode, entry.uid, entry.gid, fs=fs)
        for entry in entries:
            current = host.read_bytes(entry.path)
            if not entry.existed and current is not None and _ours(journal, entry.path, current):
                fs.unlink(host.path(entry.path))
        for path, (mode, uid, gid) in journal.prior.items():
            real = host.path(path)
            if real.exists():
                fs.chmod(real, mode)
                fs.chown(real, uid, gid)
        for directory in reversed(journal.created_dirs):
            real = host.path(directory)
            if real.is_dir() and not any(real.iterdir()):
                fs.rmdir(real)
        state = host.path(STATE_FILE)
        if journal.state_before is None:
            fs.unlink(state)
        elif host.read_bytes(STATE_FILE) != journal.state_before.encode():
            atomic_write(state, journal.state_before.encode(), 0o600, fs=fs)
    remove_backup(fs, host, journal.backup)
    fs.discard(host.path(JOURNAL_FILE))
    _remove_own_dirs(fs, host, journal.own_dirs)


def _ours(journal: Journal, path: str, current: bytes | None) -> bool:
    """Does `path` hold what this run wrote there (or lack what it removed)?"""
    wrote = journal.written.get(path)
    if wrote is None:
        return current is None
    return current is not None and digest(current) == wrote


def apply_plan(host: Host, plan: Plan, fs: FS | None = None) -> str | None:
    """`plan` carried out as one transaction (no lock, no signals: see ops.transaction.run).

    Returns the host path of the backup kept for `rollback`, None when none was kept.
    """
    if not plan.changed:
        return None
    fs = fs or FS(host.root)
    journal = prepare(host, plan, fs)
    try:
        execute(host, plan, journal, fs)
    except BaseException:
        undo(host, journal, fs)
        raise
    close(host, journal, fs)
    return journal.backup if journal.keep_backup else None
