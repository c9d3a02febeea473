"""Per-hop cost of scoring adapted heads against scoring text prompts: the same sections, one engine each.

`slap-edge bench --heads` measures the whole listen path, but on a busy machine its wall times are noisy; this times
`Engine.score` alone (the only step heads change) in CPU time over many calls, then the whole hop (`embed` + `score`)
on the same windows, for a prompts file and for a heads file whose sections replace every prompt section.

    python benchmarks/adapt_score_cost.py --prompts PROMPTS.txt --heads SITE.npz [--bundle B] --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from slap_edge.adapt.heads import load_heads
from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import load_prompts
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.text import embed_prompts


def cpu_per_call_us(fn, arg, calls: int, repeats: int = 7) -> float:
    """Median over ``repeats`` of the CPU time per call (microseconds) of ``calls`` calls."""
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(calls):
            fn(arg)
        out.append((time.process_time() - t0) / calls * 1e6)
    return float(np.median(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--heads", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    bundle = load_bundle(args.bundle)
    bank = embed_prompts(bundle, load_prompts(args.prompts))
    heads = load_heads(args.heads)
    engines = {"prompts": Engine(bundle, bank), "heads": Engine(bundle, bank, heads=heads)}
    replaced = [n for n, how in engines["heads"].adapted.items() if how.startswith("replaces")]
    rng = np.random.default_rng(0)
    windows = (0.1 * rng.standard_normal((args.windows, bundle.window_samples))).astype(np.float32)
    emb = engines["prompts"].embed(windows[0])
    from slap_edge.bundle_reader import resolve_bundle_path
    from slap_edge.provenance import provenance

    result = {
        "provenance": provenance(model=resolve_bundle_path(args.bundle), made_by=["python", *sys.argv]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "command": "python " + " ".join(sys.argv),
        "bundle": bundle.model_id,
        "rows": {k: int(e._bank_emb.shape[0]) for k, e in engines.items()},
        "sections": {k: len(e.section_labels) for k, e in engines.items()},
        "heads_replace": replaced,
        "score_cpu_us": {},
        "hop_cpu_ms": {},
    }
    for _ in range(2):  # interleave, twice, so a burst of load hits both alike
        for name, engine in engines.items():
            result["score_cpu_us"].setdefault(name, []).append(cpu_per_call_us(engine.score, emb, args.calls))

            def hop(w: np.ndarray, engine: Engine = engine) -> None:
                engine.score(engine.embed(w))

            t0 = time.process_time()
            for w in windows:
                hop(w)
            result["hop_cpu_ms"].setdefault(name, []).append((time.process_time() - t0) / len(windows) * 1e3)
    result["score_cpu_us"] = {k: float(np.min(v)) for k, v in result["score_cpu_us"].items()}
    result["hop_cpu_ms"] = {k: float(np.min(v)) for k, v in result["hop_cpu_ms"].items()}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
