"""The typer application: one module per command group, each with a `register(app)`.

Commands raise `KauditError`s; the application's one error handler (`_App.invoke`) prints them
and maps each type to its exit code. The kubernetes client is never imported here: `kauditcfg
--help` and `diff` must stay fast.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from kauditcfg import __version__
from kauditcfg.cli import check, kubeadm, manifest_cmds, policy, profiles, verify
from kauditcfg.cli.options import examples
from kauditcfg.cli.output import emit_json, empty_result, report_error, say, set_colour
from kauditcfg.errors import EXIT_IO, EXIT_USAGE, Interrupted, IOFailure, KauditError

_USAGE_ERRORS = {"UsageError", "NoSuchOption", "BadParameter", "MissingParameter", "BadOptionUsage",
                 "BadArgumentUsage", "NoSuchCommand"}  # fmt: skip


def json_shape(argv: list[str]) -> dict[str, Any]:
    """The JSON object a command prints, empty: what --json answers with when it fails."""
    command = argv[0] if argv else ""
    if command == "check":
        return {"findings": [], "cis": {}}
    if command == "rollback" and "--list" in argv:
        return {"backups": []}
    if command in ("enable", "disable", "diff", "rollback", "kubeadm"):
        return empty_result()
    if command == "verify":
        return {"found": False, "warnings": []}
    return {}


def _flags_without_metavar(command: Any) -> None:
    """Flags take no value, so help shows none (typer would print `<bool>`), --help included."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _flags_without_metavar(sub)


class _App(TyperGroup):
    """The one error handler: every KauditError becomes its message(s) and its exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's usage errors in the one `kauditcfg: error: ...` line too (no rich box), exit 2."""
        _flags_without_metavar(self)
        set_colour("auto")  # each run starts from the default, whatever a previous one chose
        standalone = kwargs.pop("standalone_mode", True)
        try:
            rv = super().main(*args, **{**kwargs, "standalone_mode": False})
        except Exception as exc:
            # click's exceptions (vendored by recent typer), matched by name to serve both.
            names = {c.__name__ for c in type(exc).__mro__}
            if not standalone or not names & {"ClickException", "Abort"}:
                raise
            if "Abort" in names:
                say("kauditcfg: interrupted; nothing was changed")
                sys.exit(128 + signal.SIGINT)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "kauditcfg"
            say(f"kauditcfg: error: {exc.format_message()} (see {where} --help)")  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        if not standalone:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        argv = [*getattr(ctx, "_protected_args", []), *ctx.args]
        as_json = "--json" in argv
        try:
            return super().invoke(ctx)
        except KauditError as exc:
            report_error(exc, as_json, json_shape(argv))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            # Ctrl-C outside a transaction (start-up, planning): nothing was changed.
            report_error(Interrupted(signal.SIGINT, undone=False), as_json, json_shape(argv))
            raise typer.Exit(128 + signal.SIGINT) from None
        except OSError as exc:
            # An I/O error outside the transaction's layer (reading, listing): still one line.
            path = exc.filename if isinstance(exc.filename, str) else "kauditcfg"
            report_error(IOFailure("access", path, exc.errno or 0, undone=False), as_json, json_shape(argv))
            raise typer.Exit(EXIT_IO) from None
        except Exception as exc:
            # With --json even a bad option answers in JSON, so a caller such as Ansible always
            # gets an object.
            if not as_json or type(exc).__name__ not in _USAGE_ERRORS or not hasattr(exc, "format_message"):
                raise
            message = f"usage: {exc.format_message()} (see kauditcfg --help)"
            emit_json({**json_shape(argv), "errors": [message]})
            say(f"kauditcfg: error: {message}")
            raise typer.Exit(EXIT_USAGE) from None


app = typer.Typer(
    name="kauditcfg",
    cls=_App,
    help="Turn Kubernetes API-server audit logging on, correctly and safely, on kubeadm control-plane nodes.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    epilog=examples(
        "kauditcfg diff --profile cks", "kauditcfg enable --profile cks", "kauditcfg check --fail-on high"
    ),
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kauditcfg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Turn Kubernetes API-server audit logging on, correctly and safely."""


manifest_cmds.register(app)
check.register(app)
policy.register(app)
profiles.register(app)
kubeadm.register(app)
verify.register(app)


def main() -> None:
    app(prog_name="kauditcfg")
