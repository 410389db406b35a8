"""The typer application: one module per command group, each with a `register(app)`.

Commands raise `KauditError`s; the application's one error handler (`_App.invoke`) prints them
and maps each type to its exit code. The kubernetes client is never imported here: `kauditcfg
--help` and `diff` must stay fast.
"""

from __future__ import annotations

import signal
from typing import Any

import typer
from typer.core import TyperGroup

from kauditcfg import __version__
from kauditcfg.cli import check, manifest_cmds, policy, profiles
from kauditcfg.cli.output import emit_json, empty_result, report_error, say
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
    if command in ("enable", "disable", "diff", "rollback"):
        return empty_result()
    return {}


class _App(TyperGroup):
    """The one error handler: every KauditError becomes its message(s) and its exit code."""

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
    add_completion=False,
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


def main() -> None:
    app(prog_name="kauditcfg")
