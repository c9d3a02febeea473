"""The A/B's table: per suite, each run's zero-shot / probe mean macro-F1 and the two-seed means per arm; then the
tasks where the arms differ most (two-seed means, zero-shot).

    python experiments/results/student-128mel-carry/summary.py > experiments/results/student-128mel-carry/summary.md
"""

import json
from pathlib import Path

E = Path(__file__).resolve().parent / "evals"
SUITES = [
    ("test", "held-out speakers"),
    ("holdout", "held-out voices"),
    ("real", "real-voice dev"),
    ("into-real", "real-voice intonation"),
]
ARMS, SEEDS = (64, 128), (1, 2)


def load(arm: int, seed: int, suite: str) -> dict | None:
    p = E / f"ab-{arm}-seed{seed}-{suite}.json"
    return json.loads(p.read_text()) if p.is_file() else None


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


print(
    "| suite (hash) | "
    + " | ".join(f"{a} mels seed {s}" for a in ARMS for s in SEEDS)
    + " | 64 mels mean | 128 mels mean | 128 - 64 |"
)
print("|---|" + "---:|" * (len(ARMS) * len(SEEDS) + 3))
for key, name in SUITES:
    cells, means, h = [], {}, ""
    for a in ARMS:
        zs = []
        for s in SEEDS:
            d = load(a, s, key)
            if d is None:
                cells.append("-")
                continue
            h = d["provenance"]["suite_hash"][:8]
            lp = d["linear_probe"].get("mean_macro_f1") if isinstance(d.get("linear_probe"), dict) else None
            cells.append(f"{d['zero_shot']['mean_macro_f1']:.3f} / {fmt(lp)}")
            zs.append(d["zero_shot"]["mean_macro_f1"])
        means[a] = mean(zs)
    diff = None if None in means.values() else means[128] - means[64]
    print(
        f"| {name} ({h}) | "
        + " | ".join(cells)
        + f" | {fmt(means[64])} | {fmt(means[128])} | "
        + ("-" if diff is None else f"{diff:+.3f}")
        + " |"
    )

for key, name in SUITES[:2]:
    per: dict[int, dict[str, list[float]]] = {a: {} for a in ARMS}
    for a in ARMS:
        for s in SEEDS:
            d = load(a, s, key)
            for t in (d or {}).get("tasks", []):
                per[a].setdefault(t["task"], []).append(t["zero_shot"]["macro_f1"])
    rows = [(t, mean(per[128][t]) - mean(per[64][t])) for t in per[64] if per[128].get(t)]
    if rows:
        rows.sort(key=lambda r: r[1])
        print(
            f"\n{name}, zero-shot per task, 128 - 64 mels (two-seed means): "
            + ", ".join(f"{t} {d:+.3f}" for t, d in rows)
        )
