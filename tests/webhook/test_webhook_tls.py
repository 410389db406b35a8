"""The webhook's CA, client certificate/key and token, judged as kube-apiserver reads them."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from kauditcfg.webhook.material import webhook_tls_findings
from kauditcfg.webhook.tls import Material, Role, TlsFinding, judge_material

from .helpers import NOW, Pki, make_cert

CA, CRT, KEY, TOKEN = "/pki/ca.crt", "/pki/client.crt", "/pki/client.key", "/pki/token"


def judge(
    ca: bytes | None = None, crt: bytes | None = None, key: bytes | None = None, token: bytes | None = None
) -> list[TlsFinding]:
    materials = []
    for role, where, data in (
        ("certificate-authority", CA, ca),
        ("client-certificate", CRT, crt),
        ("client-key", KEY, key),
        ("tokenFile", TOKEN, token),
    ):
        if data is not None:
            materials.append(Material(role, where, data))  # type: ignore[arg-type]
    return judge_material(materials, NOW)


def errors(findings: list[TlsFinding]) -> list[str]:
    return [f.message for f in findings if f.severity == "error"]


def warnings(findings: list[TlsFinding]) -> list[str]:
    return [f.message for f in findings if f.severity == "warning"]


def test_good_material_has_no_finding(pki: Pki) -> None:
    assert judge(pki.ca_pem, pki.client_cert_pem, pki.client_key_pem, b"t0ken\n") == []


def test_ca_without_a_certificate(pki: Pki) -> None:
    [message] = errors(judge(ca=pki.client_key_pem))
    assert message.startswith(f"{CA}: holds no PEM certificate")
    [message] = errors(judge(ca=b""))
    assert "holds no PEM certificate" in message


def test_ca_with_a_broken_certificate(pki: Pki) -> None:
    broken = pki.ca_pem + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    [message] = errors(judge(ca=broken))
    assert message.startswith(f"{CA}: a certificate in it does not parse")
    assert "https://" not in message


def test_ca_bundle_with_other_blocks_is_fine(pki: Pki) -> None:
    # client-go's certutil.ParseCertsPEM skips blocks that are not certificates
    assert judge(ca=b"# collector CA\n" + pki.client_key_pem + pki.ca_pem + pki.stranger_pem) == []


def test_expired_ca_is_an_error_with_the_date() -> None:
    pem, _, cert, _ = make_cert("old-ca", days_before=400, days_after=-3, ca=True)
    [message] = errors(judge(ca=pem))
    assert message.startswith(f"{CA}: CA certificate CN=old-ca expired on ")
    assert cert.not_valid_after_utc.strftime("%Y-%m-%d") in message


def test_expiring_ca_is_a_warning_with_the_date() -> None:
    pem, _, cert, _ = make_cert("soon-ca", days_after=12.5, ca=True)
    findings = judge(ca=pem)
    assert errors(findings) == []
    [message] = warnings(findings)
    assert f"expires on {cert.not_valid_after_utc.strftime('%Y-%m-%d %H:%M')} UTC (in 12 days)" in message


def test_ca_expiring_in_31_days_is_fine() -> None:
    assert judge(ca=make_cert("ca", days_after=31, ca=True)[0]) == []


def test_bundle_with_one_expired_certificate_only_warns(pki: Pki) -> None:
    old = make_cert("old-ca", days_before=400, days_after=-3, ca=True)[0]
    findings = judge(ca=old + pki.ca_pem)
    assert errors(findings) == []
    [message] = warnings(findings)
    assert "CA certificate CN=old-ca is out of date" in message and "remove it" in message


def test_client_certificate_and_key_of_different_pairs(pki: Pki) -> None:
    other_key = make_cert("other")[1]
    [message] = errors(judge(crt=pki.client_cert_pem, key=other_key))
    assert message.startswith(f"{CRT}: the client certificate and the key {KEY} do not belong together")


def test_rsa_key_against_an_ec_certificate(pki: Pki) -> None:
    rsa_key = make_cert("rsa", rsa_key=True)[1]
    assert "do not belong together" in errors(judge(crt=pki.client_cert_pem, key=rsa_key))[0]


def test_client_key_that_is_not_a_key(pki: Pki) -> None:
    [message] = errors(judge(crt=pki.client_cert_pem, key=pki.client_cert_pem))
    assert message.startswith(f"{KEY}: not a PEM private key")


def test_client_certificate_that_is_a_key(pki: Pki) -> None:
    [message] = errors(judge(crt=pki.client_key_pem, key=pki.client_key_pem))
    assert message.startswith(f"{CRT}: holds no PEM certificate")


def test_encrypted_client_key(pki: Pki) -> None:
    key = serialization.load_pem_private_key(pki.client_key_pem, None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    [message] = errors(judge(crt=pki.client_cert_pem, key=encrypted))
    assert message.startswith(f"{KEY}: the client key is encrypted")


def test_certificate_and_key_in_one_file(pki: Pki) -> None:
    both = pki.client_cert_pem + pki.client_key_pem
    assert judge(crt=both, key=both) == []


def test_expired_client_certificate() -> None:
    crt, key, _, _ = make_cert("kube-apiserver", days_before=90, days_after=-1)
    [message] = errors(judge(crt=crt, key=key))
    assert message.startswith(f"{CRT}: client certificate CN=kube-apiserver expired on ")
    assert "the collector refuses the connection" in message


def test_client_certificate_not_yet_valid() -> None:
    crt, key, _, _ = make_cert("future", days_before=-2, days_after=30)
    assert "is not valid before" in errors(judge(crt=crt, key=key))[0]


def test_expiring_client_certificate_warns_with_the_date() -> None:
    crt, key, cert, _ = make_cert("kube-apiserver", days_after=3)
    [message] = warnings(judge(crt=crt, key=key))
    assert cert.not_valid_after_utc.strftime("%Y-%m-%d") in message and "(in 2 days)" in message


def test_certificate_not_for_client_auth_warns() -> None:
    crt, key, _, _ = make_cert("server-only", client_auth=False)
    [message] = warnings(judge(crt=crt, key=key))
    assert "no clientAuth extended key usage" in message


def test_certificate_without_key(pki: Pki) -> None:
    [message] = errors(judge(crt=pki.client_cert_pem))
    assert message == (
        f"{CRT}: client-certificate is set without client-key; kube-apiserver exits at start: "
        "give both or neither"
    )


def test_empty_token_file() -> None:
    [message] = errors(judge(token=b" \n"))
    assert message.startswith(f"{TOKEN}: the token file is empty")
    assert judge(token=b"abc") == []


def test_errors_come_before_warnings(pki: Pki) -> None:
    soon = make_cert("soon-ca", days_after=5, ca=True)[0]
    findings = judge(ca=soon, crt=pki.client_cert_pem, key=make_cert("x")[1])
    assert [f.severity for f in findings] == ["error", "warning"]


# -- the files a kubeconfig names ------------------------------------------------------------------


def _kubeconfig(user: str, cluster: str = "") -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: stale
  cluster: {{server: "https://old.example", certificate-authority: /nowhere/ca.crt}}
- name: collector
  cluster:
    server: https://collector.example
{cluster}users:
- name: collector
  user:
{user}contexts:
- name: audit
  context: {{cluster: collector, user: collector}}
current-context: audit
"""


def test_kubeconfig_files_resolved_relative_to_the_kubeconfig(pki: Pki, tmp_path: Path) -> None:
    files = {"/etc/kubernetes/audit/tls/ca.crt": make_cert("gone", days_before=9, days_after=-1, ca=True)[0]}
    seen: list[str] = []

    def locate(role: Role, container_path: str) -> Material:
        seen.append(container_path)
        return Material(role, container_path, files.get(container_path))

    text = _kubeconfig("    tokenFile: token\n", "    certificate-authority: tls/ca.crt\n")
    [finding] = webhook_tls_findings(text, "/etc/kubernetes/audit/hook.yaml", locate, NOW)
    # the stale cluster is not the current context's: kube-apiserver never reads its CA
    assert seen == ["/etc/kubernetes/audit/tls/ca.crt", "/etc/kubernetes/audit/token"]
    assert finding.where == "/etc/kubernetes/audit/tls/ca.crt" and "expired" in finding.message


def test_inline_data_is_judged_too(pki: Pki) -> None:
    other_key = make_cert("other")[1]
    user = (
        f"    client-certificate-data: {base64.b64encode(pki.client_cert_pem).decode()}\n"
        f"    client-key-data: {base64.b64encode(other_key).decode()}\n"
    )
    [finding] = webhook_tls_findings(
        _kubeconfig(user), "/etc/hook.yaml", lambda role, p: Material(role, p, None), NOW
    )
    assert finding.message.startswith("/etc/hook.yaml: users[0].user.client-certificate-data: the client")
    assert "do not belong together" in finding.message


def test_inline_data_that_is_not_base64() -> None:
    cluster = "    certificate-authority-data: '%%% not base64'\n"
    [finding] = webhook_tls_findings(
        _kubeconfig("    {}\n", cluster), "/etc/h.yaml", lambda role, p: Material(role, p, None), NOW
    )
    assert (
        finding.message == "/etc/h.yaml: clusters[1].cluster.certificate-authority-data: not valid base64; "
        "kube-apiserver cannot load it"
    )


def test_unparsable_kubeconfig_yields_no_tls_finding() -> None:
    assert webhook_tls_findings("- [unclosed", "/etc/h.yaml", lambda role, p: Material(role, p, None)) == []


def test_expiry_is_measured_from_now(pki: Pki) -> None:
    crt, key, _, _ = make_cert("kube-apiserver", days_after=40)
    later = NOW + timedelta(days=20)
    [message] = warnings(
        judge_material([Material("client-certificate", CRT, crt), Material("client-key", KEY, key)], later)
    )
    assert "(in 19 days)" in message or "(in 20 days)" in message


def test_secret_readable_by_everyone_warns() -> None:
    crt, key, _, _ = make_cert("kube-apiserver")
    loose = [
        Material("client-certificate", CRT, crt, 0o644),
        Material("client-key", KEY, key, 0o644),
        Material("tokenFile", TOKEN, b"t", 0o604),
    ]
    found = judge_material(loose, NOW)
    assert [f.where for f in found] == [KEY, TOKEN]
    assert all(f.severity == "warning" and "readable by every user" in f.message for f in found)
    tight = [Material(m.role, m.where, m.data, 0o640) for m in loose]
    assert judge_material(tight, NOW) == []


def test_each_finding_has_a_stable_id(pki: Pki) -> None:
    expired = make_cert("ca", days_before=9, days_after=-1, ca=True)[0]
    crt, key, _, _ = make_cert("kube-apiserver", days_after=3)
    found = judge(ca=expired, crt=crt, key=key, token=b"")
    assert [(f.id, f.severity) for f in found] == [
        ("webhook-cert-expired", "error"),
        ("webhook-token-empty", "error"),
        ("webhook-cert-expiring", "warning"),
    ]
    mismatch = judge(crt=pki.client_cert_pem, key=make_cert("x")[1])
    assert [f.id for f in mismatch] == ["webhook-client-mismatch"]
