"""Recovery at start: a journal left by a run that died is finished or undone before anything else."""

from __future__ import annotations

from kauditcfg.config.defaults import STATE_FILE
from kauditcfg.hostfs import Host
from kauditcfg.ops.apply import close, finish, undo
from kauditcfg.ops.backup import read_backup
from kauditcfg.ops.fs import FS
from kauditcfg.ops.journal import COMMITTED, JOURNAL_FILE, load_journal
from kauditcfg.ops.writer import temp_name


def recover(host: Host, fs: FS) -> list[str]:
    """Roll an interrupted run back (or forward once its manifest was written); say what was done."""
    fs.discard(temp_name(host.path(JOURNAL_FILE)))  # died while writing the journal: nothing changed yet
    journal = load_journal(host)
    if journal is None:
        return []
    for path in [*journal.files, STATE_FILE]:
        fs.discard(temp_name(host.path(path)))
    complete = read_backup(host, journal.backup) is not None
    if journal.phase == COMMITTED and complete:
        finish(host, journal, fs)
        close(host, journal, fs)
        how = "finished it (its manifest was already written)"
    else:
        undo(host, journal, fs)
        how = "rolled it back" if complete else "removed it (it had not changed anything yet)"
    return [f"found the journal of an interrupted `{journal.command}` run ({JOURNAL_FILE}) and {how}"]
