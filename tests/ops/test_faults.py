"""Faults at every step of the transaction: the node holds the complete old or new configuration.

Each scenario is run once to record its steps, then once per step and per fault: ENOSPC and
EROFS (as the filesystem layer reports them), SIGTERM/SIGINT/SIGHUP (delivered to the process
at that step, so the real handlers run), and a rival edit of the manifest before its rename.
After each: the exit code and its one-line message, the node exactly as before (consistent), no
temp files, no backup of the failed run, and `rollback` still means "the last applied change".
"""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, KauditError, ManifestChanged
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.disable import DisablePlanner
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.plan import Plan
from kauditcfg.ops.rollback import RollbackPlanner
from kauditcfg.ops.transaction import Planner
from tests.helpers import FIXTURES, MANIFEST
from tests.ops.faults import FAULTS, Faulty, assert_consistent, leftovers, rival, snapshot

Setup = Callable[[Host], None]


def stamped(text: str) -> str:
    """Backup names carry the time of the run: compare them without it."""
    return re.sub(r"\d{8}T\d{6}\.\d{6}Z", "<stamp>", text)


def _enable(profile: str) -> Callable[[], Planner]:
    return lambda: EnablePlanner(EnableOptions(profile=profile))


def _fresh(host: Host) -> None:
    pass


def _enabled(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions(profile="cks")), dry_run=False, fs=Faulty(host.root))


SCENARIOS: dict[str, tuple[Setup, Callable[[], Planner]]] = {
    "first-enable": (_fresh, _enable("cks")),
    "re-enable-cis-over-cks": (_enabled, _enable("cis")),
    "disable-purge": (_enabled, lambda: DisablePlanner(purge=True)),
    "rollback": (_enabled, lambda: RollbackPlanner()),
}


@dataclass
class Replay:
    """The scenario's plan, computed once: every run starts from the same node, so it is the same."""

    inner: Planner
    manifest: str = MANIFEST
    cached: Plan | None = None

    def plan(self, host: Host) -> Plan:
        if self.cached is None:
            self.cached = dataclasses.replace(self.inner.preflight(host, self.inner.plan(host)), pod=None)
        return copy.deepcopy(self.cached)

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan


def make_node(tmp_path: Path, setup: Setup) -> Host:
    """A copy of the scenario's starting node (built once per scenario)."""
    template = tmp_path / "template"
    if not template.exists():
        target = template / MANIFEST.lstrip("/")
        target.parent.mkdir(parents=True)
        shutil.copyfile(FIXTURES / "kubeadm-v1.30.4.yaml", target)
        target.chmod(0o600)
        setup(Host(template))
    root = tmp_path / "node"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(template, root, symlinks=True)
    return Host(root)


def steps_of(tmp_path: Path, name: str) -> tuple[list[tuple[str, str]], Replay]:
    setup, planner = SCENARIOS[name]
    host = make_node(tmp_path, setup)
    fs = Faulty(host.root)
    replay = Replay(planner())
    transaction.run(host, replay, dry_run=False, fs=fs)
    return fs.trace, replay


def check_rollback_after(host: Host, name: str, before: dict[str, tuple[bytes | None, int]]) -> None:
    """`rollback` restores the last change that was applied (the setup's), never the failed run."""
    if name == "first-enable":
        with pytest.raises(InvalidInput, match="no backup to roll back to"):
            transaction.run(host, RollbackPlanner(), dry_run=False, fs=Faulty(host.root))
        return
    result = transaction.run(host, RollbackPlanner(), dry_run=False, fs=Faulty(host.root))
    assert result.plan.changed
    assert_consistent(host)
    assert host.read_bytes("/etc/kubernetes/audit/policy.yaml") is None  # back to before the setup's enable


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_fault_at_every_step_leaves_the_old_node(tmp_path: Path, name: str, fault: str) -> None:
    inject, code = FAULTS[fault]
    steps, replay = steps_of(tmp_path, name)
    assert len(steps) >= 10, steps
    setup, _planner = SCENARIOS[name]
    for at, (op, path) in enumerate(steps):
        host = make_node(tmp_path, setup)
        before = snapshot(host.root)
        with pytest.raises(KauditError) as caught:
            transaction.run(host, replay, dry_run=False, fs=Faulty(host.root, at, inject))
        where = f"{fault} at step {at} ({op} {path})"
        message = str(caught.value)
        assert caught.value.exit_code == code, (where, message)
        assert "\n" not in message and "nothing changed" in message, (where, message)
        if code == 6:
            assert stamped(path) in stamped(message) and op in message, (where, message)
        assert snapshot(host.root) == before, where
        assert leftovers(host.root) == [], where
        assert_consistent(host)
        if at % 7 == 0 or at == len(steps) - 1:  # rollback afterwards: a sample of the steps
            check_rollback_after(host, name, before)


@pytest.mark.parametrize("name", ["first-enable", "re-enable-cis-over-cks", "disable-purge"])
def test_a_rival_edit_before_the_rename_is_never_overwritten(tmp_path: Path, name: str) -> None:
    steps, replay = steps_of(tmp_path, name)
    manifest_rename = steps.index(("rename", MANIFEST))
    setup, _planner = SCENARIOS[name]
    for at in range(manifest_rename):
        host = make_node(tmp_path, setup)
        before = snapshot(host.root)
        with pytest.raises(ManifestChanged) as caught:
            transaction.run(host, replay, dry_run=False, fs=Faulty(host.root, at, rival(host)))
        assert caught.value.exit_code == 3
        assert str(caught.value) == (
            f"{MANIFEST}: the manifest changed while kauditcfg was running; run it again"
        )
        after = snapshot(host.root)
        key = MANIFEST.lstrip("/")
        edited = before[key][0]
        assert edited is not None and after[key] == (edited + b"# edited by someone else\n", before[key][1])
        assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
        assert leftovers(host.root) == []
