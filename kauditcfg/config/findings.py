"""The one finding type of lint, preflight and check, and the one severity order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}

CHECK_KEYS = ("id", "severity", "message", "path")
LINT_KEYS = ("id", "severity", "rule", "message")


@dataclass(frozen=True)
class Finding:
    """One condition found: `path` is the host file it concerns, `rule` the policy rule index."""

    id: str
    severity: Severity
    message: str
    path: str | None = None
    rule: int | None = None

    def to_json(self, keys: tuple[str, ...] = CHECK_KEYS) -> dict[str, Any]:
        return {key: getattr(self, key) for key in keys}

    def at_or_above(self, threshold: str) -> bool:
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[threshold]


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Worst first, stable within a severity."""
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])
