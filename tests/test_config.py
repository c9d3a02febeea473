from __future__ import annotations

import dataclasses
import json

import pytest

from slap_edge.config import ConfigError, FrontendConfig, from_dict, load_config, save_config, to_dict


def test_round_trip(tmp_path) -> None:
    cfg = FrontendConfig(n_mels=80, mel_scale="htk")
    path = tmp_path / "fe.json"
    save_config(cfg, path)
    assert load_config(FrontendConfig, path) == cfg
    assert from_dict(FrontendConfig, to_dict(cfg)) == cfg


def test_unknown_key_names_key_and_accepted(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"n_mel": 64}))
    with pytest.raises(ConfigError) as err:
        load_config(FrontendConfig, path)
    msg = str(err.value)
    assert str(path) in msg and "'n_mel'" in msg and "n_mels" in msg


def test_wrong_type_names_key(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"n_mels": "sixty-four"}))
    with pytest.raises(ConfigError, match=r"n_mels.*expected an integer"):
        load_config(FrontendConfig, path)


def test_bad_literal_lists_choices() -> None:
    with pytest.raises(ConfigError, match=r"mel_scale.*'slaney', 'htk'"):
        from_dict(FrontendConfig, {"mel_scale": "bark"})


def test_syntax_error_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "n_mels": 64,\n  oops\n}')
    with pytest.raises(ConfigError, match=r"broken\.json:3"):
        load_config(FrontendConfig, path)


def test_invalid_value_rejected() -> None:
    with pytest.raises(ConfigError, match="f_max"):
        from_dict(FrontendConfig, {"f_max": 9000.0})


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        FrontendConfig().n_mels = 3  # type: ignore[misc]
