"""`check`, the doctor: the current manifest and host as they are, whoever wrote them.

Pure reading. The judgements are preflight's (`Issue`s), ranked here by how badly they hurt:
high = kube-apiserver does not start or audit events are lost; medium = retention, cost and
leak risks; low = things worth a look. The `cis` block mirrors what kube-bench and kubescape
would say about the same node.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from typing import Any

from kauditcfg.access import Identity, allowed, can_stat, describe_stat
from kauditcfg.errors import KauditError
from kauditcfg.hostfs import DEFAULT_MANIFEST, Host
from kauditcfg.manifest.files import read_manifest
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.policy.lint import SEVERITY_RANK, lint_policy_text
from kauditcfg.preflight import (
    DISK_WARN_FRACTION,
    AuditPath,
    Issue,
    Statvfs,
    audit_paths,
    disk_budget,
    flag_issues,
    flag_value,
    hostpath_type_issues,
    identity_of,
    int_flag,
    log_path_of,
    mount_issues,
    safe_yaml,
    search_chain,
    validate_policy,
)
from kauditcfg.settings import LOG_PATH
from kauditcfg.versions import NEWEST, Version, format_version

CIS_ROTATION = (
    ("audit-log-maxage", 30, "1.2.17"),
    ("audit-log-maxbackup", 10, "1.2.18"),
    ("audit-log-maxsize", 100, "1.2.19"),
)
DEFAULT_LOG_DIR = posixpath.dirname(LOG_PATH)
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"
ETCD_DATA_DIR = "/var/lib/etcd"
KUBELET_DIR_MODE = stat.S_IFDIR | 0o755  # what DirectoryOrCreate makes: root-owned 0755
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class CheckFinding:
    id: str
    severity: str  # high | medium | low
    message: str
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "message": self.message, "path": self.path}


@dataclass
class CheckReport:
    findings: list[CheckFinding] = field(default_factory=list)
    cis: dict[str, dict[str, str]] = field(default_factory=dict)
    manifest: str = DEFAULT_MANIFEST
    version: Version = NEWEST

    def add(self, severity: str, issue: Issue) -> None:
        finding = CheckFinding(issue.id, severity, issue.message, issue.path)
        if finding not in self.findings:
            self.findings.append(finding)

    def failing(self, threshold: str) -> list[CheckFinding]:
        """Findings at or above `threshold` (high, medium or low)."""
        return [f for f in self.findings if SEVERITY_RANK[f.severity] >= SEVERITY_RANK[threshold]]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in ("high", "medium", "low")}

    def to_json(self) -> dict[str, Any]:
        order = sorted(self.findings, key=lambda f: -SEVERITY_RANK[f.severity])
        return {"findings": [f.to_json() for f in order], "cis": self.cis}


def run_check(
    host: Host, manifest_path: str, version: Version | None, *, statvfs: Statvfs | None = None
) -> CheckReport:
    """Inspect the manifest at `manifest_path` (a host path) and the host it points at."""
    pod = read_manifest(host, manifest_path)[0]
    version = version or pod.kubernetes_version() or NEWEST
    report = CheckReport(manifest=manifest_path, version=version)
    who = identity_of(pod)

    for issue in flag_issues(pod, version):
        report.add("high", Issue(issue.id, issue.message, manifest_path))
    _backends(report, pod, manifest_path)

    webhook_text = _webhook_text(host, pod)
    paths = audit_paths(pod, webhook_text)
    for issue in mount_issues(pod, paths):
        report.add("high", issue)
    for issue in hostpath_type_issues(host, paths, lambda _path: None):
        report.add("high", issue)

    policy_data: Any = None
    policy_ok = False
    for p in paths:
        if p.host_path is None:
            continue
        if p.kind == "log-dir":
            _log_dir(report, host, pod, p, who, version, statvfs)
        else:
            readable = _readable(report, host, p, who)
            if p.kind == "policy" and readable:
                policy_data, policy_ok = _policy(report, host, p.host_path, version)

    _rotation(report, pod, manifest_path)
    mode = pod.flag("audit-webhook-mode")
    if flag_value(pod, "audit-webhook-config-file") is not None and mode in ("blocking", "blocking-strict"):
        report.add(
            "medium",
            Issue(
                "webhook-blocking",
                f"--audit-webhook-mode={mode}: every API request waits for the webhook, so a slow or "
                "unreachable receiver stalls kube-apiserver; use --audit-webhook-mode=batch",
                manifest_path,
            ),
        )
    _stray_files(report, host, manifest_path)
    report.cis = cis_checks(pod, policy_data, policy_ok)
    return report


# ---------------------------------------------------------------------------------------------


def _backends(report: CheckReport, pod: ApiServerPod, manifest: str) -> None:
    policy = flag_value(pod, "audit-policy-file")
    log = flag_value(pod, "audit-log-path")
    webhook = flag_value(pod, "audit-webhook-config-file")
    if policy is None and log is None and webhook is None:
        report.add(
            "medium",
            Issue(
                "audit-disabled",
                f"{manifest}: no --audit-policy-file and no audit backend: API-server auditing is off; "
                "run kauditcfg enable",
                manifest,
            ),
        )
    elif policy is None:
        report.add(
            "high",
            Issue(
                "log-without-policy",
                f"--audit-{'log-path' if log else 'webhook-config-file'} is set without --audit-policy-file: "
                "kube-apiserver records nothing; set --audit-policy-file (kauditcfg enable writes one)",
                manifest,
            ),
        )
    elif log is None and webhook is None:
        report.add(
            "high",
            Issue(
                "policy-without-backend",
                f"--audit-policy-file={policy} is set without --audit-log-path or "
                "--audit-webhook-config-file: events go nowhere; set --audit-log-path",
                manifest,
            ),
        )


def _webhook_text(host: Host, pod: ApiServerPod) -> str | None:
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is None:
        return None
    host_path, _ = pod.host_path_of(posixpath.normpath(posixpath.join("/", webhook)))
    if host_path is None:
        return None
    try:
        data = host.read_bytes(host_path)
    except KauditError:
        return None
    return data.decode("utf-8", errors="replace") if data is not None else None


def _unsearchable(host: Host, p: AuditPath, target: str, who: Identity) -> str | None:
    for directory in search_chain(p, target):
        try:
            st = host.path(directory).stat()
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and not can_stat(st, who, "x"):
            return f"{directory} ({describe_stat(st)})"
    return None


def _readable(report: CheckReport, host: Host, p: AuditPath, who: Identity) -> bool:
    """Policy, webhook kubeconfig or a file it references: present and readable by kube-apiserver."""
    assert p.host_path is not None
    path = p.host_path
    what = {"policy": "audit policy", "webhook": "webhook kubeconfig"}.get(p.kind, "file")
    prefix = "policy" if p.kind == "policy" else "webhook"
    real = host.path(path)
    try:
        st = real.stat()
    except FileNotFoundError:
        report.add(
            "high",
            Issue(
                f"{prefix}-missing",
                f"{p.label}: the {what} {path} does not exist on the host; kube-apiserver exits at start; "
                "create it (kauditcfg enable writes the policy) or fix the path",
                path,
            ),
        )
        return False
    if stat.S_ISDIR(st.st_mode):
        report.add(
            "high",
            Issue(
                f"{prefix}-missing",
                f"{p.label}: {path} is a directory, not the {what}; point the flag at a file",
                path,
            ),
        )
        return False
    blocked = _unsearchable(host, p, path, who)
    if blocked is not None or not can_stat(st, who, "r"):
        where = f"cannot enter {blocked}" if blocked else f"cannot read it ({describe_stat(st)})"
        report.add(
            "high",
            Issue(
                f"{prefix}-unreadable",
                f"{p.label}: kube-apiserver runs as {who.describe()} and {where}; it exits at start; "
                "run kauditcfg enable --fix-ownership or give that user read access",
                path,
            ),
        )
        return False
    return True


def _policy(report: CheckReport, host: Host, path: str, version: Version) -> tuple[Any, bool]:
    try:
        data = host.read_bytes(path)
    except KauditError as exc:
        report.add("high", Issue("policy-invalid", str(exc), path))
        return None, False
    if data is None:
        return None, False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.add(
            "high", Issue("policy-invalid", f"{path}: not UTF-8 text; kube-apiserver cannot load it", path)
        )
        return None, False
    errors, _warnings = validate_policy(text, path, version)
    for message in errors:
        report.add("high", Issue("policy-invalid", f"{message}; kube-apiserver refuses to start", path))
    policy_data = safe_yaml(text)
    if errors:
        return policy_data, False
    for finding in lint_policy_text(text, path, version):
        if finding.severity == "high":
            where = f" (rules[{finding.rule}])" if finding.rule is not None else ""
            report.add("medium", Issue(f"policy-{finding.id}", f"{path}{where}: {finding.message}", path))
    return policy_data, True


def _log_dir(
    report: CheckReport,
    host: Host,
    pod: ApiServerPod,
    p: AuditPath,
    who: Identity,
    version: Version,
    statvfs: Statvfs | None,
) -> None:
    assert p.host_path is not None
    log_dir = p.host_path
    real = host.path(log_dir)
    owner = f"{who.uid}:{who.gid}"
    fix = f"run kauditcfg enable --fix-ownership, or chown {owner} {log_dir} && chmod 0700 {log_dir}"
    blocked = _unsearchable(host, p, log_dir, who)
    if blocked is not None:
        report.add(
            "high",
            Issue(
                "log-dir-not-writable",
                f"{p.label}: kube-apiserver runs as {who.describe()} and cannot enter {blocked} on the way "
                f"to the log directory; audit events are lost; {fix}",
                log_dir,
            ),
        )
    if real.exists():
        st = real.stat()
        if not stat.S_ISDIR(st.st_mode):
            report.add(
                "high",
                Issue(
                    "log-dir-not-writable", f"{p.label}: {log_dir} is not a directory; move it away", log_dir
                ),
            )
        elif not can_stat(st, who, "wx"):
            report.add(
                "high",
                Issue(
                    "log-dir-not-writable",
                    f"{p.label}: kube-apiserver runs as {who.describe()} and cannot write the log directory "
                    f"{log_dir} ({describe_stat(st)}); audit events are lost; {fix}",
                    log_dir,
                ),
            )
        else:
            _log_file(report, host, pod, log_dir, who)
    else:
        _missing_log_dir(report, host, p, who, version, fix)
    _disk(report, host, pod, log_dir, statvfs)
    _selinux(report, host, log_dir)
    _etcd_filesystem(report, host, log_dir)


def _log_file(report: CheckReport, host: Host, pod: ApiServerPod, log_dir: str, who: Identity) -> None:
    log = log_path_of(pod)
    if log is None:
        return
    path = posixpath.join(log_dir, posixpath.basename(log))
    real = host.path(path)
    if real.is_file():
        st = real.stat()
        if not can_stat(st, who, "w"):
            report.add(
                "high",
                Issue(
                    "log-dir-not-writable",
                    f"--audit-log-path={log}: kube-apiserver runs as {who.describe()} and cannot append to "
                    f"{path} ({describe_stat(st)}); run kauditcfg enable --fix-ownership or chown "
                    f"{who.uid}:{who.gid} {path}",
                    path,
                ),
            )


def _missing_log_dir(
    report: CheckReport, host: Host, p: AuditPath, who: Identity, version: Version, fix: str
) -> None:
    """What the directory will be when the pod starts: the kubelet or kube-apiserver creates it."""
    assert p.host_path is not None
    log_dir = p.host_path
    hp = (p.volume or {}).get("hostPath") or {}
    if p.mount_root == log_dir:
        if str(hp.get("type") or "") == "DirectoryOrCreate" and not allowed(
            0, 0, KUBELET_DIR_MODE, who, "wx"
        ):
            report.add(
                "high",
                Issue(
                    "log-dir-not-writable",
                    f"{p.label}: {log_dir} does not exist; the kubelet will create it root-owned 0755, which "
                    f"kube-apiserver running as {who.describe()} cannot write; {fix}",
                    log_dir,
                ),
            )
        return
    # kube-apiserver creates missing parents of its log only since 1.23.10/1.24.4/1.25
    # (kubernetes/kubernetes#110813); before that it exits with "ensureLogFile: no such file".
    if version < (1, 25):
        report.add(
            "high",
            Issue(
                "log-dir-not-writable",
                f"{p.label}: {log_dir} does not exist and kube-apiserver {format_version(version)} may not "
                "create it (it exits with 'no such file or directory'); create it or run kauditcfg enable",
                log_dir,
            ),
        )
        return
    parent = posixpath.dirname(log_dir)
    while parent != "/" and not host.path(parent).exists():
        parent = posixpath.dirname(parent)
    root = p.mount_root or "/"
    if path_within(parent, root):
        st = host.path(parent).stat()
        if not can_stat(st, who, "wx"):
            report.add(
                "high",
                Issue(
                    "log-dir-not-writable",
                    f"{p.label}: {log_dir} does not exist and kube-apiserver running as {who.describe()} "
                    f"cannot create it in {parent} ({describe_stat(st)}); {fix}",
                    log_dir,
                ),
            )


def _disk(report: CheckReport, host: Host, pod: ApiServerPod, log_dir: str, statvfs: Statvfs | None) -> None:
    budget = disk_budget(host, pod, log_dir, statvfs)
    if budget is not None and budget.fraction > DISK_WARN_FRACTION:
        report.add(
            "medium",
            Issue(
                "disk-budget",
                f"{budget.describe()}, above {DISK_WARN_FRACTION:.0%}; lower --audit-log-maxbackup or "
                "--audit-log-maxsize, turn on --audit-log-compress, or give the logs their own filesystem",
                log_dir,
            ),
        )


def _selinux(report: CheckReport, host: Host, log_dir: str) -> None:
    try:
        enforcing = host.path(SELINUX_ENFORCE).read_text().strip() == "1"
    except OSError:
        return
    if not enforcing or log_dir == DEFAULT_LOG_DIR:
        return
    label = ""
    real = host.path(log_dir)
    try:
        label = os.getxattr(real, "security.selinux").rstrip(b"\0").decode()
    except (OSError, AttributeError, UnicodeDecodeError):
        label = ""
    report.add(
        "low",
        Issue(
            "selinux-log-dir",
            f"SELinux is enforcing and the audit log directory {log_dir} is a custom location"
            + (f" (label {label})" if label else "")
            + "; if kube-apiserver gets 'permission denied', label it for containers: "
            f"semanage fcontext -a -t container_file_t '{log_dir}(/.*)?' && restorecon -R {log_dir}",
            log_dir,
        ),
    )


def _etcd_filesystem(report: CheckReport, host: Host, log_dir: str) -> None:
    etcd = host.path(ETCD_DATA_DIR)
    if not etcd.is_dir():
        return
    existing = log_dir
    while existing != "/" and not host.path(existing).exists():
        existing = posixpath.dirname(existing)
    if host.path(existing).stat().st_dev == etcd.stat().st_dev:
        report.add(
            "low",
            Issue(
                "log-on-etcd-filesystem",
                f"the audit log directory {log_dir} is on the same filesystem as {ETCD_DATA_DIR}: a log "
                "burst can fill etcd's disk and stop the cluster; give the audit logs their own filesystem "
                "or keep the rotation budget small",
                log_dir,
            ),
        )


def _rotation(report: CheckReport, pod: ApiServerPod, manifest: str) -> None:
    if log_path_of(pod) is None:
        return
    for name, minimum, _cis in CIS_ROTATION:
        raw = pod.flag(name)
        value = int_flag(pod, name)
        if raw is not None and value is None:
            continue  # reported as an invalid value
        if value is None:
            problem = "is not set (0: keep forever / library default)"
        elif value == 0:
            problem = "is 0 (no limit)"
        elif value < minimum:
            problem = f"is {value}, under the CIS minimum {minimum}"
        else:
            continue
        report.add(
            "medium",
            Issue(
                f"rotation-{name.removeprefix('audit-log-')}",
                f"--{name} {problem}; set --{name}={minimum} or more (kauditcfg enable --log-"
                f"{name.removeprefix('audit-log-')} {minimum})",
                manifest,
            ),
        )


# ---------------------------------------------------------------------------------------------
# The static pod directory


def static_pod_dirs(host: Host) -> set[str]:
    """kubeadm's default and, when the kubelet config says otherwise, its staticPodPath."""
    dirs = {posixpath.dirname(DEFAULT_MANIFEST)}
    try:
        text = host.read_bytes(KUBELET_CONFIG)
    except KauditError:
        text = None
    if text:
        match = re.search(rb"^staticPodPath:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
        if match:
            dirs.add(posixpath.normpath(match.group(1).decode("utf-8", errors="replace")))
    return dirs


def _stray_files(report: CheckReport, host: Host, manifest: str) -> None:
    """The kubelet runs every non-dot file in its static pod directory, whatever the extension.

    Only a directory the kubelet actually watches is judged: a manifest checked out in a Git
    repository sits beside unrelated YAML.
    """
    directory = posixpath.dirname(manifest)
    if directory not in static_pod_dirs(host):
        return
    try:
        entries = sorted(host.path(directory).iterdir())
    except OSError:
        return
    reasons: dict[str, list[str]] = {}
    pods: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file():
            continue
        path = posixpath.join(directory, entry.name)
        why: list[str] = []
        if not entry.name.endswith(MANIFEST_SUFFIXES):
            why.append("looks like a backup or editor file")
        kind, key = _static_pod_identity(entry.read_bytes())
        if kind is None:
            why.append("does not parse as a Kubernetes object")
        elif kind != "Pod":
            why.append(f"is a {kind}, not a Pod")
        elif key is not None:
            pods.setdefault(key, []).append(path)
        reasons[path] = why
    for (namespace, name), files in pods.items():
        if len(files) < 2:
            continue
        keep = manifest if manifest in files else files[0]
        for f in files:
            if f != keep:
                reasons[f].append(
                    f"defines pod {namespace}/{name}, as {posixpath.basename(keep)} does: the kubelet "
                    f"runs only one of them, so edits to {posixpath.basename(keep)} may never apply"
                )
    for path, why in reasons.items():
        if not why:
            continue
        dup = any(w.startswith("defines pod") for w in why)
        report.add(
            "high",
            Issue(
                "duplicate-static-pod" if dup and len(why) == 1 else "stray-manifest-file",
                f"{path}: {'; '.join(why)}; the kubelet reads every non-dot file in {directory}; move "
                "it out of that directory (kauditcfg keeps its backups in /var/lib/kauditcfg/backups)",
                path,
            ),
        )


def _static_pod_identity(data: bytes) -> tuple[str | None, tuple[str, str] | None]:
    """(kind, (namespace, name)) of a file the kubelet would read; kind None when it does not parse."""
    doc = safe_yaml(data.decode("utf-8", errors="replace"))
    if not isinstance(doc, dict) or "kind" not in doc:
        return None, None
    kind = str(doc.get("kind"))
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = (meta.get("namespace") if isinstance(meta, dict) else None) or "default"
    return kind, ((str(namespace), str(name)) if name else None)


# ---------------------------------------------------------------------------------------------
# CIS / kube-bench / kubescape


def _cis_flag(pod: ApiServerPod, name: str) -> tuple[str | None, bool]:
    """(value, written as --flag=value); kube-bench and kubescape only read the `=` form."""
    last = None
    for flag in pod.flags:
        if flag.name == name:
            last = flag
    if last is None or last.value in (None, ""):
        return None, False
    return last.value, last.value_index is None


def cis_checks(pod: ApiServerPod, policy_data: Any, policy_ok: bool) -> dict[str, dict[str, str]]:
    cis: dict[str, dict[str, str]] = {}

    def put(key: str, title: str, passed: bool, detail: str) -> None:
        cis[key] = {"title": title, "result": "pass" if passed else "fail", "detail": detail}

    value, equals = _cis_flag(pod, "audit-log-path")
    put(
        "1.2.16",
        "Ensure that the --audit-log-path argument is set",
        value is not None and equals,
        "not set"
        if value is None
        else f"--audit-log-path={value}"
        if equals
        else f"written as '--audit-log-path {value}'; kube-bench only reads --audit-log-path={value}",
    )
    for name, minimum, key in CIS_ROTATION:
        value, equals = _cis_flag(pod, name)
        number = int(value) if value is not None and re.fullmatch(r"\d+", value.strip()) else None
        passed = number is not None and number >= minimum and equals
        if value is None:
            detail = "not set"
        elif not equals:
            detail = f"written as '--{name} {value}'; kube-bench only reads --{name}={value}"
        else:
            detail = f"--{name}={value} (needs {minimum} or more)"
        put(key, f"Ensure that the --{name} argument is set to {minimum} or as appropriate", passed, detail)
    value, equals = _cis_flag(pod, "audit-policy-file")
    if value is None:
        detail = "--audit-policy-file is not set"
    elif not equals:
        detail = (
            f"written as '--audit-policy-file {value}'; kube-bench only reads --audit-policy-file={value}"
        )
    elif not policy_ok:
        detail = f"--audit-policy-file={value}, but the policy is missing or invalid on the host"
    else:
        detail = f"--audit-policy-file={value}"
    put(
        "3.2.1",
        "Ensure that a minimal audit policy is created",
        value is not None and equals and policy_ok,
        detail,
    )
    from kauditcfg.policy.compliance import c0161_failures

    if isinstance(policy_data, dict) and policy_ok:
        failures = c0161_failures(policy_data)
        put(
            "C-0161",
            "Audit policy for sensitive resources (kubescape)",
            not failures,
            "; ".join(failures)
            if failures
            else "secrets, configmaps, tokenreviews at Metadata; "
            "pods, deployments, exec, portforward, proxy logged",
        )
    else:
        put(
            "C-0161", "Audit policy for sensitive resources (kubescape)", False, "no valid policy on the host"
        )
    return cis
