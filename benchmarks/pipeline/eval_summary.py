"""One line per `slap-edge eval` JSON in the folders given: name, suite hash, zero-shot and probe mean macro-F1,
and with ``--tasks`` the zero-shot macro-F1 of the tasks named (``-`` where a suite has no such task).

python benchmarks/pipeline/eval_summary.py benchmarks/results/default-bundle-v6/evals [...]
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady DIR
"""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folders", nargs="+", type=Path, help="folders of eval JSONs")
parser.add_argument("--tasks", default="", help="comma-separated task names to show per file (zero-shot F1)")
args = parser.parse_args()
tasks = [t for t in args.tasks.split(",") if t]
for folder in args.folders:
    if not folder.is_dir():
        parser.error(f"{folder}: not a folder of eval JSONs")
    for path in sorted(folder.glob("*.json")):
        d = json.loads(path.read_text())
        probe = d.get("linear_probe")
        lp = probe.get("mean_macro_f1") if isinstance(probe, dict) else None
        lp = "-" if lp is None else f"{lp:.3f}"
        zs = d["zero_shot"]["mean_macro_f1"]
        line = f"{path.stem:24s} {d['provenance']['suite_hash'][:8]} zero-shot {zs:.3f} probe {lp}"
        per_task = {t["task"]: t["zero_shot"]["macro_f1"] for t in d.get("tasks", [])}
        for name in tasks:
            line += f" {name} " + (f"{per_task[name]:.3f}" if name in per_task else "-")
        print(line)
