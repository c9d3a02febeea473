"""How far each student's embedding is from the teacher's along the teacher's attribute heads, on 256 held-out
clips (the default corpus' test split, first 3 s): distill.head_kd_loss against its floor (the teacher against
itself), the cosine loss, and how often the quality head picks the teacher's class.

    python -m slap_edge.train.from_bundle default --teacher train/checkpoints/default-teacher-intonation \
        --recipe train/recipes/student-distil-on.json --out work-data/v7/builtin-student
    python benchmarks/results/default-bundle-v7/head_agreement.py > head-agreement.txt   # into this folder
"""

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from slap_edge.train.checkpoint import load_run
from slap_edge.train.distill import head_kd_loss

D = Path("work-data/v7")
RUNS = ["student", "builtin-student", "student2-intonation", "student2-seed2"]
N = 48000  # 3 s at 16 kHz, both models' window


def window(record: dict) -> np.ndarray:
    wave, _ = sf.read(D / "corpus" / record["path"], dtype="float32")
    return wave[:N] if len(wave) >= N else np.pad(wave, (0, N - len(wave)))


with (D / "corpus" / "manifest.jsonl").open() as handle:
    records = [r for r in map(json.loads, handle) if r["split"] == "test"][:256]
x = torch.tensor(np.stack([window(r) for r in records]))
teacher = load_run(D / "teacher2")[0].eval()
heads = teacher.attribute_heads
with torch.no_grad():
    te = teacher.encode_audio(x)
    floor = head_kd_loss(te, te, heads, 2.0).item()
    print(f"{len(records)} test-split clips of {D}/corpus (first 3 s); head loss floor (teacher vs itself) {floor:.3f}")
    for name in RUNS:
        se = load_run(D / name)[0].eval().encode_audio(x)
        cosine = 1 - (se * te).sum(-1).mean().item()
        loss = head_kd_loss(se, te, heads, 2.0).item()
        agree = (heads["quality"](se).argmax(-1) == heads["quality"](te).argmax(-1)).float().mean().item()
        print(f"{name:20s} cosine loss {cosine:.4f}  head loss {loss:.3f} (excess {loss - floor:.3f})  "
              f"quality head agrees {agree:.3f}")  # fmt: skip
