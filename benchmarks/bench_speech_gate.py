"""The speech gate on non-speech and speech: false events per hour, speech hops kept, gate cost per hop.

Non-speech: synthesised signals (`slap_edge.bench.nonspeech`: white/pink/brown noise, clipped noise, tones, chords,
chirps, clicks at several levels) and real sounds from Debian packages (sound themes, game effects, game music),
each group streamed through the runtime's own `Listener` with the built-in bundle and the demographics prompts,
once per gate. A package with more than --part-minutes of sound is streamed in parts of about that length (one
stream each, so that --jobs can share them out). Every event counts as false and is listed with the files its
window covered. Speech: corpora (a corpus's manifest.jsonl or an eval suite's clips.jsonl, + audio) and the demo
recording; a hop of a speech clip is kept when the gate lets it through. Files in the sound packages that are
recorded words are listed with --spoken and count as speech, not non-speech.

    # real non-speech: apt-get download <packages>; dpkg -x each into NONSPEECH/<package>/
    python benchmarks/bench_speech_gate.py --nonspeech NONSPEECH --speech /tmp/x --speech SUITE \\
        --spoken '*/words/*.wav' --jobs 2 --out benchmarks/results/speech-gate/speech-gate
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import multiprocessing
import os
import platform
import shlex
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from slap_edge.bench.nonspeech import NOISE_KINDS, synth_nonspeech
from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import load_prompts
from slap_edge.provenance import provenance
from slap_edge.runtime import Engine, Event, Listener, Scores, create_gate
from slap_edge.runtime.text import resolve_bank

ROOT = Path(__file__).resolve().parent.parent
AUDIO_EXT = {".wav", ".ogg", ".oga", ".flac", ".opus"}
LEVELS = (-50.0, -30.0, -10.0, 0.0)
GATES = ("vad", "vad-plain", "energy")  # vad-plain: Silero without the noise check (--no-vad-noise-check)
GAP_S = 0.5  # silence after each file of a package stream

Item = Path | tuple[str, float]  # a sound file, or a synthesised signal (kind, level dBFS)


def _load(path: Path, sr: int) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if rate != sr:
        x = soxr.resample(x, rate, sr).astype(np.float32)
    return x


def _spoken(path: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(str(path), p) for p in patterns)


def nonspeech_groups(folder: Path | None, spoken: list[str], part_s: float) -> list[tuple[str, str, list[Item]]]:
    """(group, origin, items): one synthesised signal per kind and level, and per Debian package its sound files in
    name order, cut into parts of about ``part_s`` seconds; files matching a ``spoken`` pattern are left out."""
    groups: list[tuple[str, str, list[Item]]] = []
    for kind in NOISE_KINDS:
        for level in LEVELS:
            groups.append((f"synth:{kind}@{level:g}dBFS", "synthesised", [(kind, level)]))
    if folder is None:
        return groups
    for pkg in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = [f for f in sorted(pkg.rglob("*")) if f.suffix.lower() in AUDIO_EXT and f.is_file()]
        parts: list[list[Item]] = [[]]
        held = 0.0
        for f in files:
            if _spoken(f, spoken):
                continue
            if held >= part_s:
                parts.append([])
                held = 0.0
            parts[-1].append(f)
            held += sf.info(str(f)).duration + GAP_S
        parts = [p for p in parts if p]
        licence = _licence(pkg)
        for i, part in enumerate(parts):
            groups.append((f"debian:{pkg.name}" + (f"#{i + 1}" if len(parts) > 1 else ""), licence, part))
    return groups


def _licence(pkg: Path) -> str:
    for c in pkg.glob("usr/share/doc/*/copyright"):
        lic = sorted(
            {
                line.split(":", 1)[1].strip()
                for line in c.read_text(errors="replace").splitlines()
                if line.startswith("License:")
            }
        )
        return "; ".join(lic)
    return "unknown"


def _rows(folder: Path, limit: int) -> list[dict[str, Any]]:
    """A corpus's clips (manifest.jsonl) or an eval suite's (clips.jsonl, where one audio file may serve several
    tasks: each file once), at most ``limit`` of them spread evenly over the list."""
    man = folder / "manifest.jsonl"
    if not man.is_file():
        man = folder / "clips.jsonl"
    if not man.is_file():
        raise SystemExit(f"--speech {folder}: no manifest.jsonl or clips.jsonl there (a corpus or an eval suite)")
    rows: dict[str, dict[str, Any]] = {}
    for n, line in enumerate(man.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.setdefault(str(row["path"]), row)
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{man}:{n}: not a clip line with a 'path' ({exc})") from exc
    out = list(rows.values())
    if len(out) > limit:
        out = [out[i * len(out) // limit] for i in range(limit)]
    return out


def speech_clips(
    folders: list[Path], demo: Path, limit: int, nonspeech: Path | None, spoken: list[str]
) -> list[tuple[str, Path]]:
    clips = [("demo", demo)]
    if nonspeech is not None:  # the recorded words found in the sound packages count as speech
        for f in sorted(nonspeech.rglob("*")):
            if f.suffix.lower() in AUDIO_EXT and f.is_file() and _spoken(f, spoken):
                clips.append(("debian-spoken-words", f))
    for folder in folders:
        clips += [(folder.name, folder / row["path"]) for row in _rows(folder, limit)]
    return clips


_ENGINE: Engine | None = None


def _engine(prompts: Path) -> Engine:
    """The built-in bundle with ``prompts``, once per process (workers of --jobs each open their own)."""
    global _ENGINE
    if _ENGINE is None:
        bundle = load_bundle(None)
        _ENGINE = Engine(bundle, resolve_bank(bundle, load_prompts(prompts), None))
    return _ENGINE


def run_nonspeech(prompts: Path, gate_args: dict[str, Any], items: list[Item], synth_s: float) -> dict[str, Any]:
    """Stream ``items`` (each file followed by 0.5 s of silence, or one synthesised signal) through a `Listener`
    with the gate: hops, opened hops, and events, each with the files its window covered."""
    engine = _engine(prompts)
    sr = engine.sample_rate
    listener = Listener(engine, gate=create_gate(**gate_args))
    hop, window = listener.stream.hop, listener.stream.window
    opened = hops = samples = 0
    events: list[dict[str, Any]] = []
    gate_ms: list[float] = []
    spans: list[tuple[float, float, str]] = []
    gap = np.zeros(int(GAP_S * sr), dtype=np.float32)
    for item in items:
        if isinstance(item, tuple):
            audio, label = synth_nonspeech(item[0], item[1], synth_s, sr), f"{item[0]}@{item[1]:g}dBFS"
        else:
            audio, label = np.concatenate([_load(item, sr), gap]), str(item)
        spans.append((samples / sr, (samples + audio.shape[0]) / sr, label))
        samples += audio.shape[0]
        for start in range(0, audio.shape[0], hop):
            for m in listener.feed(audio[start : start + hop]):
                if isinstance(m, Event):
                    w0 = m.t - window / sr
                    files = [name for a, b, name in spans if a < m.t and b > w0]
                    events.append({"t": round(m.t, 2), "label": m.label, "prob": round(m.prob, 3), "files": files})
                elif isinstance(m, Scores):
                    hops += 1
                    opened += bool(m.sections)
                    gate_ms.append(m.latency_ms.get("gate", 0.0))
    return {
        "seconds": samples / sr,
        "hops": hops,
        "opened": opened,
        "events": events,
        "gate_ms_p50": float(np.median(gate_ms)) if gate_ms else None,
    }


def gate_decisions(
    gate_args: dict[str, Any], x: np.ndarray, sr: int, hop: int, window: int, min_window: int
) -> list[bool]:
    """The gate's decision at every hop of a stream over ``x``, with the stream's window geometry (hop k ends
    at k * hop, window up to ``window`` samples back, none shorter than ``min_window``); no encoder needed."""
    gate = create_gate(**gate_args)
    tracker = gate.create_tracker(sr)
    out = []
    for end in range(hop, x.shape[0] + 1, hop):
        start = max(0, end - window)
        if end - start < min_window:
            continue
        out.append(tracker.is_open(tracker.speech(x[start:end], start), (end - start) / sr))
    return out


def run_speech(
    gate_args: dict[str, dict[str, Any]], clips: list[tuple[str, Path]], geometry: tuple[int, int, int, int]
) -> list[dict[str, Any]]:
    sr, hop, window, min_window = geometry
    out = []
    for source, path in clips:
        x = _load(path, sr)
        row: dict[str, Any] = {"source": source, "seconds": x.shape[0] / sr}
        for g in GATES:
            kept = gate_decisions(gate_args[g], x, sr, hop, window, min_window)
            row[g] = (int(sum(kept)), len(kept))
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nonspeech", type=Path, help="folder of extracted Debian packages (one sub-folder each)")
    ap.add_argument("--speech", type=Path, action="append", default=[], help="corpus or eval suite folder (repeatable)")
    ap.add_argument(
        "--spoken",
        action="append",
        default=[],
        help="glob of files in --nonspeech that are recorded words (they count as speech, not non-speech)",
    )
    ap.add_argument("--clips", type=int, default=400, help="at most this many clips per speech folder")
    ap.add_argument("--synth-seconds", type=float, default=60.0, help="length of each synthesised signal")
    ap.add_argument("--part-minutes", type=float, default=15.0, help="stream a package in parts of about this long")
    ap.add_argument("--vad-threshold", type=float, default=0.5, help="--gate vad's frame speech probability")
    ap.add_argument("--vad-min-speech", type=float, default=0.3, help="--gate vad's seconds of speech per window")
    ap.add_argument("--vad-recent", type=float, default=1.0, help="--gate vad: speech within the last this many s")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--prompts", type=Path, default=ROOT / "slap_edge/assets/prompts/demographics.txt")
    ap.add_argument("--out", type=Path, required=True, help="output stem: writes STEM.json and STEM.md")
    args = ap.parse_args()
    if args.jobs < 1 or args.clips < 1 or not (math.isfinite(args.part_minutes) and args.part_minutes > 0):
        ap.error("--jobs and --clips must be at least 1 and --part-minutes a positive number")
    vad_args = {
        "kind": "vad",
        "vad_threshold": args.vad_threshold,
        "vad_min_speech_s": args.vad_min_speech,
        "vad_recent_s": args.vad_recent,
    }
    gate_args: dict[str, dict[str, Any]] = {
        "vad": {**vad_args, "vad_noise_check": True},
        "vad-plain": {**vad_args, "vad_noise_check": False},
        "energy": {"kind": "energy"},
    }
    for g in GATES:
        create_gate(**gate_args[g])  # bad values fail here, before any work

    bundle = load_bundle(None)
    engine = Engine(bundle, resolve_bank(bundle, load_prompts(args.prompts), None))
    sr = engine.sample_rate
    probe = Listener(engine).stream
    geometry = (sr, probe.hop, probe.window, probe.min_window)

    t0 = time.time()
    groups = nonspeech_groups(args.nonspeech, args.spoken, args.part_minutes * 60.0)
    demo = ROOT / "slap_edge/assets/demo/two_speakers.wav"
    clips = speech_clips(args.speech, demo, args.clips, args.nonspeech, args.spoken)
    batches = [clips[i :: 4 * args.jobs] for i in range(4 * args.jobs)]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        ns_futures = {
            (name, g): pool.submit(run_nonspeech, args.prompts, gate_args[g], items, args.synth_seconds)
            for name, _, items in sorted(groups, key=lambda t: -len(t[2]))
            for g in GATES
        }
        sp_futures = [pool.submit(run_speech, gate_args, b, geometry) for b in batches if b]
        nonspeech: list[dict[str, Any]] = []
        for name, origin, _ in groups:
            row: dict[str, Any] = {"group": name, "origin": origin}
            for g in GATES:
                r = ns_futures[(name, g)].result()
                row["seconds"] = round(r["seconds"], 2)
                row[g] = {k: r[k] for k in ("hops", "opened", "events")}
                row[g + "_gate_ms_p50"] = r["gate_ms_p50"]
            nonspeech.append(row)
            print(name, row["seconds"], {g: (row[g]["opened"], len(row[g]["events"])) for g in GATES}, flush=True)
        speech_rows = [r for f in sp_futures for r in f.result()]
    speech: dict[str, dict[str, Any]] = {}
    for r in speech_rows:
        s = speech.setdefault(r["source"], {"clips": 0, "seconds": 0.0, **{g: [0, 0] for g in GATES}})
        s["clips"] += 1
        s["seconds"] += r["seconds"]
        for g in GATES:
            s[g][0] += r[g][0]
            s[g][1] += r[g][1]
    for s in speech.values():
        for g in GATES:
            kept, total = s[g]
            s[g] = {"hops": total, "kept": kept, "fraction_kept": round(kept / max(1, total), 4)}
        s["seconds"] = round(s["seconds"], 1)

    # Gate cost per hop, CPU time of this thread: the VAD runs only on a hop's new frames.
    _, hop, window, _ = geometry
    x = _load(demo, sr)
    cost = {}
    for g in GATES:
        tracker = create_gate(**gate_args[g]).create_tracker(sr)
        times = []
        for end in range(hop, x.shape[0] + 1, hop):
            start = max(0, end - window)
            c0 = time.thread_time()
            tracker.speech(x[start:end], start)
            times.append((time.thread_time() - c0) * 1000.0)
        cost[g] = {"hops": len(times), "cpu_ms_p50": float(np.median(times)), "cpu_ms_mean": float(np.mean(times))}

    summary = {}
    for g in GATES:
        summary[g] = {}
        for part, rows in (
            ("synthesised", [r for r in nonspeech if r["origin"] == "synthesised"]),
            ("real", [r for r in nonspeech if r["origin"] != "synthesised"]),
            ("all", nonspeech),
        ):
            secs = sum(r["seconds"] for r in rows)
            ev = sum(len(r[g]["events"]) for r in rows)
            summary[g][part] = {
                "nonspeech_hours": round(secs / 3600, 3),
                "false_events": ev,
                "false_events_per_hour": round(ev / (secs / 3600), 2) if secs else None,
                "nonspeech_hops_opened_fraction": round(
                    sum(r[g]["opened"] for r in rows) / max(1, sum(r[g]["hops"] for r in rows)), 4
                ),
            }
        sk = sum(s[g]["kept"] for s in speech.values())
        st = sum(s[g]["hops"] for s in speech.values())
        summary[g]["speech_hops"] = st
        summary[g]["speech_hops_kept_fraction"] = round(sk / max(1, st), 4)
        summary[g]["gate_cpu_ms_per_hop_p50"] = round(cost[g]["cpu_ms_p50"], 4)
    command = (
        "python benchmarks/bench_speech_gate.py"
        + "".join(f" --speech {p}" for p in args.speech)
        + (f" --nonspeech {args.nonspeech}" if args.nonspeech else "")
        + "".join(f" --spoken '{p}'" for p in args.spoken)
        + f" --clips {args.clips} --synth-seconds {args.synth_seconds:g} --part-minutes {args.part_minutes:g}"
        + f" --vad-threshold {args.vad_threshold:g} --vad-min-speech {args.vad_min_speech:g}"
        + f" --vad-recent {args.vad_recent:g} --jobs {args.jobs}"
        + f" --out {args.out}"
    )
    prov = provenance("default", None, made_by=shlex.split(command))
    result = {
        "what": "speech gate: false events on non-speech, speech hops kept, gate cost",
        "command": command,
        "machine": _machine(),
        "bundle": bundle.model_id,
        "prompts": str(args.prompts.relative_to(ROOT)) if args.prompts.is_relative_to(ROOT) else str(args.prompts),
        "gates": {g: repr(create_gate(**gate_args[g])) for g in GATES},
        "hop_s": probe.hop / sr,
        "window_s": probe.window / sr,
        "elapsed_s": round(time.time() - t0, 1),
        "summary": summary,
        "gate_cost": cost,
        "spoken_patterns": args.spoken,
        "nonspeech": nonspeech,
        "speech": speech,
        "provenance": prov,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(summary, indent=1))


def _machine() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if f" {f}" in text]
    return f"{model} ({', '.join(flags) or 'no AVX flags'}), {os.cpu_count()} logical CPUs, no GPU used"


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Speech gate: Silero VAD with its noise check (`--gate vad`, default), without it (`--no-vad-noise-check`),"
        " and the energy gate (`--gate energy`)",
        "",
        f"Commit `{r['provenance']['commit']}`; bundle `{r['bundle']}`, prompts `{r['prompts']}`, hop {r['hop_s']} s, "
        f"window {r['window_s']} s; gates {', '.join(f'`{v}`' for v in r['gates'].values())}. "
        f"Made by `{r['command']}` on {r['machine']}.",
        "",
        "| gate | non-speech | hours | false events | false events / h | non-speech hops opened |",
        "|---|---|---|---|---|---|",
    ]
    for g, s in r["summary"].items():
        for part in ("synthesised", "real", "all"):
            p = s[part]
            lines.append(
                f"| {g} | {part} | {p['nonspeech_hours']} | {p['false_events']} | {p['false_events_per_hour']} | "
                f"{p['nonspeech_hops_opened_fraction']:.4f} |"
            )
    lines += ["", "| gate | speech hops kept | gate CPU ms/hop (p50) |", "|---|---|---|"]
    for g, s in r["summary"].items():
        lines.append(
            f"| {g} | {s['speech_hops_kept_fraction']:.4f} ({s['speech_hops']} hops) | "
            f"{s['gate_cpu_ms_per_hop_p50']:.3f} |"
        )
    lines += [
        "",
        "## Non-speech, per group (events / hops opened / hops)",
        "",
        "| group | origin (licence) | s | " + " | ".join(GATES) + " |",
        "|---|---|---" + "|---" * len(GATES) + "|",
    ]
    for row in r["nonspeech"]:
        cells = [f"{len(row[g]['events'])} / {row[g]['opened']} / {row[g]['hops']}" for g in GATES]
        lines.append(f"| {row['group']} | {row['origin']} | {row['seconds']} | " + " | ".join(cells) + " |")
    for g in ("vad", "vad-plain"):
        lines += ["", f"## Events of the `{g}` gate on non-speech (the files each event's window covered)", ""]
        vad_events = [(row["group"], e) for row in r["nonspeech"] for e in row[g]["events"]]
        for group, e in vad_events:
            lines.append(f"- {group} t={e['t']} s `{e['label']}` {e['prob']}: {', '.join(e['files'])}")
        if not vad_events:
            lines.append("None.")
    lines += [
        "",
        "## Speech, per source (fraction of hops kept)",
        "",
        "| source | clips | s | " + " | ".join(GATES) + " |",
        "|---|---|---" + "|---" * len(GATES) + "|",
    ]
    for name, s in r["speech"].items():
        kept = " | ".join(f"{s[g]['fraction_kept']:.4f}" for g in GATES)
        lines.append(f"| {name} | {s['clips']} | {s['seconds']} | {kept} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
