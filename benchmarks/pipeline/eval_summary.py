"""One line per `slap-edge eval` JSON in the folders given: name, suite hash, zero-shot and probe mean macro-F1.

python benchmarks/pipeline/eval_summary.py benchmarks/results/default-bundle-v6/evals [...]
"""

import json
import sys
from pathlib import Path

for folder in sys.argv[1:]:
    for path in sorted(Path(folder).glob("*.json")):
        d = json.loads(path.read_text())
        probe = d.get("linear_probe")
        lp = probe.get("mean_macro_f1") if isinstance(probe, dict) else None
        lp = "-" if lp is None else f"{lp:.3f}"
        zs = d["zero_shot"]["mean_macro_f1"]
        print(f"{path.stem:24s} {d['provenance']['suite_hash'][:8]} zero-shot {zs:.3f} probe {lp}")
