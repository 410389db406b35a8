"""The disable and rollback planners on their own: what they plan, before anything is written."""

from __future__ import annotations

import pytest

from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.disable import DisablePlanner
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.plan import MANIFEST, POLICY
from kauditcfg.ops.rollback import RollbackPlanner
from tests.helpers import MANIFEST as MANIFEST_PATH

POLICY_FILE = "/etc/kubernetes/audit/policy.yaml"


def test_disable_on_a_clean_manifest_plans_no_change(host: Host) -> None:
    plan = DisablePlanner().plan(host)
    assert [f.role for f in plan.files] == [MANIFEST] and not plan.changed


def test_disable_after_enable_gives_back_the_original_bytes(host: Host) -> None:
    original = host.read_bytes(MANIFEST_PATH)
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    plan = DisablePlanner().plan(host)
    manifest = plan.manifest
    assert manifest is not None and manifest.after == original and plan.restart_required
    assert [f.path for f in plan.files] == [MANIFEST_PATH]  # the policy stays without --purge


def test_disable_purge_removes_only_owned_files(host: Host) -> None:
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    plan = DisablePlanner(purge=True).plan(host)
    removed = [f for f in plan.files if f.after is None]
    assert [(f.path, f.role, f.owned) for f in removed] == [(POLICY_FILE, POLICY, True)]


def test_rollback_without_a_backup_is_refused(host: Host) -> None:
    with pytest.raises(InvalidInput, match="no backup to roll back to"):
        RollbackPlanner().plan(host)


def test_rollback_plans_the_backup_copies_with_their_roles(host: Host) -> None:
    original = host.read_bytes(MANIFEST_PATH)
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False)
    plan = RollbackPlanner().plan(host)
    by_path = {f.path: f for f in plan.files}
    assert by_path[MANIFEST_PATH].after == original and by_path[MANIFEST_PATH].role == MANIFEST
    assert by_path[POLICY_FILE].after is None  # it did not exist before enable
    assert plan.backup is False and plan.restored_from is not None
