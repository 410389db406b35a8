"""CLI for `kauditcfg policy` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the policy command(s) to the application."""
