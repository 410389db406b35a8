"""Fixtures of the webhook tests: the throwaway PKI and the HTTPS receiver (see helpers.py)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from .helpers import Pki, Receiver, handler, post_with_kubeconfig


@pytest.fixture(scope="session")
def pki() -> Pki:
    ca, client_ca, stranger = trustme.CA(), trustme.CA(), trustme.CA()
    client = client_ca.issue_cert("kube-apiserver-audit", common_name="kube-apiserver-audit")
    p = Pki(ca, client_ca, stranger, ca.issue_cert("127.0.0.1"), client)
    p.ca_pem = ca.cert_pem.bytes()
    p.client_cert_pem = client.cert_chain_pems[0].bytes()
    p.client_key_pem = client.private_key_pem.bytes()
    p.stranger_pem = stranger.cert_pem.bytes()
    return p


@pytest.fixture
def receiver(pki: Pki) -> Iterator[Receiver]:
    """An HTTPS server on 127.0.0.1 that requires a client certificate signed by the client CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki.server.configure_cert(context)
    pki.client_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    rec = Receiver(url=f"https://127.0.0.1:{server.server_address[1]}/audit/events")
    server.RequestHandlerClass = handler(rec)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def post() -> Any:
    """`post(root, kubeconfig_node_path, body) -> status` through the official kubernetes client."""
    return post_with_kubeconfig
