"""The backups a person manages: listed newest first, found by time, pruned only after a success."""

from __future__ import annotations

import errno
import os
import shutil
import signal
from pathlib import Path

import pytest

from kauditcfg.config.defaults import BACKUP_DIR, POLICY_PATH
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import NotReady, UsageError
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.backup import write_backup
from kauditcfg.ops.backup_catalog import find_backup, list_backups, prune
from kauditcfg.ops.disable import DisablePlanner
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.fs import FS
from kauditcfg.ops.plan import MANIFEST as MANIFEST_ROLE
from kauditcfg.ops.plan import FileChange
from kauditcfg.ops.rollback import RollbackPlanner
from tests.helpers import MANIFEST


def old_backup(host: Host, stamp: str, command: str = "enable") -> str:
    """A backup as an earlier run wrote it (the real writer), named by its run's time."""
    before = host.read_bytes(MANIFEST)
    directory = f"{BACKUP_DIR}/{stamp}"
    write_backup(FS(host.root), host, directory, [FileChange(MANIFEST, before, b"x", MANIFEST_ROLE)], command)
    return directory


def names(host: Host) -> list[str]:
    return sorted(p.name for p in host.path(BACKUP_DIR).iterdir())


def stamps(count: int, year: int = 2025) -> list[str]:
    return [f"{year}0101T0000{i:02d}.000000Z" for i in range(count)]


def test_lists_complete_backups_newest_first_with_command_and_files(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    transaction.run(host, DisablePlanner(purge=True), dry_run=False)
    catalog = list_backups(host)
    assert [b.command for b in catalog.backups] == ["disable", "enable"]
    assert catalog.backups[0].name > catalog.backups[1].name
    enable = catalog.backups[1].to_json()
    assert {f["path"]: f["rollback"] for f in enable["files"]} == {MANIFEST: "restore", POLICY_PATH: "remove"}
    assert enable["time"].endswith("Z") and enable["path"] == f"{BACKUP_DIR}/{enable['name']}"
    assert catalog.notes == []


def test_what_is_not_a_complete_backup_is_not_listed(host: Host) -> None:
    old_backup(host, "20250101T000000.000000Z")
    base = host.path(BACKUP_DIR)
    (base / "20250102T000000.000000Z").mkdir()  # no index.json: not complete
    (base / ".20250103T000000.000000Z.partial").mkdir()  # being written
    (base / "before-upgrade").mkdir()  # a person's own copy
    (base / "before-upgrade" / "index.json").write_text('{"files": []}')
    catalog = list_backups(host)
    assert [b.name for b in catalog.backups] == ["20250101T000000.000000Z"]
    assert len(catalog.notes) == 2
    assert any("20250102T000000.000000Z: not a complete kauditcfg backup" in n for n in catalog.notes)
    assert any("before-upgrade" in n for n in catalog.notes)


def test_no_backups_directory_lists_nothing(host: Host) -> None:
    assert list_backups(host).backups == [] and list_backups(host).newest is None


@pytest.mark.parametrize(
    "wanted",
    [
        "20250101T000001.000000Z",
        "2025-01-01 00:00:01 UTC",
        "2025-01-01 00:00:01",
        "20250101T000001",
        "2025-01-01T00:00:01Z",
    ],
)
def test_a_backup_is_found_by_name_time_or_unique_prefix(host: Host, wanted: str) -> None:
    for stamp in stamps(3)[:2]:
        old_backup(host, stamp)
    old_backup(host, "20250101T000010.000000Z")
    assert find_backup(host, wanted).name == "20250101T000001.000000Z"


def test_an_unknown_or_ambiguous_time_is_a_usage_error_with_the_list_hint(host: Host) -> None:
    for stamp in stamps(3):
        old_backup(host, stamp)
    with pytest.raises(
        UsageError, match=r"no backup of that name or time .* kauditcfg rollback --list --root"
    ):
        find_backup(host, "2024-12-31")
    with pytest.raises(UsageError, match="matches 3 backups"):
        find_backup(host, "2025-01-01")
    with pytest.raises(UsageError, match="no backup of that name"):
        find_backup(host, "latest")


def test_prune_keeps_the_newest_and_what_is_not_a_complete_backup(host: Host) -> None:
    for stamp in stamps(12):
        old_backup(host, stamp)
    base = host.path(BACKUP_DIR)
    (base / "20240101T000000.000000Z").mkdir()  # oldest by name, but incomplete: never deleted
    (base / "before-upgrade").mkdir()
    pruned = prune(host, FS(host.root), keep=10)
    assert pruned.removed == [f"{BACKUP_DIR}/{s}" for s in stamps(2)[::-1]] and pruned.warnings == []
    assert names(host) == sorted([*stamps(12)[2:], "20240101T000000.000000Z", "before-upgrade"])


def test_keep_zero_keeps_every_backup(host: Host) -> None:
    for stamp in stamps(12):
        old_backup(host, stamp)
    assert prune(host, FS(host.root), keep=0).removed == []
    assert len(names(host)) == 12


def test_prune_never_deletes_the_backup_the_run_just_took(host: Host) -> None:
    """Backups dated in the future (a clock set back since) sort first; this run's backup stays."""
    for stamp in stamps(3, year=2099):
        old_backup(host, stamp)
    result = transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=1)
    assert result.backup is not None
    future = stamps(3, year=2099)
    assert result.pruned == [f"{BACKUP_DIR}/{future[1]}", f"{BACKUP_DIR}/{future[0]}"]
    assert names(host) == sorted([future[2], result.backup.rsplit("/", 1)[1]])
    assert result.to_json()["pruned_backups"] == result.pruned


def test_a_successful_change_prunes_to_keep_backups(host: Host) -> None:
    for stamp in stamps(5):
        old_backup(host, stamp)
    result = transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=3)
    assert result.backup is not None
    assert names(host) == sorted([*stamps(5)[3:], result.backup.rsplit("/", 1)[1]])


def test_a_failed_run_prunes_nothing(host: Host) -> None:
    for stamp in stamps(5):
        old_backup(host, stamp)

    def not_ready(applied: transaction.Applied) -> None:
        raise NotReady("kube-apiserver did not become ready; the previous files were restored")

    with pytest.raises(NotReady):
        transaction.run(
            host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=1, after_write=not_ready
        )
    assert names(host) == stamps(5)


def test_a_run_that_changes_nothing_or_a_dry_run_prunes_nothing(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    for stamp in stamps(5):
        old_backup(host, stamp)
    assert transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=1).pruned == []
    assert transaction.run(host, DisablePlanner(), dry_run=True, keep_backups=1).pruned == []
    assert len(names(host)) == 6


class ReadOnlyBackups(FS):
    """EROFS on every rename inside the backups directory: the old backups cannot be pruned."""

    def step(self, op: str, path: Path) -> None:
        if op == "rename" and BACKUP_DIR in self.host_path(path) and ".pruning" in path.name:
            raise OSError(errno.EROFS, "Read-only file system")


def test_a_backup_that_cannot_be_pruned_is_a_warning_not_a_failure(host: Host) -> None:
    for stamp in stamps(3):
        old_backup(host, stamp)
    result = transaction.run(
        host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=1, fs=ReadOnlyBackups(host.root)
    )
    assert result.applied and result.pruned == []
    assert any("old backup not removed (Read-only file system)" in w for w in result.warnings)
    assert len(names(host)) == 4
    assert host.read_bytes(POLICY_PATH) is not None  # the change itself stands


class SignalWhilePruning(FS):
    """SIGTERM delivered at the prune step, after the change is applied."""

    def step(self, op: str, path: Path) -> None:
        if op == "rename" and path.name.endswith(".pruning"):
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_while_pruning_does_not_undo_the_applied_change(host: Host) -> None:
    for stamp in stamps(3):
        old_backup(host, stamp)
    result = transaction.run(
        host, EnablePlanner(EnableOptions()), dry_run=False, keep_backups=2, fs=SignalWhilePruning(host.root)
    )
    assert result.applied and host.read_bytes(POLICY_PATH) is not None
    assert result.backup is not None and len(result.pruned) == 2
    assert names(host) == sorted([stamps(3)[2], result.backup.rsplit("/", 1)[1]])


def test_an_interrupted_prune_is_neither_listed_nor_left_behind(host: Host) -> None:
    for stamp in stamps(2):
        old_backup(host, stamp)
    host.path(f"{BACKUP_DIR}/{stamps(1)[0]}").rename(host.path(f"{BACKUP_DIR}/.{stamps(1)[0]}.pruning"))
    assert [b.name for b in list_backups(host).backups] == [stamps(2)[1]]
    prune(host, FS(host.root), keep=5)
    assert names(host) == [stamps(2)[1]]


def test_rollback_to_restores_an_older_backup_and_is_undone_by_rollback(host: Host) -> None:
    original = host.read_bytes(MANIFEST)
    transaction.run(host, EnablePlanner(EnableOptions(profile="cks")), dry_run=False)
    first = list_backups(host).backups[0].name
    transaction.run(host, EnablePlanner(EnableOptions(profile="cis")), dry_run=False)
    cis = (host.read_bytes(MANIFEST), host.read_bytes(POLICY_PATH))

    result = transaction.run(host, RollbackPlanner(to=first), dry_run=False)
    assert host.read_bytes(MANIFEST) == original and host.read_bytes(POLICY_PATH) is None
    assert result.plan.restored_from == f"{BACKUP_DIR}/{first}" and result.backup is not None
    assert list_backups(host).backups[0].command == f"rollback --to {first}"

    transaction.run(host, RollbackPlanner(), dry_run=False)  # the last change applied was the --to
    assert (host.read_bytes(MANIFEST), host.read_bytes(POLICY_PATH)) == cis


def test_rollback_ignores_a_copy_a_person_made_under_another_name(host: Host) -> None:
    """`before-upgrade` sorts after every time-named backup; it must not become "the newest"."""
    original = host.read_bytes(MANIFEST)
    result = transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    assert result.backup is not None
    transaction.run(host, DisablePlanner(), dry_run=False)
    enabled_backup = host.path(result.backup)
    shutil.copytree(enabled_backup, host.path(f"{BACKUP_DIR}/before-upgrade"))
    plan = RollbackPlanner().plan(host)
    assert plan.restored_from is not None and plan.restored_from != f"{BACKUP_DIR}/before-upgrade"
    assert plan.manifest is not None and plan.manifest.after != original  # undoes the disable


def test_a_backups_path_that_is_a_file_is_said(host: Host) -> None:
    host.path(BACKUP_DIR).parent.mkdir(parents=True)
    host.path(BACKUP_DIR).write_text("oops")
    catalog = list_backups(host)
    assert catalog.backups == [] and "not a directory" in catalog.notes[0]
