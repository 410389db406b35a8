"""--webhook-url: only https with a host; anything else is exit 3 with a message saying why."""

from __future__ import annotations

import pytest

from kauditcfg.errors import InvalidInput
from kauditcfg.webhook.url import check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example",
        "https://collector.example:8443/k8s/audit?tenant=prod",
        "https://127.0.0.1:9880/",
        "https://[fd00::10]:443/audit",
        "HTTPS://Collector.Example/audit",
    ],
)
def test_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://collector.example/audit", "plain http would send audit events"),
        ("HTTP://collector.example", "plain http"),
        ("https://", "malformed URL"),
        ("https:///audit", "malformed URL"),
        ("collector.example:8443", "malformed URL"),
        ("ftp://collector.example", "malformed URL"),
        ("", "malformed URL"),
        (" https://collector.example", "malformed URL"),
        ("https://collector.example/a b", "malformed URL"),
        ("https://collector.example:99999/", "malformed URL"),
        ("https://collector.example:0/", "port 0"),
        ("https://:8443/audit", "has no host"),
    ],
)
def test_refused_with_exit_3(url: str, says: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_url(url)
    assert err.value.exit_code == 3
    assert str(err.value).startswith("--webhook-url")
    assert says in str(err.value)


def test_credentials_in_the_url_are_refused_and_never_echoed() -> None:
    for url in ("https://audit:s3cr3t@collector.example/", "https://audit:s3cr3t@collector.example:99999/"):
        with pytest.raises(InvalidInput) as err:
            check_url(url)
        assert "s3cr3t" not in str(err.value)
