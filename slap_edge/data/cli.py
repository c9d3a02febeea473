"""`slap-edge data ...`: synthesise, import, describe and split corpora."""

from __future__ import annotations

from pathlib import Path

import typer

from slap_edge.cli_support import fail

app = typer.Typer(help="Make, import and inspect corpora of described speech.", no_args_is_help=True)


# --- import, suite, validate-suite (captions/importers/suites) ------------------------------------------------------


def _import_progress(done: int) -> None:
    if done % 5000 == 0:  # large corpora take minutes; a line now and then shows it is moving
        typer.echo(f"  {done} clips imported ...", err=True)


@app.command("import")
def import_command(
    kind: str = typer.Argument(
        ...,
        help="Corpus layout: commonvoice, vctk, librispeech, csv, or the Debian packages asterisk, hedgewars, klettres "
        "(SRC: the folder they were unpacked into with dpkg -x).",
    ),
    src: Path = typer.Argument(..., help="The unpacked corpus folder (for csv: the CSV file)."),
    out: Path = typer.Option(..., "--out", help="Folder for manifest.jsonl and import_report.json."),
    copy: bool = typer.Option(False, "--copy", help="Convert the audio to 16 kHz mono WAV under OUT/audio/."),
    val_fraction: float = typer.Option(0.1, help="Share of speakers in the val split (by speaker hash)."),
    test_fraction: float = typer.Option(0.1, help="Share of speakers in the test split (by speaker hash)."),
    limit: int = typer.Option(0, help="Stop after this many clips (0: all)."),
) -> None:
    """Read a real corpus into a manifest; skipped rows are counted and listed in OUT/import_report.json."""
    from slap_edge.data.importers import KINDS, REPORT_NAME, ImporterError, import_corpus

    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not a corpus kind; use one of {', '.join(KINDS)}", param_hint="KIND")
    try:
        report = import_corpus(
            kind,
            src,
            out,
            copy=copy,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            limit=limit or None,
            progress=_import_progress,
        )
    except (ImporterError, ValueError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"imported {report.imported} clips into {out / 'manifest.jsonl'} (splits: {report.splits})")
    if report.problems:
        typer.echo(f"skipped {report.skipped}: {report.by_kind()}; all listed in {out / REPORT_NAME}")
        for problem in report.problems[:10]:
            typer.echo(f"  {problem}")
        if report.skipped > 10:
            typer.echo(f"  ... and {report.skipped - 10} more")


@app.command("suite")
def suite_command(
    corpus: Path = typer.Option(..., "--from", help="Corpus folder holding manifest.jsonl."),
    out: Path = typer.Option(..., "--out", help="Suite folder to create (spec/eval-suite.md)."),
    holdout_voices: str = typer.Option(
        "", help="Build from these voices alone, all splits: 'mbrola', 'engine=mbrola', 'voice=mb-*' (comma = or)."
    ),
    exclude_holdout: str = typer.Option(
        "",
        "--exclude-holdout",
        help="Leave out these voices: the holdout.json (or its suite folder) the model was trained without, as "
        "train --exclude-holdout takes it, or patterns. A held-out-speaker suite then holds only voices trained on.",
    ),
    clips_per_class: int = typer.Option(40, help="Clips per class (fewer when the data have fewer)."),
    min_speakers: int = typer.Option(3, help="Speakers each class needs, else the task is skipped."),
    language_pairs: str = typer.Option("", help="Language tasks, e.g. 'es:pt,de:nl' (default: chosen from the data)."),
    seed: int = typer.Option(0, help="Seed of the clip selection."),
    name: str = typer.Option("", help="Suite name (default: the folder name)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing suite folder."),
    speakers_by_voice: bool = typer.Option(
        False, "--speakers-by-voice", help="Group clips by base voice (engine/voice) instead of speaker identity."
    ),
) -> None:
    """Build a balanced evaluation suite from the test speakers (or a holdout family of voices)."""
    from slap_edge.data.holdout import HoldoutSelector, holdout_patterns
    from slap_edge.data.manifest import ManifestError
    from slap_edge.data.suite_builder import SuiteBuildError, build_suite
    from slap_edge.eval.suite import validate_suite

    try:
        pairs = None
        if language_pairs:
            pairs = []
            for item in language_pairs.split(","):
                a, sep, b = item.strip().partition(":")
                if not sep or not a or not b:
                    raise SuiteBuildError(f"language pair {item!r}: write two codes as a:b, e.g. es:pt")
                pairs.append((a, b))
        holdout = HoldoutSelector.parse(holdout_voices) if holdout_voices else None
        excluded = holdout_patterns(exclude_holdout)
        result = build_suite(
            corpus,
            out,
            holdout=holdout,
            exclude=HoldoutSelector(excluded) if excluded else None,
            clips_per_class=clips_per_class,
            min_speakers=min_speakers,
            language_pairs=pairs,
            seed=seed,
            name=name or None,
            overwrite=overwrite,
            speakers_by_voice=speakers_by_voice,
        )
    except (SuiteBuildError, ManifestError) as exc:
        raise fail(str(exc)) from exc
    for task in result.tasks:
        sizes = ", ".join(f"{label} {len(c)} clips/{task.speakers(label)} spk" for label, c in task.clips.items())
        typer.echo(
            f"task {task.spec.name} [{task.spec.category}]: {sizes}{'  (' + task.note + ')' if task.note else ''}"
        )
    for task_name, reason in result.skipped:
        typer.echo(f"skipped {task_name}: {reason}")
    if excluded:
        typer.echo(f"excluded {result.excluded} clip(s) of the voices {','.join(excluded)}")
    if result.unreadable:
        typer.echo(f"{len(result.unreadable)} unreadable clip(s) left out, listed in {out / 'build.json'}")
    if result.holdout:
        typer.echo(f"holdout voices written to {out / 'holdout.json'}: {len(result.holdout['exclude_voices'])} voices")
    problems = validate_suite(out, min_speakers=min(min_speakers, 2))
    typer.echo(
        f"suite {out}: {len(result.tasks)} tasks, {result.audio_files} audio files; validator: "
        + ("ok" if not problems else f"{len(problems)} problem(s)")
    )
    for problem in problems:
        typer.echo(f"  {problem}")
    if problems:
        raise typer.Exit(1)


@app.command("real-voice-dev")
def real_voice_dev_command(
    src: Path = typer.Argument(..., help="Folder the Debian packages were unpacked into (dpkg -x), one or several."),
    out: Path = typer.Option(..., "--out", help="Folder for corpus/<kind>/, corpus/all/ and suite/."),
    clips_per_class: int = typer.Option(90, help="Clips per class of each dev task (fewer when the data have fewer)."),
    seed: int = typer.Option(0, help="Seed of the clip selection."),
) -> None:
    """Import asterisk, hedgewars and klettres and build the real-voice dev suite from the held-out speakers."""
    from slap_edge.data.importers import ImporterError
    from slap_edge.data.manifest import ManifestError
    from slap_edge.data.real_voices import build_real_voice_dev
    from slap_edge.data.suite_builder import SuiteBuildError
    from slap_edge.eval.suite import validate_suite

    try:
        result = build_real_voice_dev(
            src, out, clips_per_class=clips_per_class, seed=seed, progress=lambda msg: typer.echo(msg, err=True)
        )
    except (ImporterError, SuiteBuildError, ManifestError) as exc:
        raise fail(str(exc)) from exc
    for kind, summary in result.imports.items():
        typer.echo(f"{kind}: {summary['imported']} clips {summary['splits']}, skipped {summary['skipped_by_kind']}")
    for name, task in result.tasks.items():
        sizes = ", ".join(f"{label} {n} clips/{len(task['speakers'][label])} spk" for label, n in task["clips"].items())
        typer.echo(f"task {name}: {sizes}")
    typer.echo(f"training corpus (all other speakers): {result.train_clips} clips, {result.train_speakers} speakers")
    problems = validate_suite(result.suite, min_speakers=2)
    typer.echo(f"suite {result.suite}: validator " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    for problem in problems:
        typer.echo(f"  {problem}")
    if problems:
        raise typer.Exit(1)


@app.command("validate-suite")
def validate_suite_command(
    suite: Path = typer.Argument(..., help="Suite folder (suite.json, clips.jsonl, audio/)."),
    min_speakers: int = typer.Option(2, help="Speakers each class needs."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Skip opening the audio files."),
) -> None:
    """Check a suite folder against spec/eval-suite.md; exit status 1 when a problem is found."""
    from slap_edge.eval.suite import load_suite, validate_suite

    problems = validate_suite(suite, min_speakers=min_speakers, check_audio=not no_audio)
    if problems:
        for problem in problems:
            typer.echo(problem)
        typer.echo(f"{suite}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    loaded = load_suite(suite)
    speakers = len({clip.speaker for clip in loaded.clips})
    typer.echo(f"{suite}: valid; {len(loaded.tasks)} tasks, {len(loaded.clips)} clip lines, {speakers} speakers")


# --- synth, stats (synthetic corpus) ----------------------------------------------------------------------------------


# What `data synth` imports to render a clip (the 'data' extra of pyproject.toml, by module name).
DATA_EXTRA_MODULES = ("scipy", "pyworld", "parselmouth", "faker")


@app.command("synth")
def synth_command(
    out: Path = typer.Option(..., "--out", help="Corpus folder: manifest.jsonl, synth.json and audio/."),
    clips: int = typer.Option(..., "--clips", help="Number of clips (2-6 s, 16 kHz mono)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed and settings give the same corpus."),
    jobs: int = typer.Option(1, "--jobs", help="Worker processes (one per core)."),
    voices: str = typer.Option("all", "--voices", help="all: espeak-ng and MBROLA where installed; espeak: no MBROLA."),
    speakers: int = typer.Option(0, "--speakers", help="Speaker identities (0: max(30, clips/10))."),
    timbre: str = typer.Option(
        "some",
        "--timbre",
        help="Vocal-tract-length changes: some (a third of speakers, 0.92-1.08), every (all speakers, 0.90-1.10) "
        "or mbrola (every MBROLA speaker 0.90-1.10, espeak-ng speakers as in some).",
    ),
    intonation: str = typer.Option(
        "off",
        "--intonation",
        help="Intonation attribute: off (none); vocoder (3 in 10 speakers monotone, their F0 excursion squeezed "
        "to 0.05-0.25; 3 in 10 expressive, stretched 2.0-2.8; the rest neutral; not for whisper or creaky); or "
        "spread (the same labels, every labelled speaker's F0 spread set clip by clip to 0.3-0.9 semitones "
        "monotone, 1.6-2.6 neutral, 4.5-7.0 expressive).",
    ),
) -> None:
    """Synthesise a described-speech corpus; a re-run with the same settings resumes it."""
    import importlib.util
    import time

    # Checked once here: without the data extra every clip would fail on its own, one error per clip.
    missing = [name for name in DATA_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise fail(f"data synth needs {', '.join(missing)}, not installed: pip install 'slap-edge[data]'")

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from slap_edge.data.engines import VoiceError
    from slap_edge.data.synth import SynthConfig, SynthError, run_synth

    console = Console(stderr=True)
    try:
        config = SynthConfig(
            out=out,
            clips=clips,
            seed=seed,
            jobs=jobs,
            voices=voices,
            speakers=speakers or None,
            timbre=timbre,
            intonation=intonation,
        )
        columns = (
            TextColumn("[bold]synth"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("synth", total=clips, rate="")
            state = {"first": None, "t0": 0.0}

            def on_progress(done: int, total: int) -> None:
                if state["first"] is None:
                    state["first"], state["t0"] = done, time.monotonic()
                elapsed = time.monotonic() - state["t0"]
                speed = (done - state["first"]) / elapsed if elapsed > 0 else 0.0
                progress.update(task, completed=done, total=total, rate=f"{speed:.1f} clips/s")

            report = run_synth(config, on_progress=on_progress)
    except (SynthError, VoiceError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(
        f"{out / 'manifest.jsonl'}: {report.planned - len(report.failed)} clips ({report.skipped} already done, "
        f"{report.rendered} rendered at {report.clips_per_second:.1f} clips/s), {report.audio_seconds / 3600:.2f} h; "
        f"MBROLA voices used: {report.mbrola_voices}"
    )
    if report.failed:
        for ident, error in report.failed[:10]:
            typer.echo(f"  failed {ident}: {error}", err=True)
        typer.echo(f"{len(report.failed)} clip(s) failed; run the same command again to retry them", err=True)
        raise typer.Exit(1)


@app.command("stats")
def stats_command(
    corpus: Path = typer.Argument(..., help="Corpus folder (or its manifest.jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Distribution of every attribute, splits, engines/voices with their licences, hours, clips and speakers."""
    import json

    from rich.console import Console

    from slap_edge.data.manifest import ManifestError
    from slap_edge.data.stats import corpus_stats, render_stats

    try:
        stats = corpus_stats(corpus)
    except ManifestError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_stats(stats, Console())


@app.command("shard")
def shard_command(
    corpus: Path = typer.Argument(..., help="Corpus folder holding manifest.jsonl (made by synth or import)."),
    out: Path = typer.Option(..., "--out", help="Shard folder: SPLIT-NNNNNN.tar and shards.json."),
    shard_size: str = typer.Option("1GB", "--shard-size", help="Largest shard, e.g. 1GB, 500MB, 256MiB."),
) -> None:
    """Write the corpus as tar shards (webdataset) with an index; verified on write; a re-run resumes."""
    from slap_edge.data.manifest import ManifestError
    from slap_edge.data.shards import ShardError, parse_size, write_shards

    def on_progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            typer.echo(f"  {done} of {total} shards", err=True)

    try:
        report = write_shards(corpus, out, parse_size(shard_size), progress=on_progress)
    except (ShardError, ManifestError) as exc:
        raise fail(str(exc)) from exc
    splits = report.index.to_json()["splits"]
    summary = ", ".join(f"{k}: {v['shards']} shards, {v['clips']} clips, {v['hours']:.2f} h" for k, v in splits.items())
    typer.echo(f"{out}: {report.written} shards written, {report.kept} kept from an earlier run ({summary})")
    if report.index.skipped:
        typer.echo(f"{len(report.index.skipped)} clips left out (listed in {out / 'shards.json'}):", err=True)
        for ident, why in list(report.index.skipped.items())[:10]:
            typer.echo(f"  {ident}: {why}", err=True)


@app.command("merge")
def merge_command(
    corpora: list[Path] = typer.Argument(..., help="Two or more corpus folders (each with manifest.jsonl)."),
    out: Path = typer.Option(..., "--out", help="Folder for the merged manifest.jsonl and merge.json."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing merged manifest."),
    id_prefix: list[str] | None = typer.Option(
        None,
        "--id-prefix",
        help="Put before each clip id of one corpus: give it once per corpus, in order ('' for none), e.g. for two "
        "`data synth` corpora, whose ids both start at syn-000000.",
    ),
) -> None:
    """One corpus over several (e.g. the synthetic corpus and imported real speech); the audio stays in place."""
    from slap_edge.data.manifest import ManifestError
    from slap_edge.data.merge import merge_corpora

    try:
        info = merge_corpora(corpora, out, overwrite=overwrite, id_prefixes=id_prefix or None)
    except ManifestError as exc:
        raise fail(str(exc)) from exc
    for part in info["sources"]:  # type: ignore[union-attr]
        typer.echo(f"{part['corpus']}: {part['clips']} clips, {part['hours']} h, splits {part['splits']}")
    typer.echo(f"merged {info['clips']} clips into {out / 'manifest.jsonl'}")
