"""The collector URL kube-apiserver POSTs audit batches to.

Only `https://` with a host: the webhook body is the audit events themselves (request bodies at
Request level and above), so plain HTTP would put them on the wire in clear text. Credentials
embedded in the URL are refused too: they would sit in a file any reader of the kubeconfig sees,
where a client certificate or a `tokenFile` keeps them out of it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from kauditcfg.errors import InvalidInput


def check_url(url: str) -> str:
    """`url` unchanged when kube-apiserver can use it safely; InvalidInput (exit 3) otherwise."""
    shown = repr(re.sub(r"//[^/@]*@", "//***@", url))  # never echo a password back into a log
    if not url or url != url.strip() or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidInput(
            f"--webhook-url {shown}: malformed URL (empty or with whitespace); give https://host[:port]/path"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise InvalidInput(
            f"--webhook-url {shown}: malformed URL ({exc}); give https://host[:port]/path"
        ) from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        raise InvalidInput(
            f"--webhook-url {shown}: plain http would send audit events (request bodies included) in clear "
            "text; serve the collector over https and pass --webhook-ca"
        )
    if scheme != "https" or not parts.netloc:
        raise InvalidInput(f"--webhook-url {shown}: malformed URL; give https://host[:port]/path")
    if not parts.hostname:
        raise InvalidInput(f"--webhook-url {shown}: the URL has no host; give https://host[:port]/path")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "--webhook-url: credentials in the URL would be stored in the kubeconfig in clear; "
            "use --webhook-token-file or --webhook-client-cert/--webhook-client-key"
        )
    if port == 0:
        raise InvalidInput(f"--webhook-url {shown}: port 0 is not a port a collector can listen on")
    return url
