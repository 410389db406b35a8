"""CLI for `kauditcfg policy replay` and `kauditcfg policy tune`: thin wrappers over kauditcfg.policy."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.errors import InvalidInput, UsageError

if TYPE_CHECKING:
    from kauditcfg.policy.replay import Accountant, Replay
    from kauditcfg.policy.tune import Proposal

VERSION_HELP = "Kubernetes version X.Y the policy is for (default: the newest known)."
LOGS_HELP = "Audit logs (JSON lines, EventList, .gz rotations); - for stdin."


def _capture(logs: list[str] | None, names: frozenset[str] | None) -> Accountant:
    from kauditcfg.policy.replay import Accountant
    from kauditcfg.policy.replay_read import read_capture

    if not logs:
        raise UsageError("give at least one audit log (- for stdin)")
    capture = read_capture(list(logs), names)
    for skipped in capture.skipped_examples:
        say(paint("warning: ", "yellow") + f"{skipped.source}:{skipped.line}: skipped: {skipped.problem}")
    if capture.skipped > len(capture.skipped_examples):
        say(
            paint("warning: ", "yellow") + f"{capture.skipped} line(s) were not audit events and were skipped"
        )
    if not capture.cells:
        what = f" ({capture.skipped} bad line(s) skipped)" if capture.skipped else ""
        raise InvalidInput(f"{', '.join(logs)}: no audit events to replay{what}")
    return Accountant(capture)


def _names(policy: Any) -> frozenset[str] | None:
    """Object names kept per request: all of them when the policy selects by resourceNames."""
    return None if policy.uses_resource_names else frozenset({"aws-auth"})


def _write(path: str, text: str) -> None:
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent.resolve()))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write: {exc.strerror or exc}") from None


def _human(size: float) -> str:
    from kauditcfg.policy.budget import human_bytes

    return human_bytes(size)


def replay_text(r: Replay) -> str:
    from kauditcfg.policy.replay import per_day

    h = r.header
    levels = ", ".join(f"{k or '?'} {v}" for k, v in h["capture_levels"].items())
    stages = ", ".join(f"{k} {v}" for k, v in h["capture_stages"].items())
    lines = [
        f"capture: {h['lines']} events from {', '.join(h['sources'])}; {h['first']} .. {h['last']} "
        f"({r.span_seconds:.0f} s); skipped lines: {r.skipped_lines}",
        f"captured at: {levels}; stages: {stages}",
        f"note: {h['note']}",
        "",
        f"{'RULE':>4}  {'LEVEL':<15} {'REQUESTS':>9} {'EVENTS':>9} {'BYTES/DAY':>12} {'SHARE':>6}  WHAT",
    ]
    total = r.bytes or 1
    for u in r.rules:
        est = (
            f" (~{100 * u.estimated_bytes / u.bytes:.0f}% estimated)" if u.estimated_bytes and u.bytes else ""
        )
        index = "-" if u.index is None else str(u.index)
        lines.append(
            f"{index:>4}  {u.level:<15} {u.requests:>9} {u.events:>9} "
            f"{_human(per_day(u.bytes, r.span_seconds)):>12} {100 * u.bytes / total:>5.1f}%  "
            f"{u.label}{est}"
        )
    t = r.totals()
    lines += [
        "",
        f"total: {t['requests']} requests, {t['events']} events, {_human(t['bytes_per_day'])}/day raw, "
        f"~{_human(t['gzip_bytes_per_day'])}/day gzipped (ratio measured on a sample: {r.gzip_ratio:.3f})"
        + (f"; {_human(r.estimated_bytes)} of {_human(r.bytes)} estimated" if r.estimated_bytes else ""),
        "",
        "largest cells (who, verb, resource, namespace):",
    ]
    for c in r.top_cells:
        lines.append(
            f"  {_human(c['bytes_per_day']):>12}/day  {c['who']} {c['verb']} {c['resource']} "
            f"{c['namespace']}".rstrip()
        )
    lines.append("")
    if not r.violations:
        lines.append("coverage: every must-keep request (K1-K22) is kept at its level")
    for v in r.violations:
        lines.append(f"coverage {v.row}: {v.count} request(s) lost, e.g. {v.examples[0]}")
    for a in r.advisories:
        lines.append(f"advice {a.row}: {a.count} request(s), e.g. {a.examples[0]}")
    return "\n".join(lines) + "\n"


def replay_cmd(
    logs: list[str] = typer.Argument(None, help=LOGS_HELP),
    policy_file: str = typer.Option(..., "--policy", help="Candidate policy file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    html: str | None = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    top: int = typer.Option(20, "--top", help="How many of the largest cells to list."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
) -> None:
    """What CANDIDATE would write for these logs: bytes per rule and per day, lost must-keep requests."""

    def action() -> None:
        from kauditcfg.cli.policy import _version, load_valid
        from kauditcfg.policy.replay_html import page

        policy = load_valid(policy_file, None, _version(kubernetes_version))
        report = _capture(logs, _names(policy)).replay(policy, top=top)
        data = report.to_json()
        if html:
            _write(
                html,
                page(
                    f"Audit replay: {policy_file}",
                    [(policy_file, data)],
                    f"Replay of {', '.join(report.header['sources'])} through {policy_file}",
                ),
            )
        if as_json:
            emit_json(data)
        else:
            sys.stdout.write(replay_text(report))

    action()


def _tune_json(p: Proposal, text: str, output: str | None) -> dict[str, Any]:
    span = p.after.span_seconds
    return {
        "fits": p.fits,
        "budget_bytes_per_day": p.budget,
        "settings": p.settings,
        "before": p.before.totals(),
        "after": p.after.totals(),
        "added_rules": [a.to_json(i, span) for i, a in enumerate(p.added)],
        "problems": p.problems,
        "warnings": p.warnings,
        "largest_protected_cells": p.protected,
        "output": output,
        **({} if output else {"policy": text}),
        "coverage": {"violations": [v.to_json() for v in p.after.violations]},
    }


def tune_cmd(
    logs: list[str] = typer.Argument(None, help=LOGS_HELP),
    policy_file: str = typer.Option(..., "--policy", help="The base policy to change as little as possible."),
    budget: str = typer.Option(..., "--budget", help="Size per day or hour: 750MB/day, 1.5GiB/day, 40MiB/h."),
    output: str | None = typer.Option(None, "-o", "--output", help="Write the proposed policy here."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    html: str | None = typer.Option(None, "--html", help="Also write a before/after HTML report here."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
) -> None:
    """Propose None/Metadata rules ahead of BASE until the logs fit the budget; exit 1 when they cannot."""

    def action() -> None:
        from kauditcfg.cli.policy import _read, _version, load_valid
        from kauditcfg.policy.budget import parse_budget
        from kauditcfg.policy.replay_html import page
        from kauditcfg.policy.tune import Tuner
        from kauditcfg.policy.tune_render import render_proposal

        per_day = parse_budget(budget)
        version = _version(kubernetes_version)
        base_text = _read(policy_file)
        base = load_valid(policy_file, base_text, version)
        accountant = _capture(logs, _names(base))
        proposal = Tuner(accountant, base, version).propose(per_day)
        text = render_proposal(
            base_text, base, proposal.policy, proposal.added, accountant.span, version
        )
        if output:
            _write(output, text)
        if html:
            summary = (
                f"Budget {_human(per_day)}/day: {_human(proposal.before.bytes_per_day)}/day before, "
                f"{_human(proposal.after.bytes_per_day)}/day after; fits: {proposal.fits}"
            )
            _write(
                html,
                page(
                    f"Audit tune: {policy_file}",
                    [("before", proposal.before.to_json()), ("after", proposal.after.to_json())],
                    summary,
                    _tune_json(proposal, text, output),
                ),
            )
        _summary(proposal)
        if as_json:
            emit_json(_tune_json(proposal, text, output))
        elif not output:
            sys.stdout.write(text)
        if not proposal.fits:
            raise typer.Exit(1)

    action()


def _summary(p: Proposal) -> None:
    say(f"before: {_human(p.before.bytes_per_day)}/day; budget: {_human(p.budget)}/day")
    for setting in p.settings:
        say(f"  set {setting}")
    for a in p.added:
        saved = _human(a.saved_bytes * 86400 / p.after.span_seconds)
        say(f"  add {a.rule.level:<8} {'; '.join(a.cells)}  (-{saved}/day)")
    say(f"after: {_human(p.after.bytes_per_day)}/day")
    for warning in p.warnings:
        say(paint("warning: ", "yellow") + warning)
    for problem in p.problems:
        say(paint("problem: ", "red") + problem)
    if p.fits:
        say(paint("fits the budget", "green"))
        return
    say(
        paint("does not fit: ", "red") + f"{_human(p.after.bytes_per_day - p.budget)}/day over, "
        "and the rest is protected traffic; the largest protected cells:"
    )
    for c in p.protected:
        say(
            f"  {_human(c['bytes_per_day']):>12}/day  {c['who']} {c['verb']} {c['resource']} {c['namespace']}"
        )


def register(app: typer.Typer) -> None:
    """Add `replay` and `tune` to the `policy` command group."""
    app.command("replay")(replay_cmd)
    app.command("tune")(tune_cmd)
