"""Why the demo's MBROLA us2 man is called elderly: the bundle's age scores on the default corpus' own clips of a few
MBROLA voices (clean, modal; first 3 s), and each MBROLA voice's share of elderly speakers in that corpus.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/demo-us2-age/check.py [BUNDLE] [CORPUS]
"""

import collections
import json
import sys

import numpy as np
import soundfile as sf

from slap_edge.bundle_reader import load_bundle
from slap_edge.prompt_sets import resolve_prompts
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.text import resolve_bank

bundle = load_bundle(sys.argv[1] if len(sys.argv) > 1 else "slap_edge/assets/default")
root = sys.argv[2] if len(sys.argv) > 2 else "work-data/default/corpus"
engine = Engine(bundle, resolve_bank(bundle, resolve_prompts("demographics"), None))
with open(f"{root}/manifest.jsonl", encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
print(f"bundle {bundle.model_id}, corpus {root}")

speakers = {r["speaker"]: (r["voice"], r["attributes"]["age_group"]) for r in records if r.get("engine") == "mbrola"}
by_voice: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
for voice, age in speakers.values():
    by_voice[voice][age] += 1
shares = sorted(((c["elderly"] / sum(c.values()), v, sum(c.values())) for v, c in by_voice.items()), reverse=True)
overall = collections.Counter(age for _, age in speakers.values())
print(f"MBROLA speakers by age: {dict(overall)}; elderly share {overall['elderly'] / sum(overall.values()):.2f}")
print("highest elderly shares (voice, speakers, share):", [(v, n, round(s, 2)) for s, v, n in shares[:5]])


def age_probs(path: str) -> np.ndarray:
    x, _ = sf.read(path, dtype="float32")
    w = bundle.window_samples
    x = x[:w] if len(x) >= w else np.pad(x, (w - len(x), 0))
    p = engine.score(engine.embed(x))["age"]
    return np.asarray(p)


labels = engine.section_labels["age"]
for voice in ("mb-us2", "mb-us1", "mb-en1"):
    for age in ("adult", "elderly"):
        sel = [
            r
            for r in records
            if r.get("voice") == voice
            and r["attributes"]["age_group"] == age
            and r["attributes"]["quality"] == "modal"
            and r["attributes"]["channel"] == "clean"
        ][:25]
        if sel:
            mean = np.mean([age_probs(f"{root}/{r['path']}") for r in sel], axis=0)
            probs = {k: round(float(v), 2) for k, v in zip(labels, mean, strict=True)}
            print(f"{voice} {age}: {len(sel)} clips, mean probs", probs)
