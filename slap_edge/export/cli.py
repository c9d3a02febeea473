"""CLI commands of the export stage (registered on the root app by slap_edge.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
