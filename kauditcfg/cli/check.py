"""CLI for `kauditcfg check` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the check command(s) to the application."""
