"""`enable`: compute the policy, the patched manifest and the preflight verdict. Writes nothing."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from kauditcfg.errors import InvalidInput, PreflightRefused, UsageError
from kauditcfg.hostfs import DEFAULT_MANIFEST, Host
from kauditcfg.manifest.files import file_stat, read_manifest
from kauditcfg.manifest.patch import patch_pod
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.manifest.yamltext import parse_documents
from kauditcfg.plan import FileChange, Plan
from kauditcfg.profiles import CIS_ROTATION, get_profile, parse_set_values, render_policy
from kauditcfg.settings import LOG_PATH, POLICY_PATH, build_config
from kauditcfg.versions import NEWEST, Version

LOG_FORMATS = ("json", "legacy")


@dataclass
class EnableOptions:
    profile: str = "cks"
    policy_file: Path | None = None  # the user's own policy, a local path (not under --root)
    set_values: list[str] = field(default_factory=list)
    values_file: Path | None = None
    policy_path: str = POLICY_PATH
    log_path: str = LOG_PATH
    log_maxage: int | None = None
    log_maxbackup: int | None = None
    log_maxsize: int | None = None
    log_format: str | None = None
    log_compress: bool | None = None
    kubernetes_version: Version | None = None
    fix_ownership: bool = False
    allow_unbounded: bool = False


def _policy_bytes(opts: EnableOptions, version: Version) -> bytes:
    if opts.policy_file is not None:
        if opts.set_values or opts.values_file is not None:
            raise UsageError("--set/--values configure a profile; they cannot be used with --policy-file")
        try:
            data = opts.policy_file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{opts.policy_file}: cannot read the policy file ({exc.strerror})") from None
        try:
            docs = parse_documents(data.decode("utf-8"), str(opts.policy_file))
        except UnicodeDecodeError:
            raise InvalidInput(f"{opts.policy_file}: not UTF-8 text; expected an audit Policy") from None
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise InvalidInput(f"{opts.policy_file}: expected exactly one YAML mapping (an audit Policy)")
        return data
    profile = get_profile(opts.profile)
    values_text = None
    if opts.values_file is not None:
        try:
            values_text = opts.values_file.read_text()
        except OSError as exc:
            raise InvalidInput(f"{opts.values_file}: cannot read the values file ({exc.strerror})") from None
    values = parse_set_values(opts.set_values, values_text)
    return render_policy(profile, values, version).encode()


def wanted_flags(opts: EnableOptions) -> dict[str, str]:
    profile_flags = get_profile(opts.profile).flags if opts.policy_file is None else {}
    flags = {"audit-policy-file": opts.policy_path, "audit-log-path": opts.log_path}
    if opts.log_path != "-":
        for name, value in (
            ("audit-log-maxage", opts.log_maxage),
            ("audit-log-maxbackup", opts.log_maxbackup),
            ("audit-log-maxsize", opts.log_maxsize),
        ):
            chosen = str(value) if value is not None else profile_flags.get(name, CIS_ROTATION[name])
            flags[name] = chosen
    if opts.log_format is not None:
        if opts.log_format not in LOG_FORMATS:
            raise UsageError(f"--log-format {opts.log_format!r}: choose json or legacy")
        flags["audit-log-format"] = opts.log_format
    if opts.log_compress is not None:
        flags["audit-log-compress"] = "true" if opts.log_compress else "false"
    return flags


def _check_paths(opts: EnableOptions, manifest: str) -> None:
    static_dir = posixpath.dirname(manifest)
    for option, path in (("--policy-path", opts.policy_path), ("--log-path", opts.log_path)):
        if path == "-" and option == "--log-path":
            continue
        if not path.startswith("/"):
            raise UsageError(f"{option} {path!r}: must be an absolute path on the node")
        if path_within(path, static_dir):
            raise PreflightRefused(
                f"{option} {path}: inside the static pod directory {static_dir}; the kubelet would try to "
                "run it as a pod: choose a path outside it"
            )


def plan_enable(host: Host, opts: EnableOptions, manifest: str = DEFAULT_MANIFEST) -> Plan:
    _check_paths(opts, manifest)
    pod, before, stat = read_manifest(host, manifest)
    version = opts.kubernetes_version or pod.kubernetes_version() or NEWEST
    policy = _policy_bytes(opts, version)
    flags = wanted_flags(opts)
    config = build_config(flags, policy)
    patched = patch_pod(pod, config)
    after = patched.doc.text.encode("utf-8")
    plan = Plan(command="enable")
    plan.files.append(
        FileChange(
            opts.policy_path,
            host.read_bytes(opts.policy_path),
            policy,
            mode=0o600,
            uid=0,
            gid=0,
            before_stat=file_stat(host, opts.policy_path),
        )
    )
    plan.files.append(FileChange(manifest, before, after, mode=stat[0], keep_mode=True, before_stat=stat))
    _preflight(host, patched, plan, opts, version)
    plan.restart_required = before != after
    return plan


def _preflight(host: Host, pod: ApiServerPod, plan: Plan, opts: EnableOptions, version: Version) -> None:
    from kauditcfg.preflight import PreflightOptions, run_preflight

    files = [f for f in plan.files if not f.keep_mode]
    report = run_preflight(
        host,
        pod,
        files,
        PreflightOptions(
            version=version, fix_ownership=opts.fix_ownership, allow_unbounded=opts.allow_unbounded
        ),
    )
    if report.problems:
        raise PreflightRefused(report.problems[0], report.problems)
    plan.warnings.extend(report.warnings)
    plan.actions.extend(report.actions)
