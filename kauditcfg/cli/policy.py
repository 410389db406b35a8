"""CLI for `kauditcfg policy`: thin wrappers; the work happens in kauditcfg.policy."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kauditcfg.cli import policy_tune
from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.errors import InvalidInput, Reported, UsageError

# The engine is imported inside each command: the other commands (and --help) start without it.
if TYPE_CHECKING:
    from kauditcfg.policy.events import BadLine
    from kauditcfg.policy.explain import Explained, Explainer
    from kauditcfg.policy.model import Policy, Request
from kauditcfg.versions import NEWEST, Version, format_version, parse_version

policy_app = typer.Typer(
    help="Validate, explain, lint, migrate and render audit policies.", no_args_is_help=True
)

VERSION_HELP = f"Kubernetes version X.Y the policy is for (default {format_version(NEWEST)})."


def _version(text: str | None) -> Version:
    return parse_version(text) if text else NEWEST


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None


def _invalid(source: str, errors: list[str]) -> InvalidInput:
    return InvalidInput(
        f"{source}: kube-apiserver would refuse this policy", [f"{source}: {e}" for e in errors]
    )


def _load_valid(path: str, version: Version) -> Policy:
    from kauditcfg.policy.load import validate_policy_text

    result = validate_policy_text(_read(path), path, version)
    for warning in result.warnings:
        say(paint("warning: ", "yellow") + f"{path}: {warning}")
    if not result.ok or result.policy is None:
        raise _invalid(path, result.errors)
    return result.policy


@policy_app.command("validate")
def validate_cmd(
    file: str = typer.Argument(..., help="Policy file."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Exit 0 when kube-apiserver would load the policy, 3 (with every error) when not."""

    def action() -> None:
        from kauditcfg.policy.load import validate_policy_text

        version = _version(kubernetes_version)
        result = validate_policy_text(_read(file), file, version)
        if as_json:
            emit_json({"valid": result.ok, "errors": result.errors, "warnings": result.warnings})
        for warning in result.warnings:
            say(paint("warning: ", "yellow") + f"{file}: {warning}")
        for error in result.errors:
            say(paint("error: ", "red") + f"{file}: {error}")
        if not result.ok:
            raise Reported(f"{file}: kube-apiserver would refuse this policy", result.errors)
        say(f"{file}: valid audit policy for Kubernetes {format_version(version)}")

    action()


@policy_app.command("lint")
def lint_cmd(
    file: str = typer.Argument(..., help="Policy file."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"findings": [...]}.'),
    fail_on: str = typer.Option(
        "high", "--fail-on", help="Exit 1 on findings at or above: high, medium, low."
    ),
) -> None:
    """What the policy leaks, hides or wastes; exit 1 on findings at or above --fail-on."""

    def action() -> None:
        from kauditcfg.config.findings import LINT_KEYS, SEVERITY_RANK
        from kauditcfg.policy.lint import lint_policy_text

        if fail_on not in SEVERITY_RANK:
            raise UsageError(f"--fail-on {fail_on!r}: choose high, medium or low")
        findings = lint_policy_text(_read(file), file, _version(kubernetes_version))
        if as_json:
            emit_json({"findings": [f.to_json(LINT_KEYS) for f in findings]})
        else:
            colours = {"high": "red", "medium": "yellow", "low": "cyan"}
            for f in findings:
                where = f"rules[{f.rule}]" if f.rule is not None else "policy"
                label = paint(f.severity.upper().ljust(6), colours[f.severity])
                say(f"{label} {where:<10} {f.id}: {f.message}")
            say(f"{file}: {len(findings)} finding(s)")
        if any(f.at_or_above(fail_on) for f in findings):
            raise typer.Exit(1)

    action()


@policy_app.command("migrate")
def migrate_cmd(
    file: str = typer.Argument(..., help="Policy file (audit.k8s.io/v1alpha1 or v1beta1)."),
    in_place: bool = typer.Option(False, "--in-place", help="Rewrite FILE instead of printing the result."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
) -> None:
    """Convert the policy to audit.k8s.io/v1, keeping comments and layout."""

    def action() -> None:
        from kauditcfg.policy.migrate import migrate_policy_text

        migration = migrate_policy_text(_read(file), file, _version(kubernetes_version))
        for warning in migration.warnings:
            say(paint("warning: ", "yellow") + f"{file}: {warning}")
        if not in_place:
            sys.stdout.write(migration.text)
            return
        if migration.changed:
            _write_atomic(Path(file), migration.text)
            say(f"{file}: migrated from {migration.from_version} to audit.k8s.io/v1")
        else:
            say(f"{file}: already audit.k8s.io/v1, unchanged")

    action()


def _write_atomic(path: Path, text: str) -> None:
    """Through the one writer, keeping the file's mode and owner."""
    from kauditcfg.ops.writer import atomic_write

    st = path.stat()
    atomic_write(path, text.encode("utf-8"), st.st_mode & 0o7777, st.st_uid, st.st_gid)


@policy_app.command("render")
def render_cmd(
    profile: str = typer.Option(..., "--profile", help="Profile name (see `kauditcfg profiles list`)."),
    set_: list[str] = typer.Option([], "--set", help="Parameter key=value (repeatable)."),
    values: str | None = typer.Option(None, "--values", help="YAML file of parameters."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
) -> None:
    """Print the profile's policy."""

    def action() -> None:
        from kauditcfg.profiles import get_profile, parse_set_values, render_policy

        params = parse_set_values(list(set_), _read(values) if values else None)
        sys.stdout.write(render_policy(get_profile(profile), params, _version(kubernetes_version)))

    action()


def _single_request(opts: dict[str, Any]) -> Request:
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


def _describe(req: Request) -> str:
    if not req.is_resource:
        return req.path
    what = req.resource + (f"/{req.subresource}" if req.subresource else "")
    what = f"{what}.{req.api_group}" if req.api_group else what
    if req.name:
        what += f" {req.name}"
    return f"{req.namespace}/{what}" if req.namespace else what


_HEADER = f"{'AUDIT-ID':<36}  {'VERB':<16} {'USER':<40} {'REQUEST':<50} {'LEVEL':<15} RULE"


def _row(audit_id: str, item: Explained | tuple[Request, Any]) -> str:
    from kauditcfg.policy.explain import Explained

    req, decision = (item.request, item.decision) if isinstance(item, Explained) else item
    rule = "-" if decision.rule is None else str(decision.rule)
    who = req.user or "-"
    return f"{audit_id:<36}  {req.verb:<16} {who:<40} {_describe(req):<50} {decision.level:<15} {rule}"


@policy_app.command("explain")
def explain_cmd(
    events: list[str] = typer.Argument(None, help="Audit logs (JSON lines, EventList, .gz); - for stdin."),
    policy_file: str = typer.Option(..., "--policy", help="Policy file."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event (JSON lines)."),
    kubernetes_version: str | None = typer.Option(None, "--kubernetes-version", help=VERSION_HELP),
    user: str | None = typer.Option(None, "--user", help="Single request: user name."),
    group: list[str] = typer.Option([], "--group", help="Single request: a group of the user (repeatable)."),
    verb: str | None = typer.Option(None, "--verb", help="Single request: verb (get, create, ...)."),
    namespace: str | None = typer.Option(None, "--namespace", help="Single request: namespace."),
    resource: str | None = typer.Option(
        None, "--resource", help="Single request: resource (pods or pods/exec)."
    ),
    subresource: str | None = typer.Option(None, "--subresource", help="Single request: subresource."),
    api_group: str | None = typer.Option(
        None, "--api-group", help="Single request: API group (core: empty)."
    ),
    name: str | None = typer.Option(None, "--name", help="Single request: object name."),
    path: str | None = typer.Option(None, "--path", help="Single request: non-resource URL path."),
) -> None:
    """What the policy would log for each audit event, or for one request described by options."""
    opts = {
        "user": user, "group": group, "verb": verb, "namespace": namespace, "resource": resource,
        "subresource": subresource, "api_group": api_group, "name": name, "path": path,
    }  # fmt: skip
    single = any(v for v in opts.values())

    def action() -> None:
        if single and events:
            raise UsageError("give either audit event files or a single request's options, not both")
        if not single and not events:
            raise UsageError(
                "give audit event files (- for stdin), or describe a request with --verb, --user, ..."
            )
        from kauditcfg.policy.explain import Explainer

        explainer = Explainer(_load_valid(policy_file, _version(kubernetes_version)))
        if single:
            req = _single_request(opts)
            decision = explainer.evaluator.evaluate(req)
            if as_json:
                sys.stdout.write(json.dumps({"auditID": None, **decision.to_json()}) + "\n")
            else:
                sys.stdout.write(_HEADER + "\n" + _row("-", (req, decision)) + "\n")
            return
        bad = _stream(explainer, events, as_json)
        if bad:
            say(paint("warning: ", "yellow") + f"{bad} line(s) were not audit events and were skipped")

    action()


def _stream(explainer: Explainer, paths: list[str], as_json: bool) -> int:
    # Decoded events hold no reference cycles; the cyclic GC would only rescan them over and over.
    gc.disable()
    try:
        return _write_stream(explainer, paths, as_json)
    finally:
        gc.enable()


def _write_stream(explainer: Explainer, paths: list[str], as_json: bool) -> int:
    from kauditcfg.policy.events import BadLine, audit_id
    from kauditcfg.policy.explain import batches_from, events_from
    from kauditcfg.policy.parallel import explain_file_parallel

    bad = 0
    sys.stdout.flush()
    out = sys.stdout.buffer

    def warn(line: BadLine) -> None:
        say(paint("warning: ", "yellow") + f"{line.source}:{line.line}: skipped: {line.problem}")

    if as_json:
        for path in paths:
            done = explain_file_parallel(explainer, path, out, warn)
            if done is not None:
                bad += done
                continue
            for line in explainer.json_lines(batches_from([path])):
                if isinstance(line, BadLine):
                    bad += 1
                    warn(line)
                else:
                    out.write(line)
    else:
        out.write((_HEADER + "\n").encode())
        for item in explainer.explained(events_from(paths)):
            if isinstance(item, BadLine):
                bad += 1
                say(paint("warning: ", "yellow") + f"{item.source}:{item.line}: skipped: {item.problem}")
            else:
                out.write((_row(audit_id(item.event) or "-", item) + "\n").encode())
    out.flush()
    return bad


policy_tune.register(policy_app)  # replay and tune, listed after the commands above


def register(app: typer.Typer) -> None:
    """Add the policy command(s) to the application."""
    app.add_typer(policy_app, name="policy")
