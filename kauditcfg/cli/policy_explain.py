"""`kauditcfg policy explain`: what a policy logs, for a whole audit log or for one request.

Results (the summary, the per-event rows, the one-sentence answer, JSON) go to stdout; warnings
(skipped lines, doubtful request values) go to stderr.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kauditcfg.cli.output import paint, say
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.versions import NEWEST, Version

if TYPE_CHECKING:
    from kauditcfg.policy.explain import Explainer, Skips
    from kauditcfg.policy.explain_report import Summary
    from kauditcfg.policy.model import Policy, Request

EXAMPLES = """

Examples:

  kauditcfg policy explain --policy policy.yaml audit.log

  kauditcfg policy explain --policy p.yaml --events audit.log | grep secrets

  kauditcfg policy explain --verb get --resource secrets --user alice
"""


def width() -> int:
    """The terminal's columns (COLUMNS when set), 80 when not a terminal."""
    return shutil.get_terminal_size(fallback=(80, 24)).columns


def node_policy(root: Path, manifest: str) -> tuple[str, bytes, Version | None]:
    """The policy the node's kube-apiserver manifest points at (--audit-policy-file), as `check` finds it."""
    from kauditcfg.hostfs import Host
    from kauditcfg.manifest.files import read_manifest
    from kauditcfg.node.paths import flag_value

    host = Host(root)
    pod = read_manifest(host, manifest)[0]
    path = flag_value(pod, "audit-policy-file")
    if path is None:
        raise InvalidInput(f"{manifest}: no --audit-policy-file: audit logging is off; give --policy FILE")
    host_path = path if path.startswith("/") else "/" + path
    data = host.read_bytes(host_path)
    if data is None:
        raise InvalidInput(f"{host_path}: no such file (named by --audit-policy-file in {manifest})")
    return host_path, data, pod.kubernetes_version()


def single_request(opts: dict[str, Any]) -> Request:
    from kauditcfg.policy.model import Request

    if not opts["verb"]:
        raise UsageError("describe the request with --verb (and --user, --namespace, --resource or --path)")
    resource, _, sub = (opts["resource"] or "").partition("/")
    if opts["path"] and (resource or opts["namespace"]):
        raise UsageError("--path is for non-resource requests; it cannot go with --resource or --namespace")
    return Request(
        verb=opts["verb"],
        user=opts["user"],
        groups=tuple(opts["group"]),
        is_resource=not opts["path"],
        namespace=opts["namespace"] or "",
        api_group=opts["api_group"] or "",
        resource=resource,
        subresource=opts["subresource"] or sub,
        name=opts["name"] or "",
        path=opts["path"] or "",
    )


def explain_one(policy: Policy, explainer: Explainer, opts: dict[str, Any], as_json: bool) -> None:
    from kauditcfg.policy.describe import request_warnings, sentence

    req = single_request(opts)
    for warning in request_warnings(req, policy):
        say(paint("warning: ", "yellow") + warning)
    decision = explainer.evaluator.evaluate(req)
    if as_json:
        sys.stdout.write(json.dumps({"auditID": None, **decision.to_json()}) + "\n")
    else:
        sys.stdout.write(sentence(policy, decision) + "\n")


def explain_logs(policy: Policy, explainer: Explainer, paths: list[str], as_json: bool, rows: bool) -> None:
    # Decoded events hold no reference cycles; the cyclic GC would only rescan them over and over.
    gc.disable()
    try:
        if as_json:
            _write_json(explainer, paths)
        else:
            _write_text(policy, explainer, paths, rows)
    finally:
        gc.enable()
    if explainer.events == 0 and explainer.total_skipped:
        raise InvalidInput(
            f"{', '.join(paths)}: no audit event could be read ({explainer.total_skipped} line(s) skipped)"
        )


def _warn_skips(path: str, skips: Skips) -> None:
    source = "<stdin>" if path == "-" else path
    for count, first, what in (
        (skips.unreadable, skips.first_unreadable, "readable audit events"),
        (skips.foreign, skips.first_foreign, "kube-apiserver audit events"),
    ):
        if first is not None:
            item = first.problem.startswith("item ")
            where = first.problem if item else f"line {first.line}: {first.problem}"
            say(paint("warning: ", "yellow") + f"{source}: skipped {count} line(s) that are not {what}; "
                f"the first: {where}")  # fmt: skip


def _each_file(explainer: Explainer, paths: list[str]) -> Any:
    from kauditcfg.policy.explain import Skips

    for path in paths:
        explainer.skips = Skips()
        yield path
        explainer.total_skipped += explainer.skips.total
        _warn_skips(path, explainer.skips)


def _write_json(explainer: Explainer, paths: list[str]) -> None:
    from kauditcfg.policy.explain import batches_from
    from kauditcfg.policy.parallel import explain_file_parallel

    sys.stdout.flush()
    out = sys.stdout.buffer
    for path in _each_file(explainer, paths):
        if not explain_file_parallel(explainer, path, out):
            for chunk in explainer.json_lines(batches_from([path])):
                out.write(chunk)
    out.flush()


def _write_text(policy: Policy, explainer: Explainer, paths: list[str], rows: bool) -> None:
    from kauditcfg.policy.events import BadLine, audit_id, request_of
    from kauditcfg.policy.explain import events_from
    from kauditcfg.policy.explain_report import Row, Summary, describe_request, event_lines, outcome

    columns = width()
    summary = Summary()
    out = sys.stdout
    header = True
    for path in _each_file(explainer, paths):
        batch: list[Row] = []
        for item in explainer.decisions(events_from([path])):
            if isinstance(item, BadLine):
                continue
            event, decision = item
            summary.add(decision, event.stage)
            if rows:
                req = request_of(event)
                rule = "-" if decision.rule is None else str(decision.rule)
                batch.append(Row(audit_id(event) or "-", event.stage or "-", req.verb, req.user or "-",
                                 describe_request(req), outcome(decision, event.stage), rule))  # fmt: skip
                if len(batch) >= 1000:
                    out.write("\n".join(event_lines(batch, columns, header)) + "\n")
                    header, batch = False, []
        if batch:
            out.write("\n".join(event_lines(batch, columns, header)) + "\n")
            header = False
    if not rows:
        _write_summary(policy, summary, columns)
    out.flush()


def _write_summary(policy: Policy, summary: Summary, columns: int) -> None:
    from kauditcfg.policy.explain_report import summary_lines

    sys.stdout.write("\n".join(summary_lines(summary, policy, columns)) + "\n")


def register(policy_app: typer.Typer, load: Any, version_of: Any, version_help: str) -> None:
    """Add `explain` to the policy command group (`load(path, text, version)` gives a valid Policy)."""

    @policy_app.command("explain", epilog=EXAMPLES)
    def explain_cmd(
        events: list[str] = typer.Argument(
            None, help="Audit logs (JSON lines, EventList, .gz); - for stdin.", metavar="[LOG]..."
        ),
        policy_file: str | None = typer.Option(
            None, "--policy", help="Policy file (default: the one the node's manifest uses).", metavar="FILE"
        ),
        root: Path = typer.Option(
            Path("/"), "--root", help="Node root for the default policy.", metavar="DIR"
        ),
        manifest: str = typer.Option(
            DEFAULT_MANIFEST,
            "--manifest",
            help="kube-apiserver manifest, a host path (default: kubeadm's).",
            show_default=False,
            metavar="PATH",
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per input line (JSON lines)."),
        rows: bool = typer.Option(False, "--events", help="One row per event instead of the summary."),
        kubernetes_version: str | None = typer.Option(
            None, "--kubernetes-version", help=version_help, metavar="X.Y"
        ),
        user: str | None = typer.Option(
            None,
            "--user",
            help="Single request: user name.",
            metavar="USER",
            rich_help_panel="Single request",
        ),
        group: list[str] = typer.Option(
            [],
            "--group",
            help="Single request: a group of the user (repeatable).",
            metavar="GROUP",
            rich_help_panel="Single request",
        ),
        verb: str | None = typer.Option(
            None,
            "--verb",
            help="Single request: verb (get, create, ...).",
            metavar="VERB",
            rich_help_panel="Single request",
        ),
        namespace: str | None = typer.Option(
            None,
            "--namespace",
            help="Single request: namespace.",
            metavar="NAMESPACE",
            rich_help_panel="Single request",
        ),
        resource: str | None = typer.Option(
            None,
            "--resource",
            help="Single request: resource (pods/exec).",
            metavar="RESOURCE",
            rich_help_panel="Single request",
        ),
        subresource: str | None = typer.Option(
            None,
            "--subresource",
            help="Single request: subresource.",
            metavar="SUB",
            rich_help_panel="Single request",
        ),
        api_group: str | None = typer.Option(
            None,
            "--api-group",
            help="Single request: API group (core: '').",
            metavar="GROUP",
            rich_help_panel="Single request",
        ),
        name: str | None = typer.Option(
            None,
            "--name",
            help="Single request: object name.",
            metavar="NAME",
            rich_help_panel="Single request",
        ),
        path: str | None = typer.Option(
            None,
            "--path",
            help="Single request: non-resource URL path.",
            metavar="PATH",
            rich_help_panel="Single request",
        ),
    ) -> None:
        """What the policy would log for each audit event, or for one request described by options."""
        opts = {
            "user": user, "group": group, "verb": verb, "namespace": namespace, "resource": resource,
            "subresource": subresource, "api_group": api_group, "name": name, "path": path,
        }  # fmt: skip
        single = any(v for v in opts.values())
        if single and events:
            raise UsageError("give either audit event files or a single request's options, not both")
        if not single and not events:
            raise UsageError(
                "give audit event files (- for stdin), or describe a request with --verb, --user, ..."
            )
        from kauditcfg.policy.explain import Explainer

        version = version_of(kubernetes_version) if kubernetes_version else None
        if policy_file is None:
            source, data, node_version = node_policy(root, manifest)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{source}: not UTF-8 text") from None
            policy = load(source, text, version or node_version or NEWEST)
        else:
            policy = load(policy_file, None, version or NEWEST)
        explainer = Explainer(policy)
        if single:
            explain_one(policy, explainer, opts, as_json)
        else:
            explain_logs(policy, explainer, events, as_json, rows)
