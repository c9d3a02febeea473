"""What every command group shares: how a command reports bad input and stops (typer only, no heavy imports)."""

from __future__ import annotations

import typer


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr and return the exit to raise: ``raise fail("...")``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
