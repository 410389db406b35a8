"""CLI for enable / disable / diff / rollback (placeholder)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the manifest commands."""
