"""Models by name: each name is a JSON `ModelConfig` in ``slap_edge/models/configs/``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slap_edge.config import ConfigError, from_dict, load_config, to_dict
from slap_edge.models.config import ModelConfig

if TYPE_CHECKING:
    from slap_edge.models.slap import SlapModel

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def list_models() -> list[str]:
    """Names accepted by `create_model` (and by a recipe's ``model``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def get_model_config(name: str) -> ModelConfig:
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    cfg = load_config(ModelConfig, path)
    if cfg.name != name:
        raise ConfigError(f"{path}: name {cfg.name!r} differs from the file name {name!r}")
    return cfg


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_model_config(name_or_config: str | ModelConfig | dict, **overrides: Any) -> ModelConfig:
    """A `ModelConfig` from a registry name, a config or a dict, with (nested) overrides applied strictly."""
    if isinstance(name_or_config, str):
        cfg = get_model_config(name_or_config)
    elif isinstance(name_or_config, ModelConfig):
        cfg = name_or_config
    elif isinstance(name_or_config, dict):
        cfg = from_dict(ModelConfig, name_or_config, "model config")
    else:
        raise TypeError(f"expected a model name, ModelConfig or dict, got {type(name_or_config).__name__}")
    if not overrides:
        return cfg
    overrides = {k: to_dict(v) for k, v in overrides.items()}
    return from_dict(ModelConfig, _merge(to_dict(cfg), overrides), f"model {cfg.name} with overrides")


def create_model(name_or_config: str | ModelConfig | dict, **overrides: Any) -> SlapModel:
    """Build a `SlapModel` (randomly initialised audio side, pretrained MiniLM text side).

    ``overrides`` replace config fields; nested dicts merge, e.g. ``create_model("teacher-tiny", mae={"enabled":
    False})``.
    """
    from slap_edge.models.slap import SlapModel

    return SlapModel(resolve_model_config(name_or_config, **overrides))
