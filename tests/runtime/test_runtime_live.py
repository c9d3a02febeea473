"""Live paths: webhook and MQTT outputs, input overflow and device loss, and a real PortAudio capture."""

from __future__ import annotations

import http.server
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from runtime_testlib import SR

from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import PromptBank
from slap_edge.runtime import Engine, Event, Listener, MicSource, Scores

CLI = [sys.executable, "-m", "slap_edge.cli"]


def _event(seq: int) -> Event:
    return Event(seq, seq * 0.25, "speaker", "low", 0.9, None)


@pytest.fixture(scope="module")
def engine(test_bundle: Path, speaker_bank: PromptBank) -> Engine:
    return Engine(load_bundle(test_bundle), speaker_bank)


# -- webhook ------------------------------------------------------------------------------------------------------
def test_webhook_slow_then_down_never_stalls(tmp_path: Path) -> None:
    from slap_edge.runtime.outbox import Outbox
    from slap_edge.runtime.outputs import WebhookSink

    received: list[dict] = []

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.05)
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sink = WebhookSink(
        f"http://127.0.0.1:{server.server_port}/hook", Outbox(tmp_path / "o.sqlite3"), timeout_s=1.0, backoff_s=0.05
    )
    t0 = time.perf_counter()
    for i in range(20):
        sink.send(_event(i))
    # Sending is a local disk write, never a wait for the network (the endpoint takes 1 s for these 20).
    assert time.perf_counter() - t0 < 0.5, "sending must never wait for the network"
    deadline = time.monotonic() + 10
    while sink.sent < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.sent == 20 and sink.dropped == 0
    assert [r["seq"] for r in received] == list(range(20))
    server.shutdown()
    server.server_close()
    for i in range(20, 23):
        sink.send(_event(i))
    t0 = time.perf_counter()
    sink.close(wait_s=2.0)
    assert time.perf_counter() - t0 < 6.0
    assert sink.sent == 20 and sink.pending == 3 and sink.dropped == 0 and sink.failures >= 1


# -- MQTT ---------------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_mosquitto(port: int, tmp: Path) -> subprocess.Popen:
    conf = tmp / f"mosquitto_{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("mosquitto did not start")


def test_mqtt_events_heartbeat_and_reconnect(tmp_path: Path) -> None:
    mqtt = pytest.importorskip("paho.mqtt.client", reason="the mqtt extra (paho-mqtt) is not installed")
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    from slap_edge.runtime.outputs import MqttSink

    port = _free_port()
    broker = _start_mosquitto(port, tmp_path)
    got: list[tuple[str, dict | str]] = []
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub", clean_session=False)
    subscribed = threading.Event()
    sub.on_connect = lambda c, *a: c.subscribe("kiosk/test/#", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()

    def on_message(c, userdata, msg) -> None:
        payload = msg.payload.decode()
        got.append((msg.topic, json.loads(payload) if payload.startswith("{") else payload))

    sub.on_message = on_message
    sub.reconnect_delay_set(0.2, 1)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sink = None
    try:
        assert subscribed.wait(5)
        from slap_edge.runtime.outbox import Outbox

        sink = MqttSink(f"mqtt://127.0.0.1:{port}/kiosk/test", Outbox(tmp_path / "o.sqlite3"), heartbeat_s=0.3)
        assert sink.connected.wait(5)
        sink.update_stats({"hops": 3})
        sink.send(_event(1))
        deadline = time.monotonic() + 5
        while not any(t == "kiosk/test/heartbeat" for t, _ in got) and time.monotonic() < deadline:
            time.sleep(0.05)
        events = [p for t, p in got if t == "kiosk/test/event"]
        assert events and events[0]["seq"] == 1 and events[0]["type"] == "event"
        beat = next(p for t, p in got if t == "kiosk/test/heartbeat")
        assert beat["type"] == "heartbeat" and beat["hops"] == 3
        # The broker goes away and comes back: the listener's client reconnects and delivers what was queued.
        broker.terminate()
        broker.wait(5)
        deadline = time.monotonic() + 5
        while sink.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        sink.send(_event(2))
        broker = _start_mosquitto(port, tmp_path)
        assert sink.connected.wait(15), "did not reconnect"
        deadline = time.monotonic() + 10
        while not any(t == "kiosk/test/event" and p["seq"] == 2 for t, p in got) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(t == "kiosk/test/event" and p["seq"] == 2 for t, p in got)
    finally:
        if sink is not None:
            sink.close()
        sub.loop_stop()
        sub.disconnect()
        broker.terminate()
        broker.wait(5)


# -- a stream that reports overflow, and one that vanishes ------------------------------------------------------------
class ArrayInputStream:
    """Stands in for sounddevice.InputStream: calls the callback from a thread with blocks of an array, like
    PortAudio does, with the status flags we choose (PulseAudio never reports overflow, see the vmic notes)."""

    def __init__(self, audio: np.ndarray, overflow_blocks: set[int], stall_after: int | None = None, **kwargs) -> None:
        self.audio = audio
        self.callback = kwargs["callback"]
        self.rate = kwargs["samplerate"]
        self.block = 800
        self.overflow_blocks = overflow_blocks
        self.stall_after = stall_after
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        for i, start in enumerate(range(0, len(self.audio), self.block)):
            if self._stop.is_set() or (self.stall_after is not None and i >= self.stall_after):
                return  # a device unplugged: the callbacks simply stop
            block = self.audio[start : start + self.block, None].astype(np.float32)
            flag = _Status(i in self.overflow_blocks)
            self.callback(block, len(block), SimpleNamespace(inputBufferAdcTime=time.monotonic()), flag)
            delay = t0 + (start + self.block) / self.rate / 4 - time.monotonic()  # 4x real time keeps tests short
            if delay > 0:
                time.sleep(delay)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def abort(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self.active = False


class _Status:
    def __init__(self, overflow: bool) -> None:
        self.input_overflow = overflow

    def __bool__(self) -> bool:
        return self.input_overflow


def test_input_overflow_is_counted(engine: Engine, voices: dict) -> None:
    audio = voices["two"][: 4 * SR]
    streams: list[ArrayInputStream] = []

    def factory(**kwargs) -> ArrayInputStream:
        streams.append(ArrayInputStream(audio, {5, 9, 30}, **kwargs))
        return streams[-1]

    listener = Listener(engine)
    mic = MicSource(SR, stream_factory=factory, poll_s=0.02, stall_s=5.0)
    msgs = []
    for msg in listener.iter_source(mic):
        msgs.append(msg)
        if isinstance(msg, Scores) and msg.t >= 3.5:
            listener.stop()
    summary = listener.summary()
    assert summary.overflows == 3 and summary.hops >= 10
    assert "input overflows 3" in summary.describe()


def test_device_lost_and_back(engine: Engine, voices: dict) -> None:
    audio = voices["two"][: 3 * SR]
    streams: list[ArrayInputStream] = []

    def factory(**kwargs) -> ArrayInputStream:
        # The first device stalls after 1 s of audio; the one opened on reconnect works.
        streams.append(ArrayInputStream(audio, set(), stall_after=20 if not streams else None, **kwargs))
        return streams[-1]

    listener = Listener(engine)
    mic = MicSource(SR, stream_factory=factory, poll_s=0.02, stall_s=0.3)
    ts = []
    for msg in listener.iter_source(mic):
        if isinstance(msg, Scores):
            ts.append(msg.t)
            if msg.t > 3.5:
                listener.stop()
    assert mic.reconnects == 1 and len(streams) == 2, ts
    jumps = np.diff(ts)
    assert jumps.max() > 0.3, "the time axis keeps the gap the device left"
    assert sum(t > 1.5 for t in ts) >= 4, "scores carry on after the device returns"


# -- a real PortAudio capture from a virtual microphone -------------------------------------------------------------
@pytest.mark.audio
def test_listen_from_the_default_microphone(
    vmic: dict, test_bundle: Path, speaker_bank: PromptBank, voices: dict, tmp_path: Path
) -> None:
    bank = tmp_path / "bank.npz"
    speaker_bank.save(bank)
    # The default gate (Silero VAD). It used to score the windows at the end of the playback that hold the high
    # voice's tail and mostly silence, which the test bundle calls "low" (an extra event at 14 s); a scored window
    # now needs speech in its last second (VadGate.recent_s).
    proc = subprocess.Popen(
        [*CLI, "listen", "--bundle", str(test_bundle), "--bank", str(bank), "--format", "jsonl"],
        env=vmic,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[dict] = []
    first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first.wait(20), "no scores from the microphone"
        subprocess.run(["paplay", "--device=vmic", str(voices["two_path"])], env=vmic, check=True, timeout=60)
        time.sleep(3.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        reader.join(5)
    assert proc.returncode == 0, err
    assert "hops" in err and "input overflows" in err
    events = [m for m in lines if m["type"] == "event"]
    assert [e["label"] for e in events] == ["low", "high"], events
    heard = [m for m in lines if m["type"] == "scores" and m["sections"]]
    assert heard and heard[0]["t"] < events[1]["t"]


def test_live_table_shows_sections_and_events() -> None:
    import io

    from rich.console import Console

    from slap_edge.runtime.outputs import LiveSink

    buf = io.StringIO()
    sink = LiveSink(console=Console(file=buf, force_terminal=True, width=120))
    sections = {"gender": {"top": "female", "probs": {"female": 0.87, "male": 0.13}}}
    sink.send(Scores(1, 2.5, (0.0, 2.5), 0.9, sections, {"total": 1.6}, 0))
    sink.send(Event(2, 2.5, "gender", "female", 0.84, None))
    sink.send(Scores(3, 2.75, (0.0, 2.75), 0.02, None, {"total": 0.1}, 0))
    sink.close()
    text = buf.getvalue()
    assert "gender" in text and "female" in text and "0.87" in text and "█" in text
    assert "no speech" in text and "None -> female" in text


def test_missing_portaudio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from slap_edge.runtime.sources import AudioSourceError, import_sounddevice

    real_import = builtins.__import__

    def no_portaudio(name: str, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioSourceError, match="apt-get install -y libportaudio2"):
        import_sounddevice()


@pytest.mark.audio
def test_devices_and_a_bad_device(vmic: dict, test_bundle: Path, speaker_bank: PromptBank, tmp_path: Path) -> None:
    res = subprocess.run([*CLI, "devices"], env=vmic, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "input devices:" in res.stdout and "pulse" in res.stdout, res.stdout + res.stderr
    bank = tmp_path / "bank.npz"
    speaker_bank.save(bank)
    res = subprocess.run(
        [*CLI, "listen", "--bundle", str(test_bundle), "--bank", str(bank), "--device", "no-such-mic"],
        env=vmic,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "no-such-mic" in res.stderr and "input devices:" in res.stderr, res.stderr


@pytest.mark.audio
def test_native_rate_capture_is_resampled(vmic: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A device that does not offer 16 kHz is opened at its native rate and resampled with soxr."""
    import os

    import soundfile as sf

    for key in ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_SINK", "PULSE_SOURCE", "HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(key, vmic[key])
    import sounddevice as sd

    sd._terminate()
    sd._initialize()

    def no_16k(*args, samplerate: float | None = None, **kwargs) -> None:
        if samplerate == SR:
            raise sd.PortAudioError("Invalid sample rate")

    monkeypatch.setattr(sd, "check_input_settings", no_16k)
    rate = 48000
    t = np.arange(int(1.0 * rate)) / rate
    chirp = (0.5 * np.sin(2 * np.pi * (200 * t + 1500 * t**2))).astype(np.float32)
    wav = tmp_path / "chirp.wav"
    sf.write(str(wav), chirp, rate, subtype="PCM_16")
    mic = MicSource(SR, device="default", poll_s=0.02)
    assert mic.device_rate != SR
    got: list[np.ndarray] = []
    player = None
    t0 = time.monotonic()
    for chunk in mic.chunks():
        if isinstance(chunk, np.ndarray):
            got.append(chunk)
        if player is None and time.monotonic() - t0 > 0.3:
            player = subprocess.Popen(["paplay", "--device=vmic", str(wav)], env={**os.environ, **vmic})
        if player is not None and player.poll() is not None and time.monotonic() - t0 > 2.5:
            mic.stop()
    rec = np.concatenate(got)
    import soxr

    ref = soxr.resample(chirp, rate, SR)
    c = np.correlate(rec, ref, mode="valid")
    energy = np.sqrt(np.convolve(rec**2, np.ones(len(ref)), mode="valid"))
    ncc = float(np.max(c / (energy * np.linalg.norm(ref) + 1e-9)))
    assert ncc > 0.9, ncc
    sd._terminate()
    sd._initialize()


@pytest.mark.audio
@pytest.mark.slow
def test_microphone_lost_and_back_with_pulseaudio(
    vmic_daemon, test_bundle: Path, speaker_bank: PromptBank, voices: dict, tmp_path: Path
) -> None:
    """The sound server dies mid-run and comes back: listen logs it, retries, and scores the voices afterwards."""
    bank = tmp_path / "bank.npz"
    speaker_bank.save(bank)
    env = vmic_daemon.env
    proc = subprocess.Popen(
        [*CLI, "listen", "--bundle", str(test_bundle), "--bank", str(bank), "--format", "jsonl", "-v"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[dict] = []
    reader = threading.Thread(target=lambda: lines.extend(json.loads(x) for x in proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lines, "no scores from the microphone"
        time.sleep(1.0)
        vmic_daemon.stop()
        time.sleep(2.0)
        assert vmic_daemon.start() is None
        n_before = len(lines)
        deadline = time.monotonic() + 30
        while len(lines) == n_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(lines) > n_before, "no scores after the device came back"
        subprocess.run(["paplay", "--device=vmic", str(voices["two_path"])], env=env, check=True, timeout=60)
        time.sleep(3.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        reader.join(5)
    assert proc.returncode == 0, err
    assert "stopped delivering audio" in err and "is back" in err
    ts = [m["t"] for m in lines if m["type"] == "scores"]
    assert max(np.diff(ts)) > 1.5, "the time axis keeps the gap"
    assert [m["label"] for m in lines if m["type"] == "event"] == ["low", "high"]
