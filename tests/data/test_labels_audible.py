"""Measured checks that the synthetic audio carries its labels.

Speakers are picked from a large plan so each group is represented, one clean clip each is rendered, and the written
WAVs are measured with estimators independent of the generator: Praat's autocorrelation pitch (parselmouth) for F0
and voicing, Praat's cross-correlation harmonicity for HNR, speech duration after silence trimming for rate.
The fast test renders about 60 clips; the slow one about 300.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from slap_edge.data import effects, vocoder
from slap_edge.data.synth import SynthConfig, plan_corpus, render_clip

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

# (age_group, sex or None, quality) -> clips in the fast run; the slow run takes five times as many.
GROUPS: dict[tuple[str, str | None, str], int] = {
    ("adult", "female", "modal"): 10,
    ("adult", "male", "modal"): 10,
    ("child", None, "modal"): 8,
    ("adult", None, "whisper"): 6,
    ("adult", None, "breathy"): 8,
    ("adult", None, "hoarse"): 8,
    ("elderly", None, "tremor"): 4,
}


def _praat_pitch(wave: np.ndarray) -> tuple[float | None, float]:
    """(median F0 over voiced frames, voiced share of the speech frames) by Praat's autocorrelation method."""
    import parselmouth

    sound = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=16000)
    f0 = sound.to_pitch_ac(time_step=0.01, pitch_floor=50.0, pitch_ceiling=600.0).selected_array["frequency"]
    hop = 160
    n = min(len(f0), len(wave) // hop)
    energy = 10 * np.log10(np.mean(wave[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-12)
    speech = energy > np.percentile(energy, 95) - 35
    # Praat's frames are centred a little later than ours; the voiced share only needs to be approximate.
    voiced = f0[:n][speech] > 0
    median = float(np.median(f0[:n][speech][voiced])) if voiced.sum() >= 5 else None
    return median, float(voiced.mean()) if voiced.size else 0.0


def _measure(scale: int, tmp_path: Path) -> list[dict[str, Any]]:
    config = SynthConfig(out=tmp_path, clips=6000, seed=21, speakers=6000)
    wanted = {key: n * scale for key, n in GROUPS.items()}
    chosen = []
    for plan in plan_corpus(config):
        s = plan.speaker
        for key in ((s.age_group, s.sex, s.quality), (s.age_group, None, s.quality)):
            if wanted.get(key, 0) > 0:
                wanted[key] -= 1
                chosen.append(dataclasses.replace(plan, channel="clean", loudness="normal"))
                break
    assert not any(wanted.values()), f"plan too small for {wanted}"
    rows = []
    for plan in chosen:
        record = render_clip(plan, config)
        wave, rate = sf.read(tmp_path / record.path, dtype="float32")
        speech = effects.trim_silence(wave, rate)
        f0, voiced = _praat_pitch(speech)
        rows.append(
            {
                **record.attributes,
                "f0": f0,
                "voiced": voiced,
                "hnr": vocoder.harmonics_to_noise_ratio(speech, rate),
                "seconds_per_word": len(speech) / rate / len(record.text.split()) if record.text else None,
            }
        )
    return rows


def _median(rows: list[dict[str, Any]], key: str, **where: Any) -> float:
    values = [r[key] for r in rows if r[key] is not None and all(r[k] == v for k, v in where.items())]
    assert len(values) >= 2, f"too few clips with {where} to measure {key}"
    return float(np.median(values))


def _check(rows: list[dict[str, Any]]) -> None:
    assert _median(rows, "f0", sex="female", age_group="adult", quality="modal") > _median(
        rows, "f0", sex="male", age_group="adult", quality="modal"
    )
    assert _median(rows, "f0", age_group="child", quality="modal") > 1.15 * _median(
        rows, "f0", age_group="adult", quality="modal"
    )
    by_sex: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["age_group"] == "adult" and r["pitch"] is not None and r["f0"] is not None:
            by_sex[r["sex"]][r["pitch"]].append(r["f0"])
    for sex, levels in by_sex.items():
        if len(levels["high"]) >= 2 and len(levels["low"]) >= 2:
            assert np.median(levels["high"]) > np.median(levels["low"]), sex
    assert sum(len(v["high"]) >= 2 and len(v["low"]) >= 2 for v in by_sex.values()) >= 1
    assert _median(rows, "seconds_per_word", rate="slow") > 1.3 * _median(rows, "seconds_per_word", rate="fast")
    assert _median(rows, "voiced", quality="whisper") < 0.2
    assert _median(rows, "voiced", quality="modal") > 0.4
    modal_hnr = _median(rows, "hnr", quality="modal")
    assert _median(rows, "hnr", quality="breathy") < modal_hnr - 1.0
    assert _median(rows, "hnr", quality="hoarse") < modal_hnr - 1.0


def test_audio_carries_its_labels(tmp_path: Path) -> None:
    _check(_measure(1, tmp_path))


@pytest.mark.slow
def test_audio_carries_its_labels_on_300_clips(tmp_path: Path) -> None:
    _check(_measure(5, tmp_path))
