"""The rendered kubeconfig, as kube-apiserver's client reads it (here: the official Python client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException
from ruamel.yaml import YAML

from kauditcfg.config.audit import AuditConfig, LogBackend, MountSpec
from kauditcfg.errors import UsageError
from kauditcfg.webhook.backend import WebhookOptions, build_webhook, render_kubeconfig
from kauditcfg.webhook.tuning import Tuning

from .helpers import Pki, Receiver, event_list, write

PKI_DIR = "/etc/kubernetes/pki/audit-webhook"
LOG = "/var/log/kubernetes/audit/audit.log"


def load(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data)


def test_one_cluster_user_context_and_current_context() -> None:
    text = render_kubeconfig(
        "https://collector.example:8443/k8s-audit",
        ca="/etc/kubernetes/pki/collector-ca.crt",
        client_cert="/etc/kubernetes/pki/audit-client.crt",
        client_key="/etc/kubernetes/pki/audit-client.key",
    )
    config = load(text)
    assert config["apiVersion"] == "v1" and config["kind"] == "Config"
    assert config["clusters"] == [
        {
            "name": "audit-webhook",
            "cluster": {
                "server": "https://collector.example:8443/k8s-audit",
                "certificate-authority": "/etc/kubernetes/pki/collector-ca.crt",
            },
        }
    ]
    assert config["users"] == [
        {
            "name": "audit-webhook",
            "user": {
                "client-certificate": "/etc/kubernetes/pki/audit-client.crt",
                "client-key": "/etc/kubernetes/pki/audit-client.key",
            },
        }
    ]
    assert config["contexts"] == [
        {"name": "audit-webhook", "context": {"cluster": "audit-webhook", "user": "audit-webhook"}}
    ]
    assert config["current-context"] == "audit-webhook"


def test_hostile_values_cannot_change_the_structure() -> None:
    url = "https://c.example/a?b=\"x\"&c='y'#frag"
    path = '/etc/odd dir/"quoted"\\ca: {x}\n- injected.crt'
    config = load(render_kubeconfig(url, ca=path, token_file="/etc/t/#not-a-comment"))
    assert config["clusters"][0]["cluster"] == {"server": url, "certificate-authority": path}
    assert config["users"][0]["user"] == {"tokenFile": "/etc/t/#not-a-comment"}
    assert set(config) == {"apiVersion", "kind", "clusters", "users", "contexts", "current-context"}


def test_token_is_referenced_never_copied(tmp_path: Path) -> None:
    backend = build_webhook(WebhookOptions(url="https://c.example", token_file="/etc/audit/token"))
    assert load(backend.kubeconfig)["users"][0]["user"] == {"tokenFile": "/etc/audit/token"}
    assert b"token:" not in backend.kubeconfig


def test_no_credentials_gives_an_empty_user() -> None:
    config = load(build_webhook(WebhookOptions(url="https://c.example")).kubeconfig)
    assert config["users"] == [{"name": "audit-webhook", "user": {}}]
    assert "certificate-authority" not in config["clusters"][0]["cluster"]  # system roots


def test_flags_files_and_mounts() -> None:
    backend = build_webhook(
        WebhookOptions(
            url="https://c.example",
            ca="/etc/kubernetes/pki/ca.crt",
            client_cert="/etc/collector/tls/client.crt",
            client_key="/etc/collector/tls/client.key",
            token_file="/etc/kubernetes/audit/tokens/collector",
            config_file="/etc/kubernetes/audit/hook.yaml",
            tuning=Tuning(batch_max_size=100),
        )
    )
    flags = backend.flags()
    assert next(iter(flags)) == "audit-webhook-config-file"
    assert flags["audit-webhook-config-file"] == "/etc/kubernetes/audit/hook.yaml"
    assert flags["audit-webhook-batch-max-size"] == "100"
    assert flags["audit-webhook-mode"] == "batch"
    assert backend.files == (
        "/etc/kubernetes/pki/ca.crt",
        "/etc/collector/tls/client.crt",
        "/etc/collector/tls/client.key",
        "/etc/kubernetes/audit/tokens/collector",
    )
    config = AuditConfig("/etc/kubernetes/audit/policy.yaml", b"p", LogBackend(LOG), backend)
    assert config.mounts == (
        MountSpec("audit-policy", "/etc/kubernetes/audit", read_only=True),
        MountSpec("audit-log", "/var/log/kubernetes/audit", read_only=False),
        # each directory once; the token's lies inside the policy mount already
        MountSpec("audit-webhook", "/etc/kubernetes/pki", read_only=True),
        MountSpec("audit-webhook-1", "/etc/collector/tls", read_only=True),
    )
    assert config.flags["audit-webhook-batch-max-size"] == "100"
    other = AuditConfig(
        config.policy_path, b"p", config.log, build_webhook(WebhookOptions(url="https://d.example"))
    )
    assert other.config_hash != config.config_hash


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"client_cert": "/etc/c.crt"}, "--webhook-client-cert needs --webhook-client-key"),
        ({"client_key": "/etc/c.key"}, "--webhook-client-key needs --webhook-client-cert"),
        ({"ca": "ca.crt"}, "--webhook-ca 'ca.crt': must be an absolute path"),
        ({"token_file": "/etc/audit/"}, "must name a file"),
        ({"config_file": "relative.yaml"}, "--webhook-config-file 'relative.yaml': must be an absolute"),
        ({"ca": "/etc/kubernetes/audit/webhook-kubeconfig.yaml"}, "where the kubeconfig itself is written"),
    ],
)
def test_options_that_do_not_fit(opts: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        build_webhook(WebhookOptions(url="https://c.example", **opts))
    assert message in str(err.value)
    assert err.value.exit_code == 2


def _node(root: Path, pki: Pki, url: str, ca: bytes, with_client: bool = True) -> str:
    write(root / PKI_DIR.lstrip("/") / "ca.crt", ca, 0o644)
    write(root / PKI_DIR.lstrip("/") / "client.crt", pki.client_cert_pem, 0o644)
    write(root / PKI_DIR.lstrip("/") / "client.key", pki.client_key_pem)
    backend = build_webhook(
        WebhookOptions(
            url=url,
            ca=f"{PKI_DIR}/ca.crt",
            client_cert=f"{PKI_DIR}/client.crt" if with_client else None,
            client_key=f"{PKI_DIR}/client.key" if with_client else None,
        )
    )
    write(root / backend.config_path.lstrip("/"), backend.kubeconfig)
    return backend.config_path


def test_the_kubernetes_client_delivers_an_event_list(
    tmp_path: Path, pki: Pki, receiver: Receiver, post: Any
) -> None:
    kubeconfig = _node(tmp_path, pki, receiver.url, pki.ca_pem)
    body = event_list(3)
    assert post(tmp_path, kubeconfig, body) == 200
    assert receiver.bodies == [body]
    assert receiver.peers == ["kube-apiserver-audit"]


def test_wrong_ca_is_refused_by_the_client(tmp_path: Path, pki: Pki, receiver: Receiver, post: Any) -> None:
    kubeconfig = _node(tmp_path, pki, receiver.url, pki.stranger_pem)
    with pytest.raises(ApiException) as err:
        post(tmp_path, kubeconfig, event_list())
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert receiver.bodies == []


def test_missing_client_certificate_is_refused_by_the_receiver(
    tmp_path: Path, pki: Pki, receiver: Receiver, post: Any
) -> None:
    kubeconfig = _node(tmp_path, pki, receiver.url, pki.ca_pem, with_client=False)
    # TLS 1.3 reports the missing certificate as an alert or, depending on timing, a reset connection
    with pytest.raises((ApiException, urllib3.exceptions.HTTPError, OSError)) as err:
        post(tmp_path, kubeconfig, event_list())
    assert not isinstance(err.value, ApiException) or err.value.status == 0  # a TLS failure, no HTTP answer
    assert receiver.bodies == []
