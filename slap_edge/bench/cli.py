"""CLI commands of the bench stage (registered on the root app by slap_edge.cli): `slap-edge bench`."""

from __future__ import annotations

from pathlib import Path

import typer

from slap_edge.cli_support import fail as _fail
from slap_edge.output_files import OutputPathError, check_not_input, write_text_atomic


def bench(
    bundle: str | None = typer.Option(
        None, "--bundle", "-b", help="Bundle folder or .tar.gz to measure. Default: the built-in bundle."
    ),
    backend: list[str] = typer.Option(
        ["ort-cpu"],
        "--backend",
        help="ort-cpu (what `listen` runs), ort-cpu-whole (`listen --no-frame-cache`), torch, torchao or "
        "tensorrt; repeatable.",
    ),
    threads: int = typer.Option(1, "--threads", help="Threads for every backend and peer."),
    seconds: float = typer.Option(30.0, "--seconds", help="Length of the audio schedule."),
    audio: list[Path] = typer.Option([], "--audio", help="Audio files for the schedule (default: espeak-ng speech)."),
    prompts: Path | None = typer.Option(None, "--prompts", "-p", help="prompts.txt to score (default: 3 sections)."),
    bank: str | None = typer.Option(None, "--bank", help="Precomputed prompt bank (.npz or a bundled bank's name)."),
    heads: Path | None = typer.Option(
        None, "--heads", help="Adapted heads (.npz from `slap-edge adapt`) scored as `listen --heads` does (ort-cpu)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Run folder with the student's weights (torch backends)."),
    peers: bool = typer.Option(True, "--peers/--no-peers", help="Also measure teacher, Resemblyzer and Silero VAD."),
    peer: list[str] = typer.Option([], "--peer", help="Only these peers: teacher, resemblyzer, silero-vad."),
    teacher: Path | None = typer.Option(None, "--teacher", help="Teacher run (default: --teacher-model, random init)."),
    teacher_model: str = typer.Option("teacher-small", "--teacher-model", help="Registry teacher without --teacher."),
    capture_rate: int = typer.Option(48000, "--capture-rate", help="Rate the schedule is captured at (resampled)."),
    chunk_ms: float = typer.Option(20.0, "--chunk-ms", help="Capture block length fed to the listener."),
    warmup_hops: int = typer.Option(8, "--warmup-hops", help="Hops excluded from the figures as warm-up."),
    peer_windows: int = typer.Option(40, "--peer-windows", help="Windows each peer is timed on (after warm-up)."),
    rounds: int = typer.Option(
        1, "--rounds", help="Measure everything this many times round-robin; report each one's median round."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the full results as JSON here."),
    png_out: Path | None = typer.Option(None, "--png", help="Write the plots here (needs the 'plot' extra)."),
    md_out: Path | None = typer.Option(None, "--markdown", help="Write the results as markdown here."),
) -> None:
    """Measure the listen path per stage and end to end, beside the alternatives a user would pick."""
    from slap_edge.bench.peers import PEERS
    from slap_edge.bench.report import markdown, print_report, write_json, write_png
    from slap_edge.bench.runner import BenchConfig, BenchError, run_bench
    from slap_edge.bench.schedule import ScheduleError
    from slap_edge.bundle_reader import BundleError, resolve_bundle_path
    from slap_edge.prompts import PromptsError
    from slap_edge.provenance import provenance

    inputs = [bundle if bundle not in (None, "default") else None, prompts, bank, model, teacher, *audio]
    try:
        for option, path in (("--json", json_out), ("--markdown", md_out), ("--png", png_out)):
            if path is not None:
                check_not_input(path, inputs, option)
    except OutputPathError as exc:
        raise _fail(str(exc)) from exc
    try:
        cfg = BenchConfig(
            bundle=str(resolve_bundle_path(bundle)),
            backends=tuple(dict.fromkeys(backend)),
            threads=threads,
            seconds=seconds,
            audio=tuple(str(a) for a in audio),
            capture_rate=capture_rate,
            chunk_ms=chunk_ms,
            warmup_hops=warmup_hops,
            prompts=str(prompts) if prompts else None,
            bank=bank,
            model_run=str(model) if model else None,
            heads=str(heads) if heads else None,
            peers=tuple(dict.fromkeys(peer)) if peer else (PEERS if peers else ()),
            teacher_run=str(teacher) if teacher else None,
            teacher_model=teacher_model,
            peer_windows=peer_windows,
            rounds=rounds,
        )
        results = run_bench(cfg, log=lambda m: typer.echo(m, err=True))
    except (ValueError, BundleError, PromptsError, ScheduleError, BenchError) as exc:
        raise _fail(str(exc)) from exc
    print_report(results)
    results["provenance"] = provenance(cfg.bundle)  # commit and hashes: what made this result
    if json_out:
        typer.echo(f"wrote {write_json(results, json_out)}", err=True)
    if md_out:
        write_text_atomic(md_out, markdown(results))
        typer.echo(f"wrote {md_out}", err=True)
    if png_out:
        try:
            typer.echo(f"wrote {write_png(results, png_out)}", err=True)
        except RuntimeError as exc:
            raise _fail(str(exc)) from exc


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("bench")(bench)
