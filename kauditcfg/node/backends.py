"""Judgements: does the audit configuration send events anywhere, and can the webhook stall requests?"""

from __future__ import annotations

from kauditcfg.config.findings import Finding
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.node.paths import flag_value, safe_yaml


def backend_findings(pod: ApiServerPod, manifest: str) -> list[Finding]:
    """A policy without a backend, a backend without a policy, or auditing off altogether."""
    policy = flag_value(pod, "audit-policy-file")
    log = flag_value(pod, "audit-log-path")
    webhook = flag_value(pod, "audit-webhook-config-file")
    if policy is None and log is None and webhook is None:
        message = (
            f"{manifest}: no --audit-policy-file and no audit backend: API-server auditing is off; "
            "run kauditcfg enable"
        )
        return [Finding("audit-disabled", "medium", message, manifest)]
    if policy is None:
        message = (
            f"--audit-{'log-path' if log else 'webhook-config-file'} is set without --audit-policy-file: "
            "kube-apiserver records nothing; set --audit-policy-file (kauditcfg enable writes one)"
        )
        return [Finding("log-without-policy", "high", message, manifest)]
    if log is None and webhook is None:
        message = (
            f"--audit-policy-file={policy} is set without --audit-log-path or "
            "--audit-webhook-config-file: events go nowhere; set --audit-log-path"
        )
        return [Finding("policy-without-backend", "high", message, manifest)]
    return []


def webhook_findings(pod: ApiServerPod, webhook_text: str | None, manifest: str) -> list[Finding]:
    """A blocking webhook mode (every request waits for the receiver) and an unparsable kubeconfig."""
    out: list[Finding] = []
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is None:
        return out
    mode = pod.flag("audit-webhook-mode")
    if mode in ("blocking", "blocking-strict"):
        effect = "slows and fails" if mode == "blocking-strict" else "slows"
        message = (
            f"--audit-webhook-mode={mode}: every API request waits for the webhook, so a slow or unreachable "
            f"collector {effect} API requests; use --audit-webhook-mode=batch unless losing no event "
            "matters more than the API staying up"
        )
        out.append(Finding("webhook-blocking", "medium", message, manifest))
    if webhook_text is not None and not isinstance(safe_yaml(webhook_text), dict):
        message = (
            f"--audit-webhook-config-file={webhook}: not a YAML kubeconfig, kube-apiserver exits at start; "
            "fix the file"
        )
        out.append(Finding("webhook-invalid", "high", message, manifest))
    return out
