"""`adapt_site`: labelled site clips + a bundle (+ prompts) -> heads file, with the cross-validated comparison.

Clips are embedded as the eval embeds them (the bundle's audio.onnx on each window of a clip, averaged and
renormalised), so `slap-edge eval --heads` scores a suite the way the heads were fitted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.adapt.examples import Examples, load_example_audio
from slap_edge.adapt.fit import AdaptConfig, fit_section
from slap_edge.adapt.heads import Heads, SectionHead
from slap_edge.prompts import PromptSet
from slap_edge.scoring import class_vectors


@dataclasses.dataclass
class AdaptResult:
    heads: Heads
    warnings: list[str]
    prompt_source: dict[str, str]  # section -> where its prior came from

    def table(self) -> str:
        """The side-by-side comparison a user reads after `slap-edge adapt`."""
        lines = [
            "| section | clips | speakers | folds | zero-shot F1 | plain F1 | prompt-prior F1 | calibrated F1 "
            "| calibrated+prior F1 | stored | c |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|",
        ]

        def fmt(v: float | None) -> str:
            return "—" if v is None else f"{v:.3f}"

        for s in self.heads.sections:
            i, cv = s.info, s.info["cv_macro_f1"]
            scores = " | ".join(
                fmt(cv.get(n)) for n in ("zero_shot", "plain", "prior", "calibrated", "calibrated_prior")
            )
            c = "—" if i.get("c") is None else f"{i['c']:g}"
            lines.append(
                f"| {s.name} | {i['n_clips']} | {i['n_speakers']} | {i['folds']} | {scores} | {i['head']} | {c} |"
            )
        lines.append("")
        lines.append("F1: macro-F1 of held-out speakers' clips (cross-validated; zero-shot needs no folds).")
        for s in self.heads.sections:
            if s.info.get("why"):
                lines.append(f"[{s.name}] stored {s.info['head']}: {s.info['why']}")
        for s in self.heads.sections:
            cal = s.info.get("calibration")
            if isinstance(cal, dict):
                parts = []
                for label, f in cal.items():
                    if f.get("threshold") is None:
                        parts.append(f"{label}: none ({f.get('why')})")
                        continue
                    recall = "—" if f["recall"] is None else f"{f['recall']:.2f}"
                    parts.append(
                        f"{label} >= {f['threshold']:.3f} (FAR {f['far']:.3f} of {f['n_negatives']}, recall {recall})"
                    )
                lines.append(f"[{s.name}] thresholds for FAR {s.info['target_far']}: " + "; ".join(parts))
            elif cal:
                lines.append(f"[{s.name}] thresholds: {cal}")
        return "\n".join(lines)


def prompt_vectors_for(
    examples: Examples, prompts: PromptSet | None, embed_text: Any
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """Per section, each label's unit class vector from the prompts file (matched by section and label) or, for a
    suite, from its task's prompts; and where each came from."""
    texts: dict[str, dict[str, list[str]]] = {}
    source: dict[str, str] = {}
    for name, classes in examples.prompts.items():
        texts[name] = {label: list(p) for label, p in classes.items()}
        source[name] = f"suite {examples.source}"
    if prompts is not None:
        for section in prompts.sections:
            by_label: dict[str, list[str]] = {}
            for label, text in zip(section.labels, section.texts, strict=True):
                by_label.setdefault(label, []).append(text)
            texts[section.name] = by_label
            source[section.name] = prompts.source
    wanted = [t for name in examples.sections for ts in texts.get(name, {}).values() for t in ts]
    unique = list(dict.fromkeys(wanted))
    embedded = dict(zip(unique, embed_text(unique), strict=True)) if unique else {}
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in examples.sections:
        if name not in texts:
            continue
        flat = [(label, t) for label, ts in texts[name].items() for t in ts]
        names, vecs = class_vectors(np.stack([embedded[t] for _, t in flat]), [label for label, _ in flat])
        out[name] = dict(zip(names, vecs, strict=True))
    return out, source


def adapt_site(
    bundle_path: str | Path | None,
    examples: Examples,
    cfg: AdaptConfig,
    prompts: PromptSet | None = None,
    skip_bad: bool = False,
) -> AdaptResult:
    """Embed the examples with the bundle, fit one head per section, calibrate, and return the heads."""
    from slap_edge.bundle_reader import load_bundle, resolve_bundle_path
    from slap_edge.eval.embedders import bundle_source

    path = resolve_bundle_path(bundle_path)
    bundle = load_bundle(path)
    source = bundle_source(path)
    examples, waves = load_example_audio(examples, bundle.sample_rate, skip_bad=skip_bad)
    embeddings = source.embed_audio(waves)
    vectors, prompt_source = prompt_vectors_for(examples, prompts, source.embed_text)
    sections: list[SectionHead] = []
    for name, labels in examples.sections.items():
        rows = [i for i, e in enumerate(examples.items) if e.section == name]
        section_vectors = vectors.get(name)
        ordered = tuple(labels)
        if section_vectors is not None:
            # Keep the prompts' label order, so an adapted section lists its labels as the prompt section does.
            ordered = tuple(
                [lab for lab in section_vectors if lab in labels]
                + [lab for lab in labels if lab not in section_vectors]
            )
        head, _ = fit_section(
            name,
            embeddings[rows],
            [examples.items[i].label for i in rows],
            [examples.items[i].speaker for i in rows],
            ordered,
            section_vectors,
            bundle.logit_scale,
            cfg,
        )
        head.info["prompts"] = prompt_source.get(name)
        sections.append(head)
        calibration = head.info.get("calibration")
        if isinstance(calibration, dict):
            for label, facts in calibration.items():
                if facts.get("threshold") is not None and facts["threshold"] >= 0.999:
                    examples.warnings.append(
                        f"section {name!r} label {label!r}: clips of other labels reach p >= 0.999, so the threshold "
                        f"for FAR {cfg.target_far} ({facts['threshold']:.4f}) will rarely let it fire; add clips or "
                        "raise --target-far"
                    )
    heads = Heads(model_id=bundle.model_id, sections=tuple(sections), source="<fitted>")
    return AdaptResult(heads, examples.warnings, prompt_source)
