"""The top-level Python API: a listener in one call, with the built-in model and a built-in prompt set.

```python
import slap_edge
listener = slap_edge.create_listener(prompts="demographics")      # built-in bundle, built-in prompt set
for result in listener.listen_file("talk.wav"):                    # or listen_microphone(), listen_stdin()
    print(result.to_json())                                        # scores and events, as in spec/events.md
```

The lower layer, for programs that own their audio (sherpa-onnx style: one engine, a stream per microphone):

```python
engine = slap_edge.Engine.from_bundle("default", "demographics")
stream = engine.create_stream()
stream.accept_waveform(samples, sample_rate=48000)                 # resampled to the model's rate inside
for result in stream.process():
    ...
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slap_edge.bundle_reader import Bundle
    from slap_edge.prompts import PromptBank, PromptSet
    from slap_edge.runtime.decision import DecisionConfig
    from slap_edge.runtime.gate import EnergyGate
    from slap_edge.runtime.listener import Listener
    from slap_edge.runtime.protocols import Sink
    from slap_edge.runtime.stream import Event, Scores


def create_listener(
    prompts: PromptSet | PromptBank | str | Path | None = "demographics",
    bundle: Bundle | str | Path | None = "default",
    *,
    bank: str | Path | None = None,
    threads: int = 1,
    cache_dir: str | Path | None = None,
    hop_s: float | None = None,
    decision: DecisionConfig | None = None,
    gate: EnergyGate | None = None,
    on_scores: Callable[[Scores], None] | None = None,
    on_event: Callable[[Event], None] | None = None,
    sinks: Iterable[Sink] = (),
) -> Listener:
    """A `Listener` scoring ``prompts`` with ``bundle``.

    ``prompts``: a built-in set's name (``"demographics"``, ``"language"``, ``"voice_quality"``; see
    `slap_edge.builtin_prompt_sets`), a prompts.txt path, prompts text holding a line break, a `PromptSet`, or a ready
    `PromptBank`; ``None`` with ``bank``. A one-line string that is no file and no built-in name is refused
    (`PromptsError`). ``bundle``: ``"default"`` (the model inside the package), a bundle folder or a ``.tar.gz``.
    ``bank``: a precomputed prompt bank (.npz) for bundles without text.onnx. ``threads``: ONNX Runtime intra-op
    threads (1 leaves the other core to audio capture). The rest tune the stream and where results go.
    """
    from slap_edge.runtime.listener import create_listener as create_runtime_listener

    return create_runtime_listener(
        bundle,
        prompts,
        bank=bank,
        threads=threads,
        cache_dir=cache_dir,
        hop_s=hop_s,
        decision=decision,
        gate=gate,
        on_scores=on_scores,
        on_event=on_event,
        sinks=sinks,
    )
