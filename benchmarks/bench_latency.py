"""The committed latency figures: `slap-edge bench` run twice on this machine, with a stability check.

    python benchmarks/bench_latency.py --bundle BUNDLE [--seconds 60] [--name bench-cpu]
    python benchmarks/bench_latency.py --random-student student-vit-tiny   # export one here (latency only)

Writes benchmarks/results/NAME.json (both runs and the run-to-run comparison), NAME.png (the first run's plots) and
NAME.md (the first run's tables, the second run's medians, and whether they agree within 20%). See README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from slap_edge.bench.listen_path import BACKENDS
from slap_edge.bench.peers import PEERS
from slap_edge.bench.report import markdown, print_report, write_json, write_png
from slap_edge.bench.runner import BenchConfig, run_bench
from slap_edge.bench.stats import compare_medians
from slap_edge.provenance import provenance


def medians(results: dict[str, Any], clock: str) -> dict[str, float]:
    """The medians a second run must reproduce, on ``clock`` "wall" or "cpu": per backend the hop p50 (and, on the
    wall clock, the encoder stage's p50), per peer the p50 of one unit (window or frame)."""
    out: dict[str, float] = {}
    for b in results["backends"]:
        if b.get("status") != "ok" or not b.get("hop_e2e_ms"):
            continue
        if clock == "wall":
            out[f"{b['backend']} hop p50 (wall)"] = b["hop_e2e_ms"]["p50"]
            out[f"{b['backend']} encoder p50 (wall)"] = b["stages_ms"]["features_and_encoder"]["p50"]
        else:
            out[f"{b['backend']} hop p50 (CPU)"] = b["hop_cpu_ms"]["p50"]
    for p in results["peers"]:
        if p.get("status") == "ok":
            key = "per_unit_ms" if clock == "wall" else "per_unit_cpu_ms"
            out[f"{p['peer']} p50 ({'wall' if clock == 'wall' else 'CPU'})"] = p[key]["p50"]
    return out


def export_random_student(name: str, folder: Path, seconds: float) -> Path:
    """An int8 bundle of a randomly initialised student, written by the export stage's own code."""
    import torch

    from slap_edge.bench.schedule import make_schedule
    from slap_edge.export.bundle_writer import export_bundle
    from slap_edge.models import create_model

    torch.manual_seed(0)
    model = create_model(name)
    sr = model.config.frontend.sample_rate
    win = int(round(model.config.window_s * sr))
    speech = make_schedule(max(seconds, 16 * model.config.window_s), sr).wave  # calibrate on speech, not noise
    calibration = [speech[i : i + win] for i in range(0, speech.shape[0] - win + 1, win)][:16]
    out = folder / f"{name}-random-int8"
    export_bundle(model, out, int8=True, calibration=calibration, log=lambda m: print(m, file=sys.stderr))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle", help="bundle folder or .tar.gz")
    src.add_argument("--random-student", metavar="MODEL", help="export this registry student, randomly initialised")
    ap.add_argument("--backend", action="append", choices=BACKENDS, help="default: all four")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peer-windows", type=int, default=40)
    ap.add_argument("--teacher", help="teacher run folder (default: teacher-small randomly initialised)")
    ap.add_argument("--teacher-model", default="teacher-small", help="registry teacher when no --teacher run is given")
    ap.add_argument("--peer", action="append", choices=PEERS, help="default: all three")
    ap.add_argument("--model", help="student run folder for the torch backends")
    ap.add_argument("--rounds", type=int, default=3, help="round-robin rounds per run; the median round is reported")
    ap.add_argument("--repeat", type=int, default=2, help="runs; the first is plotted, the rest checked against it")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--name", default="bench-cpu", help="file name stem of the results")
    a = ap.parse_args()
    if not a.name.startswith("bench-"):
        ap.error("--name must start with 'bench-' (benchmarks/results/ keeps bench-* files for this script)")
    with tempfile.TemporaryDirectory(prefix="slap-bench-bundle-") as tmp:
        bundle = a.bundle or str(export_random_student(a.random_student, Path(tmp), a.seconds))
        cfg = BenchConfig(
            bundle=bundle,
            backends=tuple(a.backend or BACKENDS),
            threads=a.threads,
            seconds=a.seconds,
            peer_windows=a.peer_windows,
            teacher_run=a.teacher,
            teacher_model=a.teacher_model,
            peers=tuple(a.peer or PEERS),
            model_run=a.model,
            rounds=a.rounds,
        )
        runs = []
        for i in range(a.repeat):
            print(f"run {i + 1} of {a.repeat}", file=sys.stderr)
            runs.append(run_bench(cfg, log=lambda m: print(m, file=sys.stderr)))
        prov = provenance(cfg.bundle, made_by=["python", "benchmarks/bench_latency.py", *sys.argv[1:]])
    first = runs[0]
    if a.random_student:
        first["bundle"]["path"] = f"{a.random_student} randomly initialised, exported int8 by slap_edge.export"
    print_report(first)
    out_dir = Path(a.out_dir)
    stability = []
    for i, r in enumerate(runs[1:], start=2):
        entry: dict[str, Any] = {"run": i, "load_average_1m": r["machine"]["load_average_1m"]}
        for clock in ("cpu", "wall"):
            c = compare_medians(medians(first, clock), medians(r, clock))
            entry[clock] = {"tolerance": c.tolerance, "within": c.within, "changes": c.changes, "worst": c.worst}
            entry[f"{clock}_medians"] = medians(r, clock)
        stability.append(entry)
    first_medians = {clock: medians(first, clock) for clock in ("cpu", "wall")}
    record = {**first, "first_run_medians": first_medians, "repeat_runs": stability, "provenance": prov}
    write_json(record, out_dir / f"{a.name}.json")
    write_png(first, out_dir / f"{a.name}.png")
    md = markdown(first)
    if a.random_student:
        md += (
            f"\nThe bundle is `{a.random_student}` randomly initialised and exported int8 by the export stage: its "
            "latency equals a trained one's (same graph), its probabilities mean nothing.\n"
        )
    if stability:
        s2 = stability[0]
        md += "\n## Run-to-run stability: medians of a second run against the first\n\n"
        md += "| median | first ms | second ms | change |\n|---|---:|---:|---:|\n"
        for clock in ("cpu", "wall"):
            for name, change in s2[clock]["changes"].items():
                md += f"| {name} | {first_medians[clock][name]:.3f} | {s2[f'{clock}_medians'][name]:.3f} | "
                md += f"{100 * change:+.1f}% |\n"
        for clock, label in (("cpu", "CPU-time"), ("wall", "wall-time")):
            verdict = "all within" if s2[clock]["within"] else "NOT all within"
            md += f"\n{label} medians: {verdict} 20%."
        md += (
            f" Machine load average {first['machine']['load_average_1m']:.2f} at the start of run 1, "
            f"{s2['load_average_1m']:.2f} at run 2 ({first['machine']['cores']} cores, shared with other jobs).\n"
        )
    (out_dir / f"{a.name}.md").write_text(md, encoding="utf-8")
    print(f"wrote {out_dir / a.name}.json, .png, .md", file=sys.stderr)
    for s2 in stability:
        for clock in ("cpu", "wall"):
            within = "within" if s2[clock]["within"] else "NOT within"
            print(f"run {s2['run']}: {clock} medians {within} 20%; worst {s2[clock]['worst']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
