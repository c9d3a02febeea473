"""The listener: a stream fed by a source, with scores and events delivered by callback, iterator or sink.

```python
from slap_edge.runtime import create_listener
listener = create_listener("bundle/", "prompts.txt", on_event=print)
listener.feed(samples, sample_rate=48000)           # push audio yourself ...
for msg in listener.listen_microphone():            # ... or let it own the microphone
    ...
```
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from slap_edge.bundle_reader import Bundle, load_bundle
from slap_edge.prompt_sets import resolve_prompts
from slap_edge.prompts import PromptBank, PromptSet
from slap_edge.runtime.decision import DecisionConfig
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.gate import Gate
from slap_edge.runtime.protocols import AudioSource, Sink
from slap_edge.runtime.sources import FileSource, Gap, MicSource, Resampler, StdinSource
from slap_edge.runtime.stream import Event, Message, Scores, Stream
from slap_edge.runtime.text import resolve_bank

if TYPE_CHECKING:
    from slap_edge.adapt.heads import Heads

log = logging.getLogger("slap_edge.runtime")


@dataclasses.dataclass
class Summary:
    """What a run did, printed on exit."""

    hops: int
    gated: int
    dropped: int
    overflows: int
    audio_s: float
    wall_s: float
    latency_ms: dict[str, float]
    events: int
    nonfinite_samples: int
    clipped_samples: int
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    interrupted: bool = False  # stopped by Ctrl-C, SIGTERM or `stop`, not by the end of the source
    first_hop_s: float = 0.0  # audio needed before the first scored hop

    def describe(self) -> str:
        lat = self.latency_ms
        lat_text = (
            f"p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms, p99 {lat['p99']:.2f} ms" if lat else "no hops scored"
        )
        lines = [
            f"audio {self.audio_s:.1f} s in {self.wall_s:.1f} s; hops {self.hops} ({self.gated} without speech), "
            f"events {self.events}",
            f"dropped windows {self.dropped}, input overflows {self.overflows}",
            f"processing per hop: {lat_text}",
        ]
        if self.nonfinite_samples or self.clipped_samples:
            lines.append(
                f"guarded input: {self.nonfinite_samples} NaN/inf samples zeroed, {self.clipped_samples} clipped"
            )
        for key, value in self.extra.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)


class Listener:
    """One stream over an engine, plus the plumbing from a source to callbacks and sinks."""

    def __init__(
        self,
        engine: Engine,
        hop_s: float | None = None,
        window_s: float | None = None,
        min_window_s: float = 0.5,
        decision: DecisionConfig | None = None,
        gate: Gate | None = None,
        on_scores: Callable[[Scores], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        sinks: Iterable[Sink] = (),
        max_backlog_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.stream: Stream = engine.create_stream(
            hop_s=hop_s, window_s=window_s, min_window_s=min_window_s, decision=decision, gate=gate
        )
        self.on_scores = on_scores
        self.on_event = on_event
        self.sinks = list(sinks)
        self.max_backlog_s = max_backlog_s
        self.events = 0
        self.overflows = 0
        self._resamplers: dict[int, Resampler] = {}
        self._stopped = False
        self._interrupted = False
        self._started = time.monotonic()
        self._source: AudioSource | None = None

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    # -- feeding ---------------------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray, sample_rate: int | None = None) -> list[Message]:
        """Push audio (mono, or [frames, channels]) and get the messages of every hop it completed."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if sample_rate is not None and sample_rate != self.sample_rate:
            resampler = self._resamplers.setdefault(sample_rate, Resampler(sample_rate, self.sample_rate))
            x = resampler(x)
        out: list[Message] = []
        hop = self.stream.hop
        # Feed at most a hop at a time so a long chunk never makes the ring hold more than it needs.
        for start in range(0, x.shape[0], hop):
            self.stream.accept_waveform(x[start : start + hop])
            for msg in self.stream.process():
                self._dispatch(msg)
                out.append(msg)
        return out

    def skip(self, gap: Gap) -> None:
        self.stream.skip(gap.samples, gap.dropped)

    def _dispatch(self, msg: Message) -> None:
        if isinstance(msg, Event):
            self.events += 1
            if self.on_event is not None:
                self.on_event(msg)
        elif self.on_scores is not None:
            self.on_scores(msg)
        for sink in self.sinks:
            sink.send(msg)

    # -- running a source ------------------------------------------------------------------------------------------
    def iter_source(self, source: AudioSource) -> Iterator[Message]:
        """Messages from a source (`FileSource`, `StdinSource`, `MicSource`) until it ends or `stop` is called."""
        self._source = source
        max_backlog = int(self.max_backlog_s * self.sample_rate)
        keep = self.stream.window + self.stream.hop
        try:
            for chunk in source.chunks():
                if isinstance(chunk, Gap):
                    self.skip(chunk)
                elif getattr(source, "live", False) and chunk.shape[0] > max(max_backlog, keep):
                    # Processing fell behind a live source: score the newest audio, count what is skipped.
                    self.stream.skip(chunk.shape[0] - keep, dropped=True)
                    yield from self.feed(chunk[-keep:])
                else:
                    yield from self.feed(chunk)
                self.overflows = getattr(source, "overflows", 0)
                if self._stopped:
                    break
        finally:
            self.overflows = getattr(source, "overflows", 0)
            source.close()
            self._source = None

    def run(self, source: AudioSource) -> Summary:
        """Consume a source to its end (or Ctrl-C / SIGTERM / `stop`), then close the sinks; returns the summary."""
        try:
            for _ in self.iter_source(source):
                pass
        except KeyboardInterrupt:
            self._interrupted = True
            log.info("stopping")
        finally:
            self.close()
        return self.summary()

    def listen_microphone(self, device: int | str | None = None, **mic_options: Any) -> Iterator[Message]:
        """Own the microphone: messages until `stop` is called."""
        return self.iter_source(MicSource(self.sample_rate, device=device, **mic_options))

    def listen_file(self, path: str | Path, realtime: bool = False) -> Iterator[Message]:
        """Messages from a sound file (any rate, channels, bit depth libsndfile reads), as fast as possible unless
        ``realtime`` paces it like a microphone."""
        return self.iter_source(FileSource(path, self.sample_rate, realtime=realtime))

    def listen_stdin(self, rate: int = 16000, channels: int = 1, stream: BinaryIO | None = None) -> Iterator[Message]:
        """Messages from raw signed 16-bit little-endian PCM on stdin (or ``stream``) at ``rate`` Hz."""
        return self.iter_source(StdinSource(self.sample_rate, rate=rate, channels=channels, stream=stream))

    def stop(self) -> None:
        """Ask a running source loop to end after the current chunk (safe from a signal handler or a thread)."""
        self._stopped = True
        self._interrupted = True
        if self._source is not None:
            self._source.stop()

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - one failing sink must not hide the summary
                log.warning("closing %s failed: %s", type(sink).__name__, exc)

    def summary(self) -> Summary:
        s = self.stream
        extra: dict[str, Any] = {}
        for sink in self.sinks:
            if hasattr(sink, "delivery_report"):
                extra[f"{sink.kind} {sink.name}"] = sink.delivery_report()
            elif hasattr(sink, "dropped") and hasattr(sink, "sent"):
                extra[f"{type(sink).__name__} sent/dropped"] = f"{sink.sent}/{sink.dropped}"
        return Summary(
            hops=s.hops,
            gated=s.gated,
            dropped=s.dropped,
            overflows=self.overflows,
            audio_s=s.samples / s.sample_rate,
            wall_s=time.monotonic() - self._started,
            latency_ms=s.latency_percentiles(),
            events=self.events,
            nonfinite_samples=s.guard.nonfinite,
            clipped_samples=s.guard.clipped,
            extra=extra,
            interrupted=self._interrupted,
            first_hop_s=s.first_hop_s,
        )


def create_listener(
    bundle: Bundle | str | Path,
    prompts: PromptSet | PromptBank | str | Path | None = None,
    bank: str | Path | None = None,
    threads: int = 1,
    cache_dir: str | Path | None = None,
    heads: Heads | str | Path | None = None,
    frame_cache: bool = True,
    **listener_options: Any,
) -> Listener:
    """A listener for ``bundle`` scoring ``prompts`` (a ready `PromptBank`, or anything `resolve_prompts` reads: a
    prompts.txt path, a built-in set's name such as ``"demographics"``, prompts text, a `PromptSet`) and/or adapted
    ``heads`` (a `Heads` or a heads file from `slap-edge adapt`; its sections replace prompt sections of the same
    name, or are added; ``listener.engine.describe_sections()`` says which). ``frame_cache``: keep log-mel frames
    from hop to hop (`slap_edge.runtime.frames`); False runs audio.onnx whole every hop."""
    from slap_edge.adapt.heads import resolve_heads

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    adapted = resolve_heads(heads)
    if isinstance(prompts, PromptBank):
        prompt_bank: PromptBank | None = prompts
    elif prompts is None and bank is None and adapted is not None:
        prompt_bank = None
    else:
        prompt_set = resolve_prompts(prompts) if prompts is not None else None
        prompt_bank = resolve_bank(bundle, prompt_set, bank, cache_dir=cache_dir, threads=threads)
    engine = Engine(bundle, prompt_bank, threads=threads, heads=adapted, frame_cache=frame_cache)
    return Listener(engine, **listener_options)
