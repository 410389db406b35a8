"""Judgement: would kube-apiserver of a version load this policy, and what does lint say of it?"""

from __future__ import annotations

from kauditcfg.config.findings import Finding
from kauditcfg.versions import Version


def validate_policy(text: str, source: str, version: Version) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a policy file, as kube-apiserver of `version` would load it."""
    from kauditcfg.policy.load import validate_policy_text

    result = validate_policy_text(text, source, version)

    def named(message: str) -> str:
        return message if source in message else f"{source}: {message}"

    return [named(m) for m in result.errors], [named(m) for m in result.warnings]


def policy_findings(data: bytes, path: str, version: Version) -> tuple[list[Finding], list[str], str | None]:
    """(findings, load warnings, text): `policy-invalid` (high) when kube-apiserver would refuse it.

    `text` is None when the bytes are not UTF-8.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        message = f"{path}: the audit policy is not UTF-8 text; kube-apiserver cannot load it"
        return [Finding("policy-invalid", "high", message, path)], [], None
    errors, warnings = validate_policy(text, path, version)
    return [Finding("policy-invalid", "high", m, path) for m in errors], warnings, text


def lint_findings(text: str, path: str, version: Version) -> list[Finding]:
    """Lint's high findings (leaks, typos), as the doctor reports them: medium, about the host file."""
    from kauditcfg.policy.lint import lint_policy_text

    out = []
    for finding in lint_policy_text(text, path, version):
        if finding.severity == "high":
            where = f" (rules[{finding.rule}])" if finding.rule is not None else ""
            out.append(Finding(f"policy-{finding.id}", "medium", f"{path}{where}: {finding.message}", path))
    return out
