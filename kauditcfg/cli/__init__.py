"""The typer application: one module per command group, each with a `register(app)`.

The kubernetes client is never imported here: `kauditcfg --help` and `diff` must stay fast.
"""

from __future__ import annotations

import sys

import typer

from kauditcfg import __version__
from kauditcfg.cli import check, kubeadm, manifest_cmds, policy, profiles, verify
from kauditcfg.cli.output import emit_json, empty_result, say
from kauditcfg.errors import EXIT_USAGE

app = typer.Typer(
    name="kauditcfg",
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
kubeadm.register(app)
verify.register(app)


_USAGE_ERRORS = {"UsageError", "NoSuchOption", "BadParameter", "MissingParameter", "BadOptionUsage",
                 "BadArgumentUsage"}  # fmt: skip


def main() -> None:
    if "--json" not in sys.argv[1:]:
        app(prog_name="kauditcfg")
        return
    # With --json even a bad option answers in JSON, so a caller such as Ansible always gets an object.
    try:
        code = app(prog_name="kauditcfg", standalone_mode=False)
    except Exception as exc:
        if type(exc).__name__ not in _USAGE_ERRORS or not hasattr(exc, "format_message"):
            raise
        message = f"usage: {exc.format_message()} (see kauditcfg --help)"
        emit_json({**empty_result(), "errors": [message]})
        say(f"kauditcfg: error: {message}")
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)
