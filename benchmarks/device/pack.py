"""Pack what a GPU training check needs into a folder small enough to travel to a lent GPU machine (64 MiB here).

The lent machine has PyTorch, timm and transformers but no copy of the corpus, no MiniLM weights and no soundfile.
This packs:
  - a slice of the corpus, each clip cropped to the model window and coded as Opus (lossy, ~11 kB per 3 s clip);
  - all-MiniLM-L6-v2 in a compact form: transformer layers in float16, and only the rows of the 30,522-token
    embedding table that the corpus' captions and the suite prompts use (the rest are rebuilt as zeros and the
    device script reports how many caption tokens fall outside the kept rows);
Wheels for soundfile/soxr/cffi/pycparser are downloaded separately (see README.md).

    python benchmarks/device/pack.py --corpus work-data/big/corpus --out .devpack --train 1000 --test 250 \
        --exclude-holdout work-data/big/suite-holdout/holdout.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
from pathlib import Path

import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from slap_edge.data.captions import clip_seed, make_captions
from slap_edge.data.holdout import holdout_patterns
from slap_edge.data.manifest import ClipRecord, resolve_audio, write_manifest
from slap_edge.models.text import minilm_dir, tokenize
from slap_edge.train.data import load_split

# Opus is smallest (about 11 kB a 3 s clip) but decodes slowly (48 kHz, then resampled): fine for a loader that decodes
# once into its cache, not for one that decodes every epoch (shards). FLAC at the corpus rate is lossless, ~55 kB.
AUDIO_FORMATS = {"opus": ("ogg", "OGG", "OPUS"), "flac": ("flac", "FLAC", "PCM_16")}


def pack_corpus(
    corpus: Path,
    out: Path,
    n_train: int,
    n_test: int,
    window_s: float,
    seed: int,
    exclude: tuple[str, ...],
    audio: str = "opus",
) -> list[ClipRecord]:
    """A random ``n_train`` training clips (less the held-out voices) and ``n_test`` test clips, cropped and coded."""
    ext, fmt, subtype = AUDIO_FORMATS[audio]
    rng = random.Random(seed)
    picked = []
    for split, n, skip in (("train", n_train, exclude), ("test", n_test, ())):
        if n == 0:
            continue
        records = [r for r in load_split(corpus, split, skip) if resolve_audio(corpus / "manifest.jsonl", r).is_file()]
        rng.shuffle(records)
        picked += records[:n]
    data = out / "data"
    if data.exists():
        shutil.rmtree(data)
    (data / "audio").mkdir(parents=True)
    kept = []
    for r in picked:
        wave, rate = sf.read(str(resolve_audio(corpus / "manifest.jsonl", r)), dtype="float32")
        n = int(window_s * rate)
        if len(wave) > n:
            start = (len(wave) - n) // 2
            wave = wave[start : start + n]
        name = f"audio/{r.id}.{ext}"
        sf.write(str(data / name), wave, rate, format=fmt, subtype=subtype)
        kept.append(dataclasses.replace(r, path=name, duration=round(len(wave) / rate, 4)))
    write_manifest(kept, data / "manifest.jsonl")
    shutil.copy(corpus / "synth.json", data / "synth.json")
    return kept


def caption_token_ids(records: list[ClipRecord], seed: int, epochs: int) -> set[int]:
    ids: set[int] = set()
    texts = []
    for r in records:
        cs = clip_seed(seed, r.id)
        for epoch in range(epochs):
            texts.extend(make_captions(r.attributes, cs, epoch, 1))
    for i in range(0, len(texts), 4096):
        tok, mask = tokenize(texts[i : i + 4096], 64)
        ids.update(tok[mask.bool()].unique().tolist())
    return ids


def pack_minilm(out: Path, ids: set[int]) -> None:
    src = minilm_dir()
    dst = out / "minilm"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    tensors = load_file(str(src / "model.safetensors"))
    key = next(k for k in tensors if k.endswith("word_embeddings.weight"))
    table = tensors.pop(key)
    keep = torch.tensor(sorted(ids), dtype=torch.int64)
    compact = {k: (v.half() if v.is_floating_point() and v.ndim == 2 else v) for k, v in tensors.items()}
    compact["__rows__"] = table[keep].half()
    compact["__ids__"] = keep
    save_file(compact, str(dst / "compact.safetensors"), metadata={"word_key": key, "vocab": str(table.shape[0])})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(src / name, dst / name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--test", type=int, default=250)
    ap.add_argument("--window-s", type=float, default=3.0)
    ap.add_argument("--caption-epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--audio", choices=sorted(AUDIO_FORMATS), default="opus", help="How the clips are coded.")
    ap.add_argument(
        "--exclude-holdout", default=None, help="Held-out voices kept out of the training clips (as slap-edge train)."
    )
    args = ap.parse_args()
    exclude = holdout_patterns(args.exclude_holdout)
    kept = pack_corpus(args.corpus, args.out, args.train, args.test, args.window_s, args.seed, exclude, args.audio)
    corpus_seed = json.loads((args.corpus / "synth.json").read_text())["seed"]
    ids = caption_token_ids(kept, corpus_seed, args.caption_epochs)
    # Every word written in the caption tables, the language names and the suite tasks' prompts, so prompts and rare
    # phrasings are kept.
    import slap_edge.data.captions as captions_module
    import slap_edge.data.languages as languages_module
    import slap_edge.data.suite_tasks as suite_module

    words = []
    for module in (captions_module, languages_module, suite_module):
        words.extend(Path(module.__file__).read_text().replace("\n", " ").split())
    chunks = [" ".join(words[j : j + 10]) for j in range(0, len(words), 10)]
    for i in range(0, len(chunks), 1024):
        tok, mask = tokenize(chunks[i : i + 1024], 128)
        ids.update(tok[mask.bool()].unique().tolist())
    pack_minilm(args.out, ids)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"packed {len(kept)} clips and MiniLM ({len(ids)} token rows kept) into {args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
