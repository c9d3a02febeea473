"""slap-edge: SLAP speaker-description models for edge devices.

```python
import slap_edge
listener = slap_edge.create_listener(prompts="demographics")
for result in listener.listen_file("talk.wav"):
    print(result.to_json())
```

Every name below is imported on first use, so ``import slap_edge`` loads neither numpy nor onnxruntime, and never
torch, timm or onnx (those belong to the training extra).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("slap-edge")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "create_listener": "slap_edge.api",
    "Engine": "slap_edge.runtime.engine",
    "EngineError": "slap_edge.runtime.engine",
    "Stream": "slap_edge.runtime.stream",
    "Scores": "slap_edge.runtime.stream",
    "Event": "slap_edge.runtime.stream",
    "Listener": "slap_edge.runtime.listener",
    "Summary": "slap_edge.runtime.listener",
    "AudioSource": "slap_edge.runtime.protocols",
    "Sink": "slap_edge.runtime.protocols",
    "FileSource": "slap_edge.runtime.sources",
    "MicSource": "slap_edge.runtime.sources",
    "StdinSource": "slap_edge.runtime.sources",
    "Gap": "slap_edge.runtime.sources",
    "AudioSourceError": "slap_edge.runtime.sources",
    "DecisionConfig": "slap_edge.runtime.decision",
    "EnergyGate": "slap_edge.runtime.gate",
    "Bundle": "slap_edge.bundle_reader",
    "BundleError": "slap_edge.bundle_reader",
    "load_bundle": "slap_edge.bundle_reader",
    "PromptSet": "slap_edge.prompts",
    "PromptBank": "slap_edge.prompts",
    "PromptsError": "slap_edge.prompts",
    "parse_prompts": "slap_edge.prompts",
    "load_prompts": "slap_edge.prompts",
    "builtin_prompt_sets": "slap_edge.prompt_sets",
    "resolve_prompts": "slap_edge.prompt_sets",
}

__all__ = [
    "__version__",
    "create_listener",
    "Engine",
    "EngineError",
    "Stream",
    "Scores",
    "Event",
    "Listener",
    "Summary",
    "AudioSource",
    "Sink",
    "FileSource",
    "MicSource",
    "StdinSource",
    "Gap",
    "AudioSourceError",
    "DecisionConfig",
    "EnergyGate",
    "Bundle",
    "BundleError",
    "load_bundle",
    "PromptSet",
    "PromptBank",
    "PromptsError",
    "parse_prompts",
    "load_prompts",
    "builtin_prompt_sets",
    "resolve_prompts",
]

if TYPE_CHECKING:
    from slap_edge.api import create_listener
    from slap_edge.bundle_reader import Bundle, BundleError, load_bundle
    from slap_edge.prompt_sets import builtin_prompt_sets, resolve_prompts
    from slap_edge.prompts import PromptBank, PromptsError, PromptSet, load_prompts, parse_prompts
    from slap_edge.runtime.decision import DecisionConfig
    from slap_edge.runtime.engine import Engine, EngineError
    from slap_edge.runtime.gate import EnergyGate
    from slap_edge.runtime.listener import Listener, Summary
    from slap_edge.runtime.protocols import AudioSource, Sink
    from slap_edge.runtime.sources import AudioSourceError, FileSource, Gap, MicSource, StdinSource
    from slap_edge.runtime.stream import Event, Scores, Stream


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'slap_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
