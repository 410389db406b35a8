"""Build the desired AuditConfig once, purely: options + profile + values + the existing manifest."""

from __future__ import annotations

from kauditcfg.config.audit import LOG_FLAGS, AuditConfig, LogBackend, WebhookBackend
from kauditcfg.config.defaults import cis_rotation_flags
from kauditcfg.config.inputs import Inputs
from kauditcfg.config.options import LOG_FORMATS, EnableOptions
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.versions import NEWEST, Version
from kauditcfg.webhook.backend import build_webhook
from kauditcfg.webhook.tuning import tuning_flags
from kauditcfg.yamltext import parse_documents


def target_version(opts: EnableOptions, pod: ApiServerPod) -> Version:
    """--kubernetes-version, else the manifest's image tag, else the newest supported."""
    return opts.kubernetes_version or pod.kubernetes_version() or NEWEST


def _own_policy(opts: EnableOptions, data: bytes) -> bytes:
    try:
        docs = parse_documents(data.decode("utf-8"), str(opts.policy_file))
    except UnicodeDecodeError:
        raise InvalidInput(f"{opts.policy_file}: not UTF-8 text; expected an audit Policy") from None
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise InvalidInput(f"{opts.policy_file}: expected exactly one YAML mapping (an audit Policy)")
    return data


def _log_backend(opts: EnableOptions, profile_flags: dict[str, str]) -> LogBackend:
    given: dict[str, str | None] = {
        "maxage": None if opts.log_maxage is None else str(opts.log_maxage),
        "maxbackup": None if opts.log_maxbackup is None else str(opts.log_maxbackup),
        "maxsize": None if opts.log_maxsize is None else str(opts.log_maxsize),
        "format": opts.log_format,
        "compress": None if opts.log_compress is None else ("true" if opts.log_compress else "false"),
    }
    if opts.log_format is not None and opts.log_format not in LOG_FORMATS:
        raise UsageError(f"--log-format {opts.log_format!r}: choose json or legacy")
    options: list[tuple[str, str]] = []
    for name in LOG_FLAGS:
        value = given[name]
        if value is None and name in ("maxage", "maxbackup", "maxsize") and opts.log_path != "-":
            value = profile_flags[f"audit-log-{name}"]
        if value is not None and (opts.log_path != "-" or name in ("format", "compress")):
            options.append((name, value))
    tuning = tuning_flags("log", opts.log_tuning)
    options.extend((name.removeprefix("audit-log-"), value) for name, value in tuning.items())
    return LogBackend(opts.log_path, tuple(options))


def desired_config(opts: EnableOptions, pod: ApiServerPod, inputs: Inputs) -> AuditConfig:
    """The AuditConfig `enable` wants on this node (the profile is looked up once, here)."""
    return config_for_version(opts, target_version(opts, pod), inputs)


def config_for_version(opts: EnableOptions, version: Version, inputs: Inputs) -> AuditConfig:
    """The same, for a Kubernetes version known without a manifest (kubeadm configs and patches)."""
    from kauditcfg.profiles import get_profile, parse_set_values, render_policy

    webhook_flags: dict[str, str] | None = None  # kube-apiserver's defaults, written out
    if inputs.policy is not None:
        policy = _own_policy(opts, inputs.policy)
        profile_flags = cis_rotation_flags()
    else:
        profile = get_profile(opts.profile)
        values = parse_set_values(opts.set_values, inputs.values)
        policy = render_policy(profile, values, version).encode()
        profile_flags = {**cis_rotation_flags(), **profile.flags}
        webhook_flags = profile.webhook_flags
    webhook: WebhookBackend | None = None
    if opts.webhook is not None:
        webhook = build_webhook(opts.webhook, webhook_flags)
    return AuditConfig(opts.policy_path, policy, _log_backend(opts, profile_flags), webhook)
