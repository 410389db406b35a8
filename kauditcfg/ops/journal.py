"""The transaction's journal: what a run is about to do, fsynced before its first change.

A run that dies (kill -9, power loss) leaves it behind; the next run finds it under the lock and
rolls the node back from the run's backup, or forward when the manifest was already written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from kauditcfg.config.defaults import STATE_DIR
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.ops.fs import FS
from kauditcfg.ops.writer import atomic_write

JOURNAL_FILE = STATE_DIR + "/journal.json"
UNDO_DIR = STATE_DIR + "/undo"  # pre-run copies of a run that keeps no backup (rollback)

STARTED = "started"
COMMITTED = "committed"  # the manifest is written: finishing beats undoing


@dataclass
class Journal:
    command: str
    backup: str  # host dir holding the pre-run copies (complete once renamed into place)
    keep_backup: bool  # False: the copies are only for undo, removed when the run ends
    manifest: str | None
    files: list[str] = field(default_factory=list)  # every file the run writes or removes
    # path -> sha256 of the bytes the run writes (None: removes it); undo only touches a file
    # that still holds what this run put there, so a rival's edit is never overwritten
    written: dict[str, str | None] = field(default_factory=dict)
    deletions: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)  # parents first
    prior: dict[str, list[int]] = field(default_factory=dict)  # dir -> [mode, uid, gid] before chmod/chown
    state_before: str | None = None
    state_after: str | None = None
    own_dirs: list[str] = field(default_factory=list)  # the state directory and parents this run made
    phase: str = STARTED

    def save(self, fs: FS, host: Host) -> None:
        """Written and fsynced (file and directory) before the step it announces."""
        body = json.dumps(asdict(self), indent=2, sort_keys=True).encode()
        atomic_write(host.path(JOURNAL_FILE), body, 0o600, fs=fs)


def load_journal(host: Host) -> Journal | None:
    raw = host.read_bytes(JOURNAL_FILE)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Journal(**data)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{JOURNAL_FILE}: an interrupted run's journal is unreadable; check the files it names by hand "
            "(kauditcfg check), then remove it"
        ) from None
