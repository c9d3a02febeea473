"""A ViT student's run folder carried to a finer front end: start a student with more mel filters (128 from 64) or
a longer analysis window (40 ms from 25 ms) from a trained one.

A ViT student's patch embedding is a linear map of a patch of normalised log-mel values. With more mel filters over
the same band, or the same band analysed with a longer window (same hop, band edges, scale and normalisation; the
FFT may grow with the window as long as a clip gives the same number of frames), every old log-mel value is close
to an affine function of the new ones, ``old ~ A @ new + c``; the new patch embedding is the old one composed with
``A`` on the frequency axis, with ``c`` folded into its bias, and every other weight (attention, MLPs, norms,
position embeddings, projection, the text tower) is copied unchanged. The run folder written is a finished run of
the new recipe (a model config with the finer front end, e.g. ``student-vit-nano-128mel`` or
``student-vit-nano-w40``), so ``slap-edge distill --init-from`` trains it on: the second stage is where the student
learns to use the finer resolution.

``A`` and ``c`` are fitted by ridge regression on log-mel frames of real audio (``--fit-data``: the training corpus,
its first clips in id order, so the fit is deterministic), pulled towards a filter-shape prior: each old filter as a
non-negative least-squares mix of the new ones, ``old_bank ~ B @ new_bank`` (on the FFT's bins, or on a 1 Hz grid
when the FFT changes), taken to the log domain as the weighted mean of the logs (``A0 = B / rowsum(B)``,
``c0 = log(g rowsum(B))``, ``g`` the change in a flat spectrum's power per filter weight; exact for a locally flat
spectrum). The prior alone is not enough at 400-point FFTs: below 1 kHz the 128 filters are narrower than two FFT
bins and their log energies are uneven: on audio held out of the fit the prior alone misses by 0.10-0.17
(normalised units), the fit by 0.05-0.06. A longer window resolves harmonics the old one blurred, which no affine
map undoes: the fit is an approximation there too, checked below.

The result is checked before it is written: on clips held out of the fit, the embeddings through the new front end
and weights must agree with the old run's (mean cosine >= MIN_COSINE), else it fails naming the figure, so a wrong
mapping never passes silently. ``inflate.json`` records the source run, the sha256 of its weights, the fit's data
and residuals and the cosine.

    python -m slap_edge.train.inflate_mels RUN --recipe RECIPE --fit-data CORPUS --out RUN_OUT

``RECIPE`` is the source run's recipe naming a model config that differs only in its name, ``frontend.n_mels``,
``frontend.win_length``, ``frontend.n_fft`` and ``audio.patch_size`` (the patch must span the whole mel axis, e.g.
64x4 -> 128x4). ``CORPUS`` is a corpus folder (manifest.jsonl) or one audio file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.config import FrontendConfig

INFLATE_NAME = "inflate.json"
MIN_COSINE = 0.95
FIT_CLIPS = 256  # clips of the fit data the mixing is fitted on (then CHECK_CLIPS more to check it)
CHECK_CLIPS = 32
# What a recipe may change (besides the name): the front end's resolution and the patch that spans its mel axis.
CARRIED = ("frontend.n_mels", "audio.patch_size", "frontend.win_length", "frontend.n_fft")
RIDGE_PER_FRAME = 1e-3  # the pull towards the filter-shape prior, per fitted frame


class InflateError(ValueError):
    """A source run or recipe that cannot be carried to the new front end; the message names what differs."""


def mel_mixing(old: FrontendConfig, new: FrontendConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """``A`` [old n_mels, new n_mels] and ``c`` [old n_mels] with ``old_norm ~ A @ new_norm + c`` on normalised
    log-mel values, and the worst relative residual of the filter fit ``|old_i - (B new)_i| / |old_i|``.

    With the same FFT the filters are compared on its bins. With another FFT or window length they are compared as
    functions of frequency (each filter interpolated onto a 1 Hz grid), and ``c`` also takes the change in a flat
    spectrum's power per filter weight: the window's energy times the bins per hertz."""
    from scipy.optimize import nnls

    from slap_edge.frontend import analysis_window, mel_filterbank

    check_carry(old, new)
    old_bank, new_bank = mel_filterbank(old), mel_filterbank(new)
    gain = 1.0
    if (old.n_fft, old.win_length) != (new.n_fft, new.win_length):
        grid = np.arange(0.0, old.sample_rate / 2 + 0.5, 1.0)

        def on_grid(bank: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
            freqs = np.arange(cfg.n_fft // 2 + 1) * cfg.sample_rate / cfg.n_fft
            return np.stack([np.interp(grid, freqs, row) for row in bank])

        old_bank, new_bank = on_grid(old_bank, old), on_grid(new_bank, new)
        gain = float((analysis_window(old) ** 2).sum() * old.n_fft) / float(
            (analysis_window(new) ** 2).sum() * new.n_fft
        )
    mix = np.zeros((old.n_mels, new.n_mels))
    worst = 0.0
    for i in range(old.n_mels):
        mix[i], _ = nnls(new_bank.T, old_bank[i])
        worst = max(worst, float(np.linalg.norm(old_bank[i] - mix[i] @ new_bank) / np.linalg.norm(old_bank[i])))
    sums = mix.sum(axis=1)
    if np.any(sums <= 0):
        raise InflateError(f"old filters {np.flatnonzero(sums <= 0).tolist()} are not covered by any new filter")
    a = mix / sums[:, None]
    # Normalised units: (log old - m)/s = sum_j A_ij (log new_j - m)/s + log(gain * sum_i)/s (the rows of A sum to 1).
    c = np.log(sums * gain) / old.norm_std
    return a, c, worst


def check_carry(old: FrontendConfig, new: FrontendConfig, window_samples: int | None = None) -> None:
    """Refuse (InflateError, naming what) a front end the run cannot be carried to: only more mel filters and a
    longer (or equal) window with its FFT may change, something must change, and a clip of ``window_samples`` must
    give the same number of frames (the position embeddings are copied)."""
    fixed = ("sample_rate", "hop_length", "f_min", "f_max", "mel_scale", "window", "power", "log_floor")
    differ = [f for f in fixed if getattr(old, f) != getattr(new, f)]
    if differ:
        raise InflateError(
            f"the new front end differs from the run's in {differ}; only n_mels, win_length and n_fft may change"
        )
    if new.n_mels < old.n_mels or new.win_length < old.win_length:
        raise InflateError(
            f"new n_mels {new.n_mels} and win_length {new.win_length} must be at least the run's {old.n_mels} and "
            f"{old.win_length} (a carry adds resolution)"
        )
    if (new.n_mels, new.win_length, new.n_fft) == (old.n_mels, old.win_length, old.n_fft):
        raise InflateError(
            f"the new front end is the run's own (n_mels {old.n_mels}, win_length {old.win_length}, n_fft "
            f"{old.n_fft}); it must exceed it in n_mels or win_length"
        )
    if window_samples is not None and new.num_frames(window_samples) != old.num_frames(window_samples):
        raise InflateError(
            f"n_fft {new.n_fft} gives {new.num_frames(window_samples)} frames a {window_samples}-sample window, the "
            f"run's n_fft {old.n_fft} {old.num_frames(window_samples)}; the position embeddings need the same count"
        )


def fit_windows(path: str | Path, window_samples: int, sample_rate: int, flag: str = "--fit-data") -> np.ndarray:
    """Windows [N, window_samples] of the fit data: a corpus folder's clips in id order (each clip's first window,
    zero-padded), or one audio file cut into consecutive windows."""
    from slap_edge.data.manifest import MANIFEST_NAME, read_manifest, resolve_audio
    from slap_edge.eval.suite import read_audio

    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise InflateError(
                f"{flag} {path}: a folder without {MANIFEST_NAME}; give a corpus folder or an audio file"
            )
        records = sorted(read_manifest(path), key=lambda r: r.id)[: FIT_CLIPS + CHECK_CLIPS]
        waves = [read_audio(resolve_audio(path, r), sample_rate)[:window_samples] for r in records]
    else:
        wave = read_audio(path, sample_rate)
        waves = [
            wave[i : i + window_samples] for i in range(0, max(1, len(wave) - window_samples // 2), window_samples)
        ]
    out = np.zeros((len(waves), window_samples), dtype=np.float32)
    for i, w in enumerate(waves):
        out[i, : len(w)] = w
    if len(out) < 4:
        raise InflateError(f"{flag} {path}: {len(out)} windows of {window_samples} samples; need at least 4")
    return out


def held_out(windows: np.ndarray) -> int:
    """How many of the fit data's windows (the last eighth, at least one) are held out of the fit to check it."""
    return max(1, len(windows) // 8)


def fit_mixing(
    old: FrontendConfig, new: FrontendConfig, windows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """``A``, ``c`` fitted on the log-mel frames of ``windows`` (ridge towards ``mel_mixing``'s prior); the last
    ``held_out(windows)`` windows are left out of the fit and score it. Returns them and the residuals."""
    from slap_edge.frontend import log_mel_numpy

    a0, c0, shape_residual = mel_mixing(old, new)

    def frames(w: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
        x = log_mel_numpy(w, cfg)  # [N, mels, T]
        return x.transpose(0, 2, 1).reshape(-1, cfg.n_mels).astype(np.float64)

    n_check = held_out(windows)
    fit, check = windows[:-n_check], windows[-n_check:]
    xo, xn = frames(fit, old), frames(fit, new)
    z = np.hstack([xn, np.ones((len(xn), 1))])
    prior = np.vstack([a0.T, c0[None]])  # [new + 1, old]
    ridge = RIDGE_PER_FRAME * len(z)
    w = prior + np.linalg.solve(z.T @ z + ridge * np.eye(z.shape[1]), z.T @ (xo - z @ prior))
    to, tn = frames(check, old), frames(check, new)
    tz = np.hstack([tn, np.ones((len(tn), 1))])
    residuals = {
        "filter_shape_worst_relative": shape_residual,
        "prior_rms_held_out": float(np.sqrt(((tz @ prior - to) ** 2).mean())),
        "fit_rms_held_out": float(np.sqrt(((tz @ w - to) ** 2).mean())),
        "old_logmel_std_held_out": float(to.std()),
    }
    return w[:-1].T.copy(), w[-1].copy(), residuals


def inflate_patch_embedding(weight: np.ndarray, bias: np.ndarray, a: np.ndarray, c: np.ndarray) -> tuple:
    """Conv patch embedding [width, 1, old_f, t] (kernel spanning the whole old mel axis in steps of ``old_f``) ->
    [width, 1, new_f, t] and its bias, for ``old = A @ new + c`` on each mel column of a patch."""
    out_ch, in_ch, pf, pt = weight.shape
    n_old, n_new = a.shape
    if in_ch != 1 or n_old % pf or n_new * pf % n_old:
        raise InflateError(f"patch embedding {weight.shape} does not tile {n_old} mels")
    if pf != n_old:
        raise InflateError(
            f"the patch spans {pf} of {n_old} mels; only patches over the whole mel axis are carried (the mixing of "
            "filters crosses patch rows otherwise)"
        )
    new_weight = np.einsum("oift,fg->oigt", weight, a)
    new_bias = bias + np.einsum("oift,f->o", weight, c)
    return new_weight.astype(np.float32), new_bias.astype(np.float32)


def inflate_run(run: str | Path, recipe_path: str | Path, out: str | Path, fit_data: str | Path) -> dict[str, Any]:
    """Write the run folder ``out`` from the finished run ``run``; returns what ``inflate.json`` records."""
    import torch

    from slap_edge.export.onnx import speech_like_waveforms
    from slap_edge.models.slap import SlapModel
    from slap_edge.train.reshape import embedding_agreement, open_student, write_carried

    carry = open_student(run, recipe_path, out, CARRIED, InflateError)
    old_model, old_config, new_config = carry.model, carry.run_config.model, carry.new_config
    check_carry(old_config.frontend, new_config.frontend, new_config.window_samples)
    windows = fit_windows(fit_data, new_config.window_samples, new_config.frontend.sample_rate)
    a, c, residuals = fit_mixing(old_config.frontend, new_config.frontend, windows)
    torch.manual_seed(carry.recipe.seed)
    model = SlapModel(new_config)
    old_state = old_model.state_dict()
    new_state = model.state_dict()
    key_w = next(k for k in new_state if k.endswith("patch_embed.proj.weight"))
    key_b = key_w[: -len("weight")] + "bias"
    weight, bias = inflate_patch_embedding(old_state[key_w].numpy(), old_state[key_b].numpy(), a, c)
    for key, value in old_state.items():
        if key in (key_w, key_b):
            continue
        if key not in new_state or new_state[key].shape != value.shape:
            if "mel_bank" in key or "frontend" in key:
                continue  # front-end buffers come from the new config
            raise InflateError(f"{run}: weight {key} {tuple(value.shape)} has no place in the new model")
        new_state[key] = value
    new_state[key_w], new_state[key_b] = torch.from_numpy(weight), torch.from_numpy(bias)
    model.load_state_dict(new_state)

    # The windows the fit held out (fit_mixing's last eighth), and speech-like test signals for the record.
    cosine, _ = embedding_agreement(old_model, model, windows[-held_out(windows) :])
    cosine_synthetic, _ = embedding_agreement(old_model, model, speech_like_waveforms(8, new_config.window_samples, 0))
    if cosine < MIN_COSINE:
        raise InflateError(
            f"{run}: the carried student's embedding agrees with the source's at mean cosine {cosine:.3f} on audio "
            f"held out of the fit (< {MIN_COSINE}); the mapping is wrong for this model or the fit data"
        )
    record = {
        "recipe": str(recipe_path),
        "n_mels": [old_config.frontend.n_mels, new_config.frontend.n_mels],
        "win_length": [old_config.frontend.win_length, new_config.frontend.win_length],
        "n_fft": [old_config.frontend.n_fft, new_config.frontend.n_fft],
        "fit_data": str(fit_data),
        "fit_windows": int(len(windows)),
        "residuals": residuals,
        "embedding_mean_cosine": cosine,
        "embedding_mean_cosine_speech_like": cosine_synthetic,
        "note": "patch embedding composed with the mel mixing; every other weight copied; no optimizer state",
    }
    return write_carried(carry, model, out, "inflated", INFLATE_NAME, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slap_edge.train.inflate_mels",
        description="Carry a finished ViT student run to a finer front end (more mel filters, a longer analysis "
        "window), so `slap-edge distill --init-from` can train it on.",
    )
    parser.add_argument("run", help="a finished student run (or one rebuilt by slap_edge.train.from_bundle)")
    parser.add_argument(
        "--recipe", required=True, help="the run's recipe with the new n_mels and patch_size, win_length and n_fft"
    )
    parser.add_argument(
        "--fit-data", required=True, help="corpus folder (its first clips in id order) or one audio file to fit on"
    )
    parser.add_argument("--out", required=True, help="new run folder")
    args = parser.parse_args(argv)
    try:
        record = inflate_run(args.run, args.recipe, args.out, args.fit_data)
    except (InflateError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"carried {args.run} from {record['n_mels'][0]} mels on a {record['win_length'][0]}-sample window to "
        f"{record['n_mels'][1]} on {record['win_length'][1]} into {args.out} (log-mel fit "
        f"rms {record['residuals']['fit_rms_held_out']:.3f}, filter-shape prior alone "
        f"{record['residuals']['prior_rms_held_out']:.3f}; embedding mean cosine {record['embedding_mean_cosine']:.4f} "
        "on held-out audio)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
