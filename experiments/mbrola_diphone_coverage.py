"""Share of diphones each installed MBROLA voice lacks for its language, as the corpus renders it.

For each voice of `slap_edge.data.engines.MBROLA_VOICES` whose database is installed (excluded ones included, so the
exclusions can be checked), six Faker sentences of its language go through espeak-ng's phoneme stream, the
renames and plain-vowel fallbacks the corpus applies, and mbrola; every "unknown" diphone warning that remains is a
gap mbrola fills with silence. The share is gaps / diphones over the six sentences.

    python experiments/mbrola_diphone_coverage.py [--voices de3 de4 ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from slap_edge.data.engines import (
    _UNKNOWN_DIPHONE,
    MBROLA_DIR,
    MBROLA_EXCLUDED,
    MBROLA_VOICES,
    MbrolaVoice,
    espeak_phonemes,
    render_mbrola,
)
from slap_edge.data.languages import LANGUAGE_BY_CODE
from slap_edge.data.sentences import make_sentence


def coverage(name: str, language: str, sentences: int = 6) -> dict[str, float | int]:
    rng = np.random.default_rng(0)
    locale = LANGUAGE_BY_CODE[language].faker_locale
    diphones = gaps = 0
    for _ in range(sentences):
        text = make_sentence(locale, 12, rng)
        pho = espeak_phonemes(f"mb-{name}", text, f"mbrola voice {name}")
        phonemes = [line for line in pho.splitlines() if line.strip() and not line.startswith(";")]
        diphones += max(0, len(phonemes) - 1)
        result = render_mbrola(name, language, pho, f"mbrola voice {name}")
        gaps += len(_UNKNOWN_DIPHONE.findall(result.stderr.decode(errors="replace")))
    return {"diphones": diphones, "gaps": gaps, "share": gaps / max(1, diphones)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", nargs="*", default=None, help="Database names (default: every installed one).")
    parser.add_argument("--unlisted", nargs="*", default=[], metavar="NAME:LANG:SEX",
                        help="Installed databases that MBROLA_VOICES does not list, e.g. nl1:nl:male.")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    known = {v.name: v for v in MBROLA_VOICES}
    for item in args.unlisted:
        parts = item.split(":")
        if len(parts) != 3 or parts[1] not in LANGUAGE_BY_CODE or parts[2] not in ("female", "male"):
            parser.error(f"--unlisted {item!r}: expected NAME:LANG:SEX with LANG one of "
                         f"{', '.join(LANGUAGE_BY_CODE)} and SEX female or male")  # fmt: skip
        known[parts[0]] = MbrolaVoice(parts[0], parts[1], parts[2])
    if args.voices:
        unknown = [v for v in args.voices if v not in known]
        if unknown:
            parser.error(f"not in MBROLA_VOICES: {', '.join(unknown)}; known: {', '.join(known)}")
    names = args.voices or list(known)
    rows = []
    for name in names:
        if not (MBROLA_DIR / name / name).is_file():
            continue
        voice = known[name]
        row = {"voice": name, "language": voice.language, "sex": voice.sex, **coverage(name, voice.language)}
        row["excluded"] = MBROLA_EXCLUDED.get(name)
        rows.append(row)
        print(f"{name:5s} {voice.language} {voice.sex:6s} {row['share'] * 100:5.1f}% of {row['diphones']} diphones"
              + (f"  (excluded: {row['excluded']})" if row["excluded"] else ""), flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
