"""The two seams of the listener, as typed protocols: where audio comes from and where results go.

Any object with these methods works; nothing needs to inherit from them. The runtime's own classes satisfy them:
`FileSource`, `StdinSource` and `MicSource` are sources; `JsonlSink`, `LiveSink`, `WebhookSink` and `MqttSink` sinks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from slap_edge.runtime.sources import Gap
    from slap_edge.runtime.stream import Message


@runtime_checkable
class AudioSource(Protocol):
    """Yields mono float32 chunks at the rate it was opened with, or a `Gap` where audio is missing.

    Optional attributes the listener reads when present: ``live`` (bool: a real-time source whose backlog may be
    skipped when processing falls behind) and ``overflows`` (int: input overruns so far).
    """

    def chunks(self) -> Iterator[np.ndarray | Gap]: ...

    def stop(self) -> None:
        """End ``chunks`` after the current chunk (safe from another thread or a signal handler)."""

    def close(self) -> None:
        """Release the device or file."""


@runtime_checkable
class Sink(Protocol):
    """Receives every message (scores and events) on the listener's thread; must not block on the network."""

    def send(self, msg: Message) -> None: ...

    def close(self) -> None: ...
