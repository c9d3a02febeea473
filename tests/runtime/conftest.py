"""Fixtures of the runtime tests: a tiny test bundle exported here, espeak-ng voices, a virtual microphone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from runtime_testlib import (
    EMBED_DIM,
    HIGH_VOICE,
    LOW_VOICE,
    MODEL_ID,
    SR,
    TEXT_A,
    TEXT_B,
    VirtualMic,
    build_test_bundle,
    espeak,
    window_embeddings,
)

from slap_edge.prompts import PromptBank, PromptSet, Section


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two voices (low male, high female): separate clips for the bank and a concatenation for the stream."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    d = tmp_path_factory.mktemp("voices")
    low_a = espeak(LOW_VOICE, TEXT_A, d / "low_a.wav")
    high_a = espeak(HIGH_VOICE, TEXT_A, d / "high_a.wav")
    low_b = espeak(LOW_VOICE, TEXT_B, d / "low_b.wav")
    high_b = espeak(HIGH_VOICE, TEXT_B, d / "high_b.wav")
    import soundfile as sf

    two = np.concatenate([low_b, high_b]).astype(np.float32)
    sf.write(str(d / "two_voices.wav"), two, SR, subtype="PCM_16")
    two, _ = sf.read(str(d / "two_voices.wav"), dtype="float32")
    return {
        "low_a": low_a,
        "high_a": high_a,
        "two": two,
        "change_s": len(low_b) / SR,
        "two_path": d / "two_voices.wav",
        "dir": d,
    }


@pytest.fixture(scope="session")
def speaker_bank(test_bundle: Path, voices: dict) -> PromptBank:
    """A 'speaker' section whose two prompts are the model's mean embeddings of each voice (clips A)."""
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.runtime.engine import Engine
    from slap_edge.scoring import l2_normalize

    bundle = load_bundle(test_bundle)
    prompts = PromptSet((Section("speaker", ("low", "high"), ("a low male voice", "a high female voice")),))
    # Any bank will do to open an engine whose embed() makes the real one.
    probe = Engine(bundle, PromptBank(prompts, np.eye(2, EMBED_DIM, dtype=np.float32), MODEL_ID))
    low = l2_normalize(window_embeddings(probe, voices["low_a"]).mean(axis=0))
    high = l2_normalize(window_embeddings(probe, voices["high_a"]).mean(axis=0))
    return PromptBank(prompts, np.stack([low, high]), MODEL_ID)


@pytest.fixture
def vmic_daemon(tmp_path_factory: pytest.TempPathFactory):
    """A private PulseAudio daemon (virtual microphone) that a test may stop and start again; stopped at the end."""
    mic = VirtualMic(Path(tmp_path_factory.mktemp("vmic")))
    problem = mic.missing_tools()
    if problem:
        pytest.skip(problem)
    started = mic.start()
    if started is not None:
        pytest.skip(started)
    try:
        yield mic
    finally:
        mic.stop()


@pytest.fixture
def vmic(vmic_daemon: VirtualMic) -> dict[str, str]:
    """The environment a recorder or player needs to use the virtual microphone."""
    return vmic_daemon.env
