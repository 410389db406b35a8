"""CLI for `kauditcfg policy`: thin wrappers; the work happens in kauditcfg.policy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kauditcfg.cli import policy_explain, policy_tune
from kauditcfg.cli.options import fail_on_value
from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.config.findings import DEFAULT_FAIL_ON
from kauditcfg.errors import InvalidInput, Reported, UsageError

# The engine is imported inside each command: the other commands (and --help) start without it.
if TYPE_CHECKING:
    from kauditcfg.policy.model import Policy
from kauditcfg.versions import NEWEST, OLDEST, Version, format_version, parse_version

policy_app = typer.Typer(
    help="Validate, explain, lint, migrate and render audit policies.", no_args_is_help=True
)

VERSION_HELP = f"Kubernetes version X.Y the policy is for (default {format_version(NEWEST)})."


def _version(text: str | None) -> Version:
    version = parse_version(text) if text else NEWEST
    if version < OLDEST:
        raise UsageError(
            f"--kubernetes-version {text}: the policy engine models Kubernetes "
            f"{format_version(OLDEST)} to {format_version(NEWEST)}; give a version in that range"
        )
    return version


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None


def _inputs(files: list[str]) -> list[tuple[str, str]]:
    """(name, text) of each file; `-` (stdin, read once) is named <stdin>."""
    if files.count("-") > 1:
        raise UsageError("- (stdin) can be given once")
    return [("<stdin>" if f == "-" else f, _read(f)) for f in files]


def _bare(message: str, source: str) -> str:
    """The message without a leading `source: `, so each path is printed once."""
    prefix = f"{source}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _invalid(source: str, errors: list[str]) -> InvalidInput:
    return InvalidInput(
        f"{source}: kube-apiserver would refuse this policy",
        [f"{source}: {_bare(e, source)}" for e in errors],
    )


def load_valid(path: str, text: str | None, version: Version) -> Policy:
    """The policy kube-apiserver would load from `path`, warnings on stderr; InvalidInput (exit 3) if none."""
    from kauditcfg.policy.load import validate_policy_text

    result = validate_policy_text(_read(path) if text is None else text, path, version)
    for warning in result.warnings:
        say(paint("warning: ", "yellow") + f"{path}: {_bare(warning, path)}")
    if not result.ok or result.policy is None:
        raise _invalid(path, result.errors)
    return result.policy


VALIDATE_EXAMPLES = """

Examples:

  kauditcfg policy validate /etc/kubernetes/audit/policy.yaml

  kauditcfg policy validate --kubernetes-version 1.23 old/*.yaml

  kauditcfg policy render --profile cks | kauditcfg policy validate -
"""


@policy_app.command("validate", epilog=VALIDATE_EXAMPLES)
def validate_cmd(
    files: list[str] = typer.Argument(..., help="Policy files; - for stdin.", metavar="FILE..."),
    kubernetes_version: str | None = typer.Option(
        None, "--kubernetes-version", help=VERSION_HELP, metavar="X.Y"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Exit 0 when kube-apiserver would load every policy, 3 (with every error) when not."""
    from kauditcfg.policy.load import validate_policy_text

    version = _version(kubernetes_version)
    results = [(source, validate_policy_text(text, source, version)) for source, text in _inputs(files)]
    invalid = [source for source, result in results if not result.ok]
    if as_json:
        one = len(results) == 1

        def tag(source: str, messages: list[str]) -> list[str]:
            return [_bare(m, source) if one else f"{source}: {_bare(m, source)}" for m in messages]

        emit_json({
            "valid": not invalid,
            "errors": [e for source, r in results for e in tag(source, r.errors)],
            "warnings": [w for source, r in results for w in tag(source, r.warnings)],
            "files": [{"file": source, "valid": r.ok, "errors": [_bare(e, source) for e in r.errors],
                       "warnings": [_bare(w, source) for w in r.warnings]} for source, r in results],
        })  # fmt: skip
    else:
        for source, result in results:
            for warning in result.warnings:
                say(paint("warning: ", "yellow") + f"{source}: {_bare(warning, source)}")
            if result.ok:
                print(f"{source}: valid audit policy for Kubernetes {format_version(version)}")
            for error in result.errors:
                print(f"{source}: " + paint("error: ", "red", sys.stdout) + _bare(error, source))
    if invalid:
        raise Reported(f"{', '.join(invalid)}: kube-apiserver would refuse this policy")


LINT_EXAMPLES = """

Examples:

  kauditcfg policy lint policy.yaml

  kauditcfg policy lint --fail-on medium --ignore request-received-logged policies/*.yaml

  kubectl -n kube-system get cm audit-policy -o jsonpath='{.data.policy\\.yaml}' | kauditcfg policy lint -

A rule is silenced for one finding by a comment on it: `# kauditcfg: ignore=no-catch-all`.
"""


@policy_app.command("lint", epilog=LINT_EXAMPLES)
def lint_cmd(
    files: list[str] = typer.Argument(..., help="Policy files; - for stdin.", metavar="FILE..."),
    kubernetes_version: str | None = typer.Option(
        None, "--kubernetes-version", help=VERSION_HELP, metavar="X.Y"
    ),
    as_json: bool = typer.Option(False, "--json", help='Print {"findings": [...]}.'),
    fail_on: str = typer.Option(
        DEFAULT_FAIL_ON,
        "--fail-on",
        help="Exit 1 on findings at or above: high, medium, low (any case).",
        metavar="SEVERITY",
    ),
    ignore: list[str] = typer.Option(
        [], "--ignore", help="Finding ID to leave out (repeatable).", metavar="ID"
    ),
) -> None:
    """What the policies leak, hide or waste, as `file:line:col: ID severity message`."""
    from kauditcfg.config.findings import LINT_KEYS, SEVERITIES
    from kauditcfg.policy.lint_report import lint_files

    threshold = fail_on_value(fail_on)
    report = lint_files(_inputs(files), _version(kubernetes_version), set(ignore))
    failing = any(item.finding.at_or_above(threshold) for item in report.items)
    if as_json:
        # Each finding keeps the lint shape; where it is sits at the same index of "locations".
        emit_json(
            {
                "findings": [item.finding.to_json(LINT_KEYS) for item in report.items],
                "locations": [
                    {"file": item.file, "line": item.mark.line, "column": item.mark.column}
                    for item in report.items
                ],
                "ignored": report.ignored,
            }
        )
    else:
        colours = {"high": "red", "medium": "yellow", "low": "cyan"}
        for item in report.items:
            f = item.finding
            where = f"{item.file}:{item.mark.line}:{item.mark.column}:"
            print(f"{where} {f.id} {paint(f.severity, colours[f.severity], sys.stdout)} {f.message}")
        counts = report.counts()
        tally = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
        ignored = f" ({report.ignored} ignored)" if report.ignored else ""
        files_word = "file" if len(files) == 1 else "files"
        print(f"{len(report.items)} finding(s) in {len(files)} {files_word}: {tally}{ignored}")
    if failing:
        raise typer.Exit(1)


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

        chosen = get_profile(profile)
        params = parse_set_values(list(set_), _read(values) if values else None, chosen)
        sys.stdout.write(render_policy(chosen, params, _version(kubernetes_version)))

    action()


def register(app: typer.Typer) -> None:
    """Add the policy command(s) to the application."""
    policy_explain.register(policy_app, load_valid, _version, VERSION_HELP)
    policy_tune.register(policy_app)
    app.add_typer(policy_app, name="policy")
