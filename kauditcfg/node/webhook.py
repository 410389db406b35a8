"""Judgement: the CA, client certificate/key and token the webhook kubeconfig makes kube-apiserver read.

Preflight refuses the high findings (exit 4) and warns about the rest; `check` reports them all.
The reading itself (with `cryptography`) is in kauditcfg.webhook.tls; this module only finds the
files through the pod's mounts, as kube-apiserver will.
"""

from __future__ import annotations

import posixpath
import stat

from kauditcfg.config.findings import Finding
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.node.paths import flag_value, read_or_none


def webhook_tls_findings(host: Host, pod: ApiServerPod, webhook_text: str | None) -> list[Finding]:
    """high: kube-apiserver exits at start or the collector refuses every batch; medium: soon, or loose."""
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is None or webhook_text is None:
        return []
    from kauditcfg.webhook.material import webhook_tls_findings as judge
    from kauditcfg.webhook.tls import Material, Role

    def locate(role: Role, container_path: str) -> Material:
        host_path, _ = pod.host_path_of(container_path)
        if host_path is None:
            return Material(role, container_path, None)  # unmounted: the mount judgement says so
        path = posixpath.normpath(host_path)
        try:
            mode: int | None = stat.S_IMODE(host.path(path).stat().st_mode)
        except OSError:
            mode = None
        return Material(role, path, read_or_none(host, path), mode)

    container = posixpath.normpath(posixpath.join("/", webhook))
    return [
        Finding(f.id, "high" if f.severity == "error" else "medium", f.message, f.where)
        for f in judge(webhook_text, container, locate)
    ]
