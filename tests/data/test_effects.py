"""Channel effects and vocoder voice transforms do what their names say, measured on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from slap_edge.data import effects, vocoder

SR = 16000


def _vowel(seconds: float = 1.5, f0: float = 120.0, seed: int = 0) -> np.ndarray:
    """A voiced vowel-like signal: a glottal pulse train through two formant resonators."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    phase = np.cumsum(np.full(n, f0) * (1 + 0.01 * np.sin(2 * np.pi * 3 * t))) / SR
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    x = pulses + 0.001 * rng.standard_normal(n)
    for freq, bw in ((700.0, 90.0), (1200.0, 110.0)):
        r = np.exp(-np.pi * bw / SR)
        x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r], x)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    freqs, power = signal.welch(x, SR, nperseg=1024)
    return float(power[(freqs >= lo) & (freqs < hi)].sum())


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
@pytest.mark.parametrize("kind", effects.NOISE_KINDS)
def test_noise_is_added_at_the_requested_snr(snr: float, kind: str) -> None:
    speech = _vowel()
    noisy = effects.add_noise(speech, SR, snr, kind, np.random.default_rng(1))
    noise = noisy - speech
    speech_level = 10 ** (effects.rms_dbfs(speech) / 20)
    measured = 20 * np.log10(speech_level / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
    assert measured == pytest.approx(snr, abs=0.2)


def test_telephone_removes_the_out_of_band_energy() -> None:
    rng = np.random.default_rng(2)
    wide = rng.standard_normal(SR * 2).astype(np.float32) * 0.1
    phone = effects.telephone(wide, SR, rng)
    assert len(phone) == len(wide)
    in_band = _band_energy(phone, 500, 3000) / _band_energy(wide, 500, 3000)
    assert in_band > 0.3
    assert _band_energy(phone, 4500, 8000) / _band_energy(wide, 4500, 8000) < 1e-3
    assert _band_energy(phone, 0, 150) / _band_energy(wide, 0, 150) < 0.05


def test_reverberation_decays_at_the_requested_rate() -> None:
    rng = np.random.default_rng(3)
    rir = effects.room_impulse_response(SR, rt60_s=0.8, rng=rng)
    # Schroeder backward integration: the energy decay curve falls 60 dB in RT60; measure the -5..-25 dB slope.
    edc = 10 * np.log10(np.cumsum(rir[::-1] ** 2)[::-1] / np.sum(rir**2))
    start, stop = np.argmax(edc < -5), np.argmax(edc < -25)
    rt60 = 3 * (stop - start) / SR
    assert rt60 == pytest.approx(0.8, rel=0.25)
    click = np.zeros(SR, np.float32)
    click[100] = 1.0
    wet = effects.reverberate(click, SR, 0.8, rng)
    assert np.sum(wet[100 + SR // 10 :] ** 2) > 0.01 * np.sum(wet**2)


@pytest.mark.parametrize("label", ["quiet", "normal", "loud"])
def test_loudness_normalisation_hits_the_target(label: str) -> None:
    target = effects.LOUDNESS_DBFS[label]
    out = effects.normalize_loudness(_vowel() * 0.01, target)
    assert np.max(np.abs(out)) <= 0.97 + 1e-6
    assert effects.rms_dbfs(out) == pytest.approx(target, abs=1.5)


def test_loud_quiet_order_survives_normalisation() -> None:
    levels = [
        effects.rms_dbfs(effects.normalize_loudness(_vowel(), effects.LOUDNESS_DBFS[k])) for k in effects.LOUDNESS_DBFS
    ]
    assert levels[0] < levels[1] < levels[2]


def test_trim_silence_keeps_only_the_sound() -> None:
    x = np.concatenate([np.zeros(8000, np.float32), _vowel(0.5), np.zeros(4000, np.float32)])
    trimmed = effects.trim_silence(x, SR)
    assert abs(len(trimmed) - 8000) <= 2 * SR // 100


def test_unknown_channel_is_named() -> None:
    with pytest.raises(ValueError, match="telephone"):
        effects.apply_channel(_vowel(), SR, "radio", np.random.default_rng(0))


def test_median_f0_and_voicing_of_a_vowel() -> None:
    assert vocoder.median_f0(_vowel(f0=140.0), SR) == pytest.approx(140.0, rel=0.05)
    assert vocoder.voiced_fraction(_vowel(), SR) > 0.8


def test_f0_shift_and_whisper() -> None:
    rng = np.random.default_rng(4)
    vowel = _vowel(f0=110.0)
    up, f0 = vocoder.transform_voice(vowel, SR, vocoder.VoiceTransform(f0_scale=1.8), rng)
    assert f0 == pytest.approx(198.0, rel=0.05)
    assert vocoder.median_f0(up, SR) == pytest.approx(198.0, rel=0.08)
    whisper, f0 = vocoder.transform_voice(vowel, SR, vocoder.VoiceTransform(quality="whisper"), rng)
    assert f0 is None
    assert vocoder.voiced_fraction(whisper, SR) < 0.2


@pytest.mark.parametrize("quality", ["breathy", "hoarse", "creaky"])
def test_qualities_lower_the_harmonics_to_noise_ratio(quality: str) -> None:
    vowel = _vowel(f0=130.0)
    rng = np.random.default_rng(5)
    modal, _ = vocoder.transform_voice(vowel, SR, vocoder.VoiceTransform(formant_scale=1.001), rng)
    changed, _ = vocoder.transform_voice(vowel, SR, vocoder.VoiceTransform(quality=quality), rng)
    assert vocoder.harmonics_to_noise_ratio(changed, SR) < vocoder.harmonics_to_noise_ratio(modal, SR) - 3.0


def test_tremor_modulates_the_amplitude_at_its_rate() -> None:
    vowel = _vowel(seconds=3.0, f0=150.0)
    out, _ = vocoder.transform_voice(
        vowel, SR, vocoder.VoiceTransform(quality="tremor", tremor_hz=5.0, tremor_depth=0.1), np.random.default_rng(6)
    )
    envelope = np.sqrt(np.convolve(out.astype(np.float64) ** 2, np.ones(320) / 320, mode="same"))[::160]
    freqs, power = signal.periodogram(envelope - envelope.mean(), fs=100.0)
    band = (freqs > 3.5) & (freqs < 7.5)
    assert power[band].max() > 5 * np.median(power[(freqs > 10) & (freqs < 40)])
    assert 4.0 < freqs[band][np.argmax(power[band])] < 6.5


def test_default_tremor_moves_f0_by_several_percent_at_its_rate() -> None:
    vowel = _vowel(seconds=3.0, f0=150.0)
    out, _ = vocoder.transform_voice(
        vowel, SR, vocoder.VoiceTransform(quality="tremor", tremor_hz=5.0), np.random.default_rng(7)
    )
    f0 = vocoder.analyze(out, SR).f0
    f0 = f0[f0 > 0][20:-20]
    # The vowel itself wobbles by 1 %; the tremor by the default depth of 10 %.
    assert np.std(np.log(f0)) > 0.05
    freqs, power = signal.periodogram(np.log(f0) - np.log(f0).mean(), fs=100.0)
    assert 4.0 < freqs[np.argmax(power)] < 6.5


def test_age_markers_add_jitter_and_noise_but_keep_the_pitch() -> None:
    vowel = _vowel(f0=130.0)
    plain, f0_plain = vocoder.transform_voice(vowel, SR, vocoder.VoiceTransform(f0_scale=1.1), np.random.default_rng(8))
    aged, f0_aged = vocoder.transform_voice(
        vowel, SR, vocoder.VoiceTransform(f0_scale=1.1, age_markers=1.0), np.random.default_rng(8)
    )
    assert f0_aged == pytest.approx(f0_plain, rel=0.02)
    assert vocoder.harmonics_to_noise_ratio(aged, SR) < vocoder.harmonics_to_noise_ratio(plain, SR) - 1.5
    # Milder than a hoarse voice: an old voice, not a sick one.
    hoarse, _ = vocoder.transform_voice(
        vowel, SR, vocoder.VoiceTransform(f0_scale=1.1, quality="hoarse"), np.random.default_rng(8)
    )
    assert vocoder.harmonics_to_noise_ratio(hoarse, SR) < vocoder.harmonics_to_noise_ratio(aged, SR) - 1.0
    assert not vocoder.VoiceTransform(age_markers=0.5).is_identity()


def test_vocal_tract_warp_moves_the_formants_up() -> None:
    env = np.exp(-0.5 * ((np.arange(513) - 100) / 8.0) ** 2)[None, :] + 1e-6
    warped = vocoder.warp_envelope(env, 1.2)
    assert int(np.argmax(warped[0])) == 120


def test_unknown_quality_is_named() -> None:
    with pytest.raises(ValueError, match="breathy"):
        vocoder.transform_voice(_vowel(), SR, vocoder.VoiceTransform(quality="growl"), np.random.default_rng(0))
