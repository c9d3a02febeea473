"""Does the teacher call the demo's man elderly too, or only its student? Each model (a training run or a bundle)
embeds the man's 3-s windows (hop 1.5 s) and the age prompts of the `demographics` set; the label with the highest
cosine wins each window. Prints how many windows each label wins and the mean cosine margin of elderly over adult.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/demo-us2-age/models.py MODEL [MODEL ...]
"""

import collections
import sys

import numpy as np
import soundfile as sf

from slap_edge.eval.embedders import load_embedding_source
from slap_edge.prompt_sets import resolve_prompts

x, sr = sf.read("slap_edge/assets/demo/two_speakers.wav", dtype="float32")
man = x[int(0.6 * sr) : int(8.3 * sr)]
age = next(s for s in resolve_prompts("demographics").sections if s.name == "age")
for path in sys.argv[1:]:
    source = load_embedding_source(path)
    w = 3 * source.sample_rate
    windows = [man[s : s + w] for s in range(0, len(man) - w + 1, w // 2)]
    a = source.embed_audio(windows)
    t = source.embed_text(list(age.texts))
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    cos = a @ t.T
    wins = collections.Counter(age.labels[i] for i in cos.argmax(axis=1))
    margin = float(np.mean(cos[:, age.labels.index("elderly")] - cos[:, age.labels.index("adult")]))
    print(f"{path}: windows won {dict(wins)}; elderly - adult cosine {margin:+.3f}")
