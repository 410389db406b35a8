"""`kauditcfg check`: the doctor's options and output; the judging lives in kauditcfg.node.check."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.errors import UsageError
from kauditcfg.hostfs import Host
from kauditcfg.versions import format_version, parse_version

if TYPE_CHECKING:  # the doctor's core (ruamel.yaml, the policy engine) loads only when `check` runs
    from kauditcfg.node.check import CheckReport


class FailOn(enum.StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


_COLOURS = {"high": "red", "medium": "yellow", "low": "cyan"}


def _manifest_path(root: Path, manifest: str) -> str:
    """The manifest as a host path; a relative path is taken from the working directory on `--root /`."""
    if manifest.startswith("/"):
        return manifest
    if root.resolve() != Path("/"):
        raise UsageError(f"--manifest {manifest!r}: give an absolute host path (it is resolved under --root)")
    return os.path.abspath(manifest)


def _human(report: CheckReport, fail_on: str, failing: bool) -> None:
    from kauditcfg.config.findings import by_severity

    say(f"kauditcfg check: {report.manifest} (Kubernetes {format_version(report.version)})")
    findings = by_severity(report.findings)
    if findings:
        width = max(len(f.id) for f in findings)
        say(f"  {'SEVERITY':<8}  {'ID':<{width}}  MESSAGE")
        for f in findings:
            severity = paint(f"{f.severity:<8}", _COLOURS[f.severity])
            say(f"  {severity}  {f.id:<{width}}  {f.message}")
    if report.cis:
        marks = []
        for key, check in report.cis.items():
            result = check["result"]
            marks.append(f"{key} " + paint(result, "green" if result == "pass" else "red"))
        say("  CIS/kubescape: " + ", ".join(marks))
    counts = report.counts()
    tally = f"{counts['high']} high, {counts['medium']} medium, {counts['low']} low"
    if failing:
        verdict = paint("FAIL", "red") + f": {tally} (failing at --fail-on {fail_on})"
    elif findings:
        verdict = paint("OK", "green") + f": {tally}, none at or above --fail-on {fail_on}"
    else:
        verdict = paint("HEALTHY", "green") + ": no findings"
    say(f"verdict: {verdict}")


def check(
    root: Annotated[
        Path, typer.Option("--root", metavar="DIR", help="Resolve every host path under DIR.")
    ] = Path("/"),
    manifest: Annotated[
        str, typer.Option("--manifest", help="The kube-apiserver static pod manifest (a host path).")
    ] = DEFAULT_MANIFEST,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"findings": [...], "cis": {...}} on stdout.')
    ] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", case_sensitive=False, help="Exit 1 on findings at or above it.")
    ] = FailOn.medium,
    kubernetes_version: Annotated[
        str | None,
        typer.Option("--kubernetes-version", help="X.Y to judge against (default: the image tag)."),
    ] = None,
) -> None:
    """Inspect the current manifest and host (hand-made setups included) and report every problem."""
    from kauditcfg.node.check import run_check

    version = parse_version(kubernetes_version) if kubernetes_version else None
    report = run_check(Host(root), _manifest_path(root, manifest), version)
    failing = bool(report.failing(fail_on.value))
    if as_json:
        emit_json(report.to_json())
    else:
        _human(report, fail_on.value, failing)
    sys.stderr.flush()
    raise typer.Exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    """Add the check command to the application."""
    app.command("check")(check)
