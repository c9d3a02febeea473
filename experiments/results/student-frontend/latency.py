"""Would a student with a finer front end still fit the kiosk budget (audio.onnx <= 1 MB int8, listen p99 <= 3 ms)?
Randomly initialised student-vit-nano variants, exported int8 by the export stage's own code, then measured with
`slap-edge bench` (one thread, no peers). Latency and size only: nothing here is trained.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/results/student-frontend/latency.py OUT [--seconds 60] [--rounds 3]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from slap_edge.bench.schedule import make_schedule
from slap_edge.export.bundle_writer import export_bundle
from slap_edge.models import create_model

# name -> overrides of student-vit-nano (64 mels, 25 ms window, 20 ms hop, 64x4 patches: the built-in bundle's shape)
VARIANTS = {
    "nano": {},
    # the teacher's front end: 128 mels, 40 ms window (1024-point FFT), 10 ms hop; 128x8 patches (80 ms, 37 tokens)
    "nano-teacher-frontend": {
        "frontend": {"n_fft": 1024, "win_length": 640, "hop_length": 160, "n_mels": 128},
        "audio": {"patch_size": [128, 8]},
    },
    # 128 mels on the 25 ms window, 10 ms hop; 128x8 patches
    "nano-128mel-10ms": {"frontend": {"hop_length": 160, "n_mels": 128}, "audio": {"patch_size": [128, 8]}},
    # 128 mels, the built-in window and hop; 128x4 patches (the built-in token count)
    "nano-128mel": {"frontend": {"n_mels": 128}, "audio": {"patch_size": [128, 4]}},
}

ap = argparse.ArgumentParser()
ap.add_argument("out", type=Path)
ap.add_argument("--seconds", type=float, default=60.0)
ap.add_argument("--rounds", type=int, default=3)
a = ap.parse_args()
a.out.mkdir(parents=True, exist_ok=True)
rows = {}
for name, overrides in VARIANTS.items():
    torch.manual_seed(0)
    model = create_model("student-vit-nano", **overrides)
    sr = model.config.frontend.sample_rate
    win = int(round(model.config.window_s * sr))
    speech = make_schedule(48.0, sr).wave
    calibration = [speech[i : i + win] for i in range(0, speech.shape[0] - win + 1, win)][:16]
    bundle = a.out / name
    if not (bundle / "manifest.json").exists():
        export_bundle(model, bundle, int8=True, calibration=calibration, log=lambda m: print(m, file=sys.stderr))
    report = a.out / f"{name}-bench.json"
    cmd = ["slap-edge", "bench", "--bundle", str(bundle), "--backend", "ort-cpu", "--threads", "1", "--no-peers"]
    cmd += ["--seconds", str(a.seconds), "--rounds", str(a.rounds), "--json", str(report)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    params = sum(p.numel() for m in (model.audio_encoder, model.audio_proj) for p in m.parameters())
    rows[name] = {"audio_params": params, "audio_onnx_mb": (bundle / "audio.onnx").stat().st_size / 1e6}
    print(name, rows[name], flush=True)
(a.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
