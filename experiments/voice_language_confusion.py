"""Is a model's language direction really language, or the timbre of the voices heard per language?

For two languages of a corpus, groups the clips by base voice (each MBROLA voice on its own, espeak-ng per language),
embeds up to N clips of each group, and prints for each group the share of clips that zero-shot calls the first
language, and the cosine between the groups' mean embeddings. A held-out voice that sits next to a training voice of
the other language, and is called that language, shows the direction follows timbre.

    python experiments/voice_language_confusion.py RUN CORPUS --languages de nl [--clips 40] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from slap_edge.data.languages import language_name
from slap_edge.data.manifest import MANIFEST_NAME, read_manifest, resolve_audio
from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.runner import zero_shot_predict
from slap_edge.eval.suite import read_audio
from slap_edge.scoring import l2_normalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A run folder or a bundle.")
    parser.add_argument("corpus", type=Path, help="A corpus folder with manifest.jsonl.")
    parser.add_argument("--languages", nargs=2, default=["de", "nl"], metavar=("A", "B"))
    parser.add_argument("--clips", type=int, default=40, help="Clips drawn per voice group (all splits).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    names = [language_name(code) for code in args.languages]
    if None in names:
        parser.error(f"--languages {' '.join(args.languages)}: each must be a language code the captions can name")
    groups: dict[str, list] = {}
    for record in read_manifest(args.corpus):
        language = record.attributes.get("language")
        if language in args.languages:
            key = record.voice if record.engine == "mbrola" else f"espeak-ng {language}"
            groups.setdefault(key, []).append(record)
    if not groups:
        parser.error(f"{args.corpus}: no clips in {' or '.join(args.languages)}")

    source = load_embedding_source(args.model)
    prompts = source.embed_text([f"a person speaking {name}" for name in names])
    rng = random.Random(args.seed)
    manifest = args.corpus / MANIFEST_NAME
    keys = sorted(groups)
    embeddings, result = {}, {"model": source.name, "corpus": str(args.corpus), "languages": args.languages}
    for key in keys:
        picked = rng.sample(groups[key], min(args.clips, len(groups[key])))
        embeddings[key] = source.embed_audio(
            [read_audio(resolve_audio(manifest, r), source.sample_rate) for r in picked]
        )
    centroids = {k: l2_normalize(e.mean(axis=0, keepdims=True))[0] for k, e in embeddings.items()}
    rows = []
    print(f"{'group':16s} {'n':>3s} {'called ' + names[0]:>16s}  cosine of mean embeddings with: " + " ".join(keys))
    for key in keys:
        predicted, _ = zero_shot_predict(embeddings[key], prompts, args.languages)
        share = float(np.mean([label == args.languages[0] for label in predicted]))
        cosines = {j: float(centroids[key] @ centroids[j]) for j in keys}
        sexes = sorted({str(r.attributes.get("sex")) for r in groups[key]})
        rows.append(
            {
                "group": key,
                "n": len(embeddings[key]),
                "sex": sexes,
                f"called_{args.languages[0]}": share,
                "cosine": cosines,
            }
        )
        print(f"{key:16s} {len(embeddings[key]):3d} {share:16.2f}  " + " ".join(f"{cosines[j]:.2f}" for j in keys))
    if args.json:
        args.json.write_text(json.dumps({**result, "groups": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
