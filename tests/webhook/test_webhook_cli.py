"""enable/diff/disable/check with the webhook backend, through the CLI on a sandbox node root."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from ruamel.yaml import YAML
from typer.testing import CliRunner

from kauditcfg.cli import app

from .helpers import Pki, Receiver, event_list, make_cert, tree, write

MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"
KUBECONFIG = "/etc/kubernetes/audit/webhook-kubeconfig.yaml"
PKI = "/etc/kubernetes/pki/audit-webhook"  # under kubeadm's read-only k8s-certs mount
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def pod(root: Path) -> Any:
    return YAML(typ="safe", pure=True).load((root / MANIFEST).read_text())


def container(root: Path) -> dict[str, Any]:
    return pod(root)["spec"]["containers"][0]  # type: ignore[no-any-return]


def flags(root: Path) -> list[str]:
    return [a for a in container(root)["command"] if a.startswith("--audit-")]


def mounts(root: Path) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container(root).get("volumeMounts", [])}


def host(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


@pytest.fixture
def node(sandbox: Callable[..., Path], pki: Pki) -> Path:
    """A kubeadm node with the collector CA and kube-apiserver's client pair under /etc/kubernetes/pki."""
    root = sandbox()
    write(host(root, f"{PKI}/ca.crt"), pki.ca_pem, 0o644)
    write(host(root, f"{PKI}/client.crt"), pki.client_cert_pem, 0o644)
    write(host(root, f"{PKI}/client.key"), pki.client_key_pem, 0o600)
    return root


def tls_args(url: str, pki_dir: str = PKI) -> list[str]:
    return [
        "--webhook-url", url,
        "--webhook-ca", f"{pki_dir}/ca.crt",
        "--webhook-client-cert", f"{pki_dir}/client.crt",
        "--webhook-client-key", f"{pki_dir}/client.key",
    ]  # fmt: skip


def enable(root: Path, *args: str) -> tuple[int, str, str]:
    return cli("enable", "--root", str(root), *args)


# -- end to end: enable renders it, the official client delivers through it ---------------------------


def test_enable_then_the_kubernetes_client_delivers_audit_events(
    node: Path, receiver: Receiver, post: Any
) -> None:
    code, _, err = enable(node, *tls_args(receiver.url))
    assert code == 0, err
    kubeconfig = host(node, KUBECONFIG)
    st = kubeconfig.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)
    body = event_list(5)
    assert post(node, KUBECONFIG, body) == 200
    assert receiver.bodies == [body]
    assert receiver.peers == ["kube-apiserver-audit"]


def test_wrong_ca_fails_the_delivery(node: Path, pki: Pki, receiver: Receiver, post: Any) -> None:
    write(host(node, "/etc/kubernetes/pki/other/ca.crt"), pki.stranger_pem, 0o644)
    args = tls_args(receiver.url)
    args[3] = "/etc/kubernetes/pki/other/ca.crt"
    assert enable(node, *args)[0] == 0  # a valid CA, just not the collector's
    with pytest.raises(ApiException) as err:
        post(node, KUBECONFIG, event_list())
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert receiver.bodies == []


def test_missing_client_certificate_fails_the_delivery(node: Path, receiver: Receiver, post: Any) -> None:
    assert enable(node, "--webhook-url", receiver.url, "--webhook-ca", f"{PKI}/ca.crt")[0] == 0
    with pytest.raises(Exception) as err:  # TLS alert or reset connection, never an HTTP answer
        post(node, KUBECONFIG, event_list())
    assert not isinstance(err.value, ApiException) or err.value.status == 0
    assert receiver.bodies == []


# -- what enable writes ---------------------------------------------------------------------------------


def test_flags_each_once_mounts_reused_and_idempotent(node: Path) -> None:
    code, _, err = enable(node, *tls_args("https://collector.example:8443/audit"))
    assert code == 0, err
    written = flags(node)
    expected = [
        f"--audit-webhook-config-file={KUBECONFIG}",
        "--audit-webhook-mode=batch",
        "--audit-webhook-batch-buffer-size=10000",
        "--audit-webhook-batch-max-size=400",
        "--audit-webhook-batch-max-wait=30s",
        "--audit-webhook-batch-throttle-enable=true",
        "--audit-webhook-batch-throttle-qps=10",
        "--audit-webhook-batch-throttle-burst=15",
        "--audit-webhook-initial-backoff=10s",
        "--audit-webhook-truncate-enabled=false",
    ]
    for flag in expected:
        assert written.count(flag) == 1, flag
    assert len({f.split("=")[0] for f in written}) == len(written)  # no flag twice
    # kubeadm's read-only k8s-certs mount already covers /etc/kubernetes/pki: reused, not duplicated
    text = (node / MANIFEST).read_text()
    assert text.count("mountPath: /etc/kubernetes/pki\n") == 1
    assert mounts(node)["/etc/kubernetes/audit"]["readOnly"] is True
    before = tree(node)
    code, out, _ = enable(node, *tls_args("https://collector.example:8443/audit"), "--json")
    assert code == 0
    assert json.loads(out)["changed"] is False
    assert tree(node) == before


def test_directory_outside_any_mount_gets_a_read_only_mount_and_disable_restores_the_bytes(
    sandbox: Callable[..., Path], pki: Pki
) -> None:
    root = sandbox()
    original = (root / MANIFEST).read_bytes()
    write(host(root, "/etc/collector/tls/ca.crt"), pki.ca_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.crt"), pki.client_cert_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.key"), pki.client_key_pem)
    code, _, err = enable(root, *tls_args("https://collector.example/audit", "/etc/collector/tls"))
    assert code == 0, err
    mount = mounts(root)["/etc/collector/tls"]
    assert mount["readOnly"] is True
    volume = next(v for v in pod(root)["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["hostPath"]["path"] == "/etc/collector/tls"
    code, _, err = cli("disable", "--root", str(root))
    assert code == 0, err
    assert (root / MANIFEST).read_bytes() == original
    assert host(root, KUBECONFIG).exists()  # kept without --purge
    code, _, err = cli("disable", "--root", str(root), "--purge")
    assert code == 0, err
    assert not host(root, KUBECONFIG).exists()
    assert host(root, "/etc/collector/tls/ca.crt").read_bytes() == pki.ca_pem  # never ours to remove


def test_token_is_referenced_never_copied(node: Path, receiver: Receiver, post: Any) -> None:
    token = "kauditcfg-test-token-9f8e7d6c5b4a"
    write(host(node, "/etc/kubernetes/audit/collector.token"), token.encode(), 0o600)
    code, out, err = enable(
        node, "--webhook-url", receiver.url, "--webhook-ca", f"{PKI}/ca.crt",
        "--webhook-token-file", "/etc/kubernetes/audit/collector.token",
        "--webhook-client-cert", f"{PKI}/client.crt", "--webhook-client-key", f"{PKI}/client.key", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert token not in out + err
    assert 'tokenFile: "/etc/kubernetes/audit/collector.token"' in host(node, KUBECONFIG).read_text()
    for path in node.rglob("*"):
        if path.is_file() and path.name != "collector.token":
            assert token.encode() not in path.read_bytes(), path
    assert post(node, KUBECONFIG, event_list(1)) == 200
    assert receiver.headers[0]["authorization"] == f"Bearer {token}"


def test_diff_shows_the_kubeconfig_and_writes_nothing(node: Path) -> None:
    before = tree(node)
    code, out, _ = cli("diff", "--root", str(node), *tls_args("https://collector.example/"))
    assert code == 1
    assert f"+++ {KUBECONFIG}" in out
    assert '+    server: "https://collector.example/"' in out
    assert f"+    - --audit-webhook-config-file={KUBECONFIG}" in out
    assert tree(node) == before


def test_changed_url_changes_the_config_hash(node: Path) -> None:
    assert enable(node, *tls_args("https://a.example/"))[0] == 0
    first = pod(node)["metadata"]["annotations"]["kauditcfg.io/config-hash"]
    code, out, _ = enable(node, *tls_args("https://b.example/"), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["changed"] is True and result["restart_required"] is True
    assert pod(node)["metadata"]["annotations"]["kauditcfg.io/config-hash"] != first


def test_tuning_options_and_a_custom_kubeconfig_path(node: Path) -> None:
    code, _, err = enable(
        node, *tls_args("https://c.example/"), "--webhook-config-file", "/etc/kubernetes/audit/hook.yaml",
        "--webhook-batch-max-size", "100", "--webhook-batch-max-wait", "5s", "--webhook-truncate-enabled",
        "--no-webhook-batch-throttle-enable", "--log-mode", "batch", "--log-batch-buffer-size", "20000",
    )  # fmt: skip
    assert code == 0, err
    written = flags(node)
    for flag in (
        "--audit-webhook-config-file=/etc/kubernetes/audit/hook.yaml",
        "--audit-webhook-batch-max-size=100",
        "--audit-webhook-batch-max-wait=5s",
        "--audit-webhook-truncate-enabled=true",
        "--audit-webhook-truncate-max-event-size=102400",
        "--audit-webhook-batch-throttle-enable=false",
        "--audit-log-mode=batch",
        "--audit-log-batch-buffer-size=20000",
    ):
        assert flag in written
    assert not [f for f in written if "throttle-qps" in f]
    assert host(node, "/etc/kubernetes/audit/hook.yaml").is_file()


@pytest.mark.parametrize("mode", ["blocking", "blocking-strict"])
def test_blocking_mode_warns_in_text_and_json(node: Path, mode: str) -> None:
    code, _, err = enable(node, *tls_args("https://c.example/"), "--webhook-mode", mode, "--dry-run")
    assert code == 0
    assert f"warning: --audit-webhook-mode={mode}" in err
    code, out, _ = enable(node, *tls_args("https://c.example/"), "--webhook-mode", mode, "--json")
    assert code == 0
    assert any(f"--audit-webhook-mode={mode}" in w for w in json.loads(out)["warnings"])
    assert f"--audit-webhook-mode={mode}" in flags(node)
    assert not [f for f in flags(node) if "-batch-" in f]


# -- refusals: exit code, one line naming the problem, nothing written ----------------------------------


def refused(root: Path, args: list[str], code: int, *says: str) -> str:
    before = tree(root)
    got, out, err = enable(root, *args, "--json")
    assert got == code, err
    errors = json.loads(out)["errors"]
    for text in says:
        assert any(text in e for e in errors), (text, errors)
    assert "Traceback" not in err
    assert tree(root) == before
    return "\n".join(errors)


@pytest.mark.parametrize(
    ("url", "says"),
    [("http://collector.example/audit", "plain http"), ("https//collector", "malformed URL")],
)
def test_http_or_malformed_url_is_exit_3(node: Path, url: str, says: str) -> None:
    refused(node, ["--webhook-url", url], 3, "--webhook-url", says)


def test_missing_ca_file_is_exit_4_naming_it(node: Path) -> None:
    args = tls_args("https://c.example/")
    args[3] = f"{PKI}/missing-ca.crt"
    refused(node, args, 4, f"{PKI}/missing-ca.crt", "does not exist")


def test_missing_token_file_is_exit_4(node: Path) -> None:
    args = ["--webhook-url", "https://c.example/", "--webhook-token-file", "/etc/kubernetes/audit/none"]
    refused(node, args, 4, "/etc/kubernetes/audit/none")


def test_ca_without_a_certificate_is_exit_4(node: Path, pki: Pki) -> None:
    write(host(node, f"{PKI}/ca.crt"), b"not a certificate\n", 0o644)
    refused(node, tls_args("https://c.example/"), 4, f"{PKI}/ca.crt: holds no PEM certificate")


def test_mismatched_client_pair_is_exit_4(node: Path) -> None:
    write(host(node, f"{PKI}/client.key"), make_cert("other")[1])
    refused(node, tls_args("https://c.example/"), 4, f"{PKI}/client.crt", "do not belong together")


def test_expired_client_certificate_is_exit_4(node: Path) -> None:
    crt, key, _, _ = make_cert("kube-apiserver", days_before=400, days_after=-2)
    write(host(node, f"{PKI}/client.crt"), crt, 0o644)
    write(host(node, f"{PKI}/client.key"), key)
    refused(node, tls_args("https://c.example/"), 4, f"{PKI}/client.crt: client certificate", "expired on")


def test_expiring_certificate_is_a_warning_with_its_date(node: Path) -> None:
    crt, key, cert, _ = make_cert("kube-apiserver", days_after=9)
    write(host(node, f"{PKI}/client.crt"), crt, 0o644)
    write(host(node, f"{PKI}/client.key"), key)
    day = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    code, _, err = enable(node, *tls_args("https://c.example/"), "--dry-run")
    assert code == 0
    assert f"expires on {day}" in err
    code, out, _ = enable(node, *tls_args("https://c.example/"), "--json")
    assert code == 0
    assert any(f"expires on {day}" in w for w in json.loads(out)["warnings"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--webhook-client-cert", f"{PKI}/client.crt"], "--webhook-client-cert needs --webhook-client-key"),
        (["--webhook-batch-max-wait", "30"], "not a duration"),
        (["--webhook-batch-buffer-size", "0"], "must be a positive integer"),
        (["--webhook-mode", "fast"], "--webhook-mode"),
        (["--webhook-mode", "blocking", "--webhook-batch-max-size", "5"], "batching applies only"),
    ],
)
def test_bad_option_values_are_usage_errors(node: Path, args: list[str], says: str) -> None:
    refused(node, ["--webhook-url", "https://c.example/", *args], 2, says)


def test_webhook_options_need_the_url(node: Path) -> None:
    refused(node, ["--webhook-ca", f"{PKI}/ca.crt"], 2, "--webhook-ca needs --webhook-url")


def test_rootless_kube_apiserver_must_read_the_client_key(sandbox: Callable[..., Path], pki: Pki) -> None:
    root = sandbox("rootless-v1.30.4.yaml")
    write(host(root, f"{PKI}/ca.crt"), pki.ca_pem, 0o644)
    write(host(root, f"{PKI}/client.crt"), pki.client_cert_pem, 0o644)
    write(host(root, f"{PKI}/client.key"), pki.client_key_pem, 0o600)
    os.chown(host(root, f"{PKI}/client.key"), 0, 0)
    refused(root, tls_args("https://c.example/"), 4, f"{PKI}/client.key", "cannot read")


def test_rootless_kube_apiserver_gets_a_kubeconfig_it_can_read(
    sandbox: Callable[..., Path], pki: Pki
) -> None:
    root = sandbox("rootless-v1.30.4.yaml")  # runAsUser/runAsGroup 1203 (kubeadm-kas)
    for name, data in (
        ("ca.crt", pki.ca_pem),
        ("client.crt", pki.client_cert_pem),
        ("client.key", pki.client_key_pem),
    ):
        write(host(root, f"{PKI}/{name}"), data, 0o640)
        os.chown(host(root, f"{PKI}/{name}"), 0, 1203)
    code, _, err = enable(root, *tls_args("https://c.example/"), "--fix-ownership")
    assert code == 0, err
    st = host(root, KUBECONFIG).stat()
    # root-owned so the service user cannot rewrite where its audit events go; its group may read
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 1203, 0o640)


# -- check reports the same on an existing setup ----------------------------------------------------------


def test_check_reports_tls_problems_of_an_existing_setup(node: Path) -> None:
    crt, key, cert, _ = make_cert("kube-apiserver", days_after=5)
    write(host(node, f"{PKI}/client.crt"), crt, 0o644)
    write(host(node, f"{PKI}/client.key"), key)
    assert enable(node, *tls_args("https://c.example/"))[0] == 0
    code, out, _ = cli("check", "--root", str(node), "--json", "--fail-on", "medium")
    findings = json.loads(out)["findings"]
    soon = [f for f in findings if f["path"] == f"{PKI}/client.crt"]
    assert soon and soon[0]["severity"] == "medium"
    assert cert.not_valid_after_utc.strftime("%Y-%m-%d") in soon[0]["message"]
    assert code == 1
    write(host(node, f"{PKI}/ca.crt"), b"garbage\n", 0o644)
    code, out, _ = cli("check", "--root", str(node), "--json")
    broken = [f for f in json.loads(out)["findings"] if f["path"] == f"{PKI}/ca.crt"]
    assert broken and broken[0]["severity"] == "high"
    assert "holds no PEM certificate" in broken[0]["message"]
    assert code == 1


# -- an existing, hand-made webhook setup is adopted, not moved ------------------------------------------

HAND_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: siem
  cluster:
    server: https://siem.example:9443/k8s
    certificate-authority: tls/ca.crt
users:
- name: apiserver
  user:
    client-certificate: tls/client.crt
    client-key: tls/client.key
contexts:
- name: audit
  context: {cluster: siem, user: apiserver}
current-context: audit
"""


def hand_made(root: Path, pki: Pki) -> None:
    """--audit-webhook-config-file=/etc/collector/hook.yaml, mounted by hand as volume "collector"."""
    manifest = root / MANIFEST
    text = manifest.read_text()
    text = text.replace(
        "    - --allow-privileged=true\n",
        "    - --allow-privileged=true\n    - --audit-webhook-config-file=/etc/collector/hook.yaml\n",
    )
    text = text.replace(
        "    volumeMounts:\n", "    volumeMounts:\n    - mountPath: /etc/collector\n      name: collector\n"
        "      readOnly: true\n",
    )  # fmt: skip
    text = text.replace(
        "  volumes:\n", "  volumes:\n  - hostPath:\n      path: /etc/collector\n      type: Directory\n"
        "    name: collector\n",
    )  # fmt: skip
    manifest.write_text(text)
    write(host(root, "/etc/collector/hook.yaml"), HAND_KUBECONFIG.encode())
    write(host(root, "/etc/collector/tls/ca.crt"), pki.ca_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.crt"), pki.client_cert_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.key"), pki.client_key_pem)


def test_enable_without_webhook_options_keeps_a_hand_made_webhook(
    sandbox: Callable[..., Path], pki: Pki
) -> None:
    root = sandbox()
    hand_made(root, pki)
    code, _, err = enable(root)
    assert code == 0, err
    assert "--audit-webhook-config-file=/etc/collector/hook.yaml" in flags(root)
    assert mounts(root)["/etc/collector"]["name"] == "collector"
    assert not host(root, KUBECONFIG).exists()
    code, out, _ = cli("check", "--root", str(root), "--json")
    assert [f for f in json.loads(out)["findings"] if "webhook" in f["id"]] == []


def test_check_judges_a_hand_made_kubeconfigs_relative_paths(sandbox: Callable[..., Path], pki: Pki) -> None:
    root = sandbox()
    hand_made(root, pki)
    assert enable(root)[0] == 0
    write(host(root, "/etc/collector/tls/client.key"), make_cert("someone-else")[1])
    code, out, _ = cli("check", "--root", str(root), "--json")
    assert code == 1
    [finding] = [f for f in json.loads(out)["findings"] if f["id"] == "webhook-client-mismatch"]
    assert finding["path"] == "/etc/collector/tls/client.crt"
    assert finding["severity"] == "high"
    assert "do not belong together" in finding["message"]


def test_rollback_after_enable_takes_the_kubeconfig_away(node: Path) -> None:
    original = (node / MANIFEST).read_bytes()
    assert enable(node, *tls_args("https://c.example/"))[0] == 0
    code, _, err = cli("rollback", "--root", str(node))
    assert code == 0, err
    assert (node / MANIFEST).read_bytes() == original
    assert not host(node, KUBECONFIG).exists()


def test_a_later_enable_without_webhook_options_keeps_ours(sandbox: Callable[..., Path], pki: Pki) -> None:
    root = sandbox()
    write(host(root, "/etc/collector/tls/ca.crt"), pki.ca_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.crt"), pki.client_cert_pem, 0o644)
    write(host(root, "/etc/collector/tls/client.key"), pki.client_key_pem)
    assert enable(root, *tls_args("https://collector.example/", "/etc/collector/tls"))[0] == 0
    code, _, err = enable(root, "--profile", "cis")  # e.g. another profile, webhook untouched
    assert code == 0, err
    assert f"--audit-webhook-config-file={KUBECONFIG}" in flags(root)
    assert mounts(root)["/etc/collector/tls"]["readOnly"] is True
    assert host(root, KUBECONFIG).is_file()
