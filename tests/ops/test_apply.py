"""apply_plan on its own: backup first, directories, files (manifest last), state; no command names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kauditcfg.config.defaults import STATE_FILE
from kauditcfg.hostfs import Host
from kauditcfg.ops.apply import apply_plan
from kauditcfg.ops.backup_catalog import list_backups
from kauditcfg.ops.fs import FS
from kauditcfg.ops.plan import MANIFEST, POLICY, FileChange, HostAction, Plan
from tests.helpers import MANIFEST as MANIFEST_PATH

POLICY_FILE = "/etc/kubernetes/audit/policy.yaml"


def _plan(host: Host, command: str = "anything") -> Plan:
    before = host.read_bytes(MANIFEST_PATH)
    assert before is not None
    return Plan(
        command=command,
        files=[
            FileChange(MANIFEST_PATH, before, before + b"# edited\n", MANIFEST, mode=0o600),
            FileChange(POLICY_FILE, None, b"policy\n", POLICY, owned=True, mode=0o640, uid=0, gid=0),
        ],
        actions=[HostAction("mkdir", "/var/log/kubernetes/audit", mode=0o700, uid=0, gid=0)],
    )


def test_writes_files_actions_state_and_a_backup(host: Host) -> None:
    backup = apply_plan(host, _plan(host))
    assert host.read_bytes(POLICY_FILE) == b"policy\n"
    assert host.path(POLICY_FILE).stat().st_mode & 0o777 == 0o640
    assert host.path("/var/log/kubernetes/audit").stat().st_mode & 0o777 == 0o700
    state = json.loads(host.path(STATE_FILE).read_bytes())
    assert state["written"] == [POLICY_FILE]
    assert state["sha256"] == {POLICY_FILE: hashlib.sha256(b"policy\n").hexdigest()}
    found = list_backups(host).newest
    assert found is not None and found.path == backup
    assert {e.path: e.existed for e in found.files} == {MANIFEST_PATH: True, POLICY_FILE: False}


class Recording(FS):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.steps: list[tuple[str, str]] = []

    def step(self, op: str, path: Path) -> None:
        self.steps.append((op, self.host_path(path)))


def test_dependency_order_whatever_the_command(host: Host) -> None:
    """Directories, new files, the manifest, then deletions; no branch on the command name."""
    host.path("/old").mkdir()
    host.path("/old/policy.yaml").write_bytes(b"old")
    for command in ("enable", "disable", "something-new"):
        plan = _plan(host, command)
        before = host.read_bytes(MANIFEST_PATH)
        plan.files[0] = FileChange(
            MANIFEST_PATH, before, (before or b"") + command.encode() + b"\n", MANIFEST
        )
        if host.read_bytes("/old/policy.yaml") is not None:
            plan.files.append(FileChange("/old/policy.yaml", b"old", None, POLICY, owned=True))
        fs = Recording(host.root)
        apply_plan(host, plan, fs)
        renames = [path for op, path in fs.steps if op == "rename" and "kauditcfg/" not in path]
        assert renames[-1] == MANIFEST_PATH, renames
        removes = [
            i for i, (op, path) in enumerate(fs.steps) if op == "remove" and path == "/old/policy.yaml"
        ]
        manifest_at = next(
            i for i, (op, path) in enumerate(fs.steps) if op == "rename" and path == MANIFEST_PATH
        )
        assert all(i > manifest_at for i in removes)
        mkdirs = [
            i
            for i, (op, path) in enumerate(fs.steps)
            if op == "create directory" and path.startswith("/var/log")
        ]
        assert all(i < manifest_at for i in mkdirs)


def test_no_backup_when_the_plan_says_so(host: Host) -> None:
    plan = _plan(host)
    plan.backup = False
    assert apply_plan(host, plan) is None and list_backups(host).newest is None


def test_nothing_to_do_touches_nothing(host: Host) -> None:
    current = host.read_bytes(MANIFEST_PATH)
    plan = Plan(command="x", files=[FileChange(MANIFEST_PATH, current, current, MANIFEST, mode=0o600)])
    assert apply_plan(host, plan) is None
    assert not host.path(STATE_FILE).exists()
