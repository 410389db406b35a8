"""Mode, batching and truncation flags of the log and webhook backends, validated before writing.

kube-apiserver validates these only at start (staging/src/k8s.io/apiserver/pkg/server/options/
audit.go, `Validate`): a bad value there means it prints its usage and exits. The same rules are
applied here, with the option the user typed named in the message:
- mode is one of batch, blocking, blocking-strict;
- in batch mode buffer-size and max-size are > 0, and with throttling on qps and burst are > 0;
- truncation: max-event-size > 0 and max-batch-size >= max-event-size;
- the event version is audit.k8s.io/v1 (v1alpha1/v1beta1 were removed in 1.24,
  kubernetes/kubernetes#108092).
Batch options are read only in batch mode and throttle/truncate sizes only when enabled; one given
where it is ignored is refused, so nobody believes a setting is in force that is not.

The webhook's batching is written out in full, defaults included, so an auditor reading the
manifest sees what is in force; the log backend's is written only where asked (its upstream
defaults are blocking mode, no batching).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from kauditcfg.errors import UsageError

Backend = Literal["log", "webhook"]
MODES = ("batch", "blocking", "blocking-strict")
EVENT_VERSION = "audit.k8s.io/v1"

# kube-apiserver's own defaults for the webhook (defaultWebhookBatchConfig and
# NewAuditTruncateOptions in audit.go), written explicitly unless a profile or option says otherwise.
WEBHOOK_DEFAULTS: dict[str, str] = {
    "audit-webhook-mode": "batch",
    "audit-webhook-batch-buffer-size": "10000",
    "audit-webhook-batch-max-size": "400",
    "audit-webhook-batch-max-wait": "30s",
    "audit-webhook-batch-throttle-enable": "true",
    "audit-webhook-batch-throttle-qps": "10",
    "audit-webhook-batch-throttle-burst": "15",
    "audit-webhook-initial-backoff": "10s",
    "audit-webhook-truncate-enabled": "false",
}
TRUNCATE_DEFAULTS = {"truncate-max-batch-size": "10485760", "truncate-max-event-size": "102400"}


@dataclass(frozen=True)
class Tuning:
    """What the user asked for one backend; None means "not given" (the profile's default applies)."""

    mode: str | None = None
    batch_buffer_size: int | None = None
    batch_max_size: int | None = None
    batch_max_wait: str | None = None
    batch_throttle_enable: bool | None = None
    batch_throttle_qps: float | None = None
    batch_throttle_burst: int | None = None
    initial_backoff: str | None = None  # webhook only: the log backend does not retry
    truncate_enabled: bool | None = None
    truncate_max_batch_size: int | None = None
    truncate_max_event_size: int | None = None
    version: str | None = None


_BATCH_ONLY = (
    "batch_buffer_size",
    "batch_max_size",
    "batch_max_wait",
    "batch_throttle_enable",
    "batch_throttle_qps",
    "batch_throttle_burst",
)

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration (time.ParseDuration: "30s", "1m30s", "1.5h"); None when it is not one."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body[1:] if body[:1] in ("+", "-") else body
    if body == "0":
        return 0.0
    if not body:
        return None
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return sign * total


def option_name(backend: Backend, field_name: str) -> str:
    """The CLI option for a Tuning field: batch_max_wait on webhook -> --webhook-batch-max-wait."""
    return f"--{backend}-{field_name.replace('_', '-')}"


def _flag(backend: Backend, key: str) -> str:
    return f"audit-{backend}-{key}"


def _positive_int(backend: Backend, field_name: str, value: int) -> str:
    if value <= 0:
        raise UsageError(f"{option_name(backend, field_name)} {value}: must be a positive integer")
    return str(value)


def _positive_duration(backend: Backend, field_name: str, value: str) -> str:
    seconds = duration_seconds(value)
    if seconds is None:
        raise UsageError(
            f"{option_name(backend, field_name)} {value!r}: not a duration; write it like 30s, 1m or 1m30s"
        )
    if seconds <= 0:
        raise UsageError(f"{option_name(backend, field_name)} {value!r}: must be longer than 0s")
    return value.strip()


def _positive_float(backend: Backend, field_name: str, value: float) -> str:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option_name(backend, field_name)} {value:g}: must be a number above 0")
    return format(value, "g")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _given_text(backend: Backend, tuning: Tuning) -> dict[str, str]:
    """Every given option, validated on its own, keyed by flag suffix ("batch-max-size")."""
    out: dict[str, str] = {}
    for f in fields(Tuning):
        value = getattr(tuning, f.name)
        if value is None:
            continue
        key = f.name.replace("_", "-")
        if f.name == "initial_backoff" and backend != "webhook":
            raise UsageError(f"{option_name(backend, f.name)}: only the webhook backend retries")
        if f.name == "mode":
            if value not in MODES:
                raise UsageError(
                    f"{option_name(backend, 'mode')} {value!r}: choose one of {', '.join(MODES)}"
                )
            out[key] = value
        elif f.name == "version":
            if value != EVENT_VERSION:
                raise UsageError(
                    f"{option_name(backend, 'version')} {value!r}: only {EVENT_VERSION} is served by every "
                    "supported kube-apiserver (v1alpha1 and v1beta1 were removed in 1.24)"
                )
            out[key] = value
        elif isinstance(value, bool):
            out[key] = _bool(value)
        elif f.name in ("batch_max_wait", "initial_backoff"):
            out[key] = _positive_duration(backend, f.name, str(value))
        elif f.name == "batch_throttle_qps":
            out[key] = _positive_float(backend, f.name, float(value))
        else:
            out[key] = _positive_int(backend, f.name, int(value))
    return out


def _refuse_ignored(backend: Backend, given: Mapping[str, str], names: tuple[str, ...], why: str) -> None:
    for name in names:
        if name.replace("_", "-") in given:
            raise UsageError(f"{option_name(backend, name)}: {why}")


def tuning_flags(
    backend: Backend, tuning: Tuning, defaults: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The `--audit-<backend>-*` flags to write (name without dashes -> value).

    A blocking webhook mode is allowed; the warning about it comes from the judgement of the
    patched pod, which `check` shares.

    `defaults` are flag -> value pairs (a profile's, else WEBHOOK_DEFAULTS for the webhook); given
    options override them. Raises UsageError (exit 2) for a value kube-apiserver would refuse.
    """
    if defaults is None:
        defaults = WEBHOOK_DEFAULTS if backend == "webhook" else {}
    prefix = f"audit-{backend}-"
    given = _given_text(backend, tuning)
    merged = {k[len(prefix) :]: v for k, v in defaults.items() if k.startswith(prefix)}
    merged.update(given)

    mode = merged.get("mode")
    if mode is not None and mode != "batch":
        _refuse_ignored(backend, given, _BATCH_ONLY, f"batching applies only to --{backend}-mode batch")
        merged = {k: v for k, v in merged.items() if not k.startswith("batch-")}
    elif mode is None:
        _refuse_ignored(
            backend, given, _BATCH_ONLY, f"batching applies only with --{backend}-mode batch; add it"
        )
    if merged.get("batch-throttle-enable") != "true":
        _refuse_ignored(
            backend,
            given,
            ("batch_throttle_qps", "batch_throttle_burst"),
            f"throttling is off; add --{backend}-batch-throttle-enable",
        )
        merged.pop("batch-throttle-qps", None)
        merged.pop("batch-throttle-burst", None)
    elif "batch-throttle-qps" not in merged or "batch-throttle-burst" not in merged:
        raise UsageError(
            f"--{backend}-batch-throttle-enable needs --{backend}-batch-throttle-qps and "
            f"--{backend}-batch-throttle-burst (kube-apiserver has no default for the {backend} backend)"
        )
    if merged.get("truncate-enabled") == "true":
        for key, value in TRUNCATE_DEFAULTS.items():
            merged.setdefault(key, value)
        if int(merged["truncate-max-batch-size"]) < int(merged["truncate-max-event-size"]):
            raise UsageError(
                f"--{backend}-truncate-max-batch-size {merged['truncate-max-batch-size']} is smaller than "
                f"--{backend}-truncate-max-event-size {merged['truncate-max-event-size']}: a batch must "
                "hold at least one event"
            )
    else:
        _refuse_ignored(
            backend,
            given,
            ("truncate_max_batch_size", "truncate_max_event_size"),
            f"truncation is off; add --{backend}-truncate-enabled",
        )
        merged.pop("truncate-max-batch-size", None)
        merged.pop("truncate-max-event-size", None)
    return {_flag(backend, k): v for k, v in merged.items()}
