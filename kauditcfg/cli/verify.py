"""`kauditcfg verify`: send a probe request, find its event in this node's audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kauditcfg.cli.cluster_opts import Kubeconfig
from kauditcfg.cli.options import Json, Manifest, Root
from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.hostfs import Host


def _from_manifest(host: Host, manifest: str) -> tuple[str | None, str | None, tuple[int, int] | None]:
    """The log path, policy path and Kubernetes version kube-apiserver runs with on this node."""
    from kauditcfg.manifest.files import read_manifest

    if host.read_bytes(manifest) is None:
        return None, None, None
    pod, _, _ = read_manifest(host, manifest)
    return pod.flag("audit-log-path"), pod.flag("audit-policy-file"), pod.kubernetes_version()


def verify(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    kubeconfig: Kubeconfig = None,
    log_path: Annotated[
        str | None,
        typer.Option("--log-path", help="Audit log file on the node (default: from the manifest)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the event to be written.", min=0)
    ] = 60,
    as_json: Json = False,
) -> None:
    """Send a harmless probe request and find its event in this node's audit log (exit 1: not logged)."""
    host = Host(root)

    from kauditcfg.cli.cluster_opts import connect_for
    from kauditcfg.cluster.verify import verify_audit
    from kauditcfg.errors import InvalidInput
    from kauditcfg.versions import NEWEST

    manifest_log, policy, version = _from_manifest(host, manifest)
    path = log_path or manifest_log
    if path is None:
        raise InvalidInput(
            f"{manifest}: kube-apiserver has no --audit-log-path, so audit logging is off: run "
            "kauditcfg enable (or pass --log-path)"
        )
    out = verify_audit(
        connect_for(host, kubeconfig), host, path, policy, version or NEWEST, timeout
    ).as_json()
    if as_json:
        emit_json(out)
    else:
        for warning in out["warnings"]:
            say(paint("warning: ", "yellow") + warning)
        if out["found"]:
            rule = (
                f", decided by rules[{out['rule']}] of {out['policy']}" if out["rule"] is not None else ""
            )
            say(
                f"audit logging works: the probe {out['probe']} was logged at level {out['level']} "
                f"(stage {out['stage']}, auditID {out['auditID']}){rule} in {out['log_path']}"
            )
        else:
            say(
                paint("kauditcfg: ", "red") + f"no audit event for the probe {out['probe']} appeared in "
                f"{out['log_path']} within {timeout:g}s: audit logging is configured but not working "
                "(is kube-apiserver running with these flags, is the log directory mounted, does the "
                "policy log this request?)"
            )
    raise typer.Exit(0 if out["found"] else 1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
