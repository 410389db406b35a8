"""The transaction from Python, without typer: what the kubeadm helper and the Ansible module call."""

from __future__ import annotations

import pytest

from kauditcfg.config.defaults import LOG_PATH, POLICY_PATH
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import NotReady
from kauditcfg.hostfs import Host
from kauditcfg.manifest.files import read_manifest
from kauditcfg.ops import transaction
from kauditcfg.ops.backup_catalog import list_backups
from kauditcfg.ops.disable import DisablePlanner
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.plan import MANIFEST as MANIFEST_ROLE
from kauditcfg.ops.plan import POLICY
from kauditcfg.ops.rollback import RollbackPlanner
from tests.helpers import MANIFEST, tree_snapshot


def test_enable_from_python_writes_policy_and_manifest(host: Host) -> None:
    original = host.read_bytes(MANIFEST)
    result = transaction.run(host, EnablePlanner(EnableOptions(profile="cis")), dry_run=False)
    assert result.applied and result.plan.changed and result.backup is not None
    assert {f.role for f in result.plan.files} == {POLICY, MANIFEST_ROLE}
    policy = host.read_bytes(POLICY_PATH)
    assert policy is not None and b"audit.k8s.io/v1" in policy
    pod = read_manifest(host, MANIFEST)[0]
    assert pod.flag("audit-policy-file") == POLICY_PATH and pod.flag("audit-log-path") == LOG_PATH
    assert host.read_bytes(MANIFEST) != original
    out = result.to_json()
    assert out["changed"] is True and out["errors"] == [] and out["backup"] == result.backup


def test_dry_run_writes_nothing(host: Host) -> None:
    before = tree_snapshot(host.root)
    result = transaction.run(host, EnablePlanner(EnableOptions()), dry_run=True)
    assert result.plan.changed and not result.applied and result.backup is None
    assert tree_snapshot(host.root) == before


def test_second_enable_changes_nothing(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    again = transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    assert not again.plan.changed and again.backup is None


def test_after_write_hook_can_restore_the_backup(host: Host) -> None:
    """The kubeadm helper's wait-for-ready: on failure it restores from inside the hook, then raises."""
    original = host.read_bytes(MANIFEST)
    seen: list[str | None] = []

    def not_ready(applied: transaction.Applied) -> None:
        seen.append(applied.backup)
        assert host.read_bytes(POLICY_PATH) is not None  # the hook runs after the writes
        applied.restore()
        assert host.read_bytes(MANIFEST) == original and host.read_bytes(POLICY_PATH) is None
        raise NotReady("kube-apiserver did not become ready; the previous files were restored")

    with pytest.raises(NotReady):
        transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, after_write=not_ready)
    assert seen and seen[0] is not None
    assert host.read_bytes(MANIFEST) == original
    assert host.read_bytes(POLICY_PATH) is None
    assert list_backups(host).newest is None  # a failed run removes its own backup


def test_hook_is_not_called_when_nothing_changed(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    calls: list[object] = []
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, after_write=calls.append)
    assert calls == []


def test_enable_disable_rollback_round_trip(host: Host) -> None:
    original = host.read_bytes(MANIFEST)
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    enabled = host.read_bytes(MANIFEST)
    transaction.run(host, DisablePlanner(purge=True), dry_run=False)
    assert host.read_bytes(MANIFEST) == original and host.read_bytes(POLICY_PATH) is None
    back = transaction.run(host, RollbackPlanner(), dry_run=False)
    assert back.plan.restored_from is not None and back.backup is None
    assert host.read_bytes(MANIFEST) == enabled and host.read_bytes(POLICY_PATH) is not None


def test_a_hook_that_restores_without_raising_still_reports_not_ready(host: Host) -> None:
    original = host.read_bytes(MANIFEST)
    with pytest.raises(NotReady, match="undone by the after-write hook"):
        transaction.run(
            host, EnablePlanner(EnableOptions()), dry_run=False, after_write=lambda a: a.restore()
        )
    assert host.read_bytes(MANIFEST) == original and list_backups(host).newest is None
