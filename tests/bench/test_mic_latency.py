"""Mic-to-event latency through a real PortAudio capture of a virtual microphone (one short trial)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from slap_edge.bench.mic_latency import measure_mic_latency, offline_event_delays, probe_bank, trial_audio

pytestmark = pytest.mark.audio


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_offline_delay_is_within_gate_dwell_and_a_hop(student_bundle: Path) -> None:
    from slap_edge.bundle_reader import load_bundle

    bundle = load_bundle(student_bundle)
    wave, onset = trial_audio(bundle.sample_rate, lead_s=1.0, speech_s=3.0)
    delays = offline_event_delays(bundle, probe_bank(bundle, wave, onset), wave, onset, phases=4)
    assert len(delays) == 4  # the probe bank always reaches a decision once the voice is heard
    # Never before the onset; at most gate + dwell + a few hops after it.
    assert all(0.0 < d <= 3.0 for d in delays), delays


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_mic_to_event_one_trial(student_bundle: Path) -> None:
    from slap_edge.bench.vmic import VirtualMicError

    try:
        r = measure_mic_latency(str(student_bundle), trials=1, lead_s=1.0)
    except VirtualMicError as exc:
        pytest.skip(f"no virtual microphone here: {exc}")
    assert not r["failures"], r["failures"]
    (latency,) = r["per_trial_ms"]
    assert 0.0 < latency < 5000.0
    assert r["algorithmic_ms"]["n"] == 8
