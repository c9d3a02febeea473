"""Which property of the demo's man makes a bundle call him elderly: his 3-s windows scored as recorded and changed one
way at a time (level, WORLD resynthesis).

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/demo-us2-age/conditions.py [BUNDLE ...]
"""

import sys

import numpy as np
import soundfile as sf

from slap_edge.bundle_reader import load_bundle
from slap_edge.data.vocoder import load_pyworld
from slap_edge.prompt_sets import resolve_prompts
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.text import resolve_bank

x, sr = sf.read("slap_edge/assets/demo/two_speakers.wav", dtype="float32")
man = x[int(0.6 * sr) : int(8.3 * sr)]


def windows(sig: np.ndarray, w: int) -> list[np.ndarray]:
    return [sig[s : s + w] for s in range(0, len(sig) - w + 1, w // 2)]


def rms_db(sig: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(sig**2)) + 1e-9))


def at_db(sig: np.ndarray, db: float) -> np.ndarray:
    return (sig * 10 ** ((db - rms_db(sig)) / 20)).astype(np.float32)


def world(sig: np.ndarray) -> np.ndarray:
    pyworld = load_pyworld()
    d = sig.astype(np.float64)
    f0, t = pyworld.harvest(d, sr)
    sp, ap = pyworld.cheaptrick(d, f0, t, sr), pyworld.d4c(d, f0, t, sr)
    return pyworld.synthesize(f0, sp, ap, sr).astype(np.float32)[: len(sig)]


conditions = {"as recorded": man, "at -30 dB RMS": at_db(man, -30), "at -20 dB RMS": at_db(man, -20)}
conditions["WORLD resynthesis"] = world(man)
print(f"demo man: {rms_db(man):.1f} dB RMS, {len(man) / sr:.1f} s")
for path in sys.argv[1:] or ["slap_edge/assets/default"]:
    bundle = load_bundle(path)
    engine = Engine(bundle, resolve_bank(bundle, resolve_prompts("demographics"), None))
    labels = engine.section_labels["age"]
    print(f"bundle {bundle.model_id}: mean age probabilities over 3-s windows (hop 1.5 s)")
    for name, sig in conditions.items():
        probs = np.mean([engine.score(engine.embed(w))["age"] for w in windows(sig, bundle.window_samples)], axis=0)
        print(f"  {name:20s}", {k: round(float(v), 2) for k, v in zip(labels, probs, strict=True)})
