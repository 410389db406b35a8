"""Build the desired AuditConfig once, purely: options + profile + values + the existing manifest."""

from __future__ import annotations

from kauditcfg.config.adopt import Adoption, adopt
from kauditcfg.config.audit import LOG_FLAGS, AuditConfig, LogBackend, WebhookBackend
from kauditcfg.config.defaults import LOG_PATH, POLICY_PATH, cis_rotation_flags
from kauditcfg.config.inputs import Inputs
from kauditcfg.config.options import LOG_FORMATS, EnableOptions
from kauditcfg.errors import InvalidInput, PreflightRefused, UsageError
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.versions import NEWEST, OLDEST, Version, format_version
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


def _log_backend(opts: EnableOptions, rotation: dict[str, str]) -> LogBackend:
    if opts.log_format is not None and opts.log_format not in LOG_FORMATS:
        raise UsageError(f"--log-format {opts.log_format!r}: choose json or legacy")
    log_path = opts.log_path or LOG_PATH
    given: dict[str, str | None] = {
        **rotation,
        "format": opts.log_format,
        "compress": None if opts.log_compress is None else ("true" if opts.log_compress else "false"),
    }
    options: list[tuple[str, str]] = []
    for name in LOG_FLAGS:
        value = given.get(name)
        if value is not None and (log_path != "-" or name in ("format", "compress")):
            options.append((name, value))
    tuning = tuning_flags("log", opts.log_tuning)
    options.extend((name.removeprefix("audit-log-"), value) for name, value in tuning.items())
    return LogBackend(log_path, tuple(options))


def check_version(opts: EnableOptions, pod: ApiServerPod, manifest: str) -> Version:
    """The version to write for; refuse one kube-apiserver could not run our policy on.

    audit.k8s.io/v1 exists from 1.12, and the policy engine models 1.19 and newer.
    """
    version = target_version(opts, pod)
    if version >= OLDEST:
        return version
    supported = f"{format_version(OLDEST)} to {format_version(NEWEST)}"
    if opts.kubernetes_version is not None:
        raise UsageError(
            f"--kubernetes-version {format_version(version)}: below the supported range {supported}"
        )
    image = pod.container.get("image")
    raise PreflightRefused(
        f"{manifest}: image {image} is Kubernetes {format_version(version)}, below the supported range "
        f"{supported}; upgrade the cluster, or pass --kubernetes-version if the image tag is wrong"
    )


def _build(
    opts: EnableOptions, version: Version, inputs: Inputs, pod: ApiServerPod | None
) -> tuple[AuditConfig, Adoption]:
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
    adoption = adopt(opts, pod, profile_flags)
    chosen = adoption.options
    webhook: WebhookBackend | None = None
    if opts.webhook is not None:
        webhook = build_webhook(opts.webhook, webhook_flags)
    log = _log_backend(chosen, adoption.rotation)
    return AuditConfig(chosen.policy_path or POLICY_PATH, policy, log, webhook), adoption


def desired(opts: EnableOptions, pod: ApiServerPod, inputs: Inputs) -> tuple[AuditConfig, Adoption]:
    """The AuditConfig `enable` wants on this node, and what it adopted from the manifest."""
    return _build(opts, target_version(opts, pod), inputs, pod)


def desired_config(opts: EnableOptions, pod: ApiServerPod, inputs: Inputs) -> AuditConfig:
    """The AuditConfig `enable` wants on this node (the profile is looked up once, here)."""
    return desired(opts, pod, inputs)[0]


def config_for_version(opts: EnableOptions, version: Version, inputs: Inputs) -> AuditConfig:
    """The same, for a Kubernetes version known without a manifest (kubeadm configs and patches):
    unset paths take the defaults, rotation the profile's values."""
    return _build(opts, version, inputs, None)[0]
