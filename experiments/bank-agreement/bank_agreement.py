"""How far the built-in student's embedding is from its teacher's along the caption bank of `distill.caption_bank`
(the directions `bank_kd_weight` distils), on the held-out speakers suite's hoarse_vs_clear and tremor_vs_steady
clips (first 3 s): per attribute the bank loss's excess over its floor (the teacher against itself), and how often
each model's bank decision between the two values of the task picks the clip's label.

    python -m slap_edge.train.from_bundle default --teacher train/checkpoints/default-teacher-intonation \
        --recipe train/recipes/student-distil-on.json --out work-data/v7/builtin-student
    python experiments/bank-agreement/bank_agreement.py work-data/v7
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from slap_edge.eval.suite import read_audio
from slap_edge.train.checkpoint import load_run
from slap_edge.train.distill import bank_kd_loss, caption_bank

D = Path(sys.argv[1])
N = 48000
TASKS = {"hoarse_vs_clear": ("hoarse", "modal"), "tremor_vs_steady": ("tremor", "modal")}
suite = D / "suite-test"
rows = [json.loads(line) for line in (suite / "clips.jsonl").read_text().splitlines() if line.strip()]
teacher = load_run(D / "teacher2")[0].eval()
bank_text = caption_bank(teacher.config.heads.languages, 8)
with torch.no_grad():
    bank = {a: torch.stack([F.normalize(teacher.encode_text(c).float().mean(0), dim=-1) for c in v.values()])
            for a, v in bank_text.items()}
    models = {"teacher": teacher, "built-in student": load_run(D / "builtin-student")[0].eval()}
    for task, (marked, modal) in TASKS.items():
        sel = [r for r in rows if r["task"] == task]
        waves = [read_audio(suite / r["path"], 16000)[:N] for r in sel]
        x = torch.tensor(np.stack([np.pad(w, (0, N - len(w))) for w in waves]))
        emb = {name: m.encode_audio(x).float() for name, m in models.items()}
        te, se = emb["teacher"], emb["built-in student"]
        values = list(bank_text["quality"])
        pair = bank["quality"][[values.index(marked), values.index(modal)]]
        print(f"{task} ({len(sel)} clips)")
        for name, e in emb.items():
            pred = np.where((e @ pair.T).argmax(-1).numpy() == 0, "marked", "modal")
            truth = np.array(["modal" if r["label"] in ("clear", "steady") else "marked" for r in sel])
            print(f"  {name:17s} bank {marked}/{modal} decision accuracy {(pred == truth).mean():.3f}")
        for a, v in bank.items():
            floor = bank_kd_loss(te, te, [v], teacher.logit_scale_value(), 2.0).item()
            loss = bank_kd_loss(se, te, [v], teacher.logit_scale_value(), 2.0).item()
            agree = ((se @ v.T).argmax(-1) == (te @ v.T).argmax(-1)).float().mean().item()
            print(f"  {a:11s} student excess {loss - floor:.3f} (floor {floor:.3f}); argmax agrees {agree:.3f}")
