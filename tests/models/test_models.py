"""Every registered model runs forward and backward; configs are strict; export modules match the model."""

from __future__ import annotations

import json

import pytest
import torch

from slap_edge.config import ConfigError, to_dict
from slap_edge.models import create_model, get_model_config, list_models, resolve_model_config
from slap_edge.models.registry import CONFIG_DIR
from slap_edge.models.text import tokenizer_json_path


def test_registry_has_the_documented_names() -> None:
    assert {"teacher-tiny", "teacher-small", "teacher-base", "student-vit-tiny", "student-cnn-tiny"} <= set(
        list_models()
    )


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).train()
    cfg = model.config
    wave = 0.1 * torch.randn(2, cfg.window_samples)
    out = model(audio=wave, texts=["a man is speaking", "a breathy woman"], mae=True)
    assert out["audio_emb"].shape == (2, cfg.embed_dim)
    assert out["text_emb"].shape == (2, cfg.embed_dim)
    assert torch.allclose(out["audio_emb"].norm(dim=-1), torch.ones(2), atol=1e-5)
    assert ("mae_pred" in out) == cfg.uses_mae
    loss = (out["audio_emb"] @ out["text_emb"].T).sum() * out["logit_scale"]
    if cfg.uses_mae:
        loss = loss + out["mae_pred"].square().mean()
    loss.backward()
    assert model.audio_proj.weight.grad is not None and model.audio_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.text_encoder.proj.parameters())
    assert model.logit_scale.grad is not None
    if cfg.uses_mae:
        assert model.mae_decoder.pred.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["student-vit-tiny", "student-cnn-tiny"])
def test_students_are_small(name: str) -> None:
    model = create_model(name)
    n = sum(p.numel() for k, p in model.named_parameters() if not k.startswith("text_encoder"))
    assert 0.5e6 <= n <= 2e6, f"{name}: {n} audio-side parameters"


def test_teacher_small_size() -> None:
    model = create_model("teacher-small")
    n = sum(p.numel() for k, p in model.named_parameters() if k.startswith(("audio_", "mae_")))
    assert 2e6 <= n <= 5e6


def test_config_files_are_complete_and_strict() -> None:
    for path in CONFIG_DIR.glob("*.json"):
        cfg = get_model_config(path.stem)
        assert cfg.name == path.stem
        # What the file leaves out must equal the defaults, so the saved full config rebuilds the same model.
        assert resolve_model_config(to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="teacher-tiny"):
        create_model("no-such-model")


def test_overrides_merge_and_are_strict() -> None:
    cfg = resolve_model_config("teacher-tiny", mae={"mask_ratio": 0.5}, text={"trainable_layers": 1})
    assert cfg.mae.mask_ratio == 0.5 and cfg.mae.decoder_width == get_model_config("teacher-tiny").mae.decoder_width
    with pytest.raises(ConfigError, match="mask_ration"):
        resolve_model_config("teacher-tiny", mae={"mask_ration": 0.5})
    with pytest.raises(ConfigError, match="mask_ratio"):
        resolve_model_config("teacher-tiny", mae={"mask_ratio": 1.5})


def test_frame_like_patches_span_all_mel_bins() -> None:
    model = create_model("teacher-tiny", audio={"patch_size": [32, 2]}).eval()
    assert model.audio_encoder.vit.patch_embed.grid_size == (1, model.config.num_frames // 2)
    emb = model.encode_audio(torch.randn(1, model.config.window_samples))
    assert emb.shape == (1, model.config.embed_dim)


def test_text_tower_frozen_by_default_and_top_layers_trainable() -> None:
    frozen = create_model("teacher-tiny")
    assert not any(p.requires_grad for p in frozen.text_encoder.bert.parameters())
    tuned = create_model("teacher-tiny", text={"trainable_layers": 1})
    layers = tuned.text_encoder.bert.encoder.layer
    assert all(p.requires_grad for p in layers[-1].parameters())
    assert not any(p.requires_grad for p in layers[-2].parameters())
    assert not any(p.requires_grad for p in tuned.text_encoder.bert.embeddings.parameters())


def test_logit_scale_is_clamped_and_not_decayed() -> None:
    model = create_model("teacher-tiny")
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.logit_scale_value() == pytest.approx(100.0, rel=1e-5)
    groups = model.param_groups(0.1)
    undecayed = [g for g in groups if any(p is model.logit_scale for p in g["params"])]
    assert len(undecayed) == 1 and undecayed[0]["weight_decay"] == 0.0


def test_pretrained_text_layers_get_a_scaled_learning_rate() -> None:
    model = create_model("teacher-tiny", text={"trainable_layers": 1})
    groups = model.param_groups(0.1, pretrained_lr_scale=0.1)
    top = set(map(id, model.text_encoder.bert.encoder.layer[-1].parameters()))
    for group in groups:
        in_top = {id(p) in top for p in group["params"]}
        assert len(in_top) == 1
        assert group["lr_scale"] == (0.1 if in_top == {True} else 1.0)
    n_trainable = sum(1 for p in model.parameters() if p.requires_grad)
    assert sum(len(g["params"]) for g in groups) == n_trainable


def test_text_cache_and_export_modules_agree_with_encoders() -> None:
    from slap_edge.models.text import tokenize

    torch.manual_seed(0)
    model = create_model("teacher-tiny").eval()
    texts = ["a child is speaking", "an elderly man with a hoarse voice", "a child is speaking"]
    first = model.encode_text(texts)
    again = model.encode_text(texts)  # served from the frozen-MiniLM cache
    assert torch.allclose(first, again, atol=1e-6) and torch.allclose(first[0], first[2])
    ids, mask = tokenize(texts, model.config.text.max_length)
    exported = model.text_export_module()(ids, mask)
    assert torch.allclose(exported, first, atol=1e-5)
    wave = 0.1 * torch.randn(2, model.config.window_samples)
    assert torch.allclose(model.audio_export_module()(wave), model.encode_audio(wave), atol=1e-6)


def test_tokenizer_json_is_minilm() -> None:
    data = json.loads(tokenizer_json_path().read_text())
    assert data["model"]["type"] == "WordPiece"


def test_cpu_attention_path_matches_the_fused_kernel() -> None:
    # On CPU the ViT runs attention as matmul + softmax (faster there for short sequences); same maths as the
    # scaled_dot_product_attention kernel it uses on CUDA.
    model = create_model("teacher-tiny").eval()
    enc = model.audio_encoder
    mel = torch.randn(3, model.config.frontend.n_mels, model.config.num_frames)
    with torch.no_grad():
        out = enc(mel)
        assert not any(block.attn.fused_attn for block in enc.vit.blocks)
        for block in enc.vit.blocks:
            block.attn.fused_attn = True
        x = enc.vit.norm(enc.vit.blocks(enc.vit.norm_pre(enc.patch_tokens(mel))))
        fused = enc.vit.forward_head(x, pre_logits=True)
    torch.testing.assert_close(out, fused, atol=1e-5, rtol=1e-4)


def test_forward_takes_a_log_mel_in_place_of_audio() -> None:
    model = create_model("teacher-tiny").eval()
    wave = 0.1 * torch.randn(2, model.config.window_samples)
    with torch.no_grad():
        mel = model.log_mel(wave)
        torch.testing.assert_close(model(mel=mel)["audio_emb"], model(audio=wave)["audio_emb"])
        with pytest.raises(ValueError, match="not both"):
            model(audio=wave, mel=mel)
