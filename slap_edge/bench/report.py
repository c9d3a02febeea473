"""Show a bench result: terminal tables (rich), JSON, markdown, and a PNG (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from slap_edge.bench.listen_path import STAGES

PLOT_HINT = "pip install 'slap-edge[plot]' (matplotlib)"
STAGE_LABELS = {
    "resample": "resample (capture rate -> model rate)",
    "ingest": "ingest (guard + ring buffer)",
    "features_and_encoder": "front end + encoder",
    "score": "scoring (prompt bank)",
    "smoothing": "smoothing + events",
    "speech_gate": "speech gate (Silero VAD, or energy)",
    "window_and_other": "window read + other",
}


PEER_COLUMNS = (
    "model",
    "framing",
    "per unit p50 ms (wall)",
    "per unit p50 ms (CPU)",
    "ms per audio s (wall)",
    "ms per audio s (CPU)",
    "vs student (wall)",
    "vs student (CPU)",
)


def _cpu_pair(r: dict[str, Any]) -> str:
    c = r.get("hop_cpu_ms")
    return "-" if not c else f"{_ms(c['p50'])} / {_ms(c['p99'])}"


def _peer_rows(results: dict[str, Any], ref: dict[str, Any] | None, long_names: bool = False) -> list[list[str]]:
    """Rows of the peers table: the student first (the reference of every ratio), then each peer."""
    comp = results.get("comparisons", {})
    rows = []
    if ref is not None and ref.get("hop_e2e_ms"):
        rows.append(
            [
                f"student ({ref['backend']}, listen path)",
                f"one {ref['window_s']:g} s window every {ref['hop_s']:g} s hop",
                _ms(ref["hop_e2e_ms"]["p50"]),
                _ms(ref["hop_cpu_ms"]["p50"]),
                _ms(ref["cost_ms_per_audio_s"]),
                _ms(ref["cpu_cost_ms_per_audio_s"]),
                "1.0x",
                "1.0x",
            ]
        )
    for p in results.get("peers", []):
        if p.get("status") != "ok":
            rows.append([p["peer"], f"unavailable: {p['reason']}"] + [""] * (len(PEER_COLUMNS) - 2))
            continue
        c = comp.get("peers", {}).get(p["peer"], {})
        rows.append(
            [
                f"{p['peer']}: {p['info']['model']}" if long_names else p["peer"],
                p["framing"],
                _ms(p["per_unit_ms"]["p50"]),
                _ms(p["per_unit_cpu_ms"]["p50"]),
                _ms(p["cost_ms_per_audio_s"]),
                _ms(p["cpu_cost_ms_per_audio_s"]),
                _ratio(c.get("cost_ratio_vs_student")),
                _ratio(c.get("cpu_cost_ratio_vs_student")),
            ]
        )
    return rows


def _ms(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return "inf" if math.isinf(x) else f"{x:.1f}x"


def _ok(results: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [r for r in results.get(key, []) if r.get("status") == "ok"]


def header_lines(results: dict[str, Any]) -> list[str]:
    m, s, b = results["machine"], results["schedule"], results["bundle"]
    lines = [
        f"machine: {m['cpu_model']}, {m['cores']} usable core(s), {m['os']}, {m['date_utc']}",
        f"bundle: {b['model']} ({b['precision']}), window {b['window_s']:g} s, hop {b['hop_s']:g} s, "
        f"{b['sample_rate']} Hz",
        f"audio: {s['description']}, captured at {s['capture_rate']} Hz",
    ]
    if s.get("note"):
        lines.append(f"note: {s['note']}")
    rounds = results["config"].get("rounds", 1)
    if rounds > 1:
        lines.append(
            f"rounds: every backend and peer measured {rounds} times round-robin; each one's median round (by CPU "
            "p50) is reported, every round's CPU p50 is in the JSON (rounds_cpu_p50_ms)"
        )
    ok = _ok(results, "backends")
    if ok:
        r = ok[0]
        lines.append(
            f"warm-up excluded: the first {r['warmup_hops_excluded']} hops of each backend "
            f"({r['warmup_hops_excluded'] * r['hop_s']:g} s of audio) and the first {_peer_warmup(results)} "
            "windows of each peer"
        )
    return lines


def _peer_warmup(results: dict[str, Any]) -> int:
    ok = _ok(results, "peers")
    return ok[0]["warmup_excluded"] if ok else 0


def print_report(results: dict[str, Any], console: Any = None) -> None:
    """The terminal view: stages per backend, one summary row per backend, peers with ratios."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for line in header_lines(results):
        console.print(line, highlight=False)
    for r in _ok(results, "backends"):
        t = Table(title=f"{r['backend']}: per hop, ms ({r['hops_encoded']} hops encoded, {r['hops_gated']} gated)")
        t.add_column("stage")
        for col in ("p50", "p95", "p99", "max"):
            t.add_column(col, justify="right")
        for name in STAGES:
            st = r["stages_ms"].get(name)
            if st:
                t.add_row(STAGE_LABELS[name], *(_ms(st[c]) for c in ("p50", "p95", "p99", "max")))
        if r.get("hop_e2e_ms"):
            e = r["hop_e2e_ms"]
            t.add_row("[bold]end to end per hop[/bold]", *(_ms(e[c]) for c in ("p50", "p95", "p99", "max")))
        console.print(t)
    t = Table(title="backends")
    cols = ("backend", "hop CPU p50/p99 ms", "RTF", "CPU % of a core (real time)", "peak RSS MB", "audio.onnx MB")
    for col in (*cols, "cold start s"):
        t.add_column(col, justify="right" if col != "backend" else "left")
    for r in results.get("backends", []):
        if r.get("status") != "ok":
            t.add_row(r["backend"], "unavailable", "", "", "", "", "")
            continue
        size = r["model_files_bytes"].get("audio.onnx")
        t.add_row(
            r["backend"],
            _cpu_pair(r),
            f"{r['rtf']:.4f}",
            f"{r['cpu_pct_of_core_realtime']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
            "-" if size is None else f"{size / 1e6:.2f}",
            "-" if r.get("cold_start_s") is None else f"{r['cold_start_s']:.2f}",
        )
    console.print(t)
    for r in results.get("backends", []):
        if r.get("status") != "ok":
            console.print(f"{r['backend']}: {r['reason']}", highlight=False)
    comp = results.get("comparisons", {})
    if results.get("peers"):
        ref = next((r for r in _ok(results, "backends") if r["backend"] == comp.get("reference_backend")), None)
        t = Table(title=f"cost per second of audio, {results['config']['threads']} thread(s)")
        for col in PEER_COLUMNS:
            t.add_column(col, justify="left" if col in ("model", "framing") else "right")
        for row in _peer_rows(results, ref):
            t.add_row(*row)
        console.print(t)
        for p in results["peers"]:
            if p.get("status") != "ok":
                console.print(f"{p['peer']}: {p['reason']}", highlight=False)
    for line in verdict_lines(results):
        console.print(line, highlight=False)


def verdict_lines(results: dict[str, Any]) -> list[str]:
    """The headline ratios against their targets, in words."""
    comp = results.get("comparisons", {})
    out = []
    if "student_hop_p99_ms" in comp:
        verdict = "meets" if comp["p99_meets_target"] else "misses"
        cpu = comp.get("student_hop_cpu_p99_ms")
        out.append(
            f"student per-hop p99 {comp['student_hop_p99_ms']:.2f} ms end to end (wall; CPU "
            f"{'-' if cpu is None else f'{cpu:.2f}'} ms): {verdict} the {comp['p99_target_ms']:g} ms target"
        )
    teacher = comp.get("peers", {}).get("teacher")
    if teacher and "cpu_speed_ratio" in teacher:
        verdict = "meets" if teacher["meets_target"] else "misses"
        tw, sw = teacher.get("teacher_window_s"), teacher.get("student_window_s")
        windows = "on the same window" if tw == sw else f"(teacher window {tw:g} s, student window {sw:g} s)"
        out.append(
            f"student vs teacher fp32 {windows}: {teacher['cpu_speed_ratio']:.1f}x faster in CPU time "
            f"(whole hop vs teacher window; {teacher['encoder_speed_ratio']:.1f}x in wall time, encoder stage): "
            f"{verdict} the {teacher['target']:g}x target"
        )
    res = comp.get("peers", {}).get("resemblyzer")
    if res:
        word = "the student is cheaper" if res["student_cheaper"] else "the student is dearer"
        out.append(
            f"Resemblyzer costs {res['cpu_cost_ratio_vs_student']:.1f}x the student per second of audio in CPU time "
            f"({res['cost_ratio_vs_student']:.1f}x wall): {word}"
        )
    vad = comp.get("peers", {}).get("silero-vad")
    if vad:
        out.append(
            f"Silero VAD (the always-on floor) costs {vad['cpu_cost_ratio_vs_student']:.2f}x the student in CPU time "
            f"({vad['cost_ratio_vs_student']:.2f}x wall)"
        )
    load = load_line(results)
    if load:
        out.append(load)
    return out


BUSY_PCT = 5.0


def load_line(results: dict[str, Any]) -> str | None:
    """Other processes' share of the machine's CPUs while each backend and peer was measured (None if unknown)."""
    parts = [
        (r.get("backend") or r.get("peer"), r["other_load_pct"])
        for r in [*results.get("backends", []), *results.get("peers", [])]
        if r.get("status") == "ok" and r.get("other_load_pct") is not None
    ]
    if not parts:
        return None
    cpus = results["machine"].get("logical_cpus") or results["machine"].get("cores")
    worst = max(p for _, p in parts)
    verdict = (
        f"the machine was busy (over {BUSY_PCT:g}%): wall times, and CPU times on shared hyper-threads, are pessimistic"
        if worst > BUSY_PCT
        else "the machine was otherwise idle"
    )
    listed = ", ".join(f"{name} {pct:.1f}%" for name, pct in parts)
    return f"other processes used {listed} of the {cpus} logical CPUs during each measurement: {verdict}"


def write_json(results: dict[str, Any], path: str | Path) -> Path:
    """Write the results atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, allow_nan=True)
        f.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for sharing
    os.replace(tmp, path)
    return path


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown page (what benchmarks/results/ commits beside the JSON and PNG)."""
    lines = ["# slap-edge bench", ""]
    lines += [f"- {line}" for line in header_lines(results)]
    lines.append("")
    for r in _ok(results, "backends"):
        lines += [
            f"## {r['backend']}: per hop (ms), {r['hops_encoded']} hops encoded, {r['hops_gated']} gated",
            "",
            f"{r['notes'].get('encoder', '')}. Prompts: {r['notes'].get('prompt_bank', '')}."
            + (f" Adapted heads: {r['notes']['heads']}." if r["notes"].get("heads") else ""),
            "",
            "| stage | p50 | p95 | p99 | max |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in STAGES:
            st = r["stages_ms"].get(name)
            if st:
                lines.append(
                    f"| {STAGE_LABELS[name]} | " + " | ".join(_ms(st[c]) for c in ("p50", "p95", "p99", "max")) + " |"
                )
        if r.get("hop_e2e_ms"):
            e = r["hop_e2e_ms"]
            lines.append(
                "| **end to end per hop** | " + " | ".join(_ms(e[c]) for c in ("p50", "p95", "p99", "max")) + " |"
            )
        lines.append("")
    lines += [
        "## Backends",
        "",
        "| backend | hop CPU p50/p99 ms | RTF | CPU % of a core (real time) | peak RSS MB | audio.onnx MB "
        "| cold start to first score s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.get("backends", []):
        if r.get("status") != "ok":
            lines.append(f"| {r['backend']} | unavailable: {r['reason']} | | | | | |")
            continue
        size = r["model_files_bytes"].get("audio.onnx")
        cold = "-" if r.get("cold_start_s") is None else f"{r['cold_start_s']:.2f}"
        lines.append(
            f"| {r['backend']} | {_cpu_pair(r)} | {r['rtf']:.4f} | {r['cpu_pct_of_core_realtime']:.2f} | "
            f"{r['peak_rss_mb']:.0f} | "
            f"{'-' if size is None else f'{size / 1e6:.2f}'} | {cold} |"
        )
    lines.append("")
    comp = results.get("comparisons", {})
    if results.get("peers"):
        ref = next((r for r in _ok(results, "backends") if r["backend"] == comp.get("reference_backend")), None)
        lines += [
            f"## Cost per second of audio ({results['config']['threads']} thread(s))",
            "",
            "| " + " | ".join(PEER_COLUMNS) + " |",
            "|---|---|" + "---:|" * (len(PEER_COLUMNS) - 2),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in _peer_rows(results, ref, long_names=True)]
        lines += [
            "",
            "Per unit: one window for the student (its whole hop), the teacher and Resemblyzer; one 32 ms frame for "
            "Silero VAD. CPU: time of the measuring thread, which does not grow while other jobs hold the core.",
            "",
        ]
    verdicts = verdict_lines(results)
    if verdicts:
        lines += ["## Against the targets", ""] + [f"- {v}" for v in verdicts] + [""]
    return "\n".join(lines)


def write_png(results: dict[str, Any], path: str | Path) -> Path:
    """Latency distribution per backend, per-stage breakdown, and peers' cost per audio second (log scale)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import ScalarFormatter
    except ImportError as exc:
        raise RuntimeError(f"--png needs matplotlib, which does not import ({exc}): {PLOT_HINT}") from exc
    ok = [r for r in _ok(results, "backends") if r.get("hop_e2e_samples_ms")]
    peers = _ok(results, "peers")
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    ax = axes[0]
    if ok:
        n = len(ok)
        wall = ax.boxplot(
            [r["hop_e2e_samples_ms"] for r in ok],
            positions=[i - 0.18 for i in range(n)],
            widths=0.3,
            whis=(1, 99),
            patch_artist=True,
        )
        cpu = ax.boxplot(
            [r.get("hop_cpu_samples_ms") or [math.nan] for r in ok],
            positions=[i + 0.18 for i in range(n)],
            widths=0.3,
            whis=(1, 99),
            patch_artist=True,
        )
        for box in wall["boxes"]:
            box.set_facecolor("tab:blue")
        for box in cpu["boxes"]:
            box.set_facecolor("tab:orange")
        ax.set_xticks(range(n), [r["backend"] for r in ok])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        handles = [wall["boxes"][0], cpu["boxes"][0]]
        labels = ["wall time", "CPU time"]
        target = results.get("comparisons", {}).get("p99_target_ms")
        if target:
            handles.append(ax.axhline(target, color="tab:red", linestyle="--", linewidth=1))
            labels.append(f"{target:g} ms p99 target")
        ax.legend(handles, labels, loc="upper left", fontsize=8)
    ax.set_title("end-to-end processing per hop (whiskers p1-p99)")
    ax.set_ylabel("ms")
    ax = axes[1]
    bottoms = [0.0] * len(ok)
    for name in STAGES:
        values = [r["stages_ms"].get(name, {}).get("p50", 0.0) for r in ok]
        ax.bar([r["backend"] for r in ok], values, bottom=bottoms, label=STAGE_LABELS[name])
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_title("per-stage breakdown (p50, ms)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[2]
    ref = next((r for r in ok if r["backend"] == results.get("comparisons", {}).get("reference_backend")), None)
    names, costs = [], []
    if ref is not None:
        names.append(f"student\n({ref['backend']})")
        costs.append(ref["cpu_cost_ms_per_audio_s"])
    for p in peers:
        names.append(p["peer"])
        costs.append(p["cpu_cost_ms_per_audio_s"])
    bars = ax.bar(names, costs, color=["tab:green"] + ["tab:gray"] * (len(names) - 1))
    for bar, cost in zip(bars, costs, strict=True):
        label = f"{cost:.2f}" if cost < 10 else f"{cost:.0f}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, cost), ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_title(f"CPU time per second of audio ({results['config']['threads']} thread)")
    ax.set_ylabel("CPU ms per audio s")
    m = results["machine"]
    fig.suptitle(
        f"slap-edge bench: {results['bundle']['model']} ({results['bundle']['precision']}) on "
        f"{m['cpu_model']}, {m['cores']} cores, {m['date_utc']}",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
