"""`slap-edge data ...`: synthesise, import, describe and split corpora."""

from __future__ import annotations

import typer

app = typer.Typer(help="Make, import and inspect corpora of described speech.", no_args_is_help=True)
