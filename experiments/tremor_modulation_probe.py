"""How audible is a suite's tremor label without any model? The eval's linear probe on hand-made modulation features.

Per clip: the share and the log energy of the 4-7.5 Hz band in the modulation spectrum (1-15 Hz) of two contours at
10 ms, the loudness (dB over frames within 30 dB of the loudest) and log F0 (Praat autocorrelation, voiced frames),
each with its median removed. A vocal tremor moves both at 4-7 Hz; so does ordinary speech rhythm (syllables come at
about that rate), which is what a tremor detector has to see past. The probe is `slap-edge eval`'s (standardised,
C by inner grouped cross-validation, 5 folds grouped by speaker), so its figure sits beside the model's probe.

    python experiments/tremor_modulation_probe.py SUITE [--task tremor_vs_steady] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import linear_probe_predict
from slap_edge.eval.suite import Clip, Task, load_suite

HOP_S = 0.01
TREMOR_BAND_HZ = (4.0, 7.5)
REFERENCE_BAND_HZ = (1.0, 15.0)
FEATURES = ("loudness band share", "loudness band log energy", "F0 band share", "F0 band log energy")


def band_features(contour: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """(band share, log band energy) of the median-removed contour over its valid frames; zeros elsewhere."""
    if valid.sum() < 20:
        return 0.0, float(np.log(1e-12))
    centred = np.where(valid, contour - np.median(contour[valid]), 0.0)
    power = np.abs(np.fft.rfft(centred * np.hanning(len(centred)))) ** 2
    freqs = np.fft.rfftfreq(len(centred), HOP_S)
    band = power[(freqs >= TREMOR_BAND_HZ[0]) & (freqs <= TREMOR_BAND_HZ[1])].sum()
    reference = power[(freqs >= REFERENCE_BAND_HZ[0]) & (freqs <= REFERENCE_BAND_HZ[1])].sum()
    return float(band / (reference + 1e-12)), float(np.log(band + 1e-12))


def clip_features(path: Path) -> list[float]:
    import parselmouth

    wave, rate = sf.read(path, dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    hop = int(round(HOP_S * rate))
    n = len(wave) // hop
    if n < 20:
        raise SystemExit(f"{path}: {len(wave) / rate:.2f} s is too short for a modulation spectrum (at least 0.2 s)")
    loudness = 20 * np.log10(np.sqrt(np.mean(wave[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-5)
    sound = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=rate)
    f0 = sound.to_pitch_ac(time_step=HOP_S, pitch_floor=50.0, pitch_ceiling=600.0).selected_array["frequency"]
    f0 = np.pad(f0[:n], (0, max(0, n - len(f0))))
    return [
        *band_features(loudness, loudness > loudness.max() - 30.0),
        *band_features(np.log(np.maximum(f0, 1.0)), f0 > 0),
    ]


def task_from_command_line(doc: str, default_task: str) -> tuple[argparse.Namespace, Task, list[Clip]]:
    """The arguments of a model-free probe (SUITE, --task, --json), the task and its clips; a task the suite lacks
    exits with the suite's task names. Shared with voice_age_probe.py."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path)
    parser.add_argument("--task", default=default_task)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    suite = load_suite(args.suite)
    try:
        task = suite.task(args.task)
    except KeyError as exc:
        raise SystemExit(f"{args.suite}: {exc.args[0]}") from None
    return args, task, suite.clips_of(task.name)


def main() -> None:
    args, task, clips = task_from_command_line(__doc__, "tremor_vs_steady")
    x = np.array([clip_features(c.path) for c in clips])
    y = [c.label for c in clips]
    speakers = [c.speaker for c in clips]
    figures = {"all four": macro_f1(y, linear_probe_predict(x, y, speakers), task.labels)}
    for name, cols in (("loudness only", [0, 1]), ("F0 only", [2, 3])):
        figures[name] = macro_f1(y, linear_probe_predict(x[:, cols], y, speakers), task.labels)
    for name, value in figures.items():
        print(f"{task.name}: probe macro-F1 on hand-made modulation features ({name}): {value:.3f}")
    if args.json:
        result = {
            "suite": str(args.suite),
            "task": task.name,
            "clips": len(clips),
            "features": list(FEATURES),
            "probe_macro_f1": figures,
            "date": time.strftime("%Y-%m-%d"),
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
