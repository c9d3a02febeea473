"""SLAP models: `create_model(name)`, `list_models()`, `ModelConfig`.

Importing this package does not import torch; `create_model` does.
"""

from slap_edge.models.config import AudioEncoderConfig, MaeConfig, ModelConfig, TextEncoderConfig
from slap_edge.models.registry import create_model, get_model_config, list_models, resolve_model_config

__all__ = [
    "AudioEncoderConfig",
    "MaeConfig",
    "ModelConfig",
    "TextEncoderConfig",
    "create_model",
    "get_model_config",
    "list_models",
    "resolve_model_config",
]
