"""Is us2 alone in sounding elderly? Every installed male MBROLA voice (and espeak-ng's default male voice of four
languages as a reference), unmodified (espeak-ng pitch 50, 160 words a minute), reading three sentences of its
language: each bundle's mean elderly probability over the clips' 3-s windows, and Praat's jitter, shimmer and HNR.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/demo-us2-age/raw_voices.py BUNDLE [BUNDLE ...]
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from slap_edge.bundle_reader import load_bundle
from slap_edge.data.engines import installed_mbrola_voices, synthesize_base
from slap_edge.data.languages import LANGUAGE_BY_CODE
from slap_edge.data.speakers import Speaker
from slap_edge.prompt_sets import resolve_prompts
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.text import resolve_bank

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from voice_age_probe import clip_features  # noqa: E402

from slap_edge.data.sentences import make_sentence  # noqa: E402


def speaker(engine: str, voice: str, language: str) -> Speaker:
    return Speaker(
        id=voice, engine=engine, voice=voice, language=language, sex="male", age_group="adult", licence="",
        espeak_pitch=50, words_per_minute=160, rate="normal", f0_scale=1.0, formant_scale=1.0, f0_range=1.0,
        quality="modal", quality_by="none", tremor_hz=0.0, strength=1.0, age_markers=0.0, split="train",
    )  # fmt: skip


voices = [("mbrola", f"mb-{v.name}", v.language) for v in installed_mbrola_voices() if v.sex == "male"]
voices += [("espeak-ng", lang, lang) for lang in ("en", "de", "fr", "es")]
rng = np.random.default_rng(0)
texts = {
    lang: [make_sentence(LANGUAGE_BY_CODE[lang].faker_locale, 14, rng) for _ in range(3)]
    for lang in {v[2] for v in voices}
}
engines = []
for path in sys.argv[1:]:
    bundle = load_bundle(path)
    engines.append((bundle, Engine(bundle, resolve_bank(bundle, resolve_prompts("demographics"), None))))
print("voice        " + "  ".join(f"elderly {b.model_id[-6:]}" for b, _ in engines) + "  jitter%  shimmer%  HNR dB")
rows = []
with tempfile.TemporaryDirectory() as tmp:
    for engine_name, voice, lang in voices:
        clips = [synthesize_base(speaker(engine_name, voice, lang), t) for t in texts[lang]]
        probs = []
        for bundle, engine in engines:
            w = bundle.window_samples
            wins = [c[s : s + w] for c in clips for s in range(0, max(1, len(c) - w + 1), w // 2)]
            wins = [np.pad(x, (w - len(x), 0)) for x in wins]
            labels = engine.section_labels["age"]
            p = np.mean([engine.score(engine.embed(x))["age"] for x in wins], axis=0)
            probs.append(float(p[labels.index("elderly")]))
        feats = []
        for i, c in enumerate(clips):
            f = Path(tmp) / f"{i}.wav"
            sf.write(f, c, 16000)
            feats.append(clip_features(f))
        jit, shim, hnr, _ = np.nanmean(np.array(feats, dtype=float), axis=0)
        rows.append((voice, probs, jit, shim, hnr))
        print(
            f"{voice:12s} "
            + "  ".join(f"{p:14.2f}" for p in probs)
            + f"  {100 * jit:7.2f}  {100 * shim:8.2f}  {hnr:6.1f}"
        )
