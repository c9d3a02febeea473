"""Where scores and events go (spec/events.md): JSON lines, a live terminal table, a webhook, an MQTT broker.

A sink has ``send(message)`` (called on the listener thread, must not block on the network) and ``close()``.
Network sinks write each message to the durable `Outbox` (one small SQLite write) and deliver from their own thread,
so a slow or dead endpoint never stalls audio and loses nothing: at least once, keyed by stream and seq.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any

from slap_edge.runtime.outbox import Outbox, idempotency_key, new_stream_id
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


class OutboxSink:
    """A network sink fed through the durable `Outbox`: ``send`` stores the message (with its idempotency key) and
    wakes the sink's delivery thread, which sends the oldest messages first and deletes each once confirmed.

    ``delivered`` counts confirmed messages, ``failures`` failed attempts, ``dropped`` messages given up (the outbox
    was full, or the receiver rejected one for good); ``pending`` is what waits on disk. The first failure after a
    success is a warning at once; the next success says how many waited.
    """

    kind = "sink"

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        stream_id: str | None = None,
        send_scores: bool = False,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        drain_s: float = 2.0,
    ) -> None:
        if backoff_s <= 0 or backoff_max_s < backoff_s:
            raise ValueError(f"retry back-off must satisfy 0 < start ({backoff_s}) <= max ({backoff_max_s})")
        self.name = name
        self.outbox = outbox
        self.stream_id = stream_id or new_stream_id()
        self.send_scores = send_scores
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.drain_s = drain_s
        self.delivered = 0
        self.failures = 0
        self.rejected = 0
        self.reachable = True
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"slap-edge-{self.kind}", daemon=True)
        self._thread.start()

    # -- the listener's side ---------------------------------------------------------------------------------------
    def send(self, msg: Message) -> None:
        if isinstance(msg, Scores) and not self.send_scores:
            return
        key = idempotency_key(self.stream_id, msg.seq)
        payload = {**msg.to_json(), "stream": self.stream_id, "key": key}
        self.outbox.put(self.name, key, json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
        self._wake.set()

    @property
    def sent(self) -> int:
        return self.delivered

    @property
    def dropped(self) -> int:
        return self.outbox.evicted.get(self.name, 0) + self.rejected

    @property
    def pending(self) -> int:
        return self.outbox.pending(self.name)

    def delivery_report(self) -> str:
        pending = self.pending
        kept = f" (kept in {self.outbox.path} for the next run)" if pending else ""
        return (
            f"delivered {self.delivered}, pending {pending}{kept}, dropped {self.dropped}, "
            f"failed attempts {self.failures}"
        )

    # -- the delivery thread's side --------------------------------------------------------------------------------
    def _failed(self, why: str) -> None:
        self.failures += 1
        if self.reachable:
            self.reachable = False
            log.warning(
                "%s %s: unreachable (%s); %d message(s) kept in the outbox, retrying with back-off",
                self.kind,
                self.name,
                why,
                self.pending,
            )

    def _recovered(self) -> None:
        if not self.reachable:
            self.reachable = True
            log.warning("%s %s: reachable again after %d failed attempt(s)", self.kind, self.name, self.failures)

    def _run(self) -> None:
        raise NotImplementedError

    def _past_deadline(self) -> bool:
        return self._closing.is_set() and time.monotonic() >= self._deadline

    def close(self, wait_s: float | None = None) -> None:
        """Give pending messages ``wait_s`` (default ``drain_s``) to go out; the rest stays in the outbox."""
        wait_s = self.drain_s if wait_s is None else wait_s
        self._deadline = time.monotonic() + wait_s
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=wait_s + self.join_grace_s())

    def join_grace_s(self) -> float:
        return 1.0


class WebhookSink(OutboxSink):
    """POST each event as JSON to a URL, through the outbox: in order, retried with exponential back-off until a 2xx.

    The body carries ``stream`` and ``key``, and the key is also the ``Idempotency-Key`` header. A 4xx other than
    408/429 is the receiver refusing that message: it is dropped with a warning rather than retried for ever.
    """

    kind = "webhook"

    def __init__(
        self,
        url: str,
        outbox: Outbox,
        stream_id: str | None = None,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        send_scores: bool = False,
        drain_s: float = 2.0,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--webhook {url!r}: expected an http:// or https:// URL")
        if not timeout_s > 0:
            raise ValueError(f"webhook timeout must be positive seconds, got {timeout_s}")
        super().__init__(url, outbox, stream_id, send_scores, backoff_s, backoff_max_s, drain_s)
        self.url = url
        self.timeout_s = timeout_s
        self._start()

    def join_grace_s(self) -> float:
        return self.timeout_s + 1.0

    def _post(self, key: str, body: bytes) -> bool:
        """True when the receiver has it (2xx), False when it refused it for good; raises when worth retrying."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        req = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
                return True
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                log.warning("webhook %s: refused %s with HTTP %d; dropping it", self.url, key, exc.code)
                return False
            raise

    def _run(self) -> None:
        delay = self.backoff_s
        while True:
            rows = self.outbox.peek(self.name, 32)
            if not rows:
                if self._closing.is_set():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for row_id, key, payload in rows:
                if self._past_deadline():
                    return
                try:
                    if self._post(key, payload.encode()):
                        self.delivered += 1
                    else:
                        self.rejected += 1
                except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
                    reason = getattr(exc, "reason", None) or exc
                    self._failed(f"{type(exc).__name__}: {reason}")
                    if self._closing.is_set():
                        return  # still down while closing: the rest waits on disk for the next run
                    self._closing.wait(delay)
                    delay = min(delay * 2.0, self.backoff_max_s)
                    break
                self.outbox.ack(row_id)
                self._recovered()
                delay = self.backoff_s


def parse_mqtt_url(url: str) -> tuple[str, int, str]:
    """``mqtt://HOST[:PORT]/TOPIC`` -> (host, port, topic)."""
    parsed = urllib.parse.urlparse(url)
    topic = parsed.path.lstrip("/")
    if parsed.scheme != "mqtt" or not parsed.hostname or not topic:
        raise ValueError(f"--mqtt {url!r}: expected mqtt://HOST[:PORT]/TOPIC, e.g. mqtt://localhost/kiosk/lobby")
    return parsed.hostname, parsed.port or 1883, topic


class MqttSink(OutboxSink):
    """Events to ``TOPIC/event`` through the outbox, QoS 1: a message leaves the outbox only on the broker's PUBACK.

    While the broker is away nothing is published; paho reconnects with back-off and re-sends what was in flight,
    and a message with no PUBACK within ``ack_timeout_s`` is published again (same key). ``TOPIC/heartbeat`` carries
    counters every ``heartbeat_s``; ``TOPIC/status`` is "online" (retained), with "offline" as the last will.
    """

    kind = "mqtt"

    def __init__(
        self,
        url: str,
        outbox: Outbox,
        stream_id: str | None = None,
        heartbeat_s: float = 30.0,
        client_id: str | None = None,
        ack_timeout_s: float = 10.0,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_inflight: int = 20,
        send_scores: bool = False,
        drain_s: float = 2.0,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise ImportError("--mqtt needs paho-mqtt: pip install 'slap-edge[mqtt]'") from exc
        host, port, topic = parse_mqtt_url(url)
        if not ack_timeout_s > 0:
            raise ValueError(f"MQTT acknowledgement timeout must be positive seconds, got {ack_timeout_s}")
        name = f"mqtt://{host}:{port}/{topic}"
        super().__init__(name, outbox, stream_id, send_scores, backoff_s, backoff_max_s, drain_s)
        self.host, self.port, self.topic = host, port, topic
        self.heartbeat_s = heartbeat_s
        self.ack_timeout_s = ack_timeout_s
        self.max_inflight = max_inflight
        self.connected = threading.Event()
        self._mqtt = mqtt
        self._started = time.monotonic()
        self._last_scores: dict[str, Any] | None = None
        self._stats: dict[str, Any] = {}
        self._acks: queue.Queue[tuple[int, bool]] = queue.Queue()
        self._inflight: dict[int, tuple[int, str, float]] = {}  # mid -> (outbox row, key, published at)
        self._reconnected = False
        self._client_closing = False
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"slap-edge-{self.stream_id}",
        )
        client.reconnect_delay_set(min_delay=max(1, int(backoff_s)), max_delay=max(1, int(backoff_max_s)))
        client.will_set(f"{self.topic}/status", "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._start()
        self._heartbeat = threading.Thread(target=self._beat, name="slap-edge-mqtt-heartbeat", daemon=True)
        self._heartbeat.start()

    # paho's network thread: only flags and queues here, the delivery thread does the work.
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            self._failed(f"the broker refused the connection: {reason_code}")
            return
        self.connected.set()
        self._reconnected = True
        client.publish(f"{self.topic}/status", "online", qos=1, retain=True)
        log.info("mqtt: connected to %s:%d", self.host, self.port)
        self._wake.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._failed(f"cannot connect to {self.host}:{self.port}")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected.clear()
        if not self._client_closing:
            self._failed(f"disconnected: {reason_code}")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        self._acks.put((mid, not getattr(reason_code, "is_failure", False)))
        self._wake.set()

    # the delivery thread
    def _take_acks(self) -> None:
        while True:
            try:
                mid, ok = self._acks.get_nowait()
            except queue.Empty:
                return
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue  # a status or heartbeat message, or a copy already confirmed
            row_id, key, _ = entry
            if ok:
                self.delivered += 1
            else:
                self.rejected += 1
                log.warning("mqtt %s: the broker refused %s; dropping it", self.name, key)
            self.outbox.ack(row_id)
            self._recovered()

    def _publish_row(self, row_id: int, key: str, payload: str) -> None:
        kind = "scores" if payload.startswith('{"type":"scores"') else "event"
        info = self.client.publish(f"{self.topic}/{kind}", payload, qos=1)
        if info.rc in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
            self._inflight[info.mid] = (row_id, key, time.monotonic())  # NO_CONN: paho sends it on reconnect

    def _run(self) -> None:
        while True:
            self._take_acks()
            if self._closing.is_set() and (self._past_deadline() or (not self._inflight and not self.pending)):
                return
            if self.connected.is_set():
                now = time.monotonic()
                if self._reconnected:  # paho re-sends what was in flight: give those copies a fresh timeout
                    self._reconnected = False
                    self._inflight = {m: (r, k, now) for m, (r, k, _) in self._inflight.items()}
                for mid, (row_id, key, t) in list(self._inflight.items()):
                    if now - t > self.ack_timeout_s:
                        del self._inflight[mid]
                        self._failed(f"no PUBACK for {key} within {self.ack_timeout_s:g} s")
                        payload = self.outbox.peek_one(row_id)
                        if payload is not None:
                            self._publish_row(row_id, key, payload)
                free = self.max_inflight - len(self._inflight)
                if free > 0:
                    busy = {r for r, _, _ in self._inflight.values()}
                    for row_id, key, payload in self.outbox.peek(self.name, free + len(busy)):
                        if row_id not in busy and free > 0:
                            self._publish_row(row_id, key, payload)
                            free -= 1
            self._wake.wait(0.05 if self._inflight else 0.5)
            self._wake.clear()

    def join_grace_s(self) -> float:
        return 1.0

    def update_stats(self, stats: dict[str, Any]) -> None:
        """Numbers for the next heartbeat (hops, dropped windows, overflows ...)."""
        self._stats = dict(stats)

    def _beat(self) -> None:
        while not self._closing.wait(self.heartbeat_s):
            if not self.connected.is_set():
                continue  # a heartbeat is news only now; events wait in the outbox, heartbeats need not
            payload = {"type": "heartbeat", "uptime_s": round(time.monotonic() - self._started, 1), **self._stats}
            payload["outbox_pending"] = self.pending
            if self._last_scores is not None:
                payload["last"] = self._last_scores
            self.client.publish(f"{self.topic}/heartbeat", json.dumps(payload), qos=1)

    def send(self, msg: Message) -> None:
        if isinstance(msg, Scores):
            self._last_scores = {"t": round(msg.t, 3), "speech": round(msg.speech, 3), "sections": msg.sections}
        super().send(msg)

    def close(self, wait_s: float | None = None) -> None:
        super().close(wait_s)
        if self.connected.is_set():
            with contextlib.suppress(RuntimeError, ValueError):
                self.client.publish(f"{self.topic}/status", "offline", qos=1, retain=True).wait_for_publish(timeout=1.0)
        self._client_closing = True  # a disconnect we asked for is not a failure: no reconnect warning
        self.client.disconnect()
        self.client.loop_stop()
