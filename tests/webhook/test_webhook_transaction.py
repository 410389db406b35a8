"""The webhook through the transaction from Python (what the kubeadm helper and Ansible module call)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kauditcfg.config.defaults import WEBHOOK_CONFIG_PATH
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, PreflightRefused
from kauditcfg.hostfs import Host
from kauditcfg.manifest.files import read_manifest
from kauditcfg.ops import transaction
from kauditcfg.ops.disable import DisablePlanner
from kauditcfg.ops.enable import EnablePlanner
from kauditcfg.ops.plan import WEBHOOK_KUBECONFIG
from kauditcfg.ops.state import load_state
from kauditcfg.webhook.backend import WebhookOptions
from kauditcfg.webhook.tuning import Tuning

from .helpers import Pki, make_cert, tree, write

REPO = Path(__file__).resolve().parents[2]
MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
PKI = "/etc/kubernetes/pki/audit-webhook"


@pytest.fixture
def host(tmp_path: Path, pki: Pki) -> Host:
    root = tmp_path / "node"
    target = root / MANIFEST.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml", target)
    target.chmod(0o600)
    write(root / PKI.lstrip("/") / "ca.crt", pki.ca_pem, 0o644)
    write(root / PKI.lstrip("/") / "client.crt", pki.client_cert_pem, 0o644)
    write(root / PKI.lstrip("/") / "client.key", pki.client_key_pem)
    return Host(root)


def options(url: str = "https://collector.example/audit", **tuning: str) -> EnableOptions:
    hook = WebhookOptions(
        url=url, ca=f"{PKI}/ca.crt", client_cert=f"{PKI}/client.crt", client_key=f"{PKI}/client.key",
        tuning=Tuning(**tuning),  # type: ignore[arg-type]
    )  # fmt: skip
    return EnableOptions(profile="cks", webhook=hook)


def test_the_kubeconfig_is_an_owned_file_of_the_plan(host: Host) -> None:
    result = transaction.run(host, EnablePlanner(options()), dry_run=False)
    [change] = [f for f in result.plan.files if f.role == WEBHOOK_KUBECONFIG]
    assert change.path == WEBHOOK_CONFIG_PATH and change.owned and change.action == "created"
    assert (change.mode, change.uid, change.gid) == (0o600, 0, 0)
    assert WEBHOOK_CONFIG_PATH in load_state(host).written  # so `disable --purge` removes it
    pod = read_manifest(host, MANIFEST)[0]
    assert pod.flag("audit-webhook-config-file") == WEBHOOK_CONFIG_PATH
    assert pod.flag("audit-webhook-batch-max-wait") == "30s"
    transaction.run(host, DisablePlanner(MANIFEST, purge=True), dry_run=False)
    assert host.read_bytes(WEBHOOK_CONFIG_PATH) is None
    assert WEBHOOK_CONFIG_PATH not in load_state(host).written


def test_refusals_leave_the_node_untouched(host: Host) -> None:
    before = tree(host.root)
    with pytest.raises(InvalidInput):
        transaction.run(host, EnablePlanner(options("http://collector.example/")), dry_run=False)
    assert tree(host.root) == before
    write(host.path(f"{PKI}/client.key"), make_cert("other")[1])
    before = tree(host.root)
    with pytest.raises(PreflightRefused) as err:
        transaction.run(host, EnablePlanner(options()), dry_run=False)
    assert err.value.exit_code == 4
    assert any("do not belong together" in p for p in err.value.problems)
    assert tree(host.root) == before


def test_a_profiles_webhook_defaults_are_written_and_options_override_them(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from kauditcfg.profiles import PROFILES

    cks = PROFILES["cks"]
    tuned = dict(
        cks.webhook_flags, **{"audit-webhook-batch-max-size": "100", "audit-webhook-batch-max-wait": "5s"}
    )
    monkeypatch.setitem(PROFILES, "cks", dataclasses.replace(cks, webhook_flags=tuned))
    transaction.run(host, EnablePlanner(options(batch_max_wait="10s")), dry_run=False)
    pod = read_manifest(host, MANIFEST)[0]
    assert pod.flag("audit-webhook-batch-max-size") == "100"  # the profile's
    assert pod.flag("audit-webhook-batch-max-wait") == "10s"  # the option's
