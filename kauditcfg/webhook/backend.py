"""The webhook backend as part of the desired audit configuration: kubeconfig, flags, host files.

Pure: options in, the configuration layer's `WebhookBackend` out. The kubeconfig is rendered from
templates/webhook-kubeconfig.yaml.j2; the flags are `--audit-webhook-config-file` plus the mode,
batching and truncation ones (tuning.py). Whether the referenced files exist, are mounted and hold
usable TLS material is judged against the node later (material.py, tls.py), like every other
path kube-apiserver opens.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from kauditcfg.config.audit import WebhookBackend
from kauditcfg.config.defaults import WEBHOOK_CONFIG_PATH
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.webhook.tuning import Tuning, tuning_flags
from kauditcfg.webhook.url import check_url

TEMPLATE = "webhook-kubeconfig.yaml.j2"
ENTRY_NAME = "audit-webhook"  # the one cluster, user and context in the kubeconfig


@dataclass(frozen=True)
class WebhookOptions:
    """The webhook options as given on `enable`/`diff` (host paths are absolute node paths)."""

    url: str
    ca: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    token_file: str | None = None
    config_file: str = WEBHOOK_CONFIG_PATH
    tuning: Tuning = field(default_factory=Tuning)


def _host_path(option: str, value: str) -> str:
    if not value.startswith("/"):
        raise UsageError(f"{option} {value!r}: must be an absolute path on the node")
    normal = posixpath.normpath(value)
    if normal == "/" or value.endswith("/"):
        raise UsageError(f"{option} {value!r}: must name a file, not a directory")
    return normal


def render_kubeconfig(
    server: str,
    ca: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    token_file: str | None = None,
) -> bytes:
    """The kubeconfig text: one cluster, one user, one context, current-context set."""
    import jinja2

    from kauditcfg.profiles import environment

    try:
        text = (
            environment()
            .get_template(TEMPLATE)
            .render(
                name=ENTRY_NAME,
                server=server,
                certificate_authority=ca,
                client_certificate=client_cert,
                client_key=client_key,
                token_file=token_file,
            )
        )
    except jinja2.TemplateError as exc:  # a broken install, not the user's input
        raise InvalidInput(f"kauditcfg cannot render {TEMPLATE}: {exc} (reinstall kauditcfg)") from None
    return text.encode("utf-8")


def build_webhook(opts: WebhookOptions, defaults: Mapping[str, str] | None = None) -> WebhookBackend:
    """Validate the options and render the kubeconfig; `defaults` are a profile's webhook flags.

    Exit 3 for a URL that is not https with a host, exit 2 for options that do not fit together
    or values kube-apiserver would refuse.
    """
    url = check_url(opts.url)
    if (opts.client_cert is None) != (opts.client_key is None):
        given, missing = (
            ("--webhook-client-cert", "--webhook-client-key")
            if opts.client_key is None
            else ("--webhook-client-key", "--webhook-client-cert")
        )
        raise UsageError(f"{given} needs {missing}: give the client certificate and its key together")
    config_file = _host_path("--webhook-config-file", opts.config_file)
    paths: dict[str, str | None] = {}
    for option, key, value in (
        ("--webhook-ca", "certificate-authority", opts.ca),
        ("--webhook-client-cert", "client-certificate", opts.client_cert),
        ("--webhook-client-key", "client-key", opts.client_key),
        ("--webhook-token-file", "tokenFile", opts.token_file),
    ):
        paths[key] = _host_path(option, value) if value is not None else None
        if paths[key] is not None and paths[key] == config_file:
            raise UsageError(f"{option} {value!r}: that is where the kubeconfig itself is written")
    kubeconfig = render_kubeconfig(
        url,
        paths["certificate-authority"],
        paths["client-certificate"],
        paths["client-key"],
        paths["tokenFile"],
    )
    tuning = tuning_flags("webhook", opts.tuning, defaults)
    mode = tuning.pop("audit-webhook-mode", None)
    options = tuple((name.removeprefix("audit-webhook-"), value) for name, value in tuning.items())
    files = tuple(dict.fromkeys(p for p in paths.values() if p is not None))
    return WebhookBackend(config_file, kubeconfig, mode, options, files)


def _tuning(given: Mapping[str, Any], backend: str) -> Tuning:
    prefix = f"{backend}_"
    return Tuning(**{f.name: given.get(prefix + f.name) for f in fields(Tuning) if prefix + f.name in given})


def options_from_params(given: Mapping[str, Any]) -> tuple[WebhookOptions | None, Tuning]:
    """The webhook options and the log backend's tuning from a command's `webhook_*`/`log_*` parameters.

    Every webhook option needs --webhook-url: given alone it would silently do nothing.
    """
    log_tuning = _tuning(given, "log")
    url = given.get("webhook_url")
    if url is None:
        stray = sorted(k for k, v in given.items() if k.startswith("webhook_") and v is not None)
        if stray:
            option = "--" + stray[0].replace("_", "-")
            raise UsageError(f"{option} needs --webhook-url (without it there is no webhook backend)")
        return None, log_tuning
    return (
        WebhookOptions(
            url=str(url),
            ca=given.get("webhook_ca"),
            client_cert=given.get("webhook_client_cert"),
            client_key=given.get("webhook_client_key"),
            token_file=given.get("webhook_token_file"),
            config_file=given.get("webhook_config_file") or WEBHOOK_CONFIG_PATH,
            tuning=_tuning(given, "webhook"),
        ),
        log_tuning,
    )
