"""The audio schedule (deterministic, right length, readable errors) and the process measurements."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slap_edge.bench.process import Meter, current_rss_mb, peak_rss_mb, process_start_epoch
from slap_edge.bench.schedule import ScheduleError, file_schedule, make_schedule, speech_schedule, tone_schedule


def test_tone_schedule_is_deterministic_and_exact() -> None:
    a, b = tone_schedule(2.5, 16000), tone_schedule(2.5, 16000)
    assert a.wave.dtype == np.float32 and a.wave.shape == (40000,)
    np.testing.assert_array_equal(a.wave, b.wave)
    assert np.max(np.abs(a.wave)) <= 1.0 and a.source == "tones" and "espeak-ng" in a.note
    assert a.seconds == pytest.approx(2.5)


def test_file_schedule_loops_and_resamples(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 330 * t)], axis=1)
    sf.write(str(tmp_path / "a.wav"), stereo, 8000)  # 1 s, stereo, 8 kHz
    s = file_schedule([tmp_path / "a.wav"], 2.5, 16000)
    assert s.wave.shape == (40000,) and s.source == "files"
    np.testing.assert_allclose(s.wave[:16000], s.wave[16000:32000], atol=1e-6)  # repeated to fill


def test_file_schedule_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(ScheduleError, match="bad.wav"):
        file_schedule([bad], 1.0, 16000)
    with pytest.raises(ScheduleError, match="seconds"):
        make_schedule(0, 16000)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_speech_schedule_is_speech_and_repeatable() -> None:
    a, b = speech_schedule(4.0, 16000), speech_schedule(4.0, 16000)
    assert a.source == "espeak-ng" and a.wave.shape == (64000,)
    np.testing.assert_array_equal(a.wave, b.wave)
    assert 0.4 < float(np.max(np.abs(a.wave))) <= 0.5 + 1e-6


def test_meter_and_memory() -> None:
    with Meter() as m:
        end = time.perf_counter() + 0.15
        while time.perf_counter() < end:  # busy: CPU time ~ wall time
            pass
    assert m.usage.wall_s >= 0.15
    assert 0.3 * m.usage.wall_s < m.usage.cpu_s <= m.usage.wall_s * 1.1 + 0.01
    with Meter() as idle:
        time.sleep(0.1)
    assert idle.usage.cpu_s < 0.05 and idle.usage.cpu_percent < 50
    before = peak_rss_mb()
    block = np.ones(40_000_000 // 8)  # 40 MB, touched
    assert peak_rss_mb() >= before and current_rss_mb() > 40 and float(block.sum()) > 0
    started = process_start_epoch()
    assert started is not None and time.time() - 24 * 3600 < started <= time.time()
