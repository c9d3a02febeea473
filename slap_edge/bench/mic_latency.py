"""Mic-to-event latency: the time from a known onset in a played file to the event line of `slap-edge listen`.

Each trial starts a fresh `slap-edge listen --format jsonl` recording from the virtual microphone (the real
PortAudio capture path), waits for its first scores line (so it is listening), plays a file that is silent until a
known onset and then speaks, and timestamps the first event line as it arrives on the pipe.

The prompt bank is a latency probe, so that the figure does not depend on how well the model is trained: one
section whose ``voice`` prompt is the model's own mean embedding of the played voice and whose ``other`` prompt is
its opposite. Once the voice reaches the model the decision must go to ``voice``; how long that takes is what is
measured. The same file run offline through the runtime's Listener gives the algorithmic part (hop, speech gate,
smoothing, dwell); the rest is capture buffering, processing and the pipe.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.bench.schedule import ScheduleError, speech_schedule
from slap_edge.bench.stats import summarize

PROBE_SECTION = "probe"


def trial_audio(sample_rate: int, lead_s: float = 1.5, speech_s: float = 4.0) -> tuple[np.ndarray, float]:
    """Silence for ``lead_s``, then ``speech_s`` of espeak-ng speech, then 0.5 s of silence; returns (wave, onset)."""
    speech = speech_schedule(speech_s, sample_rate).wave
    nz = np.flatnonzero(np.abs(speech) > 1e-3)
    if nz.size == 0:
        raise ScheduleError("espeak-ng produced silence")
    speech = speech[nz[0] :]  # the onset is the first audible sample, not the start of espeak's own padding
    lead = np.zeros(int(round(lead_s * sample_rate)), dtype=np.float32)
    tail = np.zeros(int(round(0.5 * sample_rate)), dtype=np.float32)
    return np.concatenate([lead, speech, tail]).astype(np.float32), lead_s


def probe_bank(bundle: Any, wave: np.ndarray, onset_s: float) -> Any:
    """The latency-probe bank (see the module docstring) for ``bundle``, from the speech part of ``wave``."""
    from slap_edge.prompts import PromptBank, PromptSet, Section
    from slap_edge.runtime.engine import Engine
    from slap_edge.scoring import l2_normalize

    prompts = PromptSet(
        (Section(PROBE_SECTION, ("voice", "other"), ("the played voice", "anything else")),),
        source="<latency probe>",
    )
    placeholder = PromptBank(prompts, np.eye(2, bundle.embed_dim, dtype=np.float32), bundle.model_id)
    engine = Engine(bundle, placeholder)  # only its embed() is used, to embed the played voice
    win = bundle.window_samples
    start = int(onset_s * bundle.sample_rate)
    speech = wave[start:]
    ends = range(win, speech.shape[0] + 1, max(1, win // 2))
    embs = [engine.embed(speech[e - win : e]) for e in ends] or [engine.embed(speech)]
    voice = l2_normalize(np.mean(embs, axis=0))
    return PromptBank(prompts, np.stack([voice, -voice]).astype(np.float32), bundle.model_id)


def offline_event_delays(bundle: Any, bank: Any, wave: np.ndarray, onset_s: float, phases: int = 8) -> list[float]:
    """Seconds of audio from the onset to the first event when the file runs through the Listener offline.

    A live stream's hop grid falls anywhere relative to the onset, so the file is run ``phases`` times with the onset
    shifted by a fraction of a hop each time; the spread is the hop's quantisation.
    """
    from slap_edge.runtime.engine import Engine
    from slap_edge.runtime.listener import Listener
    from slap_edge.runtime.stream import Event

    engine = Engine(bundle, bank)
    delays = []
    for k in range(phases):
        shift = int(round(k / phases * bundle.hop_s * bundle.sample_rate))
        listener = Listener(engine)
        shifted = np.concatenate([np.zeros(shift, dtype=np.float32), wave])
        for msg in listener.feed(shifted):
            if isinstance(msg, Event):
                delays.append(msg.t - onset_s - shift / bundle.sample_rate)
                break
    return delays


def _reader(stream: Any, out: queue.Queue) -> None:
    for line in stream:
        out.put((time.time(), line))
    out.put((time.time(), None))


def mic_trial(
    mic: Any, bundle: str, bank_path: Path, wav_path: Path, onset_s: float, timeout_s: float = 30.0
) -> dict[str, Any]:
    """One trial: a fresh `listen` on the virtual microphone; the onset-to-event-line time in seconds."""
    cmd = [sys.executable, "-m", "slap_edge.cli", "listen", "--bundle", bundle, "--bank", str(bank_path)]
    cmd += ["--format", "jsonl"]
    proc = subprocess.Popen(cmd, env=mic.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    player = None
    try:
        deadline = time.time() + timeout_s
        t_play = None
        while time.time() < deadline:
            try:
                t_line, line = lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                err = proc.stderr.read()[-1500:] if proc.stderr else ""
                raise RuntimeError(f"slap-edge listen ended before an event (exit {proc.wait()}):\n{err}")
            msg = json.loads(line)
            if t_play is None and msg.get("type") == "scores":
                t_play = time.time()  # listening: the microphone delivers; now play the file
                player = mic.play(wav_path)
            elif t_play is not None and msg.get("type") == "event":
                return {
                    "latency_s": t_line - (t_play + onset_s),
                    "event": msg,
                    "event_audio_t": msg["t"],
                }
        raise RuntimeError(f"no event line within {timeout_s:.0f} s (listening started: {t_play is not None})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if player is not None:
            player.kill()
            player.wait()


def measure_mic_latency(bundle_path: str, trials: int = 5, lead_s: float = 1.5) -> dict[str, Any]:
    """Repeat `mic_trial` ``trials`` times on one virtual microphone; returns per-trial and summary figures."""
    import soundfile as sf

    from slap_edge.bench.machine import machine_info
    from slap_edge.bench.vmic import VirtualMic
    from slap_edge.bundle_reader import load_bundle

    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    bundle = load_bundle(bundle_path)
    wave, onset_s = trial_audio(bundle.sample_rate, lead_s=lead_s)
    bank = probe_bank(bundle, wave, onset_s)
    algorithmic = [1000.0 * d for d in offline_event_delays(bundle, bank, wave, onset_s)]
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slap-miclat-") as tmp:
        wav_path, bank_path = Path(tmp) / "trial.wav", Path(tmp) / "probe.npz"
        sf.write(str(wav_path), wave, bundle.sample_rate, subtype="PCM_16")
        bank.save(bank_path)
        with VirtualMic() as mic:
            for _ in range(trials):
                try:
                    results.append(mic_trial(mic, str(bundle.root), bank_path, wav_path, onset_s))
                except RuntimeError as exc:
                    failures.append(str(exc))
    latencies_ms = [1000.0 * r["latency_s"] for r in results]
    return {
        "machine": machine_info(),
        "bundle": {"path": bundle_path, "model": bundle.model_name, "hop_s": bundle.hop_s, "window_s": bundle.window_s},
        "trials": trials,
        "onset_s": onset_s,
        "mic_to_event_ms": summarize(latencies_ms).to_dict() if latencies_ms else None,
        "per_trial_ms": latencies_ms,
        "algorithmic_ms": summarize(algorithmic).to_dict() if algorithmic else None,
        "failures": failures,
        "method": (
            "fresh `slap-edge listen --format jsonl` per trial on a PulseAudio virtual microphone (PortAudio default "
            "device); the file starts playing (paplay) when the first scores line arrives; latency = arrival time of "
            "the first event line - (play start + onset). Includes paplay's start-up. Latency-probe prompt bank: the "
            "model's own embedding of the played voice vs its opposite."
        ),
    }
