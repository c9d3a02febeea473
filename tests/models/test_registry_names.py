"""A registry name never changes architecture once a bundle refers to it: the model configs the built-in bundle's
record hashed are still what their names give (a new variant gets a new name)."""

from __future__ import annotations

import dataclasses
import json

from slap_edge.bundle_reader import default_bundle_path
from slap_edge.config import to_dict
from slap_edge.fingerprints import sha256_json
from slap_edge.models.config import ModelConfig
from slap_edge.models.registry import get_model_config


def hashes(config: ModelConfig) -> set[str]:
    """The config as the registry gives it, and as a run that never used the MAE decoder records it."""
    without_decoder = dataclasses.replace(config, mae=dataclasses.replace(config.mae, enabled=False))
    return {sha256_json(to_dict(config)), sha256_json(to_dict(without_decoder))}


def test_the_built_in_bundles_models_keep_their_registry_configs() -> None:
    record = json.loads((default_bundle_path() / "manifest.json").read_text(encoding="utf-8"))["record"]
    teacher, student = record["runs"]["teacher"], record["runs"]["student"]
    teacher_config = get_model_config(teacher["model"])
    assert teacher["model_config_sha256"] in hashes(teacher_config), (
        f"registry config {teacher['model']!r} is no longer the one the built-in bundle's teacher was trained as; "
        "give the changed architecture a new name"
    )
    # `slap-edge distill` gives the student the teacher's text settings (it takes over the teacher's text tower).
    student_config = dataclasses.replace(get_model_config(student["model"]), text=teacher_config.text)
    assert student["model_config_sha256"] in hashes(student_config), (
        f"registry config {student['model']!r} is no longer the one the built-in bundle's student was trained as; "
        "give the changed architecture a new name"
    )
