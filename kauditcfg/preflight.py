"""Preflight: refuse (exit 4) any change that would stop kube-apiserver, before a byte is written.

Runs inside `enable` on the patched pod and the planned files. Read-only: it stats the host
(under `--root`) and asks statvfs for free space; what must change on the host (the log
directory, ownership fixes) comes back as `HostAction`s for the apply step.

The judgements are shared with `check` (the doctor), which reports the same conditions on a
manifest and host as they are: `Issue` is the common currency, turned into refusals and warnings
here and into severity-ranked findings there.

Ownership choices (DESIGN.md §8, KUBEADM_NOTES "RootlessControlPlane"):
- The log directory belongs to the container's uid:gid, mode 0700 (what kube-apiserver's own
  ensureLogFile would create); the audit files it writes are 0600 anyway.
- Files kube-apiserver only reads (policy, webhook kubeconfig) stay owned by root so the service
  user cannot rewrite its own policy: root:root 0600 for a root container, root:<runAsGroup> 0640
  for a non-root one (kubeadm's own choice for sa.key). Without a runAsGroup the primary group is
  0 and a group grant would reach every gid-0 process, so the file is then owned by the runAsUser
  itself, mode 0600.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kauditcfg.access import Identity, can_stat, describe_stat, identity_from_security, missing_bits
from kauditcfg.audit_flags import unknown_audit_flags, unknown_reason, value_problem
from kauditcfg.errors import KauditError
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.plan import FileChange, HostAction
from kauditcfg.versions import Version, format_version

MIB = 1024 * 1024  # lumberjack's "megabyte"
LUMBERJACK_DEFAULT_MAXSIZE = 100
DISK_WARN_FRACTION = 0.25
DISK_REFUSE_FRACTION = 0.75
LOG_DIR_MODE = 0o700

Statvfs = Callable[[str], Any]  # os.statvfs or a stand-in with f_bavail and f_frsize


def default_statvfs(path: str) -> Any:
    """The free-space source when none is given; tests replace it to simulate a small disk."""
    return os.statvfs(path)


@dataclass
class PreflightOptions:
    version: Version
    fix_ownership: bool = False
    allow_unbounded: bool = False


@dataclass
class PreflightReport:
    problems: list[str] = field(default_factory=list)  # refusals (exit 4)
    warnings: list[str] = field(default_factory=list)
    actions: list[HostAction] = field(default_factory=list)


@dataclass(frozen=True)
class Issue:
    """One condition found on the pod or host; `path` is the host path (or manifest) it concerns."""

    id: str
    message: str
    path: str | None = None


# ---------------------------------------------------------------------------------------------
# Who kube-apiserver is, and which host paths it opens


def identity_of(pod: ApiServerPod) -> Identity:
    user, group, supplemental, fs_group = pod.security()
    ctr_sc = pod.container.get("securityContext") or {}
    caps = ctr_sc.get("capabilities") if isinstance(ctr_sc, dict) else None
    return identity_from_security(user, group, supplemental, fs_group, caps)


def reader_ownership(who: Identity) -> tuple[int, int, int]:
    """(uid, gid, mode) for a file kube-apiserver must read and nobody else needs to."""
    if who.is_root:
        return 0, 0, 0o600
    if who.gid != 0:
        return 0, who.gid, 0o640
    return who.uid, 0, 0o600


@dataclass
class AuditPath:
    """A path kube-apiserver opens, as written (container view) and as found on the host."""

    label: str  # how to name it in a message: "--audit-policy-file=/etc/..."
    kind: str  # "policy" | "log-dir" | "webhook" | "webhook-ref"
    container_path: str
    host_path: str | None = None  # None: no hostPath mount covers it
    mount: dict[str, Any] | None = None
    volume: dict[str, Any] | None = None

    @property
    def mount_root(self) -> str | None:
        """The host directory (or file) the covering hostPath volume binds."""
        host = (self.volume or {}).get("hostPath")
        return str(host["path"]) if isinstance(host, dict) and "path" in host else None


def _abs(path: str) -> str:
    # kube-apiserver resolves relative paths against its working directory, "/" in every image.
    return posixpath.normpath(posixpath.join("/", path))


def flag_value(pod: ApiServerPod, name: str) -> str | None:
    """The value kube-apiserver uses, None when unset or empty (an empty path disables a backend)."""
    value = pod.flag(name)
    return value if value not in (None, "") else None


def log_path_of(pod: ApiServerPod) -> str | None:
    """`--audit-log-path` as an absolute path, None when unset or `-` (stdout)."""
    value = flag_value(pod, "audit-log-path")
    return None if value in (None, "-") else _abs(str(value))


def resolve(pod: ApiServerPod, label: str, kind: str, container_path: str) -> AuditPath:
    host, mount = pod.host_path_of(container_path)
    volume = pod.volume(str(mount.get("name"))) if mount is not None else None
    return AuditPath(label, kind, container_path, host, mount, volume)


def audit_paths(pod: ApiServerPod, webhook_text: str | None = None) -> list[AuditPath]:
    """Every path kube-apiserver will open for auditing, resolved through the pod's mounts."""
    paths: list[AuditPath] = []
    policy = flag_value(pod, "audit-policy-file")
    if policy is not None:
        paths.append(resolve(pod, f"--audit-policy-file={policy}", "policy", _abs(policy)))
    log = log_path_of(pod)
    if log is not None:
        paths.append(resolve(pod, f"--audit-log-path={log}", "log-dir", posixpath.dirname(log)))
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is not None:
        paths.append(resolve(pod, f"--audit-webhook-config-file={webhook}", "webhook", _abs(webhook)))
        if webhook_text is not None:
            for field_name, ref in webhook_references(webhook_text, _abs(webhook)):
                paths.append(resolve(pod, f"{field_name} {ref} (in {webhook})", "webhook-ref", ref))
    return paths


_KUBECONFIG_FILES = (
    ("clusters", "cluster", ("certificate-authority",)),
    ("users", "user", ("client-certificate", "client-key", "tokenFile")),
)


def webhook_references(text: str, container_path: str) -> list[tuple[str, str]]:
    """(field, absolute container path) of every file the webhook kubeconfig points at.

    client-go resolves relative paths against the kubeconfig's own directory.
    """
    data = safe_yaml(text)
    if not isinstance(data, dict):
        return []
    base = posixpath.dirname(container_path)
    refs: list[tuple[str, str]] = []
    for section, inner, keys in _KUBECONFIG_FILES:
        for entry in data.get(section) or []:
            body = entry.get(inner) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for key in keys:
                value = body.get(key)
                if isinstance(value, str) and value:
                    ref = posixpath.normpath(posixpath.join(base, value))
                    refs.append((f"{section}[].{inner}.{key}", ref))
    return refs


def safe_yaml(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Flags


def flag_issues(pod: ApiServerPod, version: Version) -> list[Issue]:
    """Unknown `--audit-*` flags and values that would not parse: kube-apiserver prints usage and exits."""
    issues: list[Issue] = []
    ver = format_version(version)
    flags = [f for f in pod.flags if f.name.startswith("audit-")]
    seen: set[str] = set()
    for name, suggestion in unknown_audit_flags([f.name for f in flags], version):
        if name in seen:
            continue
        seen.add(name)
        hint = f"did you mean --{suggestion}?" if suggestion else "remove it"
        issues.append(
            Issue(
                "unknown-flag",
                f"--{name}: {unknown_reason(name, version)} (Kubernetes {ver}); kube-apiserver would print "
                f"its usage and exit; {hint}",
            )
        )
    for flag in flags:
        if flag.name in seen:
            continue
        problem = value_problem(flag.name, flag.value, version)
        if problem:
            written = f"--{flag.name}" + (f"={flag.value}" if flag.value is not None else "")
            issues.append(
                Issue(
                    "invalid-flag-value",
                    f"{written}: {problem}; kube-apiserver would refuse to start; fix the value",
                )
            )
    return issues


def int_flag(pod: ApiServerPod, name: str) -> int | None:
    value = pod.flag(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Mounts


def log_file_mount(pod: ApiServerPod) -> dict[str, Any] | None:
    """The volumeMount that binds the log *file* itself, if any."""
    log = log_path_of(pod)
    if log is None:
        return None
    for mount in pod.mounts:
        if posixpath.normpath(str(mount.get("mountPath", ""))) == log:
            return mount
    return None


def mount_issues(pod: ApiServerPod, paths: list[AuditPath]) -> list[Issue]:
    issues: list[Issue] = []
    file_mount = log_file_mount(pod)
    log = log_path_of(pod)
    if file_mount is not None and log is not None:
        issues.append(
            Issue(
                "log-file-mounted",
                f"--audit-log-path={log}: volumeMount {file_mount.get('name')!r} mounts the log file "
                "itself; rotation renames the file, which fails on a single-file mount (EBUSY) and the log "
                f"then grows without bound; mount the directory {posixpath.dirname(log)} (hostPath type "
                "DirectoryOrCreate) instead",
                log,
            )
        )
    for p in paths:
        if p.mount is None:
            target = p.container_path if p.kind == "log-dir" else posixpath.dirname(p.container_path)
            what = f"its directory {p.container_path}" if p.kind == "log-dir" else p.container_path
            access = "read-write" if p.kind == "log-dir" else "readOnly: true"
            container = pod.container.get("name")
            issues.append(
                Issue(
                    "path-not-mounted",
                    f"{p.label}: {what} is under no volumeMount of container {container!r}, so "
                    f"kube-apiserver cannot open it and exits at start; add a hostPath volume mounted at "
                    f"{target} ({access})",
                    p.container_path,
                )
            )
            continue
        if p.host_path is None:
            name = p.mount.get("name")
            why = "is not defined in spec.volumes" if p.volume is None else "is not a hostPath volume"
            issues.append(
                Issue(
                    "path-not-mounted",
                    f"{p.label}: volumeMount at {p.mount.get('mountPath')} uses volume {name!r}, which "
                    f"{why}; the file is not the host's; use a hostPath volume",
                    p.container_path,
                )
            )
            continue
        if p.kind == "log-dir" and p.mount.get("readOnly") is True:
            issues.append(
                Issue(
                    "log-mount-read-only",
                    f"{p.label}: volumeMount {p.mount.get('name')!r} at {p.mount.get('mountPath')} is "
                    "readOnly: true, so kube-apiserver cannot write the log; set readOnly: false on that "
                    "mount",
                    p.host_path,
                )
            )
    return issues


def hostpath_type_issues(
    host: Host, paths: list[AuditPath], will_exist: Callable[[str], str | None]
) -> list[Issue]:
    """hostPath `type` checks the kubelet makes before it starts the pod.

    `will_exist(host_path)` says "file"/"dir" when the path will exist after apply, else None.
    """
    issues: list[Issue] = []
    seen: set[str] = set()
    for p in paths:
        root = p.mount_root
        if root is None or root in seen:
            continue
        seen.add(root)
        hp = (p.volume or {}).get("hostPath") or {}
        kind = str(hp.get("type") or "")
        real = host.path(root)
        present = "dir" if real.is_dir() else "file" if real.exists() else will_exist(root)
        name = (p.volume or {}).get("name")
        if kind in ("Directory", "File") and present is None:
            issues.append(
                Issue(
                    "hostpath-missing",
                    f"volume {name!r}: hostPath {root} (type {kind}) does not exist, so the kubelet will not "
                    f"start kube-apiserver; create it or use type {kind}OrCreate",
                    root,
                )
            )
        elif kind in ("Directory", "DirectoryOrCreate") and present == "file":
            issues.append(
                Issue(
                    "hostpath-type",
                    f"volume {name!r}: hostPath {root} is a file but the volume has type {kind}; "
                    "the kubelet will not start kube-apiserver; fix the type or the path",
                    root,
                )
            )
        elif kind in ("File", "FileOrCreate") and present == "dir":
            issues.append(
                Issue(
                    "hostpath-type",
                    f"volume {name!r}: hostPath {root} is a directory but the volume has type {kind}; "
                    "the kubelet will not start kube-apiserver; fix the type or the path",
                    root,
                )
            )
    return issues


def search_chain(p: AuditPath, host_target: str) -> list[str]:
    """Host directories kube-apiserver traverses inside the mount to reach `host_target`."""
    root = p.mount_root
    if root is None or not path_within(host_target, root) or host_target == root:
        return []
    chain = [root]
    rel = posixpath.relpath(posixpath.dirname(host_target), root)
    if rel != ".":
        current = root
        for part in rel.split("/"):
            current = posixpath.join(current, part)
            chain.append(current)
    return chain


# ---------------------------------------------------------------------------------------------
# Disk


def nearest_existing(host: Host, host_path: str) -> str:
    current = posixpath.normpath(host_path)
    while current != "/" and not host.path(current).exists():
        current = posixpath.dirname(current)
    return current


def free_bytes(host: Host, host_dir: str, statvfs: Statvfs | None = None) -> tuple[str, int]:
    """(nearest existing ancestor, bytes an unprivileged writer may still use on its filesystem)."""
    existing = nearest_existing(host, host_dir)
    st = (statvfs or default_statvfs)(str(host.path(existing)))
    return existing, int(st.f_bavail) * int(st.f_frsize)


def existing_log_bytes(host: Host, log_host_path: str) -> int:
    """Bytes the current log and its rotated copies already take (lumberjack: name-<time>.ext[.gz])."""
    real = host.path(log_host_path)
    stem, ext = posixpath.splitext(real.name)
    total = 0
    try:
        entries = list(real.parent.iterdir())
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        rotated = name.startswith(stem + "-") and (name.endswith(ext) or name.endswith(ext + ".gz"))
        if name == real.name or rotated:
            try:
                if entry.is_file():
                    total += entry.stat().st_size
            except OSError:
                continue
    return total


@dataclass
class DiskBudget:
    budget: int  # bytes
    free: int  # bytes free now plus what the current audit files already occupy
    log_dir: str  # host path
    maxsize: int
    maxbackup: int

    @property
    def fraction(self) -> float:
        return self.budget / self.free if self.free > 0 else float("inf")

    def describe(self) -> str:
        return (
            f"--audit-log-maxsize={self.maxsize} × (--audit-log-maxbackup={self.maxbackup} + 1) = "
            f"{self.budget // MIB} MB of audit logs is {self.fraction * 100:.0f}% of the "
            f"{self.free // MIB} MB available on the filesystem holding {self.log_dir}"
        )


def disk_budget(
    host: Host, pod: ApiServerPod, log_dir_host: str, statvfs: Statvfs | None = None
) -> DiskBudget | None:
    """The worst-case footprint of rotation against free space; None when unbounded or unknown."""
    maxsize = int_flag(pod, "audit-log-maxsize")
    maxbackup = int_flag(pod, "audit-log-maxbackup")
    if maxbackup is None or maxbackup <= 0:
        return None
    size = maxsize if maxsize is not None and maxsize > 0 else LUMBERJACK_DEFAULT_MAXSIZE
    log = log_path_of(pod)
    _, free = free_bytes(host, log_dir_host, statvfs)
    if log is not None:
        free += existing_log_bytes(host, posixpath.join(log_dir_host, posixpath.basename(log)))
    return DiskBudget(size * MIB * (maxbackup + 1), free, log_dir_host, size, maxbackup)


# ---------------------------------------------------------------------------------------------
# Policy


def validate_policy(text: str, source: str, version: Version) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a policy file, as kube-apiserver of `version` would load it."""
    from kauditcfg.policy.load import validate_policy_text

    result = validate_policy_text(text, source, version)

    def named(message: str) -> str:
        return message if source in message else f"{source}: {message}"

    return [named(m) for m in result.errors], [named(m) for m in result.warnings]


# ---------------------------------------------------------------------------------------------
# The preflight itself


class _Planner:
    """Collects problems, warnings and host actions for one run."""

    def __init__(self, host: Host, options: PreflightOptions) -> None:
        self.host = host
        self.options = options
        self.report = PreflightReport()
        self.created_dirs: set[str] = set()

    def refuse(self, message: str) -> None:
        if message not in self.report.problems:
            self.report.problems.append(message)

    def warn(self, message: str) -> None:
        if message not in self.report.warnings:
            self.report.warnings.append(message)

    def act(self, action: HostAction) -> None:
        if action not in self.report.actions:
            self.report.actions.append(action)


def run_preflight(
    host: Host,
    pod: ApiServerPod,
    files: list[FileChange],
    options: PreflightOptions,
    *,
    statvfs: Statvfs | None = None,
) -> PreflightReport:
    """Judge the patched pod against the host; set owner and mode on the planned files it reads.

    `files` are the planned files (policy, webhook kubeconfig); a check whose input does not
    exist yet uses the planned contents and the ownership chosen here.
    """
    run = _Planner(host, options)
    who = identity_of(pod)
    planned = {posixpath.normpath(f.path): f for f in files if f.after is not None}

    for issue in flag_issues(pod, options.version):
        run.refuse(issue.message)

    webhook_text = _webhook_text(host, pod, planned)
    paths = audit_paths(pod, webhook_text)
    for issue in mount_issues(pod, paths):
        run.refuse(issue.message)

    _set_reader_ownership(paths, planned, who)
    for p in paths:
        if p.host_path is None:
            continue
        if p.kind == "log-dir":
            _log_dir(run, pod, p, who)
        else:
            _readable_file(run, p, planned, who)

    def will_exist(path: str) -> str | None:
        if path in planned:
            return "file"
        if any(path_within(d, path) for d in run.created_dirs):
            return "dir"
        if any(path_within(f, path) and f != path for f in planned):
            return "dir"  # atomic_write creates the parents of the files it writes
        return None

    for issue in hostpath_type_issues(host, paths, will_exist):
        run.refuse(issue.message)

    _disk(run, pod, paths, statvfs)
    _policy(run, pod, paths, planned)
    _misc_warnings(run, pod, webhook_text)
    return run.report


def _webhook_text(host: Host, pod: ApiServerPod, planned: dict[str, FileChange]) -> str | None:
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is None:
        return None
    host_path, _ = pod.host_path_of(_abs(webhook))
    if host_path is None:
        return None
    change = planned.get(posixpath.normpath(host_path))
    data = change.after if change is not None else _read(host, host_path)
    return data.decode("utf-8", errors="replace") if data is not None else None


def _read(host: Host, host_path: str) -> bytes | None:
    """The file's bytes; None when missing or unreadable (reported by the ownership checks)."""
    try:
        return host.read_bytes(host_path)
    except KauditError:
        return None


def _set_reader_ownership(paths: list[AuditPath], planned: dict[str, FileChange], who: Identity) -> None:
    uid, gid, mode = reader_ownership(who)
    for p in paths:
        if p.kind == "log-dir" or p.host_path is None:
            continue
        change = planned.get(posixpath.normpath(p.host_path))
        if change is None or change.keep_mode:
            continue
        change.uid, change.gid, change.mode = uid, gid, mode


def _log_dir(run: _Planner, pod: ApiServerPod, p: AuditPath, who: Identity) -> None:
    assert p.host_path is not None
    log_dir = p.host_path
    real = run.host.path(log_dir)
    fix = "--fix-ownership"
    _search_chain(run, p, log_dir, who)
    if not real.exists():
        # ensureLogFile would create it (0700) only from 1.25 on, and the kubelet's DirectoryOrCreate
        # makes it root-owned 0755: a non-root kube-apiserver could not write either way.
        run.act(HostAction("mkdir", log_dir, mode=LOG_DIR_MODE, uid=who.uid, gid=who.gid))
        run.created_dirs.add(log_dir)
        return
    st = real.stat()
    if not stat.S_ISDIR(st.st_mode):
        run.refuse(
            f"{p.label}: {log_dir} exists and is not a directory; move it away or choose another --log-path"
        )
        return
    if not can_stat(st, who, "wx"):
        if run.options.fix_ownership:
            run.act(HostAction("chown", log_dir, uid=who.uid, gid=who.gid))
            run.act(HostAction("chmod", log_dir, mode=LOG_DIR_MODE))
        else:
            run.refuse(
                f"{p.label}: kube-apiserver runs as {who.describe()} and cannot write the log directory "
                f"{log_dir} ({describe_stat(st)}); pass {fix} to chown it to {who.uid}:{who.gid} mode 0700 "
                f"(or run chown {who.uid}:{who.gid} {log_dir} && chmod 0700 {log_dir})"
            )
    log = log_path_of(pod)
    if log is None:
        return
    log_file = posixpath.join(log_dir, posixpath.basename(log))
    real_file = run.host.path(log_file)
    if real_file.is_file():
        fst = real_file.stat()
        if not can_stat(fst, who, "w"):
            if run.options.fix_ownership:
                run.act(HostAction("chown", log_file, uid=who.uid, gid=who.gid))
            else:
                run.refuse(
                    f"{p.label}: kube-apiserver runs as {who.describe()} and cannot append to the existing "
                    f"log {log_file} ({describe_stat(fst)}); pass {fix} to chown it to {who.uid}:{who.gid}"
                )


def _readable_file(run: _Planner, p: AuditPath, planned: dict[str, FileChange], who: Identity) -> None:
    assert p.host_path is not None
    path = posixpath.normpath(p.host_path)
    _search_chain(run, p, path, who)
    if path in planned:
        return  # written with reader_ownership()
    real = run.host.path(path)
    if not real.exists():
        what = {"policy": "the audit policy", "webhook": "the webhook kubeconfig"}.get(p.kind, "the file")
        run.refuse(
            f"{p.label}: {what} {path} does not exist on the host; kube-apiserver exits at start; "
            "create it or fix the path"
        )
        return
    st = real.stat()
    if stat.S_ISDIR(st.st_mode):
        run.refuse(f"{p.label}: {path} is a directory; point the flag at a file")
        return
    if can_stat(st, who, "r"):
        return
    uid, gid, mode = reader_ownership(who)
    if run.options.fix_ownership:
        run.act(HostAction("chown", path, uid=uid, gid=gid))
        run.act(HostAction("chmod", path, mode=mode))
    else:
        run.refuse(
            f"{p.label}: kube-apiserver runs as {who.describe()} and cannot read {path} "
            f"({describe_stat(st)}); pass --fix-ownership to make it {uid}:{gid} mode {mode:04o}"
        )


def _search_chain(run: _Planner, p: AuditPath, target: str, who: Identity) -> None:
    """Every existing directory between the mount and `target` must be searchable (x) by kube-apiserver.

    Directories that do not exist yet will be created root-owned 0755 (kubelet or apply), which any
    user can traverse.
    """
    for directory in search_chain(p, target):
        real = run.host.path(directory)
        try:
            st = real.stat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or can_stat(st, who, "x"):
            continue
        new_mode = stat.S_IMODE(st.st_mode) | missing_bits(st.st_uid, st.st_gid, st.st_mode, who, "x")
        if run.options.fix_ownership:
            run.act(HostAction("chmod", directory, mode=new_mode))
        else:
            run.refuse(
                f"{p.label}: kube-apiserver runs as {who.describe()} and cannot enter {directory} "
                f"({describe_stat(st)}) on the way to {target}; pass --fix-ownership to chmod it "
                f"{new_mode:04o}"
            )


def _disk(run: _Planner, pod: ApiServerPod, paths: list[AuditPath], statvfs: Statvfs | None) -> None:
    log_dir = next((p for p in paths if p.kind == "log-dir"), None)
    if log_dir is None:
        return
    maxsize = int_flag(pod, "audit-log-maxsize")
    maxbackup = int_flag(pod, "audit-log-maxbackup")
    unbounded: list[str] = []
    if maxbackup is None or maxbackup == 0:
        written = "unset" if maxbackup is None else "0"
        unbounded.append(
            f"--audit-log-maxbackup is {written}: kube-apiserver keeps every rotated audit file and can fill "
            "the disk; set --log-maxbackup (CIS: 10) or pass --allow-unbounded"
        )
    if maxsize is None or maxsize == 0:
        written = "unset" if maxsize is None else "0"
        unbounded.append(
            f"--audit-log-maxsize is {written}: the per-file size is left to a library default, so the "
            "rotation budget is not stated; set --log-maxsize (CIS: 100) or pass --allow-unbounded"
        )
    for message in unbounded:
        (run.warn if run.options.allow_unbounded else run.refuse)(message)
    if log_dir.host_path is None:
        return
    budget = disk_budget(run.host, pod, log_dir.host_path, statvfs)
    if budget is None:
        return
    if budget.fraction > DISK_REFUSE_FRACTION:
        fits = int(budget.free * DISK_REFUSE_FRACTION) // MIB
        run.refuse(
            f"{budget.describe()}, above the {DISK_REFUSE_FRACTION:.0%} limit; lower --log-maxbackup or "
            f"--log-maxsize (at most {fits} MB in total) or free disk space"
        )
    elif budget.fraction > DISK_WARN_FRACTION:
        run.warn(
            f"{budget.describe()}, above {DISK_WARN_FRACTION:.0%}; consider a lower --log-maxbackup or "
            "--log-maxsize, --log-compress, or a dedicated filesystem"
        )


def _policy(run: _Planner, pod: ApiServerPod, paths: list[AuditPath], planned: dict[str, FileChange]) -> None:
    policy = next((p for p in paths if p.kind == "policy"), None)
    if policy is None:
        if log_path_of(pod) is not None or flag_value(pod, "audit-webhook-config-file") is not None:
            run.warn(
                "--audit-policy-file is not set: kube-apiserver records no audit events at all; "
                "set --audit-policy-file"
            )
        return
    if policy.host_path is None:
        return
    host_path = posixpath.normpath(policy.host_path)
    change = planned.get(host_path)
    data = change.after if change is not None else _read(run.host, host_path)
    if data is None:
        return  # reported as missing by _readable_file
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        run.refuse(f"{host_path}: the audit policy is not UTF-8 text; kube-apiserver cannot load it")
        return
    errors, warnings = validate_policy(text, host_path, run.options.version)
    for message in errors:
        run.refuse(message)
    for message in warnings:
        run.warn(message)


def _misc_warnings(run: _Planner, pod: ApiServerPod, webhook_text: str | None) -> None:
    webhook = flag_value(pod, "audit-webhook-config-file")
    backends = flag_value(pod, "audit-log-path") is not None or webhook is not None
    if flag_value(pod, "audit-policy-file") is not None and not backends:
        run.warn(
            "--audit-policy-file is set but neither --audit-log-path nor --audit-webhook-config-file: "
            "events go nowhere; set --log-path"
        )
    mode = pod.flag("audit-webhook-mode")
    if webhook is not None and mode in ("blocking", "blocking-strict"):
        run.warn(
            f"--audit-webhook-mode={mode}: every API request waits for the webhook, so a slow or unreachable "
            "receiver stalls kube-apiserver; use --audit-webhook-mode=batch"
        )
    if webhook_text is not None and not isinstance(safe_yaml(webhook_text), dict):
        run.refuse(
            f"--audit-webhook-config-file={webhook}: not a YAML kubeconfig, kube-apiserver exits at start; "
            "fix the file"
        )
