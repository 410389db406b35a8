"""The typer application: one module per command group, each with a `register(app)`.

The kubernetes client is never imported here: `kauditcfg --help` and `diff` must stay fast.
"""

from __future__ import annotations

import typer

from kauditcfg import __version__
from kauditcfg.cli import check, manifest_cmds, policy, profiles

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


def main() -> None:
    app()
