"""The `slap-edge` command line. Each command is thin: parse, build a config, call one library function, print.

Stage commands live beside their stage (``slap_edge/<stage>/cli.py``) and register themselves here; heavy
imports (torch) happen inside the commands, so `slap-edge listen` and `slap-edge doctor` run without torch.
"""

from __future__ import annotations

import logging

import typer

from slap_edge import __version__
from slap_edge.adapt.cli import register as register_adapt
from slap_edge.bench.cli import register as register_bench
from slap_edge.data.cli import app as data_app
from slap_edge.doctor import register as register_doctor
from slap_edge.eval.cli import register as register_eval
from slap_edge.export.cli import register as register_export
from slap_edge.runtime.cli import register as register_runtime
from slap_edge.train.cli import register as register_train

app = typer.Typer(
    name="slap-edge",
    help="Zero-shot speaker description on the edge: who is speaking, asked in plain words.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"slap-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Zero-shot speaker description on the edge: who is speaking, asked in plain words."""


app.add_typer(data_app, name="data")
register_doctor(app)
register_train(app)
register_eval(app)
register_export(app)
register_runtime(app)
register_bench(app)
register_adapt(app)


def main() -> None:
    # torchao (imported by transformers when present) registers enums with torch's pytree, which logs a deprecation
    # warning on every command; it says nothing to a user of slap-edge.
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
