"""The webhook's TLS material read as kube-apiserver reads it, with the `cryptography` package.

kube-apiserver builds the webhook client from the kubeconfig when it starts (client-go
rest.TLSConfigFor): a CA file without a parsable certificate, or a client certificate and key
that do not parse or do not match (crypto/tls.X509KeyPair), stop it from starting. An expired
certificate does not stop it, but every batch is then refused by the collector and the events are
dropped after the retries, so enable refuses that too. What expires within 30 days is a warning
carrying the date, so the rotation can be planned.

Judgements are pure: bytes in, findings out. The caller reads the files (under `--root`) and
decides what an "error" means (preflight: refuse with exit 4; check: a high finding).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

EXPIRY_WARNING = timedelta(days=30)
DER, SPKI = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo

Role = Literal["certificate-authority", "client-certificate", "client-key", "tokenFile"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Material:
    """One file (or inline `-data` field) the webhook kubeconfig makes kube-apiserver read.

    `where` names it for a message: the host path, or "<kubeconfig>: users[0].user.client-key-data".
    `data` is None when the file is missing (that is reported by the file checks, not here);
    `mode` is the file's permission bits when known.
    """

    role: Role
    where: str
    data: bytes | None
    mode: int | None = None


@dataclass(frozen=True)
class TlsFinding:
    id: str  # webhook-cert-expired, webhook-client-mismatch, ...: stable, for alerting on `check --json`
    severity: Severity
    where: str
    message: str  # one line, starting with `where`


def _found(id: str, severity: Severity, where: str, text: str) -> TlsFinding:
    return TlsFinding(id, severity, where, f"{where}: {text}")


def inline_material(role: Role, where: str, encoded: str) -> Material | TlsFinding:
    """A kubeconfig `*-data` field: base64 of the PEM, as client-go decodes it."""
    try:
        return Material(role, where, base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return _found(
            "webhook-data-invalid", "error", where, "not valid base64; kube-apiserver cannot load it"
        )


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _validity(cert: x509.Certificate, where: str, what: str, fails: str, now: datetime) -> TlsFinding | None:
    """Expired or not yet valid: an error (`fails` says what breaks); expiring soon: a warning."""
    after, before = cert.not_valid_after_utc, cert.not_valid_before_utc
    who = f"{what} {_subject(cert)}"
    if after <= now:
        return _found(
            "webhook-cert-expired",
            "error",
            where,
            f"{who} expired on {_day(after)}; {fails} and every audit batch is lost",
        )
    if before > now:
        return _found(
            "webhook-cert-expired",
            "error",
            where,
            f"{who} is not valid before {_day(before)}; {fails} until then: check the node's clock or "
            "reissue it",
        )
    if after - now <= EXPIRY_WARNING:
        return _found(
            "webhook-cert-expiring",
            "warning",
            where,
            f"{who} expires on {_day(after)} (in {(after - now).days} days); renew it before then or the "
            "audit webhook stops delivering",
        )
    return None


def _certificates(m: Material, what: str) -> list[x509.Certificate] | TlsFinding:
    assert m.data is not None
    if b"-----BEGIN CERTIFICATE-----" not in m.data:
        return _found(
            "webhook-pem-invalid",
            "error",
            m.where,
            f"holds no PEM certificate (no BEGIN CERTIFICATE block); "
            f"kube-apiserver cannot load the {what} and exits at start: give a PEM file",
        )
    try:
        return x509.load_pem_x509_certificates(m.data)
    except ValueError as exc:
        reason = str(exc).split(" See https://")[0]
        return _found(
            "webhook-pem-invalid",
            "error",
            m.where,
            f"a certificate in it does not parse ({reason}); kube-apiserver "
            f"cannot load the {what} and exits at start: replace the file",
        )


def judge_ca(m: Material, now: datetime) -> list[TlsFinding]:
    if m.data is None:
        return []
    certs = _certificates(m, "webhook CA")
    if isinstance(certs, TlsFinding):
        return [certs]
    usable = [c for c in certs if c.not_valid_before_utc <= now < c.not_valid_after_utc]
    findings: list[TlsFinding] = []
    for cert in certs:
        if usable and cert not in usable:
            # A bundle still verifies while one of its certificates is in date: the others only warn.
            findings.append(
                _found(
                    "webhook-ca-stale",
                    "warning",
                    m.where,
                    f"CA certificate {_subject(cert)} is out of date (valid {_day(cert.not_valid_before_utc)}"
                    f" to {_day(cert.not_valid_after_utc)}); the bundle's other certificates still verify: "
                    "remove it",
                )
            )
            continue
        fails = "kube-apiserver cannot verify the collector, so the connection fails"
        found = _validity(cert, m.where, "CA certificate", fails, now)
        if found is not None:
            findings.append(found)
    return findings


def _key_spki(m: Material) -> bytes | TlsFinding:
    """The public half of the private key, as DER SubjectPublicKeyInfo."""
    assert m.data is not None
    try:
        key = serialization.load_pem_private_key(m.data, password=None)
    except TypeError:
        return _found(
            "webhook-key-invalid",
            "error",
            m.where,
            "the client key is encrypted; kube-apiserver cannot ask for a "
            "passphrase and exits at start: give an unencrypted key (mode 0600)",
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        reason = str(exc).split(" See https://")[0]
        return _found(
            "webhook-key-invalid",
            "error",
            m.where,
            f"not a PEM private key ({reason}); kube-apiserver exits at start: "
            "give the client certificate's key",
        )
    return key.public_key().public_bytes(DER, SPKI)


def judge_client_pair(cert: Material | None, key: Material | None, now: datetime) -> list[TlsFinding]:
    """The client certificate and key: both or neither, each parses, same public key, in date."""
    if cert is None and key is None:
        return []
    if cert is None or key is None:
        given = cert or key
        assert given is not None
        missing = "client-key" if key is None else "client-certificate"
        return [
            _found(
                "webhook-client-incomplete",
                "error",
                given.where,
                f"{given.role} is set without {missing}; kube-apiserver exits at start: give both or neither",
            )
        ]
    if cert.data is None or key.data is None:
        return []
    findings: list[TlsFinding] = []
    certs = _certificates(cert, "webhook client certificate")
    private = _key_spki(key)
    if isinstance(certs, TlsFinding):
        findings.append(certs)
    if isinstance(private, TlsFinding):
        findings.append(private)
    if findings or isinstance(certs, TlsFinding):
        return findings
    leaf = certs[0]  # crypto/tls takes the first certificate as the leaf, the rest as its chain
    # Compared as SubjectPublicKeyInfo: equal for a certificate and its key whatever the algorithm.
    if leaf.public_key().public_bytes(DER, SPKI) != private:
        findings.append(
            _found(
                "webhook-client-mismatch",
                "error",
                cert.where,
                f"the client certificate and the key {key.where} do not "
                "belong together (different public keys); kube-apiserver exits at start: give the key "
                "the certificate was issued for",
            )
        )
        return findings
    fails = "the collector refuses the connection"
    validity = _validity(leaf, cert.where, "client certificate", fails, now)
    if validity is not None:
        findings.append(validity)
    try:
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        findings.append(
            _found(
                "webhook-client-usage",
                "warning",
                cert.where,
                f"the client certificate {_subject(leaf)} is not issued "
                "for client authentication (no clientAuth extended key usage); a collector that checks it "
                "refuses the connection",
            )
        )
    return findings


def judge_token(m: Material) -> list[TlsFinding]:
    """client-go reads tokenFile for every request and trims spaces; an empty one fails each POST."""
    if m.data is None or m.data.strip():
        return []
    return [
        _found(
            "webhook-token-empty",
            "error",
            m.where,
            "the token file is empty; every audit batch would be refused "
            "(client-go: read empty token): put the collector's token in it",
        )
    ]


def judge_secret_mode(m: Material) -> list[TlsFinding]:
    """A client key or token any user of the node can read lets anyone speak for kube-apiserver."""
    if m.role not in ("client-key", "tokenFile") or m.mode is None or not m.mode & 0o004:
        return []
    what = "client key" if m.role == "client-key" else "token file"
    return [
        _found(
            "webhook-secret-mode",
            "warning",
            m.where,
            f"the {what} is readable by every user on the node (mode {m.mode & 0o7777:04o}); "
            "chmod o-rwx it (kube-apiserver needs only its own user or group)",
        )
    ]


def judge_material(materials: list[Material], now: datetime | None = None) -> list[TlsFinding]:
    """Every finding on the webhook's CA, client certificate/key and token, errors first."""
    now = now or datetime.now(UTC)
    by_role: dict[str, Material] = {}
    findings: list[TlsFinding] = []
    for m in materials:
        by_role.setdefault(m.role, m)
    if "certificate-authority" in by_role:
        findings += judge_ca(by_role["certificate-authority"], now)
    findings += judge_client_pair(by_role.get("client-certificate"), by_role.get("client-key"), now)
    if "tokenFile" in by_role:
        findings += judge_token(by_role["tokenFile"])
    for m in by_role.values():
        findings += judge_secret_mode(m)
    return sorted(findings, key=lambda f: f.severity != "error")
