"""The durable outbox: every message bound for the network waits on disk until its sink confirms it.

One SQLite file (stdlib ``sqlite3``) holds a row per message and sink. A row is written, synchronously, when the
listener hands the message over, and deleted only when the sink has it: a webhook answered 2xx, an MQTT broker sent
its PUBACK. Rows left when `listen` stops (the network was down, the process was killed) are delivered by the next
run that opens the same file, in order. Delivery is at least once, so each message carries an idempotency key,
``STREAM/SEQ`` (a stream id new for every run, and the message's ``seq``), that a receiver de-duplicates on.

The outbox is bounded: past ``max_messages`` rows for one sink the oldest is dropped, with a warning and a count,
so a sink that never comes back cannot fill the disk.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

log = logging.getLogger("slap_edge.runtime")


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written (names the path)."""


def default_outbox_path() -> Path:
    """``$XDG_STATE_HOME/slap-edge/outbox.sqlite3`` (``~/.local/state/...`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "slap-edge" / "outbox.sqlite3"


def new_stream_id() -> str:
    """A stream id unique to this run: seq starts at 1 every run, so the key must not repeat across restarts."""
    return uuid.uuid4().hex[:16]


def idempotency_key(stream_id: str, seq: int) -> str:
    return f"{stream_id}/{seq}"


class Outbox:
    """Messages waiting for their sinks, on disk, bounded per sink; safe to use from several threads."""

    def __init__(self, path: str | Path, max_messages: int = 10000) -> None:
        if max_messages < 1:
            raise ValueError(f"outbox max_messages must be >= 1, got {max_messages}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.evicted: dict[str, int] = {}
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a confirmed put survives a power cut, not only a crash
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, "
                "key TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS outbox_sink ON outbox (sink, id)")
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(
                f"outbox {self.path}: cannot open ({exc}); give --outbox a writable file path, e.g. /tmp/outbox.sqlite3"
            ) from exc

    def put(self, sink: str, key: str, payload: str) -> None:
        """Store one message for ``sink``; drops the sink's oldest message when it already holds the maximum."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                (held,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sink = ?", (sink,)).fetchone()
                over = held + 1 - self.max_messages
                if over > 0:
                    self._db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sink = ? ORDER BY id LIMIT ?)",
                        (sink, over),
                    )
                self._db.execute(
                    "INSERT INTO outbox (sink, key, payload, created) VALUES (?, ?, ?, ?)",
                    (sink, key, payload, time.time()),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox {self.path}: cannot store a message for {sink} ({exc})") from exc
        if over > 0:
            first = sink not in self.evicted
            self.evicted[sink] = self.evicted.get(sink, 0) + over
            if first or self.evicted[sink] % 1000 == 0:
                log.warning(
                    "outbox %s: %s holds %d undelivered messages (the maximum); dropped the oldest (%d so far)",
                    self.path,
                    sink,
                    self.max_messages,
                    self.evicted[sink],
                )

    def peek(self, sink: str, limit: int, after_id: int = 0) -> list[tuple[int, str, str]]:
        """The oldest ``limit`` messages of ``sink`` with id > ``after_id``, as (id, key, payload)."""
        with self._lock:
            return self._db.execute(
                "SELECT id, key, payload FROM outbox WHERE sink = ? AND id > ? ORDER BY id LIMIT ?",
                (sink, after_id, limit),
            ).fetchall()

    def peek_one(self, row_id: int) -> str | None:
        """The payload of one message, or None when it is gone."""
        with self._lock:
            row = self._db.execute("SELECT payload FROM outbox WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else str(row[0])

    def ack(self, row_id: int) -> None:
        """The sink has the message: forget it."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def pending(self, sink: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sink = ?", (sink,)).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()
