"""CLI commands of the eval stage (registered on the root app by slap_edge.cli)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import typer

from slap_edge.cli_support import fail
from slap_edge.output_files import OutputPathError, check_not_input, write_text_atomic


def eval_command(
    model: Path = typer.Option(
        ..., "--model", help="A training run folder, an exported bundle, or 'default' (the built-in bundle)."
    ),
    suite: Path | None = typer.Option(None, "--suite", help="Suite folder (spec/eval-suite.md)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the full report as JSON here."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Write the report table as markdown here."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Also run the speaker-grouped linear probe."),
    mfcc: bool = typer.Option(
        True, "--mfcc/--no-mfcc", help="With the probe, also probe 40 MFCC statistics on the same folds (reference)."
    ),
    retrieval_data: Path | None = typer.Option(
        None, "--retrieval-data", help="Corpus folder: also report caption->audio recall@1/@5 on its split."
    ),
    retrieval_split: str = typer.Option("val", "--retrieval-split", help="Corpus split for retrieval."),
    device: str = typer.Option("cpu", "--device", help="Torch device for run folders."),
    heads: Path | None = typer.Option(
        None, "--heads", help="Adapted heads (`slap-edge adapt`): also score tasks named like their sections."
    ),
) -> None:
    """Score a model zero-shot and with a linear probe on a suite; print the per-task table."""
    from slap_edge.config import ConfigError
    from slap_edge.eval.embedders import load_embedding_source
    from slap_edge.eval.report import report_markdown
    from slap_edge.eval.runner import caption_retrieval, evaluate_suite
    from slap_edge.eval.suite import SuiteError, load_suite
    from slap_edge.provenance import provenance

    if suite is None and retrieval_data is None:
        raise typer.BadParameter("give --suite, --retrieval-data or both", param_hint="--suite")
    inputs = [model if str(model) != "default" else None, suite, retrieval_data]
    try:
        for option, path in (("--json", json_out), ("--markdown", markdown_out)):
            if path is not None:
                check_not_input(path, inputs, option)
    except OutputPathError as exc:
        raise fail(str(exc)) from exc
    if probe and importlib.util.find_spec("sklearn") is None:
        # The kiosk install has no scikit-learn; zero-shot scoring needs none, so it runs and the probe is skipped.
        typer.echo(
            "linear probe skipped: it needs scikit-learn, which is not installed (pip install 'slap-edge[eval]'); "
            "pass --no-probe to skip it without this note",
            err=True,
        )
        probe = False
    try:
        source = load_embedding_source(model, device=device)
        if suite is not None:
            from slap_edge.adapt.heads import load_heads

            adapted = load_heads(heads) if heads is not None else None
            report = evaluate_suite(load_suite(suite), source, probe=probe, mfcc_reference=mfcc, heads=adapted)
        else:
            report = {
                "suite": "(none)",
                "model": source.name,
                "tasks": [],
                "unreadable": {"count": 0, "clips": {}},
                "zero_shot": {"mean_macro_f1": None, "categories": {}},
                "linear_probe": None,
            }
        if retrieval_data is not None:
            report["retrieval"] = caption_retrieval(retrieval_data, source, split=retrieval_split)
    except (SuiteError, ConfigError, ValueError, OSError) as exc:
        raise fail(str(exc), 1) from exc
    report["provenance"] = provenance(model, suite, device)  # commit and hashes: what made this result
    table = report_markdown(report)
    typer.echo(table)
    if json_out:
        write_text_atomic(json_out, json.dumps(report, indent=2) + "\n")
    if markdown_out:
        write_text_atomic(markdown_out, table)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("eval")(eval_command)
