"""Issue 23 (items 1, 4-7): no input is ever overwritten, no NaN reaches the output, every failure is named."""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from runtime_testlib import SR, write_manifest
from typer.testing import CliRunner

from slap_edge.bundle_reader import BundleError, load_bundle
from slap_edge.cli import app
from slap_edge.prompts import PromptBank, PromptsError, load_bank, parse_prompts
from slap_edge.runtime.decision import DecisionConfig
from slap_edge.runtime.outputs import message_json
from slap_edge.runtime.sources import AudioSourceError, FileSource, StdinSource
from slap_edge.runtime.stream import Event, Scores

runner = CliRunner()
PROMPTS = "[gender]\nfemale = a woman is speaking\nmale = a man is speaking\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAP_EDGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def bank_file(speaker_bank: PromptBank, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "speaker.npz"
    speaker_bank.save(path)
    return path


@pytest.fixture
def bundle_copy(test_bundle: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "b"
    shutil.copytree(test_bundle, dest)
    return dest


def _tone(path: Path, seconds: float, channels: int = 1, rate: int = SR, anti_phase: bool = False) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    if channels == 2:
        x = np.stack([x, -x if anti_phase else x], axis=1)
    sf.write(str(path), x, rate, subtype="PCM_16")
    return path


def _listen(args: list[str], stdin: bytes | None = None):  # -> click.testing.Result
    return runner.invoke(app, ["listen", *args], input=stdin)


# -- item 1: --out never destroys an input, and is written through a temporary file -----------------------------------
def test_listen_out_equal_to_the_input_audio_is_refused(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    wav = _tone(tmp_path / "x.wav", 2.0)
    before = wav.read_bytes()
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", "--out", str(wav)])
    assert res.exit_code == 2, res.output
    assert "--out" in res.stderr and str(wav) in res.stderr and "input" in res.stderr
    assert wav.read_bytes() == before


def test_listen_out_equal_to_the_prompts_or_bank_is_refused(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    wav = _tone(tmp_path / "x.wav", 2.0)
    prompts = tmp_path / "p.txt"
    prompts.write_text(PROMPTS)
    # Another spelling of the same file (a relative path through a symlinked folder) is the same file.
    (tmp_path / "alias").symlink_to(tmp_path)
    res = _listen(
        ["-b", str(test_bundle), "-p", str(prompts), "-i", str(wav), "--fast", "-o", str(tmp_path / "alias" / "p.txt")]
    )
    assert res.exit_code == 2, res.output
    assert prompts.read_text() == PROMPTS
    bank_before = bank_file.read_bytes()
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", "-o", str(bank_file)])
    assert res.exit_code == 2 and bank_file.read_bytes() == bank_before


def test_listen_out_is_replaced_only_when_the_run_ends(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    wav = _tone(tmp_path / "x.wav", 2.0)
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")
    # A run that fails while starting (a bad --webhook) leaves the previous output as it was.
    res = _listen(
        [
            "-b",
            str(test_bundle),
            "--bank",
            str(bank_file),
            "-i",
            str(wav),
            "--fast",
            "-o",
            str(out),
            "--webhook",
            "ftp://x",
        ]
    )
    assert res.exit_code == 2 and out.read_text() == "previous run\n"
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", "-o", str(out)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(m["type"] in ("scores", "event") for m in lines)
    assert not list(tmp_path.glob("*partial*"))


def test_prompts_embed_refuses_to_overwrite_its_input(test_bundle: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text(PROMPTS)
    res = runner.invoke(app, ["prompts", "embed", str(prompts), "-b", str(test_bundle), "-o", str(prompts)])
    assert res.exit_code == 2 and "input" in res.stderr and prompts.read_text() == PROMPTS


# -- item 4: an unclosed [section header is an error ---------------------------------------------------------------
@pytest.mark.parametrize("header", ["[gender", "gender]", "[gender]]x", "[ gender"])
def test_unclosed_section_header_is_an_error(header: str, tmp_path: Path) -> None:
    text = f"{header}\nfemale = a woman is speaking\nmale = a man is speaking\n"
    with pytest.raises(PromptsError, match=r"p\.txt:1: .*section header"):
        parse_prompts(text, "p.txt")
    path = tmp_path / "p.txt"
    path.write_text(text)
    res = runner.invoke(app, ["prompts", "check", str(path)])
    assert res.exit_code == 2 and f"{path}:1:" in res.stderr


# -- item 5: NaN, inf and absurd numbers are refused by name, and the JSON writer never writes NaN ---------------------
@pytest.mark.parametrize("scale", [float("nan"), float("inf"), 1e300, 0.0, -3.0])
def test_manifest_logit_scale_must_be_finite_and_sane(bundle_copy: Path, scale: float) -> None:
    write_manifest(bundle_copy, scoring={"logit_scale": scale})
    with pytest.raises(BundleError, match="logit_scale"):
        load_bundle(bundle_copy)
    res = runner.invoke(app, ["bundle", "verify", str(bundle_copy)])
    assert res.exit_code == 1 and "logit_scale" in res.stderr and "ok:" not in res.stdout


@pytest.mark.parametrize("key", ["window_s", "hop_s"])
def test_manifest_times_must_be_finite(bundle_copy: Path, key: str) -> None:
    audio = json.loads((bundle_copy / "manifest.json").read_text())["audio"]
    audio[key] = float("nan")
    write_manifest(bundle_copy, audio=audio)
    with pytest.raises(BundleError, match=key):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--smoothing", "nan"), ("--min-dwell", "inf"), ("--gate-db", "nan"), ("--hop", "nan"), ("--smoothing", "-1")],
)
def test_listen_refuses_nonfinite_options(
    test_bundle: Path, bank_file: Path, tmp_path: Path, option: str, value: str
) -> None:
    wav = _tone(tmp_path / "x.wav", 2.0)
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", option, value])
    assert res.exit_code == 2, res.output
    assert option in res.stderr and value in res.stderr


def test_decision_config_refuses_nan() -> None:
    for kw in ({"smoothing_s": math.nan}, {"min_dwell_s": math.inf}, {"enter_prob": math.nan}, {"margin": math.nan}):
        with pytest.raises(ValueError, match="finite|must be"):
            DecisionConfig(**kw)


def test_json_writer_never_writes_bare_nan() -> None:
    scores = Scores(1, 0.5, (0.0, 0.5), float("nan"), None, {"total": 1.0}, 0)
    with pytest.raises(ValueError, match="NaN|finite"):
        message_json(scores)
    event = Event(2, 0.5, "gender", "female", float("inf"), None)
    with pytest.raises(ValueError, match="NaN|finite"):
        message_json(event)


# -- item 6: unclear failures get a name ----------------------------------------------------------------------------
def test_truncated_tar_gz_bundle_is_a_named_error(test_bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(test_bundle, arcname="b")
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"cut\.tar\.gz"):
        load_bundle(cut)
    res = runner.invoke(app, ["bundle", "verify", str(cut)])
    assert res.exit_code == 1 and "cut.tar.gz" in res.stderr and "Aborted" not in res.output
    res = _listen(["-b", str(cut), "-p", "x.txt"])
    assert res.exit_code == 2 and "cut.tar.gz" in res.stderr and "Aborted" not in res.output
    # A gzip stream cut inside its header, and a tar whose members end early, are named too.
    (tmp_path / "head.tar.gz").write_bytes(gzip.compress(b"x" * 100)[:5])
    with pytest.raises(BundleError, match="head.tar.gz"):
        load_bundle(tmp_path / "head.tar.gz")


def test_corrupt_bank_npz_is_a_named_error(tmp_path: Path, bank_file: Path, test_bundle: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bank_file.read_bytes()[:300])
    with pytest.raises(PromptsError, match=r"bad\.npz"):
        load_bank(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(PromptsError, match=r"junk\.npz"):
        load_bank(junk)
    res = _listen(["-b", str(test_bundle), "--bank", str(bad), "-i", "x.wav"])
    assert res.exit_code == 2 and "bad.npz" in res.stderr


def test_missing_input_file_says_no_such_file(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.wav"
    with pytest.raises(AudioSourceError, match=f"no such file: {missing}"):
        FileSource(missing, SR)
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(missing)])
    assert res.exit_code == 2 and f"no such file: {missing}" in res.stderr and "System error" not in res.stderr


# -- item 7: the minor ones -------------------------------------------------------------------------------------------
def test_closed_stdin_is_an_error_like_an_empty_file(test_bundle: Path, bank_file: Path) -> None:
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", "-"], stdin=b"")
    assert res.exit_code == 2, res.output
    assert "stdin" in res.stderr and "no audio" in res.stderr


def test_clip_shorter_than_the_shortest_window_is_named(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    wav = _tone(tmp_path / "short.wav", 0.3)
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", "-f", "jsonl"])
    assert res.exit_code == 2, res.output
    assert "0.30 s" in res.stderr and "0.50 s" in res.stderr


def test_anti_phase_stereo_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wav = _tone(tmp_path / "anti.wav", 1.0, channels=2, anti_phase=True)
    with caplog.at_level(logging.WARNING, logger="slap_edge.runtime"):
        list(FileSource(wav, SR, realtime=False).chunks())
    assert any("anti-phase" in r.getMessage() and "anti.wav" in r.getMessage() for r in caplog.records)
    caplog.clear()
    same = _tone(tmp_path / "same.wav", 1.0, channels=2)
    with caplog.at_level(logging.WARNING, logger="slap_edge.runtime"):
        list(FileSource(same, SR, realtime=False).chunks())
    assert not any("anti-phase" in r.getMessage() for r in caplog.records)


def test_hop_longer_than_the_window_is_refused(test_bundle: Path, bank_file: Path, tmp_path: Path) -> None:
    wav = _tone(tmp_path / "x.wav", 2.0)
    res = _listen(["-b", str(test_bundle), "--bank", str(bank_file), "-i", str(wav), "--fast", "--hop", "5"])
    assert res.exit_code == 2 and "--hop" in res.stderr and "window" in res.stderr


@pytest.mark.parametrize("rate", [1, 100, 10_000_000])
def test_absurd_stdin_rate_is_refused(rate: int) -> None:
    with pytest.raises(AudioSourceError, match="--rate"):
        StdinSource(SR, rate=rate, stream=io.BytesIO(b""))


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"fLaC\x00\x00\x00\x22", "FLAC"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
        (b"OggS\x00\x02", "Ogg"),
        (b"ID3\x04", "MP3"),
    ],
)
def test_container_bytes_on_raw_stdin_are_refused(head: str, name: str) -> None:
    src = StdinSource(SR, rate=SR, stream=io.BytesIO(head + b"\x00" * 4000))
    with pytest.raises(AudioSourceError, match=name):
        list(src.chunks())


def test_a_long_listen_writes_a_partial_file_and_renames_it_on_sigterm(
    test_bundle: Path, bank_file: Path, voices: dict, tmp_path: Path
) -> None:
    """While `listen --out OUT` runs, lines go (flushed) to OUT.*.partial, which can be followed; SIGTERM renames it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")
    cmd = [sys.executable, "-m", "slap_edge.cli", "listen", "-b", str(test_bundle), "--bank", str(bank_file)]
    cmd += ["-i", str(voices["two_path"]), "-o", str(out)]  # paced in real time: the run lasts the clip's length
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        partial: list[Path] = []
        while time.monotonic() < deadline and not (partial and partial[0].stat().st_size > 0):
            time.sleep(0.2)
            partial = list(tmp_path.glob("out.jsonl.*.partial"))
        assert partial, "no partial file while listening"
        assert out.read_text() == "previous run\n", "OUT is replaced only at the end"
        followed = [json.loads(line) for line in partial[0].read_text().splitlines() if line.endswith("}")]
        assert followed and followed[0]["type"] == "scores"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) >= len(followed) and lines[: len(followed)] == followed
    assert not list(tmp_path.glob("*.partial"))
