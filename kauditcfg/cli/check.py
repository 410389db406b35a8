"""`kauditcfg check`: the doctor's options and report; the judging lives in kauditcfg.node.check.

The report is the command's result, so it goes to stdout (`check | less`, `check | grep high`):
the CIS/kubescape controls first, as kube-bench prints them (what auditors read), then the other
findings, then the totals and the verdict of the `--fail-on` gate.
"""

from __future__ import annotations

import shlex
import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kauditcfg.cli.options import Colour, FailOn, Json, Manifest, Root, examples, fail_on_value, host_manifest
from kauditcfg.cli.output import echo, emit_json, paint
from kauditcfg.config.defaults import CIS_ROTATION, DEFAULT_MANIFEST
from kauditcfg.config.findings import DEFAULT_FAIL_ON
from kauditcfg.hostfs import Host
from kauditcfg.versions import format_version, parse_version

if TYPE_CHECKING:  # the doctor's core (ruamel.yaml, the policy engine) loads only when `check` runs
    from kauditcfg.config.findings import Finding
    from kauditcfg.node.check import CheckReport

_COLOURS = {"high": "red", "medium": "yellow", "low": "cyan"}
_MARKS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "warn": ("WARN", "yellow")}


def context_args(root: Path, manifest: str) -> list[str]:
    """--root/--manifest as the user gave them, so a suggested command acts on the same node."""
    args = [] if Path(root).resolve() == Path("/") else ["--root", str(root)]
    return args + ([] if manifest == DEFAULT_MANIFEST else ["--manifest", manifest])


def _rotation_hint(report: CheckReport, root: Path) -> str | None:
    """A kauditcfg command that fixes the rotation and keeps this node's own policy and log path."""
    flags = report.audit_flags
    policy, log = flags.get("audit-policy-file"), flags.get("audit-log-path")
    if not policy or not log or log == "-" or not any(report.cis.get(r.cis, {}).get("result") == "fail"
                                                       for r in CIS_ROTATION):  # fmt: skip
        return None
    local = Host(root).path(policy)
    if not local.is_file():
        return None  # no policy to keep: the findings above say what to do first
    args = [*context_args(root, report.manifest), "--policy-file", str(local)]
    args += ["--policy-path", policy, "--log-path", log]
    for rule in CIS_ROTATION:
        value = flags.get(rule.flag) or ""
        current = int(value) if value.isdigit() else 0
        args += [f"--log-{rule.flag.removeprefix('audit-log-')}", str(max(current, rule.minimum))]
    line = shlex.join(args)
    return (
        f"to fix the rotation with kauditcfg, keeping your policy file and log path: "
        f"kauditcfg diff {line} shows every change and writes nothing; kauditcfg enable {line} then "
        "sets the three --audit-log-max* flags, copies your policy onto itself, adds the "
        "kauditcfg.io/config-hash annotation and the audit mounts kube-apiserver lacks"
    )


def _enable_hint(report: CheckReport, root: Path) -> str | None:
    """Audit off: the command that turns it on, naming what it writes, on this same node."""
    if not any(f.id == "audit-disabled" for f in report.findings):
        return None
    line = shlex.join([*context_args(root, report.manifest), "--profile", "cks"])
    return (
        f"kauditcfg diff {line} shows every change and writes nothing; kauditcfg enable {line} writes "
        "the cks policy to /etc/kubernetes/audit/policy.yaml, logs to /var/log/kubernetes/audit/audit.log "
        "(30 days, 10 files, 100 MB) and mounts both directories"
    )


def _wrapped(text: str, indent: str, first: str | None = None) -> str:
    """Prose wrapped at the terminal width (COLUMNS), so nothing runs off an 80-column screen."""
    width = max(40, shutil.get_terminal_size().columns)
    return textwrap.fill(
        text, width, initial_indent=indent if first is None else first, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip


def _finding_line(f: Finding, indent: str = "") -> str:
    return f"{indent}{paint(f'{f.severity.upper():<6}', _COLOURS[f.severity], None)}  {f.id}: {f.message}"


def _human(report: CheckReport, root: Path, fail_on: str, failing: list[Finding]) -> None:
    from kauditcfg.config.findings import by_severity
    from kauditcfg.node.cis import covering_finding

    echo(f"kauditcfg check: {report.manifest} (Kubernetes {format_version(report.version)})")
    echo("")
    echo("CIS Kubernetes Benchmark and kubescape")
    shown: set[Finding] = set()
    results = {"pass": 0, "fail": 0, "warn": 0}
    for key, control in report.cis.items():
        results[control["result"]] += 1
        mark, colour = _MARKS[control["result"]]
        echo(f"{paint(f'[{mark}]', colour, None)} {key} {control['title']}")
        if control["result"] == "pass":
            continue
        covering = covering_finding(key, report.findings)
        if covering is not None:
            shown.add(covering)
        if covering is not None and not covering.id.startswith(("cis-", "kubescape-")):
            echo(_finding_line(covering, "       "))
        else:
            severity = control["severity"] if covering is None else covering.severity
            echo(f"       {paint(f'{severity.upper():<6}', _COLOURS[severity], None)}  {control['detail']}")
        echo(_wrapped(f"Remediation: {control['remediation']}", "       "))
    others = [f for f in by_severity(report.findings) if f not in shown]
    echo("")
    echo("Findings" if others else "Findings: none besides the controls above")
    for f in others:
        echo(_finding_line(f, "  "))
    hint = _enable_hint(report, root) or _rotation_hint(report, root)
    if hint:
        echo("")
        echo(_wrapped(f"hint: {hint}", "      ", first=""))
    counts = report.counts()
    echo("")
    echo(f"{results['pass']} pass, {results['fail']} fail, {results['warn']} warn")
    tally = f"{counts['high']} high, {counts['medium']} medium, {counts['low']} low"
    if failing:
        verdict = paint("FAIL", "red", None) + f": {tally} ({len(failing)} at or above --fail-on {fail_on})"
    elif report.findings:
        verdict = paint("PASS", "green", None) + f": {tally}; none at or above --fail-on {fail_on}"
    else:
        verdict = paint("PASS", "green", None) + ": no findings"
    echo(f"verdict: {verdict}")


def check(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    fail_on: FailOn = DEFAULT_FAIL_ON,
    kubernetes_version: str | None = typer.Option(
        None, "--kubernetes-version", metavar="X.Y", help="Judge for this version (default: the image tag)."
    ),
    as_json: Json = False,
    color: Colour = "auto",
) -> None:
    """Inspect the manifest and host (hand-made setups included) and report every problem.

    Exit 0 when no finding is at or above --fail-on, 1 otherwise: a gate for CI and audits.
    Failing CIS controls (1.2.16-1.2.19, 3.2.1, 3.2.2) and kubescape C-0161 are findings too.
    """
    from kauditcfg.node.check import run_check

    threshold = fail_on_value(fail_on)
    version = parse_version(kubernetes_version) if kubernetes_version else None
    report = run_check(Host(root), host_manifest(root, manifest), version)
    failing = report.failing(threshold)
    if as_json:
        emit_json(report.to_json())
    else:
        _human(report, root, threshold, failing)
    raise typer.Exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    """Add the check command to the application."""
    app.command(
        "check",
        epilog=examples(
            "kauditcfg check",
            "kauditcfg check --fail-on high --json | jq .findings",
            "kauditcfg check --root ./node --manifest /etc/kubernetes/manifests/kube-apiserver.yaml",
        ),
    )(check)
