"""How audible is a suite's elderly label without any model? The eval's linear probe on hand-made voice measures.

Per clip, with Praat (parselmouth): local jitter and local shimmer (the usual voice-clinic perturbation measures),
the mean harmonics-to-noise ratio, and the spread of log F0 over voiced frames (older voices have a narrower range).
The probe is `slap-edge eval`'s (standardised, C by inner grouped cross-validation, 5 folds grouped by speaker), run
on all clips of the task and again on the clips of each engine (the suite's optional `engine` key), since espeak-ng's
elderly variants and the vocoder's markers on MBROLA voices are different recipes.

    python experiments/voice_age_probe.py SUITE [--task elderly_vs_adult] [--json OUT]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from tremor_modulation_probe import task_from_command_line  # this folder is on sys.path when run as a script

from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import linear_probe_predict

FEATURES = ("jitter (local)", "shimmer (local)", "HNR dB", "log F0 spread")


def clip_features(path: Path) -> list[float]:
    import parselmouth
    from parselmouth.praat import call

    wave, rate = sf.read(path, dtype="float32", always_2d=True)
    sound = parselmouth.Sound(wave.mean(axis=1).astype(np.float64), sampling_frequency=rate)
    pitch = sound.to_pitch_ac(time_step=0.01, pitch_floor=50.0, pitch_ceiling=600.0)
    f0 = pitch.selected_array["frequency"]
    f0 = f0[f0 > 0]
    points = call(sound, "To PointProcess (periodic, cc)", 50.0, 600.0)
    jitter = call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
    shimmer = call([sound, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
    harmonicity = sound.to_harmonicity_cc(time_step=0.01, minimum_pitch=60.0).values
    voiced = harmonicity[harmonicity > -100]
    # A whispered or unvoiced clip has no periods: Praat answers NaN; the probe gets the typical value instead.
    return [
        float(jitter) if np.isfinite(jitter) else np.nan,
        float(shimmer) if np.isfinite(shimmer) else np.nan,
        float(voiced.mean()) if voiced.size >= 5 else np.nan,
        float(np.std(np.log(f0))) if f0.size >= 5 else np.nan,
    ]


def probe(x: np.ndarray, y: list[str], speakers: list[str], labels: list[str]) -> float | None:
    if len(set(y)) < 2 or min(len({s for s, lab in zip(speakers, y, strict=True) if lab == c}) for c in set(y)) < 2:
        return None
    return macro_f1(y, linear_probe_predict(x, y, speakers), labels)


def main() -> None:
    args, task, clips = task_from_command_line(__doc__, "elderly_vs_adult")
    x = np.array([clip_features(c.path) for c in clips])
    missing = np.isnan(x)
    x = np.where(missing, np.nanmedian(x, axis=0), x)
    y = [c.label for c in clips]
    speakers = [c.speaker for c in clips]
    lines = [json.loads(line) for line in (args.suite / "clips.jsonl").read_text().splitlines() if line.strip()]
    engine_of = {(row["path"], row["task"]): row.get("engine") for row in lines}
    root = args.suite.resolve()
    engines = [engine_of.get((str(c.path.resolve().relative_to(root)), task.name)) for c in clips]

    figures: dict[str, dict[str, float | int | None]] = {}
    for group in ["all", *sorted({e for e in engines if e})]:
        rows = [i for i, e in enumerate(engines) if group in ("all", e)]
        sub_y = [y[i] for i in rows]
        figures[group] = {
            "clips": len(rows),
            **{lab: sub_y.count(lab) for lab in task.labels},
            "probe_macro_f1": probe(x[rows], sub_y, [speakers[i] for i in rows], task.labels),
            **{
                f"median {name} ({lab})": float(np.median(x[[i for i in rows if y[i] == lab], k]))
                for k, name in enumerate(FEATURES)
                for lab in task.labels
                if any(y[i] == lab for i in rows)
            },
        }
        f1 = figures[group]["probe_macro_f1"]
        print(
            f"{task.name} [{group}, {len(rows)} clips]: probe macro-F1 on voice measures: "
            + (f"{f1:.3f}" if f1 is not None else "n/a")
        )
    if args.json:
        result = {
            "suite": str(args.suite),
            "task": task.name,
            "features": list(FEATURES),
            "clips_without_a_measure": int(missing.any(axis=1).sum()),
            "groups": figures,
            "date": time.strftime("%Y-%m-%d"),
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
