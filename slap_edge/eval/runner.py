"""Zero-shot and linear-probe evaluation of any embedding source on any suite (spec/eval-suite.md), and
caption-to-audio retrieval on a corpus split.

Zero-shot: each class's prompts are embedded, L2-normalised, averaged and renormalised into one class vector; a clip
is given the class whose vector has the higher cosine with its embedding. Nothing is tuned on the suite.
Linear probe: logistic regression on the standardised clip embeddings, predicted out of fold; folds never split a
speaker (5 folds grouped by speaker, or leave-one-speaker-out when a class has fewer than 5 speakers), and each fold
chooses its regularisation by an inner grouped cross-validation on its own training clips.
MFCC reference: the same probe, on the same folds, fitted on 40 MFCC statistics per clip (``slap_edge.eval.mfcc``)
instead of the model's embedding; a model whose probe does not beat it keeps little beyond the spectral envelope.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.adapt.heads import Heads
from slap_edge.eval.embedders import EmbeddingSource
from slap_edge.eval.metrics import balanced_accuracy, macro_f1, recall_at_k
from slap_edge.eval.suite import AudioReadError, Suite, read_audio
from slap_edge.scoring import class_vectors, l2_normalize

PROBE_FOLDS = 5


def zero_shot_predict(
    audio: np.ndarray, prompt_embeddings: np.ndarray, prompt_labels: list[str]
) -> tuple[list[str], np.ndarray]:
    """Predicted labels for audio embeddings [N, D] and the cosines [N, C] to the class vectors."""
    labels, vectors = class_vectors(prompt_embeddings, prompt_labels)
    cosines = l2_normalize(audio) @ vectors.T
    return [labels[i] for i in np.argmax(cosines, axis=1)], cosines


def probe_folds(labels: list[str], speakers: list[str], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs that never split a speaker: stratified 5-fold grouped by speaker when every class
    has at least 5 speakers, otherwise leave one speaker out."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    y = np.asarray(labels)
    groups = np.asarray(speakers)
    speakers_per_class = [len(set(groups[y == c])) for c in sorted(set(labels))]
    x = np.zeros((len(y), 1))
    if min(speakers_per_class) >= PROBE_FOLDS:
        splitter = StratifiedGroupKFold(n_splits=PROBE_FOLDS, shuffle=True, random_state=seed)
        return list(splitter.split(x, y, groups))
    return list(LeaveOneGroupOut().split(x, y, groups))


PROBE_CS = (0.001, 0.01, 0.1, 1.0)


def _probe_model(c: float, standardise: bool) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if standardise:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    return LogisticRegression(C=c, max_iter=5000)


def _inner_c(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    seed: int,
    cs: tuple[float, ...] = PROBE_CS,
    standardise: bool = True,
) -> float:
    """The regularisation strength for one outer fold, chosen from ``cs`` by a speaker-grouped inner cross-validation
    on that fold's training clips only (macro-F1, ties to the stronger regularisation); the middle of ``cs`` (0.01
    for the default grid) where too few speakers."""
    from sklearn.model_selection import StratifiedGroupKFold

    if len(cs) == 1:
        return cs[0]
    speakers_per_class = [len(set(groups[y == c])) for c in set(y)]
    n_inner = min(4, min(speakers_per_class))
    if n_inner < 2:
        return cs[(len(cs) - 1) // 2]
    splits = list(StratifiedGroupKFold(n_splits=n_inner, shuffle=True, random_state=seed).split(x, y, groups))
    labels = sorted(set(y))
    best_c, best = cs[0], -1.0
    for c in cs:
        pred = np.empty(len(y), dtype=object)
        for tr, te in splits:
            if len(set(y[tr])) == 1:
                pred[te] = y[tr][0]
                continue
            clf = _probe_model(c, standardise)
            clf.fit(x[tr], y[tr])
            pred[te] = clf.predict(x[te])
        score = macro_f1(list(y), list(pred), labels)
        if score > best + 1e-9:
            best_c, best = c, score
    return best_c


def fit_probe(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
    cs: tuple[float, ...] = PROBE_CS,
    standardise: bool = True,
) -> Any:
    """The eval's probe fitted on one training set: C chosen from ``cs`` by a speaker-grouped inner cross-validation
    on these clips only (`_inner_c`), then a logistic regression on all of them. Needs both classes in ``y``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = _inner_c(x, y, groups, seed, cs, standardise)
        clf = _probe_model(c, standardise)
        clf.fit(x, y)
    return clf


def linear_probe_predict(
    embeddings: np.ndarray,
    labels: list[str],
    speakers: list[str],
    seed: int = 0,
    cs: tuple[float, ...] = PROBE_CS,
    standardise: bool = True,
) -> list[str]:
    """Out-of-fold predictions of a logistic regression on standardised embeddings. Each outer fold picks its own
    regularisation from ``cs`` by an inner speaker-grouped cross-validation on its training clips: with tens of
    clips and hundreds of dimensions a fixed C=1 overfits, and the held-out fold is never looked at.
    ``standardise=False`` fits the L2-normalised embeddings as they are (see experiments/probe_variants.py)."""
    y = np.asarray(labels, dtype=object)
    groups = np.asarray(speakers, dtype=object)
    pred = np.empty(len(y), dtype=object)
    for train_idx, test_idx in probe_folds(labels, speakers, seed):
        classes = set(y[train_idx])
        if len(classes) == 1:  # a fold whose training speakers all have one class can only predict that class
            pred[test_idx] = next(iter(classes))
            continue
        clf = fit_probe(embeddings[train_idx], y[train_idx], groups[train_idx], seed, cs, standardise)
        pred[test_idx] = clf.predict(embeddings[test_idx])
    return list(pred)


def _scores(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict[str, float]:
    return {
        "macro_f1": macro_f1(y_true, y_pred, labels),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred, labels),
    }


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def embed_suite(
    suite: Suite, source: EmbeddingSource
) -> tuple[np.ndarray, dict[Path, int], dict[str, str], dict[str, np.ndarray]]:
    """Every readable clip of a suite embedded once, and every prompt once: (audio [N, D], row of each readable clip
    path, unreadable path -> reason, prompt -> embedding)."""
    paths = list(dict.fromkeys(clip.path for clip in suite.clips))
    waves, readable, unreadable = [], [], {}
    for path in paths:
        try:
            waves.append(read_audio(path, source.sample_rate))
            readable.append(path)
        except AudioReadError as exc:
            unreadable[str(path)] = str(exc)
    audio = source.embed_audio(waves) if waves else np.zeros((0, 0), np.float32)
    row_of = {path: i for i, path in enumerate(readable)}

    prompt_texts = list(dict.fromkeys(p for task in suite.tasks for prompts in task.classes.values() for p in prompts))
    text_of = dict(zip(prompt_texts, source.embed_text(prompt_texts), strict=True))
    return audio, row_of, unreadable, text_of


def mfcc_features(paths: list[Path]) -> np.ndarray:
    """40 MFCC means and standard deviations [N, 80] of readable clips, read at the MFCC sample rate."""
    from slap_edge.eval.mfcc import MfccConfig, mfcc_statistics

    config = MfccConfig()
    return np.stack([mfcc_statistics(read_audio(path, config.sample_rate), config) for path in paths])


def adapted_task_scores(heads: Heads, task_name: str, labels: list[str], audio: np.ndarray, y: list[str]) -> Any:
    """Scores of the adapted head named like the task (None when there is none, or its labels differ)."""
    if task_name not in heads.names:
        return None
    head = heads.section(task_name)
    if sorted(head.labels) != sorted(labels):
        return None
    return _scores(y, head.predict(audio), labels)


def evaluate_suite(
    suite: Suite,
    source: EmbeddingSource,
    probe: bool = True,
    seed: int = 0,
    mfcc_reference: bool = True,
    heads: Heads | None = None,
) -> dict[str, Any]:
    """The report of spec/eval-suite.md as a JSON-ready dict: per task, per category and mean; unreadable clips
    are counted and named, and left out of every task they belong to. With ``probe`` and ``mfcc_reference`` each
    task also gets ``mfcc_probe``: the same probe on 40 MFCC statistics, on the same speaker-grouped folds. With
    ``heads`` (`slap-edge adapt`), a task named like an adapted section is also scored by that head (``adapted``)."""
    if heads is not None:
        if source.model_id is None:
            raise ValueError(f"adapted heads need a bundle to evaluate ({source.name} is not one)")
        heads.check_model(source.model_id, heads.embed_dim, f"the model {source.name}")
    audio, row_of, unreadable, text_of = embed_suite(suite, source)
    if heads is not None and audio.size:
        heads.check_model(source.model_id or "", int(audio.shape[1]), f"the model {source.name}")
    with_mfcc = probe and mfcc_reference and bool(row_of)
    reference = mfcc_features(list(row_of)) if with_mfcc else None

    tasks = []
    for task in suite.tasks:
        clips = [c for c in suite.clips_of(task.name) if c.path in row_of]
        labels = task.labels
        entry: dict[str, Any] = {
            "task": task.name,
            "category": task.category,
            "n_clips": len(clips),
            "n_speakers": len({c.speaker for c in clips}),
            "n_unreadable": sum(1 for c in suite.clips_of(task.name) if str(c.path) in unreadable),
            "zero_shot": None,
            "linear_probe": None,
            "mfcc_probe": None,
        }
        if heads is not None:
            entry["adapted"] = None
        if clips:
            x = audio[[row_of[c.path] for c in clips]]
            y = [c.label for c in clips]
            prompt_labels = [label for label, prompts in task.classes.items() for _ in prompts]
            prompt_emb = np.stack([text_of[p] for prompts in task.classes.values() for p in prompts])
            zs_pred, _ = zero_shot_predict(x, prompt_emb, prompt_labels)
            entry["zero_shot"] = _scores(y, zs_pred, labels)
            if heads is not None:
                entry["adapted"] = adapted_task_scores(heads, task.name, labels, x, y)
            speakers = [c.speaker for c in clips]
            if probe and len(set(speakers)) >= 2 and len(set(y)) == 2:
                entry["linear_probe"] = _scores(y, linear_probe_predict(x, y, speakers, seed), labels)
                if reference is not None:  # probe_folds depends on labels, speakers and seed alone: the same folds
                    ref_x = reference[[row_of[c.path] for c in clips]]
                    entry["mfcc_probe"] = _scores(y, linear_probe_predict(ref_x, y, speakers, seed), labels)
                entry["probe_folds"] = (
                    f"{PROBE_FOLDS}-fold by speaker"
                    if min(len({c.speaker for c in clips if c.label == lab}) for lab in labels) >= PROBE_FOLDS
                    else "leave-one-speaker-out"
                )
        tasks.append(entry)

    def summary(kind: str) -> dict[str, Any]:
        by_category: dict[str, list[float]] = defaultdict(list)
        for t in tasks:
            if t[kind] is not None:
                by_category[t["category"]].append(t[kind]["macro_f1"])
        return {
            "mean_macro_f1": _mean([t[kind]["macro_f1"] for t in tasks if t[kind] is not None]),
            "categories": {c: _mean(v) for c, v in sorted(by_category.items())},
        }

    return {
        "suite": suite.name,
        "model": source.name,
        "n_clips": len(row_of) + len(unreadable),
        "unreadable": {"count": len(unreadable), "clips": unreadable},
        "tasks": tasks,
        "zero_shot": summary("zero_shot"),
        "linear_probe": summary("linear_probe") if probe else None,
        "mfcc_probe": summary("mfcc_probe") if with_mfcc else None,
        **({"adapted": summary("adapted"), "heads": heads.source} if heads is not None else {}),
    }


def caption_retrieval(
    data_dir: str | Path,
    source: EmbeddingSource,
    split: str = "val",
    seed: int = 0,
    max_clips: int = 2000,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, Any]:
    """Caption -> audio retrieval on a corpus split: each clip's caption (epoch 0) queries all clips of the split.

    ``recall@k``: the clip's own recording is among the top k. ``attribute_recall@k``: a clip with exactly the same
    attributes is among the top k; captions describe the speaker, not the recording, so that is the fairer target.
    """
    from slap_edge.data.captions import clip_seed, make_captions
    from slap_edge.data.manifest import read_manifest, resolve_audio

    data_dir = Path(data_dir)
    records = [r for r in read_manifest(data_dir) if r.split == split]
    if not records:
        raise ValueError(f"{data_dir / 'manifest.jsonl'}: no clips with split={split!r}")
    rng = np.random.default_rng(seed)
    if len(records) > max_clips:
        records = [records[i] for i in sorted(rng.choice(len(records), max_clips, replace=False))]
    waves, kept, unreadable = [], [], {}
    for record in records:
        try:
            waves.append(read_audio(resolve_audio(data_dir / "manifest.jsonl", record), source.sample_rate))
            kept.append(record)
        except AudioReadError as exc:
            unreadable[record.id] = str(exc)
    if not kept:
        raise ValueError(f"{data_dir}: none of the {len(records)} {split} clips can be read")
    audio = source.embed_audio(waves)
    captions = [make_captions(r.attributes, clip_seed(seed, r.id), 0, 1)[0] for r in kept]
    text = l2_normalize(source.embed_text(captions))
    similarity = text @ l2_normalize(audio).T
    exact = np.eye(len(kept), dtype=bool)
    keys = [tuple(sorted((k, str(v)) for k, v in r.attributes.items())) for r in kept]
    same = np.array([[a == b for b in keys] for a in keys], dtype=bool)
    out: dict[str, Any] = {"split": split, "n_clips": len(kept), "unreadable": unreadable}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(similarity, exact, k)
        out[f"attribute_recall@{k}"] = recall_at_k(similarity, same, k)
    return out
