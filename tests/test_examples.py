"""Every script in examples/ runs as it is, here on the demo recording instead of a microphone."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slap_edge.demo import DEMO_RECORDING

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def run_example(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_every_example_has_a_test() -> None:
    tested = {"listen_file.py", "listen_microphone.py", "two_microphones_one_engine.py", "mqtt_kiosk.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_listen_file() -> None:
    lines = [json.loads(line) for line in run_example("listen_file.py", str(DEMO_RECORDING)).stdout.splitlines()]
    gender = [m for m in lines if m["type"] == "event" and m["section"] == "gender"]
    assert [e["label"] for e in gender][:2] == ["male", "female"]
    assert any(m["type"] == "scores" and m["sections"] for m in lines)


def test_listen_microphone_on_a_file_in_real_time() -> None:
    t0 = time.monotonic()
    out = run_example("listen_microphone.py", "--input", str(DEMO_RECORDING), "--seconds", "2.5").stdout
    assert 2.0 < time.monotonic() - t0 < 60
    assert "gender: male" in out and "gender: female" not in out  # stopped after 2.5 s, before the woman speaks
    assert "audio 2." in out or "audio 3." in out


def test_two_microphones_share_one_engine() -> None:
    out = run_example(
        "two_microphones_one_engine.py", "--input", str(DEMO_RECORDING), "--input", str(DEMO_RECORDING)
    ).stdout
    name = DEMO_RECORDING.name
    lines = [line for line in out.splitlines() if line.startswith(f"[{name}]")]
    assert sum("gender: male" in line for line in lines) == 2 and sum("gender: female" in line for line in lines) == 2
    assert sum("done: 27 hops" in line for line in lines) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mqtt_kiosk_publishes_events_to_a_local_broker(tmp_path: Path) -> None:
    mqtt = pytest.importorskip("paho.mqtt.client", reason="the mqtt extra (paho-mqtt) is not installed")
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto not installed (apt-get install mosquitto): no local broker to publish to")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got: list[tuple[str, str]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="examples-test")
    sub.on_connect = lambda c, *a: c.subscribe("kiosk/ex/#", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, msg: got.append((msg.topic, msg.payload.decode()))
    try:
        for _ in range(50):
            try:
                sub.connect("127.0.0.1", port)
                break
            except OSError:
                time.sleep(0.1)
        sub.loop_start()
        assert subscribed.wait(5), "could not subscribe to the test broker"
        run_example(
            "mqtt_kiosk.py",
            *("--broker", f"mqtt://127.0.0.1:{port}/kiosk/ex", "--input", str(DEMO_RECORDING)),
            *("--outbox", str(tmp_path / "outbox.sqlite3")),
        )
        deadline = time.monotonic() + 5
        while sum(t == "kiosk/ex/event" for t, _ in got) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.terminate()
        broker.wait(5)
    events = [json.loads(p) for t, p in got if t == "kiosk/ex/event"]
    gender = [e["label"] for e in events if e["section"] == "gender"]
    assert gender[:2] == ["male", "female"]
    assert ("kiosk/ex/status", "online") in got
