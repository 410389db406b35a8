"""CLI for `kauditcfg profiles` (placeholder until its issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the profiles command(s) to the application."""
