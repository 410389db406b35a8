"""`enable`: the policy and the patched manifest, judged by preflight. Writes nothing."""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass

from kauditcfg.config.build import check_version, desired, target_version
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.config.inputs import read_inputs
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, PreflightRefused, UsageError
from kauditcfg.hostfs import Host, normalize
from kauditcfg.manifest.files import read_manifest
from kauditcfg.manifest.patch import patch_with_notes
from kauditcfg.manifest.pod import path_within
from kauditcfg.manifest.schema import refuse_fatal
from kauditcfg.ops.plan import MANIFEST, POLICY, WEBHOOK_KUBECONFIG, FileChange, Plan
from kauditcfg.ops.state import load_state


def _check_paths(opts: EnableOptions, manifest: str, adopted: bool = False) -> None:
    """Paths given as options, or adopted from the manifest (`opts` is resolved by then)."""
    static_dir = posixpath.dirname(manifest)
    names = ("--audit-policy-file", "--audit-log-path") if adopted else ("--policy-path", "--log-path")
    paths = list(zip(names, (opts.policy_path, opts.log_path), strict=True))
    if opts.webhook is not None and not adopted:
        paths.append(("--webhook-config-file", opts.webhook.config_file))
    for option, path in paths:
        if path is None or path == "-":
            continue
        if not path.startswith("/"):
            raise UsageError(f"{option} {path!r}: must be an absolute path on the node")
        if path_within(path, static_dir):
            fix = f"pass {'--log-path' if 'log' in option else '--policy-path'}" if adopted else "choose"
            raise PreflightRefused(
                f"{option}{'=' if adopted else ' '}{path}: inside the static pod directory {static_dir}; the "
                f"kubelet would try to run it as a pod: {fix} a path outside it"
            )


@dataclass
class EnablePlanner:
    options: EnableOptions
    manifest: str = DEFAULT_MANIFEST

    def __post_init__(self) -> None:
        opts = self.options
        _check_paths(opts, self.manifest)
        self.manifest = normalize(self.manifest, "--manifest")
        log_path = opts.log_path if opts.log_path in (None, "-") else normalize(opts.log_path, "--log-path")
        policy_path = None if opts.policy_path is None else normalize(opts.policy_path, "--policy-path")
        self.options = dataclasses.replace(opts, policy_path=policy_path, log_path=log_path)

    def plan(self, host: Host) -> Plan:
        pod, before, stat = read_manifest(host, self.manifest)
        fatal = refuse_fatal(pod, self.manifest)
        if fatal:
            raise InvalidInput(fatal)
        check_version(self.options, pod, self.manifest)
        config, adoption = desired(self.options, pod, read_inputs(self.options))
        _check_paths(adoption.options, self.manifest, adopted=True)
        patched, notes = patch_with_notes(pod, config)
        after = patched.doc.text.encode("utf-8")
        plan = Plan(
            command="enable", pod=patched, restart_required=before != after, warnings=adoption.notes + notes
        )
        # Written where kube-apiserver will look: through the mount that covers the flag's path
        # (kubespray-style mounts may bind another host directory).
        policy = patched.host_path_of(config.policy_path)[0] or config.policy_path
        existing = host.read_bytes(policy)
        plan.files.append(
            FileChange(
                policy,
                existing,
                config.policy,
                POLICY,
                # A file the user had stays theirs (disable --purge keeps it); one kauditcfg wrote
                # before (a re-enable, another profile) stays kauditcfg's.
                owned=existing is None or policy in load_state(host).written,
                mode=0o600,
                uid=0,
                gid=0,
                before_stat=host.stat(policy),
            )
        )
        if config.webhook is not None:
            # 0600: it names the credentials kube-apiserver presents; preflight picks the owner
            kubeconfig = config.webhook.config_path
            plan.files.append(
                FileChange(
                    kubeconfig,
                    host.read_bytes(kubeconfig),
                    config.webhook.kubeconfig,
                    WEBHOOK_KUBECONFIG,
                    owned=True,
                    mode=0o600,
                    uid=0,
                    gid=0,
                    before_stat=host.stat(kubeconfig),
                )
            )
        mode, uid, gid = stat
        plan.files.append(FileChange(self.manifest, before, after, MANIFEST, False, mode, uid, gid, stat))
        return plan

    def preflight(self, host: Host, plan: Plan) -> Plan:
        """Refuse (exit 4) what would stop kube-apiserver; take the ownership preflight wants."""
        from kauditcfg.node.preflight import PreflightOptions, run_preflight

        assert plan.pod is not None
        opts = self.options
        files = [f for f in plan.files if f.role != MANIFEST]
        report = run_preflight(
            host,
            plan.pod,
            files,
            PreflightOptions(
                version=target_version(opts, plan.pod),
                fix_ownership=opts.fix_ownership,
                allow_unbounded=opts.allow_unbounded,
            ),
        )
        if report.problems:
            raise PreflightRefused(report.problems[0], report.problems)
        return dataclasses.replace(
            plan,
            files=[report.owned(f) for f in plan.files],
            warnings=plan.warnings + report.warnings,
            actions=plan.actions + report.actions,
        )
