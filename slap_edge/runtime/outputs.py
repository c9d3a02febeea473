"""Where scores and events go (spec/events.md): JSON lines, a live terminal table, a webhook, an MQTT broker.

A sink has ``send(message)`` (called on the listener thread, must not block on the network) and ``close()``.
Network sinks hand messages to their own thread through a bounded queue; when it is full the message is dropped and
counted, so a slow or dead endpoint never stalls audio.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any

from slap_edge.runtime.stream import Event, Message, Scores

log = logging.getLogger("slap_edge.runtime")


def message_json(msg: Message) -> str:
    """One message as a JSON line. NaN and inf are not JSON: they raise instead of being written as bare ``NaN``."""
    try:
        return json.dumps(msg.to_json(), separators=(", ", ": "), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ValueError(
            f"{type(msg).__name__} seq {msg.seq} holds NaN or inf, which JSON cannot carry: {msg}"
        ) from exc


class JsonlSink:
    """One JSON object per line, flushed per line so another program can follow it."""

    def __init__(self, out: IO[str], close_file: bool = False) -> None:
        self.out = out
        self._close_file = close_file

    def send(self, msg: Message) -> None:
        self.out.write(message_json(msg) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self._close_file:
            self.out.close()


class LiveSink:
    """A rich table updated in place: per section the top label and probability bars, the gate and latency."""

    def __init__(self, console: Any = None, title: str = "slap-edge listen") -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=False)
        self.title = title
        self._events: list[str] = []
        self._last: Scores | None = None
        self._heard: Scores | None = None  # the last hop with speech: its rows stay on screen through pauses
        self._decided: dict[str, str] = {}
        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, expand=False)
        table.add_column("section")
        table.add_column("decision")
        table.add_column("top")
        table.add_column("probabilities")
        s, heard = self._last, self._heard
        if heard is not None and heard.sections:
            for name, sec in heard.sections.items():
                bars = []
                for label, p in sorted(sec["probs"].items(), key=lambda kv: -kv[1]):
                    bars.append(f"{label:>12s} {'█' * int(round(p * 20)):<20s} {p:5.2f}")
                table.add_row(name, self._decided.get(name, "-"), sec["top"], "\n".join(bars))
        if s is None:
            table.caption = "waiting for audio ..."
        else:
            gate = (
                "speech"
                if s.sections
                else f"no speech: encoder skipped (rows from t {heard.t:.2f} s)"
                if heard
                else "no speech: encoder skipped"
            )
            lat = s.latency_ms.get("total", 0.0)
            table.caption = f"t {s.t:7.2f} s | {gate} ({s.speech:.2f}) | {lat:.1f} ms/hop | dropped {s.dropped}" + (
                "\n" + "\n".join(self._events[-5:]) if self._events else ""
            )
        return table

    def send(self, msg: Message) -> None:
        if isinstance(msg, Event):
            self._decided[msg.section] = msg.label
            self._events.append(f"{msg.t:7.2f} s  {msg.section}: {msg.previous} -> {msg.label} ({msg.prob:.2f})")
            return
        self._last = msg
        if msg.sections:
            self._heard = msg
        self._live.update(self._render())

    def close(self) -> None:
        self._live.stop()


class WebhookSink:
    """POST each event as JSON to a URL from a worker thread, with retry and exponential backoff.

    ``dropped`` counts events not delivered: the queue was full, or every retry failed.
    """

    def __init__(
        self,
        url: str,
        queue_size: int = 256,
        timeout_s: float = 2.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        send_scores: bool = False,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--webhook {url!r}: expected an http:// or https:// URL")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.send_scores = send_scores
        self.sent = 0
        self.dropped = 0
        self.failed_attempts = 0
        self._count_lock = threading.Lock()  # counters are bumped from both the listener and the worker thread
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slap-edge-webhook", daemon=True)
        self._thread.start()

    def send(self, msg: Message) -> None:
        if isinstance(msg, Scores) and not self.send_scores:
            return
        try:
            self._queue.put_nowait(msg.to_json())
        except queue.Full:
            with self._count_lock:
                self.dropped += 1

    def _post(self, body: bytes) -> None:
        req = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            resp.read()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            body = json.dumps(item).encode()
            delay = self.backoff_s
            for attempt in range(self.retries + 1):
                try:
                    self._post(body)
                    with self._count_lock:
                        self.sent += 1
                    break
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    self.failed_attempts += 1
                    if attempt == self.retries or self._stop.is_set():
                        with self._count_lock:
                            self.dropped += 1
                        log.warning("webhook %s: giving up on an event (%s)", self.url, exc)
                        break
                    self._stop.wait(delay)
                    delay *= 2

    def close(self, wait_s: float = 2.0) -> None:
        """Give queued events ``wait_s`` to go out; what is left is counted as dropped."""
        deadline = time.monotonic() + wait_s
        while not self._queue.empty() and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        self._stop.set()
        while True:
            try:
                if self._queue.get_nowait() is not None:
                    with self._count_lock:
                        self.dropped += 1
            except queue.Empty:
                break
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()) + self.timeout_s)


def parse_mqtt_url(url: str) -> tuple[str, int, str]:
    """``mqtt://HOST[:PORT]/TOPIC`` -> (host, port, topic)."""
    parsed = urllib.parse.urlparse(url)
    topic = parsed.path.lstrip("/")
    if parsed.scheme != "mqtt" or not parsed.hostname or not topic:
        raise ValueError(f"--mqtt {url!r}: expected mqtt://HOST[:PORT]/TOPIC, e.g. mqtt://localhost/kiosk/lobby")
    return parsed.hostname, parsed.port or 1883, topic


class MqttSink:
    """Events to ``TOPIC/event`` and a heartbeat to ``TOPIC/heartbeat`` (QoS 1), with automatic reconnect.

    paho-mqtt's network thread keeps a bounded queue of unsent QoS-1 messages while the broker is away; what does
    not fit is counted in ``dropped``. ``TOPIC/status`` is "online" (retained), with "offline" as the last will.
    """

    def __init__(
        self,
        url: str,
        heartbeat_s: float = 30.0,
        client_id: str | None = None,
        max_queued: int = 1000,
        send_scores: bool = False,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise ImportError("--mqtt needs paho-mqtt: pip install 'slap-edge[mqtt]'") from exc
        self.host, self.port, self.topic = parse_mqtt_url(url)
        self.heartbeat_s = heartbeat_s
        self.send_scores = send_scores
        self.sent = 0
        self.dropped = 0
        self.connected = threading.Event()
        self._mqtt = mqtt
        self._started = time.monotonic()
        self._last_scores: dict[str, Any] | None = None
        self._stats: dict[str, Any] = {}
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"slap-edge-{int(time.time() * 1000) % 10**9}",
        )
        client.max_queued_messages_set(max_queued)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.will_set(f"{self.topic}/status", "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self.client = client
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="slap-edge-mqtt-heartbeat", daemon=True)
        self._heartbeat.start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if not getattr(reason_code, "is_failure", False):
            self.connected.set()
            client.publish(f"{self.topic}/status", "online", qos=1, retain=True)
            log.info("mqtt: connected to %s:%d", self.host, self.port)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected.clear()
        log.warning("mqtt: disconnected from %s:%d (%s); reconnecting", self.host, self.port, reason_code)

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
        else:
            self.sent += 1

    def update_stats(self, stats: dict[str, Any]) -> None:
        """Numbers for the next heartbeat (hops, dropped windows, overflows ...)."""
        self._stats = dict(stats)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            payload = {"type": "heartbeat", "uptime_s": round(time.monotonic() - self._started, 1), **self._stats}
            if self._last_scores is not None:
                payload["last"] = self._last_scores
            self._publish(f"{self.topic}/heartbeat", payload)

    def send(self, msg: Message) -> None:
        if isinstance(msg, Scores):
            self._last_scores = {"t": round(msg.t, 3), "speech": round(msg.speech, 3), "sections": msg.sections}
            if self.send_scores:
                self._publish(f"{self.topic}/scores", msg.to_json())
            return
        self._publish(f"{self.topic}/event", msg.to_json())

    def close(self, wait_s: float = 2.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + wait_s
        # Let in-flight QoS-1 messages be acknowledged before going away (bounded: the broker may be down).
        while self.client.want_write() and time.monotonic() < deadline and self.connected.is_set():
            time.sleep(0.02)
        if self.connected.is_set():
            self.client.publish(f"{self.topic}/status", "offline", qos=1, retain=True).wait_for_publish(
                timeout=max(0.1, deadline - time.monotonic())
            )
        self.client.disconnect()
        self.client.loop_stop()
