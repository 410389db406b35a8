"""CLI for `kauditcfg profiles`: the shipped profiles, their parameters and flags."""

from __future__ import annotations

import typer

from kauditcfg.cli.output import emit_json
from kauditcfg.profiles import PARAMETER_HELP, PROFILES, get_profile

profiles_app = typer.Typer(help="The shipped audit policy profiles.", no_args_is_help=True)


@profiles_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {name, description}."),
) -> None:
    """The profiles kauditcfg ships."""
    if as_json:
        emit_json([{"name": p.name, "description": p.description} for p in PROFILES.values()])
        return
    width = max(len(name) for name in PROFILES)
    for p in PROFILES.values():
        typer.echo(f"{p.name:<{width}}  {p.description}")


@profiles_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Profile name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A profile's parameters (with defaults, settable by --set/--values) and kube-apiserver flags."""

    def action() -> None:
        p = get_profile(name)
        if as_json:
            emit_json(
                {
                    "name": p.name,
                    "description": p.description,
                    "parameters": [
                        {"name": k, "default": v, "description": PARAMETER_HELP.get(k, "")}
                        for k, v in p.parameters.items()
                    ],
                    "flags": {f"--{k}": v for k, v in p.flags.items()},
                    "webhook_flags": {f"--{k}": v for k, v in p.webhook_flags.items()},
                }
            )
            return
        typer.echo(f"{p.name}: {p.description}\n\nparameters (--set key=value):")
        for key, default in p.parameters.items():
            shown = ",".join(map(str, default)) if isinstance(default, list) else str(default).lower()
            if isinstance(default, str):
                shown = default
            typer.echo(f"  {key} = {shown or '(empty)'}\n      {PARAMETER_HELP.get(key, '')}")
        typer.echo("\nflags:")
        for flag, value in p.flags.items():
            typer.echo(f"  --{flag}={value}")
        typer.echo("\nwebhook flags (with --webhook-url; --webhook-* options override them):")
        for flag, value in p.webhook_flags.items():
            typer.echo(f"  --{flag}={value}")

    action()


def register(app: typer.Typer) -> None:
    """Add the profiles command(s) to the application."""
    app.add_typer(profiles_app, name="profiles")
