"""The webhook options and the mode/batch/truncate options of both backends, for enable and diff.

Declared once and added to a command by `@backend_options`, which hands them to the command as
one `backend` dict (parameter name -> value, None when not given). `--help` shows them in their
own panels ("Webhook", "Log backend batching").
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from kauditcfg.config.defaults import WEBHOOK_CONFIG_PATH
from kauditcfg.webhook.tuning import WEBHOOK_DEFAULTS

WEBHOOK = "Webhook"
LOG_BATCHING = "Log backend batching"
MODES = "batch, blocking or blocking-strict"

F = TypeVar("F", bound=Callable[..., Any])


def _opt(panel: str, flag: str, help_text: str, kind: Any = str, metavar: str | None = None) -> Any:
    return Annotated[
        kind | None,
        typer.Option(flag, help=help_text, rich_help_panel=panel, metavar=metavar, show_default=False),
    ]


def _switch(panel: str, flag: str, help_text: str) -> Any:
    name = flag.removeprefix("--")
    return Annotated[
        bool | None,
        typer.Option(f"--{name}/--no-{name}", help=help_text, rich_help_panel=panel, show_default=False),
    ]


def _tuning(panel: str, backend: str, defaults: dict[str, str]) -> list[tuple[str, Any]]:
    """The options kube-apiserver has for both backends (audit.go: mode, batch, truncate, version)."""
    table: list[tuple[str, Any, str, str | None]] = [
        ("mode", str, f"{MODES}", "MODE"),
        ("batch-buffer-size", int, "Events buffered before batching", None),
        ("batch-max-size", int, "Events per batch", None),
        ("batch-max-wait", str, "Send a partial batch after this long", "DURATION"),
        ("batch-throttle-enable", bool, "Throttle batches", None),
        ("batch-throttle-qps", float, "Batches per second when throttled", None),
        ("batch-throttle-burst", int, "Batches at once when under the QPS", None),
        ("truncate-enabled", bool, "Split large batches, drop the bodies of large events", None),
        ("truncate-max-batch-size", int, "Bytes per batch when truncating (10485760)", None),
        ("truncate-max-event-size", int, "Bytes per event when truncating (102400)", None),
        ("version", str, "Event API version: audit.k8s.io/v1", "GV"),
    ]
    if backend == "webhook":
        table.insert(7, ("initial-backoff", str, "Wait before retrying a failed batch", "DURATION"))
    out: list[tuple[str, Any]] = []
    for key, kind, text, metavar in table:
        flag = f"--{backend}-{key}"
        if key in defaults:
            text += f" (profile default {defaults[key]})"
        option = (
            _switch(panel, flag, text + ".") if kind is bool else _opt(panel, flag, text + ".", kind, metavar)
        )
        out.append((f"{backend}_{key.replace('-', '_')}", option))
    return out


OPTIONS: list[tuple[str, Any]] = [
    (
        "webhook_url",
        _opt(WEBHOOK, "--webhook-url", "Also send audit events to this https:// collector.", metavar="URL"),
    ),
    (
        "webhook_ca",
        _opt(WEBHOOK, "--webhook-ca", "PEM CA bundle of the collector (a node path).", metavar="FILE"),
    ),
    (
        "webhook_client_cert",
        _opt(WEBHOOK, "--webhook-client-cert", "Client certificate kube-apiserver presents.", metavar="FILE"),
    ),
    ("webhook_client_key", _opt(WEBHOOK, "--webhook-client-key", "Its private key.", metavar="FILE")),
    (
        "webhook_token_file",
        _opt(
            WEBHOOK, "--webhook-token-file", "Bearer token file (referenced, never copied).", metavar="FILE"
        ),
    ),
    (
        "webhook_config_file",
        _opt(
            WEBHOOK,
            "--webhook-config-file",
            f"Where the kubeconfig goes ({WEBHOOK_CONFIG_PATH}).",
            metavar="PATH",
        ),
    ),
    *_tuning(WEBHOOK, "webhook", {k.removeprefix("audit-webhook-"): v for k, v in WEBHOOK_DEFAULTS.items()}),
    *_tuning(LOG_BATCHING, "log", {}),
]


def backend_options(command: F) -> F:
    """Add OPTIONS to `command`'s signature; the command receives them as `backend: dict[str, Any]`."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "backend"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in OPTIONS
    ]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        backend = {name: kwargs.pop(name, None) for name, _ in OPTIONS}
        return command(backend=backend, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
    return wrapper  # type: ignore[return-value]
