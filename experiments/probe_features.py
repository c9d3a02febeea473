"""Linear probe on three feature sets of a run: the embedding, mean+std of the last layer's tokens, and the mean of
every layer's tokens (each averaged over a clip's windows), with the probe of `slap-edge eval`.

    python experiments/probe_features.py RUN SUITE
"""

import sys

import numpy as np
import torch

from slap_edge.eval.embedders import clip_windows, pool_windows
from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import linear_probe_predict
from slap_edge.eval.suite import load_suite, read_audio
from slap_edge.train.checkpoint import load_run

model, config = load_run(sys.argv[1])
model.eval()
suite = load_suite(sys.argv[2])
window = config.model.window_samples
paths = list(dict.fromkeys(c.path for c in suite.clips))
waves = [read_audio(p, 16000) for p in paths]
enc = model.audio_encoder


def emb(b):
    with torch.inference_mode():
        return model.encode_audio(torch.from_numpy(b)).numpy()


def feats(b):
    with torch.inference_mode():
        mel = model.log_mel(torch.from_numpy(b))
        x = enc.vit.norm_pre(enc.patch_tokens(mel))
        outs = []
        for blk in enc.vit.blocks:
            x = blk(x)
            outs.append(x.mean(1))
        last = enc.vit.norm(x)
        return torch.cat([last.mean(1), last.std(1)], 1).numpy(), torch.cat(outs, 1).numpy()


E = pool_windows(emb, waves, window)
MS, LY = [], []
for w in waves:
    a, b = feats(clip_windows(w, window))
    MS.append(a.mean(0))
    LY.append(b.mean(0))
MS, LY = np.stack(MS), np.stack(LY)
row = {p: i for i, p in enumerate(paths)}
res = {"emb": [], "meanstd": [], "layers": []}
for task in suite.tasks:
    clips = suite.clips_of(task.name)
    y = [c.label for c in clips]
    spk = [c.speaker for c in clips]
    idx = [row[c.path] for c in clips]
    for k, X in (("emb", E[idx]), ("meanstd", MS[idx]), ("layers", LY[idx])):
        res[k].append(macro_f1(y, linear_probe_predict(X, y, spk), task.labels))
    print(task.name, [round(res[k][-1], 3) for k in res], flush=True)
print({k: round(float(np.mean(v)), 4) for k, v in res.items()})
