"""Sources and the `listen` command: files of any format, stdin, bad input, prompt banks on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from runtime_testlib import SR

from slap_edge.prompts import PromptBank
from slap_edge.runtime.sources import AudioSourceError, FileSource, StdinSource, read_audio

CLI = [sys.executable, "-m", "slap_edge.cli"]


def _listen(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "listen", *args], capture_output=True, text=True, timeout=120, **kw)


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def bank_file(speaker_bank: PromptBank, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "speaker.npz"
    speaker_bank.save(path)
    return path


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(44100, 2, "PCM_24"), (8000, 1, "PCM_U8"), (48000, 1, "FLOAT"), (22050, 2, "PCM_32"), (16000, 1, "PCM_16")],
)
def test_files_of_any_format_are_converted(tmp_path: Path, rate: int, channels: int, subtype: str) -> None:
    t = np.arange(int(0.5 * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"x_{rate}_{subtype}.wav"
    sf.write(str(path), data, rate, subtype=subtype)
    whole = read_audio(path, SR)
    assert abs(len(whole) - SR // 2) <= 2 and 0.4 < np.abs(whole).max() < 0.6
    streamed = np.concatenate(list(FileSource(path, SR, realtime=False, chunk_s=0.037).chunks()))
    assert abs(len(streamed) - len(whole)) <= 2
    n = min(len(streamed), len(whole)) - 200
    np.testing.assert_allclose(streamed[200:n], whole[200:n], atol=2e-2)


def test_corrupt_and_empty_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioSourceError, match="corrupt.wav: cannot read audio"):
        FileSource(bad, SR)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0), SR)
    with pytest.raises(AudioSourceError, match="empty.wav: the audio file is empty"):
        FileSource(empty, SR)
    with pytest.raises(AudioSourceError, match="empty.wav"):
        read_audio(empty, SR)


def test_stdin_source_reads_s16le(tmp_path: Path) -> None:
    import io

    x = (np.sin(np.arange(4801) / 10) * 16000).astype("<i2")
    stereo = np.stack([x, x], axis=1).tobytes() + b"\x01"  # a stray odd byte at the end is ignored
    got = np.concatenate(list(StdinSource(SR, rate=SR, channels=2, stream=io.BytesIO(stereo)).chunks()))
    np.testing.assert_allclose(got, x / 32768.0, atol=1e-6)


def test_listen_file_jsonl(test_bundle: Path, bank_file: Path, voices: dict) -> None:
    res = _listen(
        [
            "--bundle",
            str(test_bundle),
            "--bank",
            str(bank_file),
            "--input",
            str(voices["two_path"]),
            "--fast",
            "--format",
            "jsonl",
        ]
    )
    assert res.returncode == 0, res.stderr
    lines = _lines(res.stdout)
    events = [m for m in lines if m["type"] == "event"]
    assert [e["label"] for e in events] == ["low", "high"]
    assert events[1]["t"] > voices["change_s"]
    assert "hops" in res.stderr and "p99" in res.stderr


def test_listen_stdin_matches_file(test_bundle: Path, bank_file: Path, voices: dict, tmp_path: Path) -> None:
    # The file is 16-bit PCM, so these are exactly its samples.
    pcm = np.clip(np.round(voices["two"] * 32768), -32768, 32767).astype("<i2").tobytes()
    out = tmp_path / "out.jsonl"
    args = ["--bundle", str(test_bundle), "--bank", str(bank_file), "--input", "-", "--rate", str(SR)]
    res = subprocess.run(
        [*CLI, "listen", *args, "--format", "jsonl", "--out", str(out)], input=pcm, capture_output=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    lines = _lines(out.read_text())
    assert [e["label"] for e in lines if e["type"] == "event"] == ["low", "high"]
    res_file = _listen(
        [
            "--bundle",
            str(test_bundle),
            "--bank",
            str(bank_file),
            "--input",
            str(voices["two_path"]),
            "--fast",
            "--format",
            "jsonl",
        ]
    )
    file_scores = [m for m in _lines(res_file.stdout) if m["type"] == "scores"]
    stdin_scores = [m for m in lines if m["type"] == "scores"]
    assert len(file_scores) == len(stdin_scores)
    for a, b in zip(file_scores, stdin_scores, strict=True):
        if a["sections"]:
            pa, pb = a["sections"]["speaker"]["probs"], b["sections"]["speaker"]["probs"]
            assert abs(pa["low"] - pb["low"]) < 1e-5


def test_listen_prompts_with_text_model_and_prompts_embed(test_bundle: Path, voices: dict, tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("[gender]\nfemale = a woman is speaking\nmale = a man is speaking\n")
    env_cache = {"SLAP_EDGE_CACHE": str(tmp_path / "cache")}
    import os

    env = {**os.environ, **env_cache}
    res = subprocess.run(
        [*CLI, "prompts", "embed", str(prompts), "--bundle", str(test_bundle), "-o", str(tmp_path / "bank.npz")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    res = _listen(
        [
            "--bundle",
            str(test_bundle),
            "--prompts",
            str(prompts),
            "--bank",
            str(tmp_path / "bank.npz"),
            "--input",
            str(voices["two_path"]),
            "--fast",
            "--format",
            "jsonl",
        ],
        env=env,
    )
    assert res.returncode == 0, res.stderr
    scored = [m for m in _lines(res.stdout) if m["type"] == "scores" and m["sections"]]
    assert scored and set(scored[0]["sections"]["gender"]["probs"]) == {"female", "male"}


def test_listen_bad_input_is_named(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("[gender]\nfemale = a woman\n")
    res = _listen(["--bundle", str(test_bundle), "--prompts", str(bad), "--input", "x.wav"])
    assert res.returncode == 2 and f"{bad}:1:" in res.stderr and "at least two" in res.stderr
    res = _listen(["--bundle", str(test_bundle), "--bank", str(bank_file), "--input", str(tmp_path / "none.wav")])
    assert res.returncode == 2 and "none.wav" in res.stderr
    res = _listen(["--bundle", str(tmp_path / "nobundle"), "--bank", str(bank_file)])
    assert res.returncode == 2 and "nobundle" in res.stderr


def test_listen_in_the_base_install_without_torch(test_bundle: Path, bank_file: Path, voices: dict) -> None:
    """Acceptance: `slap-edge listen ... --input clip.wav --format jsonl` from a venv with the base install only."""
    import os

    venv = Path(os.environ.get("SLAP_BASE_VENV", Path(__file__).resolve().parents[2] / ".venv-base"))
    exe = venv / "bin" / "slap-edge"
    if not (venv / ".installed").exists() or not exe.exists():
        pytest.skip(f"no base-only venv at {venv} (made by `make setup-base` or tests/test_base_install.py)")
    if subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.fail(f"{venv} has torch; it is not a base install")
    res = subprocess.run(
        [
            str(exe),
            "listen",
            "--bundle",
            str(test_bundle),
            "--bank",
            str(bank_file),
            "--input",
            str(voices["two_path"]),
            "--fast",
            "--format",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert [m["label"] for m in _lines(res.stdout) if m["type"] == "event"] == ["low", "high"]
