from __future__ import annotations

import numpy as np
import pytest

from slap_edge.config import FrontendConfig
from slap_edge.frontend import StreamingLogMel, log_mel_numpy

CONFIGS = [
    FrontendConfig(),
    FrontendConfig(n_mels=128, n_fft=512, win_length=400, hop_length=160, mel_scale="htk", f_min=0.0),
    FrontendConfig(n_mels=40, n_fft=256, win_length=256, hop_length=128, window="hamming", f_max=7600.0),
]


def _random_audio(seed: int, n: int, scale: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.uniform(-1.0, 1.0, n)).astype(np.float32)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_torch_matches_numpy(cfg: FrontendConfig) -> None:
    torch = pytest.importorskip("torch")
    from slap_edge.frontend import create_log_mel_module

    module = create_log_mel_module(cfg)
    for seed, scale in [(0, 1.0), (1, 0.01)]:
        wave = _random_audio(seed, 16000 * 2 + 123, scale)
        ref = log_mel_numpy(wave, cfg)
        got = module(torch.from_numpy(wave)[None])[0].detach().numpy()
        assert got.shape == ref.shape == (cfg.n_mels, cfg.num_frames(wave.size))
        assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize("cfg", CONFIGS)
def test_fft_and_export_convolution_paths_agree(cfg: FrontendConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    import slap_edge.frontend as frontend

    module = frontend.create_log_mel_module(cfg)
    wave = torch.from_numpy(np.stack([_random_audio(s, 16000 + 77) for s in (2, 3)]))
    fft = module(wave)
    monkeypatch.setattr(frontend, "_tracing", lambda: True)
    conv = module(wave)
    assert conv.shape == fft.shape and float((conv - fft).abs().max()) <= 1e-4


def _librosa_log_mel(librosa, wave: np.ndarray, cfg: FrontendConfig) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The reference: librosa's mel spectrogram with the same settings, then our log floor and normalisation."""
    mel = librosa.feature.melspectrogram(
        y=wave.astype(np.float64),
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=cfg.window,
        center=False,
        power=cfg.power,
        n_mels=cfg.n_mels,
        fmin=cfg.f_min,
        fmax=cfg.f_max,
        htk=cfg.mel_scale == "htk",
    )
    return (np.log(mel + cfg.log_floor) - cfg.norm_mean) / cfg.norm_std


@pytest.mark.parametrize("cfg", CONFIGS)
def test_numpy_matches_librosa(cfg: FrontendConfig) -> None:
    librosa = pytest.importorskip("librosa")
    wave = _random_audio(2, 16000 * 2)
    ref = _librosa_log_mel(librosa, wave, cfg)
    got = log_mel_numpy(wave, cfg)
    assert np.abs(got - ref).max() <= 1e-3


@pytest.mark.parametrize("cfg", CONFIGS)
def test_torch_matches_librosa(cfg: FrontendConfig) -> None:
    librosa = pytest.importorskip("librosa")
    torch = pytest.importorskip("torch")
    from slap_edge.frontend import create_log_mel_module

    wave = _random_audio(8, 16000 * 2)
    ref = _librosa_log_mel(librosa, wave, cfg)
    got = create_log_mel_module(cfg)(torch.from_numpy(wave)[None])[0].detach().numpy()
    assert np.abs(got - ref).max() <= 1e-3


def test_onnx_export_matches_torch(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from slap_edge.frontend import create_log_mel_module

    cfg = FrontendConfig()
    module = create_log_mel_module(cfg).eval()
    path = tmp_path / "frontend.onnx"
    torch.onnx.export(
        module,
        (torch.zeros(1, 16000),),
        str(path),
        input_names=["waveform"],
        output_names=["logmel"],
        dynamic_axes={"waveform": {0: "batch", 1: "samples"}},
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wave = np.stack([_random_audio(3, 24_001), _random_audio(4, 24_001, 0.05)])
    got = session.run(None, {"waveform": wave})[0]
    ref = module(torch.from_numpy(wave)).detach().numpy()
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 5e-4


@pytest.mark.parametrize("chunk", [1, 160, 320, 97, 1601, 4000])
def test_streaming_equals_whole_clip(chunk: int) -> None:
    cfg = FrontendConfig()
    wave = _random_audio(5, 16000 + 777)
    whole = log_mel_numpy(wave, cfg)
    stream = StreamingLogMel(cfg)
    parts = [stream.accept(wave[i : i + chunk]) for i in range(0, wave.size, chunk)]
    streamed = np.concatenate(parts, axis=1)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= 1e-5


def test_streaming_random_chunk_sizes_keeps_history_bounded() -> None:
    cfg = FrontendConfig(hop_length=160)
    rng = np.random.default_rng(7)
    wave = _random_audio(6, 3 * 16000)
    stream = StreamingLogMel(cfg)
    parts, i = [], 0
    while i < wave.size:
        size = int(rng.integers(1, 2000))
        parts.append(stream.accept(wave[i : i + size]))
        i += size
        assert stream._pending.size < cfg.n_fft + cfg.hop_length + 2000
    streamed = np.concatenate(parts, axis=1)
    whole = log_mel_numpy(wave, cfg)
    assert np.abs(streamed - whole).max() <= 1e-5


def test_short_clip_gives_no_frames() -> None:
    cfg = FrontendConfig()
    assert log_mel_numpy(np.zeros(cfg.n_fft - 1), cfg).shape == (cfg.n_mels, 0)
