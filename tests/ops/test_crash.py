"""kill -9 at every step of a first `enable`: the next run finds the journal and recovers the node.

Before the journal says "committed" (the manifest written) the node is rolled back to the old
configuration; after it, rolled forward to the new one. Either way: consistent, no temp files,
and the user is told.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.config.defaults import STATE_DIR, STATE_FILE
from kauditcfg.config.options import EnableOptions
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.fs import FS
from kauditcfg.ops.journal import JOURNAL_FILE
from kauditcfg.ops.recovery import recover
from tests.helpers import FIXTURES, MANIFEST
from tests.ops.faults import Faulty, assert_consistent, leftovers

CRASH = """
import os, signal, sys
from pathlib import Path
from kauditcfg.config.options import EnableOptions
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.fs import FS

root, at = Path(sys.argv[1]), int(sys.argv[2])

class Crash(FS):
    count = 0
    def step(self, op, path):
        if self.count == at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.count += 1

transaction.run(Host(root), EnablePlanner(EnableOptions()), dry_run=False, fs=Crash(root, durable=False))
"""


def node(tmp_path: Path, name: str) -> Host:
    root = tmp_path / name
    target = root / MANIFEST.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "kubeadm-v1.30.4.yaml", target)
    target.chmod(0o600)
    return Host(root)


def files(root: Path) -> dict[str, bytes]:
    """The node's files; of kauditcfg's own directory only state.json (backups carry timestamps)."""
    state_dir = root / STATE_DIR.lstrip("/")
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (state_dir not in path.parents or path == root / STATE_FILE.lstrip("/")):
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def crash_at(host: Host, at: int) -> None:
    done = subprocess.run([sys.executable, "-c", CRASH, str(host.root), str(at)], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def test_kill_9_at_every_step_is_recovered(tmp_path: Path) -> None:
    reference = node(tmp_path, "reference")
    old = files(reference.root)
    fs = Faulty(reference.root)
    transaction.run(reference, EnablePlanner(EnableOptions()), dry_run=False, fs=fs)
    new = files(reference.root)
    steps = fs.trace
    manifest_rename = steps.index(("rename", MANIFEST))
    journal_written = steps.index(("rename", JOURNAL_FILE))
    committed = next(
        i for i, step in enumerate(steps) if i > manifest_rename and step == ("rename", JOURNAL_FILE)
    )
    for at in range(len(steps)):
        host = node(tmp_path, f"crash-{at}")
        crash_at(host, at)
        notes = recover(host, FS(host.root, durable=False))
        after = files(host.root)
        where = f"kill -9 at step {at} {steps[at]}"
        if at <= journal_written:
            assert notes == [] and after == old, where  # died before the journal existed: nothing changed
        else:
            assert len(notes) == 1 and "interrupted `enable` run" in notes[0], (where, notes)
            assert after == (new if at > committed else old), where
            assert ("finished it" in notes[0]) == (at > committed), (where, notes)
        assert leftovers(host.root) == [], where
        assert_consistent(host)
        shutil.rmtree(host.root)


def test_the_next_command_recovers_first_and_says_so(tmp_path: Path) -> None:
    reference = node(tmp_path, "reference")
    fs = Faulty(reference.root)
    transaction.run(reference, EnablePlanner(EnableOptions()), dry_run=False, fs=fs)
    manifest_rename = fs.trace.index(("rename", MANIFEST))
    for at, how in ((manifest_rename - 1, "rolled it back"), (len(fs.trace) - 1, "finished it")):
        host = node(tmp_path, f"node-{at}")
        crash_at(host, at)
        assert host.path(JOURNAL_FILE).exists()
        res = CliRunner().invoke(app, ["enable", "--root", str(host.root)])
        assert res.exit_code == 0, res.stderr
        assert "found the journal of an interrupted `enable` run" in res.stderr and how in res.stderr
        assert not host.path(JOURNAL_FILE).exists() and leftovers(host.root) == []
        assert_consistent(host)
        assert host.read_bytes("/etc/kubernetes/audit/policy.yaml") is not None
