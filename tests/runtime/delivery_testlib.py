"""A local HTTP receiver and a real mosquitto broker that tests can take down and bring back (127.0.0.1 only)."""

from __future__ import annotations

import getpass
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpReceiver:
    """Records every POST (Idempotency-Key header and JSON body); answers 200 after ``delay_s``."""

    def __init__(self, port: int | None = None, delay_s: float = 0.0) -> None:
        self.port = port or free_port()
        self.delay_s = delay_s
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay_s)
                with receiver._lock:
                    receiver.received.append((self.headers.get("Idempotency-Key", ""), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Mosquitto:
    """A private mosquitto broker on 127.0.0.1 with persistence (sessions and queued QoS-1 messages survive a
    restart), and a QoS-1 subscriber with a persistent session that records what reaches it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._sub: Any = None
        self.subscriber_up = threading.Event()
        conf = folder / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nautosave_interval 1\nlog_dest file {folder}/mosquitto.log\n"
            # Run as root, mosquitto switches to the user "mosquitto", which cannot write a root-owned 0700 test folder:
            # its persistence (and log) silently fail, the subscriber's session is lost over a restart, and what the
            # sink re-sends before the subscriber is back is dropped. Stay the user we are.
            f"user {getpass.getuser()}\n"
        )
        self.conf = conf

    @staticmethod
    def binary() -> str | None:
        return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)

    def url(self, topic: str = "kiosk/test") -> str:
        return f"mqtt://127.0.0.1:{self.port}/{topic}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary() or "mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if not (self.folder / "mosquitto.log").is_file():
                    raise RuntimeError(f"mosquitto cannot write its folder {self.folder} (no log, so no persistence)")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def wait_subscriber(self, timeout_s: float = 10.0) -> None:
        """Until the subscriber is back after a restart (a broker drops what arrives for a topic nobody holds)."""
        if not self.subscriber_up.wait(timeout_s):
            raise RuntimeError("the test subscriber did not reconnect")
        time.sleep(0.3)  # its SUBACK

    def subscribe(self, topic: str = "kiosk/test/event") -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False
        )
        client.reconnect_delay_set(min_delay=1, max_delay=1)
        connected = threading.Event()

        def on_connect(c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe(topic, qos=1)
            connected.set()
            self.subscriber_up.set()

        def on_disconnect(c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
            self.subscriber_up.clear()

        def on_message(c: Any, u: Any, msg: Any) -> None:
            payload = json.loads(msg.payload)
            self.messages.append((payload.get("key", ""), payload))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.connect_async("127.0.0.1", self.port, keepalive=5)
        client.loop_start()
        if not connected.wait(10):
            raise RuntimeError("the test subscriber did not connect")
        time.sleep(0.2)  # let the SUBACK land before anything is published
        self._sub = client

    def close(self) -> None:
        if self._sub is not None:
            self._sub.disconnect()
            self._sub.loop_stop()
        self.stop()
