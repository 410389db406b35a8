"""apply_plan on its own: backup first, directories, files (manifest last), state; no command names."""

from __future__ import annotations

import json

from kauditcfg.config.defaults import STATE_FILE
from kauditcfg.hostfs import Host
from kauditcfg.ops import apply as apply_mod
from kauditcfg.ops.apply import apply_plan
from kauditcfg.ops.backup import latest_backup
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
    assert json.loads(host.path(STATE_FILE).read_bytes()) == {"written": [POLICY_FILE]}
    found = latest_backup(host)
    assert found is not None and found[0] == backup
    assert {e.path: e.existed for e in found[1]} == {MANIFEST_PATH: True, POLICY_FILE: False}


def test_the_manifest_is_written_last_whatever_the_order_or_command(host: Host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    order: list[str] = []
    real = apply_mod.write_change
    monkeypatch.setattr(apply_mod, "write_change", lambda h, c: (order.append(c.role), real(h, c)))
    for command in ("enable", "disable", "something-new"):
        order.clear()
        plan = _plan(host, command)
        plan.files[0] = FileChange(
            MANIFEST_PATH,
            host.read_bytes(MANIFEST_PATH),
            b"kind: Pod\n# v" + command.encode() + b"\n",
            MANIFEST,
        )
        apply_plan(host, plan)
        assert order[-1] == MANIFEST


def test_no_backup_when_the_plan_says_so(host: Host) -> None:
    plan = _plan(host)
    plan.backup = False
    assert apply_plan(host, plan) is None and latest_backup(host) is None


def test_nothing_to_do_touches_nothing(host: Host) -> None:
    current = host.read_bytes(MANIFEST_PATH)
    plan = Plan(command="x", files=[FileChange(MANIFEST_PATH, current, current, MANIFEST, mode=0o600)])
    assert apply_plan(host, plan) is None
    assert not host.path(STATE_FILE).exists()
