"""The speech gate on non-speech and speech: false events per hour, speech hops kept, gate cost per hop.

Non-speech: synthesised signals (`slap_edge.bench.nonspeech`: white/pink/brown noise, clipped noise, tones, chords,
chirps, clicks at several levels) and real sounds from Debian packages (sound themes, game effects, game music),
each group streamed through the runtime's own `Listener` with the built-in bundle and the demographics prompts,
once per gate. Every event counts as false. Speech: corpora (manifest.jsonl + audio, e.g. `slap-edge data synth`
output or an eval suite) and the demo recording; a hop of a speech clip is kept when the gate lets it through.

    # real non-speech: apt-get download <packages>; dpkg -x each into NONSPEECH/<package>/
    python benchmarks/bench_speech_gate.py --nonspeech NONSPEECH --speech /tmp/x --speech SUITE \
        --out benchmarks/results/speech-gate/speech-gate
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from slap_edge.bench.nonspeech import NOISE_KINDS, synth_nonspeech
from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import load_prompts
from slap_edge.runtime import Engine, Event, Listener, Scores, create_gate
from slap_edge.runtime.text import resolve_bank

ROOT = Path(__file__).resolve().parent.parent
AUDIO_EXT = {".wav", ".ogg", ".oga", ".flac"}
LEVELS = (-50.0, -30.0, -10.0, 0.0)
GATES = ("vad", "energy")


def _load(path: Path, sr: int) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if rate != sr:
        x = soxr.resample(x, rate, sr).astype(np.float32)
    return x


def _spoken(path: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(str(path), p) for p in patterns)


def nonspeech_groups(
    folder: Path | None, sr: int, seconds: float, spoken: list[str]
) -> list[tuple[str, str, np.ndarray]]:
    """(group, origin, audio): one synthesised signal per kind and level, and per Debian package all its sounds
    joined with 0.5 s of silence between them; files matching a ``spoken`` pattern (recorded words) are left out."""
    groups = []
    for kind in NOISE_KINDS:
        for level in LEVELS:
            groups.append((f"synth:{kind}@{level:g}dBFS", "synthesised", synth_nonspeech(kind, level, seconds, sr)))
    if folder is not None:
        gap = np.zeros(sr // 2, dtype=np.float32)
        for pkg in sorted(p for p in folder.iterdir() if p.is_dir()):
            parts = []
            for f in sorted(pkg.rglob("*")):
                if f.suffix.lower() in AUDIO_EXT and f.is_file() and not _spoken(f, spoken):
                    parts += [_load(f, sr), gap]
            if parts:
                groups.append((f"debian:{pkg.name}", _licence(pkg), np.concatenate(parts)))
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


def speech_clips(
    folders: list[Path], demo: Path, sr: int, limit: int, nonspeech: Path | None, spoken: list[str]
) -> list[tuple[str, np.ndarray]]:
    clips = [("demo", _load(demo, sr))]
    if nonspeech is not None:  # the recorded words found in the sound packages count as speech
        for f in sorted(nonspeech.rglob("*")):
            if f.suffix.lower() in AUDIO_EXT and f.is_file() and _spoken(f, spoken):
                clips.append(("debian-spoken-words", _load(f, sr)))
    for folder in folders:
        rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
        for row in rows[:limit]:
            clips.append((folder.name, _load(folder / row["path"], sr)))
    return clips


def run_nonspeech(engine: Engine, gate_kind: str, audio: np.ndarray, hop: int) -> dict[str, Any]:
    listener = Listener(engine, gate=create_gate(gate_kind))
    opened = hops = events = 0
    gate_ms = []
    for start in range(0, audio.shape[0], hop):
        for m in listener.feed(audio[start : start + hop]):
            if isinstance(m, Event):
                events += 1
            elif isinstance(m, Scores):
                hops += 1
                opened += bool(m.sections)
                gate_ms.append(m.latency_ms.get("gate", 0.0))
    return {"hops": hops, "opened": opened, "events": events, "gate_ms": gate_ms}


def gate_speech_fractions(
    gate_kind: str, x: np.ndarray, sr: int, hop: int, window: int, min_window: int
) -> list[float]:
    """The gate's speech measure at every hop of a stream over ``x``, with the stream's window geometry (hop k ends
    at k * hop, window up to ``window`` samples back, none shorter than ``min_window``); no encoder needed."""
    gate = create_gate(gate_kind)
    tracker = gate.create_tracker(sr)
    out = []
    for end in range(hop, x.shape[0] + 1, hop):
        start = max(0, end - window)
        if end - start < min_window:
            continue
        out.append(float(gate.is_open(tracker.speech(x[start:end], start))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nonspeech", type=Path, help="folder of extracted Debian packages (one sub-folder each)")
    ap.add_argument("--speech", type=Path, action="append", default=[], help="corpus folder with manifest.jsonl")
    ap.add_argument(
        "--spoken",
        action="append",
        default=[],
        help="glob of files in --nonspeech that are recorded words (they count as speech, not non-speech)",
    )
    ap.add_argument("--clips", type=int, default=400, help="at most this many clips per speech folder")
    ap.add_argument("--synth-seconds", type=float, default=60.0, help="length of each synthesised signal")
    ap.add_argument("--prompts", type=Path, default=ROOT / "runtime/prompts/demographics.txt")
    ap.add_argument("--out", type=Path, required=True, help="output stem: writes STEM.json and STEM.md")
    args = ap.parse_args()

    bundle = load_bundle(None)
    bank = resolve_bank(bundle, load_prompts(args.prompts), None)
    engine = Engine(bundle, bank)
    sr = engine.sample_rate
    probe = Listener(engine).stream
    hop, window, min_window = probe.hop, probe.window, probe.min_window

    t0 = time.time()
    groups = nonspeech_groups(args.nonspeech, sr, args.synth_seconds, args.spoken)
    nonspeech: list[dict[str, Any]] = []
    for name, origin, audio in groups:
        row: dict[str, Any] = {"group": name, "origin": origin, "seconds": round(audio.shape[0] / sr, 2)}
        for g in GATES:
            r = run_nonspeech(engine, g, audio, hop)
            row[g] = {"hops": r["hops"], "opened": r["opened"], "events": r["events"]}
            row[g + "_gate_ms_p50"] = float(np.median(r["gate_ms"])) if r["gate_ms"] else None
        nonspeech.append(row)
        print(name, row["seconds"], {g: row[g] for g in GATES}, flush=True)

    demo = ROOT / "slap_edge/assets/demo/two_speakers.wav"
    clips = speech_clips(args.speech, demo, sr, args.clips, args.nonspeech, args.spoken)
    speech: dict[str, dict[str, Any]] = {}
    for source, x in clips:
        s = speech.setdefault(source, {"clips": 0, "seconds": 0.0, **{g: [0, 0] for g in GATES}})
        s["clips"] += 1
        s["seconds"] += x.shape[0] / sr
        for g in GATES:
            kept = gate_speech_fractions(g, x, sr, hop, window, min_window)
            s[g][0] += int(sum(kept))
            s[g][1] += len(kept)
    for s in speech.values():
        for g in GATES:
            kept, total = s[g]
            s[g] = {"hops": total, "kept": kept, "fraction_kept": round(kept / max(1, total), 4)}
        s["seconds"] = round(s["seconds"], 1)

    # Gate cost per hop, CPU time of this thread: the VAD runs only on a hop's new frames.
    x = clips[0][1]
    cost = {}
    for g in GATES:
        tracker = create_gate(g).create_tracker(sr)
        times = []
        for end in range(hop, x.shape[0] + 1, hop):
            start = max(0, end - window)
            c0 = time.thread_time()
            tracker.speech(x[start:end], start)
            times.append((time.thread_time() - c0) * 1000.0)
        cost[g] = {"hops": len(times), "cpu_ms_p50": float(np.median(times)), "cpu_ms_mean": float(np.mean(times))}

    total_s = sum(r["seconds"] for r in nonspeech)
    summary = {}
    for g in GATES:
        ev = sum(r[g]["events"] for r in nonspeech)
        hops_ = sum(r[g]["hops"] for r in nonspeech)
        opened = sum(r[g]["opened"] for r in nonspeech)
        sk = sum(s[g]["kept"] for s in speech.values())
        st = sum(s[g]["hops"] for s in speech.values())
        summary[g] = {
            "nonspeech_hours": round(total_s / 3600, 3),
            "false_events": ev,
            "false_events_per_hour": round(ev / (total_s / 3600), 2),
            "nonspeech_hops_opened_fraction": round(opened / max(1, hops_), 4),
            "speech_hops": st,
            "speech_hops_kept_fraction": round(sk / max(1, st), 4),
            "gate_cpu_ms_per_hop_p50": round(cost[g]["cpu_ms_p50"], 4),
        }
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result = {
        "what": "speech gate: false events on non-speech, speech hops kept, gate cost",
        "commit": commit,
        "command": "python benchmarks/bench_speech_gate.py "
        + " ".join(f"--speech {p}" for p in args.speech)
        + (f" --nonspeech {args.nonspeech}" if args.nonspeech else "")
        + "".join(f" --spoken '{p}'" for p in args.spoken)
        + f" --clips {args.clips} --synth-seconds {args.synth_seconds:g} --out {args.out}",
        "machine": _machine(),
        "bundle": bundle.model_id,
        "prompts": str(args.prompts.relative_to(ROOT)) if args.prompts.is_relative_to(ROOT) else str(args.prompts),
        "hop_s": hop / sr,
        "window_s": window / sr,
        "elapsed_s": round(time.time() - t0, 1),
        "summary": summary,
        "gate_cost": cost,
        "spoken_patterns": args.spoken,
        "nonspeech": nonspeech,
        "speech": speech,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(summary, indent=1))


def _machine() -> str:
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or platform.machine(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.machine()
    )
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if f" {f}" in text]
    return f"{model} ({', '.join(flags) or 'no AVX flags'}), {os.cpu_count()} logical CPUs, no GPU used"


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Speech gate: Silero VAD (`--gate vad`, default) against the energy gate (`--gate energy`)",
        "",
        f"Commit `{r['commit']}`; bundle `{r['bundle']}`, prompts `{r['prompts']}`, hop {r['hop_s']} s, "
        f"window {r['window_s']} s. Made by `{r['command']}` on {r['machine']}.",
        "",
        "| gate | non-speech h | false events | false events / h | non-speech hops opened | speech hops kept |"
        " gate CPU ms/hop (p50) |",
        "|---|---|---|---|---|---|---|",
    ]
    for g, s in r["summary"].items():
        lines.append(
            f"| {g} | {s['nonspeech_hours']} | {s['false_events']} | {s['false_events_per_hour']} | "
            f"{s['nonspeech_hops_opened_fraction']:.3f} | {s['speech_hops_kept_fraction']:.3f} "
            f"({s['speech_hops']} hops) | {s['gate_cpu_ms_per_hop_p50']:.3f} |"
        )
    lines += [
        "",
        "## Non-speech, per group (events / hops opened / hops)",
        "",
        "| group | origin (licence) | s | vad | energy |",
        "|---|---|---|---|---|",
    ]
    for row in r["nonspeech"]:
        cells = [f"{row[g]['events']} / {row[g]['opened']} / {row[g]['hops']}" for g in GATES]
        lines.append(f"| {row['group']} | {row['origin']} | {row['seconds']} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "## Speech, per source (fraction of hops kept)",
        "",
        "| source | clips | s | vad | energy |",
        "|---|---|---|---|---|",
    ]
    for name, s in r["speech"].items():
        lines.append(
            f"| {name} | {s['clips']} | {s['seconds']} | {s['vad']['fraction_kept']:.3f} | "
            f"{s['energy']['fraction_kept']:.3f} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
