"""Distillation: a small student learns a trained teacher's audio space, on the teacher's own trainer.

The ``distill`` task (recipe ``"task": "distill"``) gives three losses:

- ``cosine_loss``: 1 - cos(student audio embedding, teacher audio embedding), so the student lands in the teacher's
  space and the teacher's prompt embeddings score it directly;
- ``kd_loss``: soft cross-entropy between the teacher's and the student's audio-to-text similarity distributions over
  the batch's distinct captions, both at the teacher's logit scale divided by ``temperature`` (times
  ``temperature**2``, which keeps the gradient size independent of the temperature, as in Hinton et al.);
- ``contrastive_loss`` (weight 0 by default): the usual InfoNCE on the true captions;
- ``head_kd_loss`` (``head_kd_weight``, 0 by default): the teacher's own attribute heads (linear classifiers on the
  normalised audio embedding, trained with the teacher: sex, age group, pitch, rate, voice quality, loudness,
  channel, language), frozen, read the student's embedding as well as the teacher's, and the student matches the
  teacher's class distributions (soft cross-entropy at ``temperature``, times ``temperature**2``, averaged over the
  heads). The cosine loss weighs every direction of the embedding by how much of it there is; this one weighs the
  directions that tell attribute classes apart, however little of the embedding they hold (hoarse against clear,
  tremor against steady). It needs no labels, so it reads any audio the teacher can embed.
- ``bank_kd_loss`` (``bank_kd_weight``, 0 by default): the same soft cross-entropy over a fixed bank of text
  directions, one softmax per attribute over its values: each value (hoarse, clear, trembling, ...; the languages of
  the teacher's language head) is the normalised mean of the teacher's text embeddings of ``bank_captions``
  captions that name that value alone, written by the corpus's own caption generator (`caption_bank`). Zero-shot
  prompts read the embedding along such text directions; the batch's captions name many attributes at once, so in
  their softmax a voice-quality difference is a small part of each caption's logit, while here it is the whole of
  one decision.

The text tower is the teacher's, frozen: on the first step the task copies the teacher's text encoder and logit
scale into the student and stops their gradients, so the student's checkpoint (and bundle) embeds prompts exactly as
the teacher did and scores with the teacher's calibrated scale.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from slap_edge.config import ConfigError, from_dict, to_dict
from slap_edge.data.captions import make_captions
from slap_edge.data.languages import language_name
from slap_edge.data.manifest import ATTRIBUTE_VALUES
from slap_edge.models.config import ModelConfig
from slap_edge.train.config import TrainRecipe
from slap_edge.train.losses import caption_positive_mask, contrastive_loss
from slap_edge.train.tasks import Task, register_task


@dataclasses.dataclass(frozen=True)
class DistillOptions:
    teacher: str = ""  # the teacher's run folder (`slap-edge distill --teacher RUN` fills it in)
    cosine_weight: float = 1.0
    kd_weight: float = 1.0
    temperature: float = 2.0
    contrastive_weight: float = 0.0
    head_kd_weight: float = 0.0  # the teacher's attribute heads on both embeddings; needs a teacher with heads
    bank_kd_weight: float = 0.0  # one softmax per attribute over a fixed bank of caption directions (caption_bank)
    bank_captions: int = 8  # captions per attribute value in the bank

    def __post_init__(self) -> None:
        weights = (
            self.cosine_weight,
            self.kd_weight,
            self.contrastive_weight,
            self.head_kd_weight,
            self.bank_kd_weight,
        )
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"loss weights must be >= 0 and not all 0, got {weights}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.bank_captions < 1:
            raise ValueError(f"bank_captions must be >= 1, got {self.bank_captions}")


# The attributes of the caption bank: those with a closed set of values (age in years and free text are left out).
BANK_ATTRIBUTES = ("sex", "age_group", "pitch", "rate", "quality", "intonation", "loudness", "channel")
BANK_SEED = 0


def caption_bank(languages: tuple[str, ...], per_value: int) -> dict[str, dict[str, list[str]]]:
    """For each attribute of ``BANK_ATTRIBUTES`` (and ``language`` over ``languages``, the codes the caption generator
    can name; none if fewer than two), each value's ``per_value`` captions that name that value alone, from the
    corpus's caption generator with a fixed seed (the same bank every run)."""
    values: dict[str, tuple[str, ...]] = {a: ATTRIBUTE_VALUES[a] or () for a in BANK_ATTRIBUTES}
    named = tuple(code for code in languages if language_name(code) is not None)
    if len(named) >= 2:
        values["language"] = named
    return {
        attribute: {v: make_captions({attribute: v}, BANK_SEED, i, per_value) for i, v in enumerate(vals)}
        for attribute, vals in values.items()
    }


def recipe_with_teacher(recipe: TrainRecipe, teacher_dir: Path, teacher: ModelConfig) -> TrainRecipe:
    """``recipe`` (a distill recipe) set to distil from the run ``teacher_dir`` whose model is ``teacher``:
    the teacher's folder in its task options, and the teacher's text settings as the student's (the student takes
    the teacher's text tower)."""
    return dataclasses.replace(
        recipe,
        model_overrides={**recipe.model_overrides, "text": to_dict(teacher.text)},
        task_options={**recipe.task_options, "teacher": str(Path(teacher_dir).resolve())},
    )


def tempered_soft_cross_entropy(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of the student's softmax against the teacher's, both logits [B, C] divided by ``temperature``,
    averaged over the batch, times ``temperature**2`` (Hinton et al.)."""
    target = F.softmax(teacher / temperature, dim=-1)
    log_probs = F.log_softmax(student / temperature, dim=-1)
    return -(target * log_probs).sum(dim=-1).mean() * temperature**2


def distill_kd_loss(
    student_audio: torch.Tensor, teacher_audio: torch.Tensor, text: torch.Tensor, scale: float, temperature: float
) -> torch.Tensor:
    """Soft cross-entropy of the student's audio->text distribution against the teacher's, at ``scale/temperature``.

    All embeddings L2-normalised: audio [B, D], text [C, D] (the batch's distinct captions).
    """
    return tempered_soft_cross_entropy(scale * student_audio @ text.T, scale * teacher_audio @ text.T, temperature)


def head_kd_loss(
    student_audio: torch.Tensor, teacher_audio: torch.Tensor, heads: torch.nn.ModuleDict, temperature: float
) -> torch.Tensor:
    """Soft cross-entropy of each head's class distribution on the student's embedding against the same head's on
    the teacher's, at ``temperature`` (times ``temperature**2``), averaged over the heads. Embeddings [B, D],
    L2-normalised; ``heads`` maps a name to a linear layer D -> classes (frozen by the caller)."""
    if not len(heads):
        raise ValueError("head_kd_loss needs at least one head")
    per_head = [tempered_soft_cross_entropy(h(student_audio), h(teacher_audio), temperature) for h in heads.values()]
    return torch.stack(per_head).mean()


def bank_kd_loss(
    student_audio: torch.Tensor, teacher_audio: torch.Tensor, bank: list[torch.Tensor], scale: float, temperature: float
) -> torch.Tensor:
    """Mean over the bank's attributes of the soft cross-entropy between the teacher's and the student's distributions
    over that attribute's values, at ``scale / temperature`` (times ``temperature**2``). Embeddings [B, D] and each
    attribute's value directions [V, D] L2-normalised."""
    if not bank:
        raise ValueError("bank_kd_loss needs at least one attribute in the bank")
    per_attribute = [
        tempered_soft_cross_entropy(scale * student_audio @ v.T, scale * teacher_audio @ v.T, temperature) for v in bank
    ]
    return torch.stack(per_attribute).mean()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


class DistillTask:
    """See the module docstring. Holds the frozen teacher; the student is the model the trainer passes in."""

    def __init__(self, options: DistillOptions, model_config: ModelConfig, device: torch.device) -> None:
        from slap_edge.train.checkpoint import load_run

        if not options.teacher:
            raise ConfigError("task_options.teacher: the distill task needs the teacher's run folder (--teacher RUN)")
        teacher_dir = Path(options.teacher)
        if not (teacher_dir / "config.json").is_file():
            raise ConfigError(f"task_options.teacher: {teacher_dir} is not a run folder (no config.json)")
        teacher, _ = load_run(teacher_dir, device=device)
        tc = teacher.config
        if tc.embed_dim != model_config.embed_dim:
            raise ConfigError(
                f"student {model_config.name} has embed_dim {model_config.embed_dim}, teacher {tc.name} "
                f"({teacher_dir}) has {tc.embed_dim}; they must share the embedding space"
            )
        if tc.text != model_config.text:
            raise ConfigError(
                f"student text tower {to_dict(model_config.text)} differs from the teacher's {to_dict(tc.text)}; "
                "the student takes the teacher's text tower, so set the student's model_overrides.text to match"
            )
        if tc.frontend.sample_rate != model_config.frontend.sample_rate:
            raise ConfigError(
                f"student sample rate {model_config.frontend.sample_rate} Hz differs from the teacher's "
                f"{tc.frontend.sample_rate} Hz; both read the same waveform"
            )
        if options.head_kd_weight > 0 and not len(teacher.attribute_heads):
            raise ConfigError(
                f"task_options.head_kd_weight > 0 needs a teacher with attribute heads; {tc.name} ({teacher_dir}) has "
                "none (its model config's heads.attributes and heads.languages are empty): set head_kd_weight to 0"
            )
        teacher.requires_grad_(False).eval()
        self.teacher = teacher
        self.bank: list[torch.Tensor] = []
        if options.bank_kd_weight > 0:
            with torch.no_grad():
                for captions in caption_bank(tc.heads.languages, options.bank_captions).values():
                    directions = [
                        F.normalize(teacher.encode_text(c).float().mean(dim=0), dim=-1) for c in captions.values()
                    ]
                    self.bank.append(torch.stack(directions))
        self.teacher_window = tc.window_samples
        self.options = options
        self.scale = teacher.logit_scale_value()
        self._adopted: set[int] = set()

    def adopt_text_tower(self, student: torch.nn.Module) -> None:
        """Copy the teacher's text encoder and logit scale into ``student`` and freeze them (idempotent)."""
        student = _unwrap(student)
        if id(student) in self._adopted:
            return
        with torch.no_grad():
            student.text_encoder.load_state_dict(self.teacher.text_encoder.state_dict())
            student.logit_scale.copy_(self.teacher.logit_scale)
        student.text_encoder.requires_grad_(False)
        student.logit_scale.requires_grad_(False)
        # A frozen text encoder may cache pooled vectors; any computed before the copy belong to other weights.
        cache = getattr(student.text_encoder, "_pooled_cache", None)
        if isinstance(cache, dict):
            cache.clear()
        self._adopted.add(id(student))

    def teacher_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """The teacher's embedding of each student window, seen through windows of the teacher's own length.

        A longer student window is covered by evenly spaced teacher windows whose embeddings are averaged (then
        renormalised), so the target describes all of the audio the student hears; a shorter one is zero-padded
        on both sides, as the teacher saw short clips in training.
        """
        total, window = audio.shape[-1], self.teacher_window
        if total == window:
            return self.teacher.encode_audio(audio).float()
        if total < window:
            left = (window - total) // 2
            return self.teacher.encode_audio(F.pad(audio, (left, window - total - left))).float()
        count = -(-total // window)
        starts = torch.linspace(0, total - window, count).round().long().tolist()
        pieces = torch.stack([audio[:, s : s + window] for s in starts], dim=1)  # [B, count, window]
        emb = self.teacher.encode_audio(pieces.reshape(-1, window)).float().reshape(audio.shape[0], count, -1)
        return F.normalize(emb.mean(dim=1), dim=-1)

    def __call__(self, model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        self.adopt_text_tower(model)
        audio = batch["audio"]
        captions = list(batch["captions"])
        with torch.no_grad():
            teacher_audio = self.teacher_audio(audio)
            distinct = list(dict.fromkeys(captions))
            text = self.teacher.encode_text(distinct).float()
        out = model(audio=audio)
        student_audio = out["audio_emb"].float()
        o = self.options
        losses: dict[str, torch.Tensor] = {}
        if o.cosine_weight > 0:
            losses["cosine_loss"] = o.cosine_weight * (1.0 - (student_audio * teacher_audio).sum(dim=-1)).mean()
        if o.kd_weight > 0:
            kd = distill_kd_loss(student_audio, teacher_audio, text, self.scale, o.temperature)
            losses["kd_loss"] = o.kd_weight * kd
        if o.contrastive_weight > 0:
            index = {c: i for i, c in enumerate(distinct)}
            caption_text = text[torch.tensor([index[c] for c in captions], device=text.device)]
            positives = caption_positive_mask(captions, device=student_audio.device)
            scale = torch.tensor(self.scale, device=student_audio.device)
            losses["contrastive_loss"] = o.contrastive_weight * contrastive_loss(
                student_audio, caption_text, scale, positives
            )
        if o.head_kd_weight > 0:
            heads = self.teacher.attribute_heads
            losses["head_kd_loss"] = o.head_kd_weight * head_kd_loss(student_audio, teacher_audio, heads, o.temperature)
        if o.bank_kd_weight > 0:
            bank = [v.to(student_audio.device) for v in self.bank]
            kd = bank_kd_loss(student_audio, teacher_audio, bank, self.scale, o.temperature)
            losses["bank_kd_loss"] = o.bank_kd_weight * kd
        return losses


@register_task("distill")
def create_distill_task(options: dict[str, Any], model_config: ModelConfig, device: torch.device) -> Task:
    return DistillTask(from_dict(DistillOptions, options, "task_options"), model_config, device)
