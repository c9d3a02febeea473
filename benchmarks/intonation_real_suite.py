"""An intonation check on real voices: real-voice dev speech with its pitch contour flattened or kept, as a suite.

    python benchmarks/intonation_real_suite.py --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl \
        --out work-data/intonation-real/suite

No real recording in the project's sources is labelled monotone or expressive, so this suite makes the contrast on
real voices with the WORLD vocoder, the same way the synthetic corpus does (``--intonation vocoder``): each selected
clip of a dev speaker (the corpus' test split: speakers no model is trained on) is analysed once and resynthesised
twice, with the F0 excursion around its median (in log F0) scaled by

- 0.05-0.25 ("monotone": nearly one note), and
- 1.0 ("natural": the speaker's own melody, resynthesised through the same vocoder so that both classes carry its
  artefacts) in task ``monotone_vs_natural``, or 1.8-2.2 ("expressive") in task ``monotone_vs_expressive``.

The suite therefore measures whether a model hears a flat against a moving contour on voices and recordings it has
never heard; it does not measure naturally monotone speakers. Prompts are those of the synthetic suites' task
``monotone_vs_expressive``. Only recordings of a sentence or phrase are used (asterisk prompts and hedgewars lines of
at least ``--min-seconds`` with enough voiced frames); single letters and syllables (klettres) carry no contour.
A ``build.json`` records the source manifest's sha256, the settings and the clip counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from slap_edge.data.manifest import iter_manifest
from slap_edge.data.suite_tasks import TASKS
from slap_edge.data.vocoder import analyze, load_pyworld

SOURCES = ("asterisk", "hedgewars")
MONOTONE = (0.05, 0.25)
EXPRESSIVE = (1.8, 2.2)


def rescale_contour(wave: np.ndarray, sample_rate: int, f0_range: float) -> np.ndarray:
    """``wave`` resynthesised by WORLD with its log-F0 excursion around the median scaled by ``f0_range``."""
    pw = load_pyworld()
    feats = analyze(wave, sample_rate)
    f0 = feats.f0.copy()
    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(f0[voiced])
        centre = np.median(log_f0)
        f0[voiced] = np.exp(centre + (log_f0 - centre) * f0_range)
    y = pw.synthesize(
        np.ascontiguousarray(f0),
        np.ascontiguousarray(feats.spectrogram),
        np.ascontiguousarray(np.clip(feats.aperiodicity, 0.0, 1.0)),
        sample_rate,
        feats.frame_period_ms,
    )
    out = np.zeros(len(wave), dtype=np.float32)
    n = min(len(wave), len(y))
    out[:n] = y[:n]
    peak = float(np.max(np.abs(out))) or 1.0
    return out * min(1.0, 0.95 / peak) if peak > 0.95 else out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the real-voice corpus manifest.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="suite folder to write (must not exist)")
    ap.add_argument("--min-seconds", type=float, default=1.2)
    ap.add_argument("--per-speaker", type=int, default=24, help="clips per speaker at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help="comma-separated clip sources to take (default: the real recordings with phrases; 'synth' builds the "
        "same paired suite from a synthetic corpus, a diagnostic: the same voice flat and moving)",
    )
    args = ap.parse_args(argv)
    if args.out.exists():
        sys.exit(f"{args.out} exists: remove it or choose another --out")
    if not args.corpus.is_file():
        sys.exit(f"{args.corpus}: no such manifest (build it with benchmarks/real_voice_dev.sh none)")

    template = next(t for t in TASKS if t.name == "monotone_vs_expressive")
    mono_prompts, expr_prompts = (c.prompts for c in template.classes)
    tasks = [
        {"name": "monotone_vs_natural", "category": "prosody",
         "classes": {"monotone": list(mono_prompts), "natural": list(expr_prompts)}},
        {"name": "monotone_vs_expressive", "category": "prosody",
         "classes": {"monotone": list(mono_prompts), "expressive": list(expr_prompts)}},
    ]  # fmt: skip

    sources = tuple(x.strip() for x in args.sources.split(",") if x.strip())
    if not sources:
        ap.error("--sources: give at least one clip source, e.g. asterisk,hedgewars")
    # The real-voice suite keeps its name; a suite from other sources is named after them, so no result confuses them.
    suite_name = "intonation-real" if sources == SOURCES else "intonation-paired-" + "+".join(sources)
    by_speaker: dict[str, list] = {}
    for record in iter_manifest(args.corpus):
        if record.split == "test" and record.source in sources and record.duration >= args.min_seconds:
            by_speaker.setdefault(record.speaker, []).append(record)
    if not by_speaker:
        sys.exit(
            f"{args.corpus}: no test-split clip of source {', '.join(sources)} lasting >= {args.min_seconds} s; sources"
            f" in this manifest: {', '.join(sorted({r.source for r in iter_manifest(args.corpus)})) or 'none'}"
        )
    rng = np.random.default_rng(args.seed)
    tmp = args.out.with_name(args.out.name + ".partial")
    (tmp / "audio").mkdir(parents=True, exist_ok=False)
    lines: list[dict] = []
    skipped: dict[str, str] = {}
    for speaker in sorted(by_speaker):
        records = sorted(by_speaker[speaker], key=lambda r: r.id)
        order = rng.permutation(len(records))
        taken = 0
        for i in order:
            if taken >= args.per_speaker:
                break
            record = records[int(i)]
            path = Path(record.path) if Path(record.path).is_absolute() else args.corpus.parent / record.path
            wave, sr = sf.read(path, dtype="float64", always_2d=True)
            wave = wave.mean(axis=1)
            f0 = analyze(wave, sr, need_aperiodicity=False).f0
            if (f0 > 0).sum() < 40:  # under 0.2 s of voicing: no contour to flatten
                skipped[record.id] = "fewer than 40 voiced frames"
                continue
            taken += 1
            scales = {
                "monotone": float(rng.uniform(*MONOTONE)),
                "natural": 1.0,
                "expressive": float(rng.uniform(*EXPRESSIVE)),
            }
            for label, scale in scales.items():
                name = f"audio/{record.id}-{label}.wav"
                sf.write(tmp / name, rescale_contour(wave, sr, scale), sr, subtype="PCM_16")
                meta = {"speaker": speaker, "source": record.source, "f0_range": round(scale, 3), "from": record.id}
                if label in ("monotone", "natural"):
                    lines.append({"path": name, "task": "monotone_vs_natural", "label": label, **meta})
                if label in ("monotone", "expressive"):
                    lines.append({"path": name, "task": "monotone_vs_expressive", "label": label, **meta})
    if not lines:
        shutil.rmtree(tmp)
        sys.exit(f"{args.corpus}: none of the {len(skipped)} clips of source {', '.join(sources)} has a voiced contour")
    (tmp / "suite.json").write_text(json.dumps({"name": suite_name, "version": 1, "tasks": tasks}, indent=1))
    with (tmp / "clips.jsonl").open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["speaker"]] = counts.get(line["speaker"], 0) + 1
    build = {
        "corpus": str(args.corpus),
        "corpus_sha256": hashlib.sha256(args.corpus.read_bytes()).hexdigest(),
        "sources": list(sources),
        "min_seconds": args.min_seconds,
        "per_speaker": args.per_speaker,
        "seed": args.seed,
        "monotone_f0_range": MONOTONE,
        "expressive_f0_range": EXPRESSIVE,
        "suite_lines_per_speaker": counts,
        "skipped": skipped,
    }
    (tmp / "build.json").write_text(json.dumps(build, indent=1) + "\n")
    tmp.rename(args.out)
    print(f"{args.out}: {len(lines)} suite lines, {len(counts)} speakers, {len(skipped)} clips skipped (build.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
