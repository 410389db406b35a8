"""Lint over several files: each finding placed at its line and column, minus the ignored ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from kauditcfg.config.findings import SEVERITIES, Finding
from kauditcfg.policy.lint import lint_result
from kauditcfg.policy.lint_marks import ignored, locate
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.yamltree import Mark
from kauditcfg.versions import Version


@dataclass(frozen=True)
class Located:
    file: str
    mark: Mark
    finding: Finding


@dataclass
class LintReport:
    items: list[Located] = field(default_factory=list)
    ignored: int = 0

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for item in self.items if item.finding.severity == s) for s in SEVERITIES}


def lint_files(inputs: list[tuple[str, str]], version: Version, ignore: set[str]) -> LintReport:
    """Findings of every (name, text), in file order, then by line; `ignore` IDs are left out, as
    are those a `# kauditcfg: ignore=ID` comment silences on their rule (or on the whole policy)."""
    report = LintReport()
    for source, text in inputs:
        result = validate_policy_text(text, source, version)
        silenced = ignored(text, result.tree)
        located = []
        for finding in lint_result(result, version):
            if finding.id in ignore or finding.id in silenced.get(finding.rule, set()):
                report.ignored += 1
                continue
            prefix = f"{source}: "
            if finding.message.startswith(prefix):  # the file is already named in front of the line
                bare = finding.message[len(prefix) :]
                finding = Finding(finding.id, finding.severity, bare, finding.path, finding.rule)
            located.append(Located(source, locate(finding.rule, finding.message, result.tree), finding))
        report.items.extend(sorted(located, key=lambda item: (item.mark.line, item.mark.column)))
    return report
