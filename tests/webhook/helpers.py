"""Throwaway PKI, an HTTPS audit receiver on 127.0.0.1 and the official client, for the webhook tests.

The receiver plays the collector (Fluent Bit, Vector, a SIEM): TLS with a server certificate from
a test CA, a client certificate required (mutual TLS), every POST body recorded.
"""

from __future__ import annotations

import http.server
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.now(UTC)


def write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def make_cert(
    name: str,
    *,
    days_before: float = 1,
    days_after: float = 365,
    ca: bool = False,
    client_auth: bool = True,
    issuer: tuple[x509.Certificate, Any] | None = None,
    rsa_key: bool = False,
) -> tuple[bytes, bytes, x509.Certificate, Any]:
    """(cert PEM, key PEM, cert, key) valid from NOW - days_before to NOW + days_after (negative: past)."""
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer is not None else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=days_before))
        .not_valid_after(NOW + timedelta(days=days_after))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [ExtendedKeyUsageOID.SERVER_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert, key


@dataclass
class Pki:
    """A collector CA (signs the server cert), a client CA (signs kube-apiserver's cert), a stranger CA."""

    ca: trustme.CA
    client_ca: trustme.CA
    stranger_ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    ca_pem: bytes = b""
    client_cert_pem: bytes = b""
    client_key_pem: bytes = b""
    stranger_pem: bytes = b""


@dataclass
class Receiver:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # CN of each client certificate presented


def handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            receiver.bodies.append(json.loads(self.rfile.read(length)))
            receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            subject = dict(item[0] for item in (peer or {}).get("subject", ()))
            receiver.peers.append(str(subject.get("commonName", "")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            return

    return Handler


def event_list(n: int = 2) -> dict[str, Any]:
    """A real audit.k8s.io/v1 EventList, as kube-apiserver's webhook backend POSTs it."""
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    items = [
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"6f1c2c7e-0d3b-4f5e-9a51-00000000000{i}",
            "stage": "ResponseComplete",
            "requestURI": "/api/v1/namespaces/default/secrets/db-password",
            "verb": "get",
            "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
            "sourceIPs": ["10.0.0.7"],
            "userAgent": "kubectl/v1.30.4 (linux/amd64) kubernetes/abcdef0",
            "objectRef": {
                "resource": "secrets",
                "namespace": "default",
                "name": "db-password",
                "apiVersion": "v1",
            },
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": stamp,
            "stageTimestamp": stamp,
            "annotations": {"authorization.k8s.io/decision": "allow"},
        }
        for i in range(n)
    ]
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}


_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}


def post_with_kubeconfig(root: Path, kubeconfig: str, body: dict[str, Any]) -> int:
    """POST `body` where the kubeconfig at node path `kubeconfig` points, with the official client.

    The kubeconfig holds node paths; the node is `root`, so each file path is resolved under it
    (as kube-apiserver sees them through its hostPath mounts). Returns the HTTP status; TLS
    failures raise (urllib3 MaxRetryError/SSLError), with no retry.
    """
    from kubernetes import client, config
    from ruamel.yaml import YAML

    raw = YAML(typ="safe", pure=True).load((root / kubeconfig.lstrip("/")).read_text())
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in raw.get(section) or []:
            fields = entry.get(inner) or {}
            for key in _FILE_FIELDS[inner]:
                if key in fields:
                    fields[key] = str(root / str(fields[key]).lstrip("/"))
    configuration = client.Configuration()
    config.load_kube_config_from_dict(raw, client_configuration=configuration)
    configuration.retries = False
    api = client.ApiClient(configuration)
    try:
        request = api.param_serialize(
            "POST",
            "",  # the server URL already carries the collector's path
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*request, _request_timeout=10)
        status = int(response.status)
    finally:
        api.close()
    return status


def tree(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under root with its bytes (None for directories) and mode: to prove nothing changed."""
    snap: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        snap[str(path.relative_to(root))] = (path.read_bytes() if path.is_file() else None, st.st_mode)
    return snap
