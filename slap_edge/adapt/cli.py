"""CLI command of site adaptation: `slap-edge adapt` (no torch)."""

from __future__ import annotations

from pathlib import Path

import typer

from slap_edge.cli_support import fail as _fail


def adapt(
    examples: Path = typer.Option(
        ...,
        "--examples",
        "-e",
        help="DIR/<section>/<label>/[<speaker>/]*.wav, a CSV (path,section,label,speaker) or a suite folder.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Heads file to write (.npz)."),
    bundle: str | None = typer.Option(None, "--bundle", "-b", help="Bundle folder or .tar.gz. Default: built-in."),
    prompts: Path | None = typer.Option(
        None, "--prompts", "-p", help="prompts.txt whose sections and labels are the prior (suites bring their own)."
    ),
    variant: str = typer.Option(
        "prior",
        "--variant",
        help="Head to store where prompts exist: prior (MAP pulled toward the prompts, c by speaker-grouped CV; the "
        "best on the project's suites), auto (the best cross-validated of zero-shot, calibrated, prior and "
        "calibrated+prior; zero-shot unless another is strictly better), calibrated (the prompts with a fitted scale "
        "and per-label offset, or zero-shot when that shows no gain) or plain (no prompts).",
    ),
    criterion: str = typer.Option(
        "guarded",
        "--criterion",
        help="How speaker-grouped CV picks the regularisation c: guarded (lowest held-out log-loss among the c that "
        "keep the strongest pull's held-out macro-F1), guarded_1se (among those, the strongest pull within one "
        "standard error of the lowest log-loss: closer to the prompts, at most 0.0005 macro-F1 below zero-shot on the "
        "project's held-out speakers where guarded loses up to 0.004, but smaller gains), log_loss or f1.",
    ),
    target_far: float = typer.Option(
        0.01, "--target-far", help="False-alarm rate each label's calibrated threshold aims at (0 = none)."
    ),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds (by speaker)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Leave out unreadable or too-short clips (each named) instead of stopping."
    ),
) -> None:
    """Fit a calibrated linear head per section from a few labelled site clips (prompts as the prior)."""
    from slap_edge.adapt.examples import ExamplesError, read_examples
    from slap_edge.adapt.fit import AdaptConfig
    from slap_edge.adapt.heads import HeadsError
    from slap_edge.adapt.site import adapt_site
    from slap_edge.bundle_reader import BundleError
    from slap_edge.prompts import PromptsError, load_prompts

    try:
        cfg = AdaptConfig(
            variant=variant,
            criterion=criterion,
            folds=folds,
            seed=seed,
            target_far=target_far if target_far > 0 else None,
        )
        found = read_examples(examples)
        prompt_set = load_prompts(prompts) if prompts is not None else None
        result = adapt_site(bundle, found, cfg, prompts=prompt_set, skip_bad=skip_bad)
        result.heads.save(out)
    except (ExamplesError, HeadsError, BundleError, PromptsError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(result.table())
    names = ", ".join(f"[{s.name}] {s.info['head']}" for s in result.heads.sections)
    typer.echo(f"wrote {out}: {len(result.heads.sections)} section(s) ({names}), model {result.heads.model_id}")


def register(app: typer.Typer) -> None:
    """Add this stage's command to `app`."""
    app.command("adapt")(adapt)
