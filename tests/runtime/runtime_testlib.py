"""Helpers of the runtime tests: a tiny test bundle exported here and espeak-ng voices.

The bundle's audio model is waveform -> log-mel (the project's front end) -> mean and std over time -> a random
linear map -> L2 norm, exported to ONNX with the metadata a real bundle carries. Its speaker prompt bank is built from
the model's own embeddings of two very different espeak-ng voices, so scores separate the voices although the model
is untrained.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from slap_edge.bundle_reader import FORMAT, FORMAT_VERSION
from slap_edge.config import FrontendConfig, to_dict
from slap_edge.fingerprints import sha256_file

SR = 16000
EMBED_DIM = 32
MODEL_ID = "runtime-test-0001"
WINDOW_S = 1.5
HOP_S = 0.25
LOW_VOICE = ["-v", "en+m3", "-p", "15", "-s", "150"]
HIGH_VOICE = ["-v", "en+f4", "-p", "90", "-s", "150"]
TEXT_A = "the quick brown fox jumps over the lazy dog while the sun is shining brightly on the hills"
TEXT_B = "a kiosk listens to people who pass by and describes their voices in plain words every day"
WORDS = sorted(
    set(
        [
            "a",
            "woman",
            "man",
            "child",
            "is",
            "speaking",
            "high",
            "low",
            "voice",
            "an",
            "adult",
            "elderly",
            "person",
            "the",
        ]
    )
)


def espeak(args: list[str], text: str, path: Path) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng, return it at 16 kHz (peak 0.5) and write it to ``path``."""
    import soundfile as sf
    import soxr

    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", *args, "-w", str(raw), text], check=True, capture_output=True)
    x, rate = sf.read(str(raw), dtype="float32")
    raw.unlink()
    x = soxr.resample(x, rate, SR).astype(np.float32)
    x = 0.5 * x / max(1e-6, float(np.abs(x).max()))
    sf.write(str(path), x, SR, subtype="PCM_16")
    x, _ = sf.read(str(path), dtype="float32")
    return x


def _export(
    module, args, path: Path, names: list[str], dims: dict, metadata: dict[str, str], out: str = "embedding"
) -> None:
    import onnx
    import torch

    with torch.no_grad():
        program = torch.onnx.export(
            module.eval(), args, input_names=names, dynamo=True, dynamic_shapes=dims, opset_version=18
        )
    proto = program.model_proto
    # The exporter names the output itself; the bundle's convention is "embedding".
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [out if o == old else o for o in node.output]
    proto.graph.output[0].name = out
    del proto.metadata_props[:]
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(path))


def build_test_bundle(folder: Path, with_text: bool = True, seed: int = 0) -> Path:
    """Export the tiny model (and, with ``with_text``, a tiny text tower + tokenizer) as a bundle folder."""
    torch = pytest.importorskip("torch")
    from torch import nn

    from slap_edge.frontend import create_log_mel_module

    cfg = FrontendConfig()
    torch.manual_seed(seed)

    class TinyAudio(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.logmel = create_log_mel_module(cfg)
            self.proj = nn.Linear(2 * cfg.n_mels, EMBED_DIM)

        def forward(self, waveform: torch.Tensor) -> torch.Tensor:
            f = self.logmel(waveform)
            mu = f.mean(dim=-1)
            sd = (f - mu.unsqueeze(-1)).pow(2).mean(dim=-1).sqrt()
            e = self.proj(torch.cat([mu, sd], dim=-1))
            return e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    class TinyText(nn.Module):
        def __init__(self, vocab: int) -> None:
            super().__init__()
            self.emb = nn.Embedding(vocab, EMBED_DIM)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            m = attention_mask.unsqueeze(-1).to(torch.float32)
            e = (self.emb(input_ids) * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
            return e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    folder.mkdir(parents=True, exist_ok=True)
    frontend = to_dict(cfg)
    meta = {
        "model_id": MODEL_ID,
        "model_name": "runtime-test",
        "embed_dim": str(EMBED_DIM),
        "sample_rate": str(SR),
        "window_s": repr(WINDOW_S),
        "frontend": json.dumps(frontend, sort_keys=True),
    }
    wave = torch.randn(2, int(WINDOW_S * SR)) * 0.1
    dyn = torch.export.Dim.DYNAMIC
    _export(TinyAudio(), (wave,), folder / "audio.onnx", ["waveform"], {"waveform": {0: dyn, 1: dyn}}, meta)
    if with_text:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

        vocab = {"[PAD]": 0, "[UNK]": 1} | {w: i + 2 for i, w in enumerate(WORDS)}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.save(str(folder / "tokenizer.json"))
        ids = torch.tensor([[2, 3, 4, 0], [5, 6, 7, 8]])
        mask = (ids > 0).long()
        text_meta = {"model_id": MODEL_ID, "embed_dim": str(EMBED_DIM), "input_bounds": '{"max_tokens": 32}'}
        _export(
            TinyText(len(vocab)),
            (ids, mask),
            folder / "text.onnx",
            ["input_ids", "attention_mask"],
            {"input_ids": {0: dyn, 1: dyn}, "attention_mask": {0: dyn, 1: dyn}},
            text_meta,
            out="text_embedding",
        )
    (folder / "MODEL_CARD.md").write_text("# runtime test model\nRandom weights; for tests only.\n")
    write_manifest(folder)
    return folder


def write_manifest(folder: Path, **overrides: object) -> None:
    """(Re)write manifest.json with checksums of every file in ``folder``."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "name": "runtime-test",
            "id": MODEL_ID,
            "embed_dim": EMBED_DIM,
            "precision": "fp32",
            "teacher": None,
            "training_data": "none (random weights)",
        },
        "audio": {"sample_rate": SR, "window_s": WINDOW_S, "hop_s": HOP_S, "frontend": to_dict(FrontendConfig())},
        "scoring": {"logit_scale": 100.0},
        "files": {},
        "created_by": "tests/runtime/conftest.py",
    }
    manifest.update(overrides)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            name = path.relative_to(folder).as_posix()
            manifest["files"][name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def window_embeddings(engine, x: np.ndarray) -> np.ndarray:
    win, hop = int(WINDOW_S * SR), int(HOP_S * SR)
    return np.stack([engine.embed(x[s : s + win]) for s in range(0, len(x) - win + 1, hop)])


# -- a virtual microphone: a private PulseAudio daemon whose null-sink monitor is the default source ----------------
# (the recipe of ../shared/tools/vmic: a loopback keeps the idle null sink ticking, suspend/resume resets its clock)
VMIC_PA = """.fail
load-module module-native-protocol-unix auth-anonymous=1 socket={sock}
load-module module-null-sink sink_name=vmic format=s16le rate=48000 channels=1 channel_map=mono
load-module module-remap-source source_name=vmic_mic master=vmic.monitor channels=1 channel_map=mono
load-module module-null-sink sink_name=vmic_drain format=s16le rate=48000 channels=1 channel_map=mono
load-module module-loopback source=vmic.monitor sink=vmic_drain latency_msec=30 {keep}
load-module module-null-sink sink_name=vmic_spk format=s16le rate=48000 channels=2
set-default-sink vmic_spk
set-default-source vmic_mic
suspend-sink vmic 1
suspend-sink vmic 0
"""


class VirtualMic:
    """Start and stop a private PulseAudio daemon in ``folder``; ``env`` is what a recorder or player needs."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.run = folder / "xdg"
        self.sock = self.run / "pulse" / "native"
        self.pid: int | None = None
        self.env = {
            **os.environ,
            "HOME": str(folder / "home"),
            "XDG_RUNTIME_DIR": str(self.run),
            "PULSE_SERVER": f"unix:{self.sock}",
            "PULSE_COOKIE": str(folder / "home" / "cookie"),
            "PULSE_SINK": "vmic_spk",
            "PULSE_SOURCE": "vmic_mic",
            "VMIC_STATE_DIR": str(folder),
        }

    @staticmethod
    def missing_tools() -> str | None:
        for tool in ("pulseaudio", "paplay", "pacat"):
            if not shutil.which(tool):
                return f"{tool} not found: apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"
        return None

    def start(self) -> str | None:
        """Start the daemon and wait until audio flows from the virtual mic; returns a problem or None."""
        (self.run / "pulse").mkdir(parents=True, exist_ok=True)
        (self.dir / "home").mkdir(exist_ok=True)
        os.chmod(self.run, 0o700)
        os.chmod(self.run / "pulse", 0o700)
        self.sock.unlink(missing_ok=True)
        script = self.dir / "vmic.pa"
        script.write_text(VMIC_PA.format(sock=self.sock, keep="source_dont_move=true sink_dont_move=true"))
        args = ["pulseaudio", "--daemonize=yes", "-n", "-F", str(script), "--system=false", "--exit-idle-time=-1"]
        args += ["--use-pid-file=yes", "--no-cpu-limit", "--disallow-exit=yes", f"--log-target=file:{self.dir}/pa.log"]
        proc = subprocess.run(args, env=self.env, capture_output=True, timeout=30)
        if proc.returncode != 0:
            return f"pulseaudio could not start: {proc.stderr.decode(errors='replace')[-300:]}"
        self.pid = int((self.run / "pulse" / "pid").read_text().strip())
        for _ in range(10):
            if len(self._probe(3200, timeout_s=3.0)) >= 3200:
                return None
        self.stop()
        return "the virtual microphone started but delivers no audio"

    def _probe(self, nbytes: int, timeout_s: float) -> bytes:
        cmd = ["pacat", "-r", "--device=vmic_mic", "--raw", "--rate=16000", "--channels=1", "--format=s16le"]
        probe = subprocess.Popen(
            [*cmd, "--latency-msec=20"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        data = b""
        deadline = time.monotonic() + timeout_s
        try:
            while len(data) < nbytes and time.monotonic() < deadline and probe.stdout is not None:
                ready, _, _ = select.select([probe.stdout], [], [], 0.1)
                if ready:
                    chunk = os.read(probe.stdout.fileno(), nbytes - len(data))
                    if not chunk:
                        break
                    data += chunk
        finally:
            probe.kill()
            probe.wait()
        return data

    def stop(self) -> None:
        """Stop only the daemon this object started, and wait until it is gone."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        for _ in range(50):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None
