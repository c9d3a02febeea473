"""Natural-English descriptions of a speaker, drawn from the typed attributes of a clip.

Training pairs each clip with a caption drawn fresh every epoch, so the text encoder sees many phrasings of one
attribute set: several sentence shapes, synonyms, random clause order and attribute dropout. Captions also name the
unmarked pole ("a steady voice", "at a normal pace", "a clear voice"): sentence encoders such as MiniLM place
"a hoarse voice" and "a voice that is not hoarse" close together, so the model needs the plain words for the
ordinary case to learn the contrast. An attribute that is None (unknown) is never mentioned.

``make_captions(attributes, seed, epoch, n)`` is fully determined by its arguments; callers mix a stable hash of
the clip id into ``seed`` (see :func:`clip_seed`) so two clips with equal attributes still get different captions.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from typing import Any

from slap_edge.data.languages import language_name
from slap_edge.data.manifest import ATTRIBUTE_VALUES


def clip_seed(seed: int, clip_id: str) -> int:
    """A 63-bit seed mixing the corpus seed with a stable hash of the clip id (not Python's salted ``hash``)."""
    digest = hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _article(phrase: str) -> str:
    """'a' or 'an' for the sound that starts ``phrase`` (covers the spellings these tables produce)."""
    word = phrase.lower()
    if word.startswith(("eu", "uni", "use", "one", "ukr", "uyg", "uzb", "urd")):
        return "a"
    if word.startswith(("hour", "honest")):
        return "an"
    return "an" if word[:1] in "aeiou" else "a"


def _with_article(phrase: str) -> str:
    return f"{_article(phrase)} {phrase}"


# Subject nouns by (sex, age_group); None means unknown. Each entry is a list of bare noun phrases (no article)
# that may take adjectives in front.
_NOUNS: dict[tuple[str | None, str | None], list[str]] = {
    ("female", "child"): ["girl", "little girl", "young girl", "female child"],
    ("male", "child"): ["boy", "little boy", "young boy", "male child"],
    (None, "child"): ["child", "kid", "young child", "youngster"],
    ("female", "adult"): ["woman", "adult woman", "female speaker", "lady", "grown woman"],
    ("male", "adult"): ["man", "adult man", "male speaker", "gentleman", "grown man"],
    (None, "adult"): ["adult", "grown-up", "adult speaker"],
    ("female", "elderly"): ["elderly woman", "old woman", "older lady", "grandmother", "senior woman"],
    ("male", "elderly"): ["elderly man", "old man", "older gentleman", "grandfather", "senior man"],
    (None, "elderly"): ["elderly person", "old person", "senior", "older adult", "elderly speaker"],
    ("female", None): ["woman", "female speaker", "woman speaker", "lady"],
    ("male", None): ["man", "male speaker", "guy", "gentleman"],
    (None, None): ["person", "speaker", "individual"],
}

# Adjectives of "voice" ("a breathy voice") and, for rate and loudness, adverbial phrases ("at a slow pace").
_PITCH_ADJ = {
    "low": ["low-pitched", "deep", "low", "bass-heavy"],
    "mid": ["medium-pitched", "mid-pitched", "average-pitched", "moderately pitched"],
    "high": ["high-pitched", "high", "shrill", "squeaky"],
}
_RATE_ADJ = {
    "slow": ["slow", "unhurried", "slow-paced", "drawn-out"],
    "normal": ["normally paced", "evenly paced", "moderately paced"],
    "fast": ["fast", "rapid", "quick", "hurried", "fast-paced"],
}
_RATE_ADV = {
    "slow": ["slowly", "at a slow pace", "very slowly", "in an unhurried way", "at a leisurely pace"],
    "normal": ["at a normal pace", "at an ordinary speed", "at a moderate pace", "at a regular speed"],
    "fast": ["quickly", "fast", "rapidly", "at a fast pace", "in a hurry"],
}
_QUALITY_ADJ = {
    "modal": ["clear", "steady", "normal", "smooth", "healthy-sounding"],
    "breathy": ["breathy", "airy", "wispy"],
    "whisper": ["whispered", "whispering", "hushed"],
    "creaky": ["creaky", "gravelly", "croaky", "vocal-fry"],
    "hoarse": ["hoarse", "raspy", "rough", "husky"],
    "tremor": ["trembling", "shaky", "quavering", "wobbly"],
}
# Absolute clauses that use the speaker's pronoun: "{pos} voice trembling".
_QUALITY_CLAUSE = {
    "modal": ["{pos} voice clear and steady", "{pos} voice steady", "{pos} voice sounding normal"],
    "breathy": ["{pos} voice breathy", "{pos} voice full of air", "with a lot of breath in {pos} voice"],
    "whisper": ["whispering", "speaking in a whisper", "barely above a whisper"],
    "creaky": ["{pos} voice creaking", "with a creaky, gravelly tone", "{pos} voice crackling"],
    "hoarse": ["{pos} voice hoarse", "{pos} voice rough and raspy", "sounding hoarse"],
    "tremor": ["{pos} voice trembling", "{pos} voice shaking", "with a tremor in {pos} voice"],
}
# Intonation: how far the voice's pitch rises and falls. "neutral" is the unmarked pole, said less often.
_INTONATION_ADJ = {
    "monotone": ["monotone", "flat", "monotonous", "expressionless", "droning"],
    "neutral": ["evenly intoned", "naturally intoned"],
    "expressive": ["expressive", "lively", "animated", "melodic", "sing-song"],
}
_INTONATION_POST = {
    "monotone": ["in a flat monotone", "without any intonation", "with no melody in {pos} voice", "all on one note"],
    "neutral": ["with ordinary intonation", "with a natural speech melody"],
    "expressive": [
        "with lively intonation",
        "with a lot of expression",
        "with a rising and falling melody",
        "very expressively",
    ],
}
_LOUDNESS_ADJ = {
    "quiet": ["quiet", "soft", "faint"],
    "normal": ["normal-volume", "moderately loud"],
    "loud": ["loud", "booming", "forceful"],
}
_LOUDNESS_ADV = {
    "quiet": ["quietly", "softly", "in a low volume", "barely audibly"],
    "normal": ["at a normal volume", "at a moderate volume", "at an ordinary loudness"],
    "loud": ["loudly", "at a high volume", "at full voice"],
}
_CHANNEL_PHRASE = {
    "clean": ["in a clean recording", "recorded clearly", "with no background noise", "in studio quality"],
    "telephone": ["over the phone", "on a telephone line", "through a phone", "in a narrowband phone call"],
    "noise": ["with background noise", "in a noisy place", "over noisy background sounds", "amid noise"],
    "reverberant": ["in an echoey room", "in a reverberant hall", "with lots of echo", "in a large, echoing room"],
}
_CHANNEL_NOUN = {
    "clean": ["clean recording", "studio-quality recording", "studio recording"],
    "telephone": ["phone recording", "telephone recording", "phone call"],
    "noise": ["noisy recording", "recording with background noise"],
    "reverberant": ["echoey recording", "reverberant recording", "recording full of echo"],
}
_SPEAK_VERBS = ["speaks", "talks", "is speaking", "is talking", "says something", "reads aloud"]
_SPEAK_GERUNDS = ["speaking", "talking", "reading aloud", "saying something"]
# Said when no attribute is known at all: the clip still gets a caption, which claims nothing about the speaker.
_NOTHING_KNOWN = ["Someone is speaking.", "A person talking.", "Speech.", "A voice.", "A recording of speech."]

# Probability that a known attribute is kept in one caption; unmarked values ("normal") are said less often.
_KEEP_MARKED = 0.85
_KEEP_UNMARKED = 0.5
_UNMARKED = {
    "pitch": "mid",
    "rate": "normal",
    "quality": "modal",
    "loudness": "normal",
    "channel": "clean",
    "intonation": "neutral",
}


def _check_attributes(attributes: Mapping[str, Any]) -> None:
    for key, value in attributes.items():
        if key not in ATTRIBUTE_VALUES:
            raise ValueError(f"unknown attribute {key!r}; accepted: {', '.join(ATTRIBUTE_VALUES)}")
        allowed = ATTRIBUTE_VALUES[key]
        if value is not None and allowed is not None and value not in allowed:
            raise ValueError(f"attribute {key}={value!r} is not accepted; use {', '.join(allowed)} or None")


def _kept(attributes: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """Known attributes after dropout; at least one known attribute always survives."""
    known = {k: v for k, v in attributes.items() if v is not None and v != ""}
    if "language" in known and language_name(str(known["language"])) is None:
        # A code without a name would have to be spelled out as a code, which the text encoder cannot read.
        del known["language"]
    kept = {}
    for key, value in known.items():
        keep = _KEEP_UNMARKED if _UNMARKED.get(key) == value else _KEEP_MARKED
        if rng.random() < keep:
            kept[key] = value
    if not kept and known:
        key = rng.choice(sorted(known))
        kept[key] = known[key]
    return kept


def _age_words(age: float) -> list[str]:
    years = round(float(age))
    words = [f"{years}-year-old"]
    if 20 <= years < 100:
        decade = {2: "twenties", 3: "thirties", 4: "forties", 5: "fifties", 6: "sixties", 7: "seventies"}
        decade.update({8: "eighties", 9: "nineties"})
        words.append(f"in {{pos}} {decade[years // 10]}")
    return words


class _Parts:
    """The phrases one caption is assembled from, each already realised with a chosen synonym."""

    def __init__(self, kept: Mapping[str, Any], rng: random.Random) -> None:
        sex = kept.get("sex")
        age_group = kept.get("age_group")
        self.pos = {"female": "her", "male": "his"}.get(sex or "", "their")
        self.noun = rng.choice(_NOUNS[(sex, age_group)])
        self.has_subject = sex is not None or age_group is not None
        self.age_prefix: str | None = None
        self.age_suffix: str | None = None
        if kept.get("age") is not None:
            word = rng.choice(_age_words(kept["age"]))
            if word.startswith("in "):
                self.age_suffix = word.format(pos=self.pos)
            else:
                self.age_prefix = word
                if age_group != "child":  # "a 71-year-old woman", not "a 71-year-old old woman"
                    self.noun = rng.choice(_NOUNS[(sex, None)])
            self.has_subject = True
        self.voice_adjs: list[str] = []
        self.post: list[str] = []  # phrases that follow a verb or a noun phrase: "in French", "slowly"
        self.clauses: list[str] = []  # absolute clauses: "his voice trembling"
        self.language: str | None = None
        if kept.get("language") is not None:
            self.language = language_name(str(kept["language"]))
        if kept.get("accent"):
            accent = str(kept["accent"]).strip()
            if accent.islower():
                accent = accent.title()  # table spellings are lower case; nationality words are capitalised
            tail = accent if accent.lower().endswith("accent") else f"{accent} accent"
            self.post.append(f"with {_with_article(tail)}")
        if kept.get("pitch"):
            self.voice_adjs.append(rng.choice(_PITCH_ADJ[kept["pitch"]]))
        if kept.get("quality"):
            quality = kept["quality"]
            if rng.random() < 0.4:
                self.clauses.append(rng.choice(_QUALITY_CLAUSE[quality]).format(pos=self.pos))
            else:
                self.voice_adjs.append(rng.choice(_QUALITY_ADJ[quality]))
        if kept.get("intonation"):
            # After the other voice adjectives, so captions of clips without an intonation draw as they always did.
            intonation = kept["intonation"]
            if rng.random() < 0.5:
                self.post.append(rng.choice(_INTONATION_POST[intonation]).format(pos=self.pos))
            else:
                self.voice_adjs.append(rng.choice(_INTONATION_ADJ[intonation]))
        if kept.get("loudness"):
            if rng.random() < 0.5:
                self.post.append(rng.choice(_LOUDNESS_ADV[kept["loudness"]]))
            else:
                self.voice_adjs.append(rng.choice(_LOUDNESS_ADJ[kept["loudness"]]))
        self.rate_adv = rng.choice(_RATE_ADV[kept["rate"]]) if kept.get("rate") else None
        self.rate_adj = rng.choice(_RATE_ADJ[kept["rate"]]) if kept.get("rate") else None
        self.channel = kept.get("channel")
        self.channel_phrase = rng.choice(_CHANNEL_PHRASE[self.channel]) if self.channel else None
        if kept.get("health"):
            health = str(kept["health"]).strip()
            if health.lower() in ("healthy", "control", "normal"):
                self.post.append(rng.choice(["with a healthy voice", "with no voice disorder"]))
            else:
                self.post.append(rng.choice([f"with {health}", f"with a voice affected by {health}"]))
        rng.shuffle(self.post)
        rng.shuffle(self.voice_adjs)

    def subject(self, rng: random.Random, adjs: list[str] | None = None) -> str:
        words = [*(adjs or []), *([self.age_prefix] if self.age_prefix else []), self.noun]
        phrase = _with_article(" ".join(words))
        if self.age_suffix:
            phrase += f" {self.age_suffix}"
        return phrase

    def voice_phrase(self, rng: random.Random) -> str:
        """'in a deep, hoarse voice' / 'with a deep and hoarse voice'; empty without voice adjectives."""
        if not self.voice_adjs:
            return ""
        adjs = _join(self.voice_adjs) if rng.random() < 0.3 else ", ".join(self.voice_adjs)
        return f"{rng.choice(['in', 'with'])} {_with_article(adjs + ' voice')}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = " ".join(text.split()).replace(" ,", ",")
    text = text.rstrip(", ")
    return text[0].upper() + text[1:] + "."


def _shape_speaks(p: _Parts, rng: random.Random) -> str:
    # "An elderly man speaks French slowly, his voice trembling."
    verb = rng.choice(_SPEAK_VERBS)
    tail: list[str] = []
    if p.language:
        if verb in ("speaks", "is speaking") and rng.random() < 0.5:
            verb = f"{verb} {p.language}"
        else:
            tail.append(f"in {p.language}")
    if p.rate_adv:
        tail.append(p.rate_adv)
    if p.voice_adjs:
        tail.append(p.voice_phrase(rng))
    tail += p.post
    if p.channel_phrase:
        tail.append(p.channel_phrase)
    rng.shuffle(tail)
    text = f"{p.subject(rng)} {verb} {' '.join(tail)}"
    if p.clauses:
        text += ", " + ", ".join(p.clauses)
    return _sentence(text)


def _shape_speech_from(p: _Parts, rng: random.Random) -> str:
    # "Fast, high-pitched speech from a young girl."
    adjs = [*([p.rate_adj] if p.rate_adj else []), *p.voice_adjs]
    rng.shuffle(adjs)
    head = ", ".join(adjs)
    lang = f"{p.language} " if p.language and rng.random() < 0.5 else ""
    noun = "speech" if lang else rng.choice(["speech", "talking"])
    text = f"{head} {lang}{noun} from {p.subject(rng)}"
    extra = list(p.post)
    if p.language and not lang:
        extra.append(f"in {p.language}")
    if p.channel_phrase:
        extra.append(p.channel_phrase)
    rng.shuffle(extra)
    if extra:
        text += " " + " ".join(extra)
    if p.clauses:
        text += ", " + ", ".join(p.clauses)
    return _sentence(text)


def _shape_voice_of(p: _Parts, rng: random.Random) -> str:
    # "The deep voice of a man speaking German at a normal pace over the phone."
    adjs = ", ".join(p.voice_adjs)
    head = f"the {adjs} voice" if adjs else "the voice"
    gerund = rng.choice(_SPEAK_GERUNDS)
    tail: list[str] = []
    if p.language:
        tail.append(f"in {p.language}")
    if p.rate_adv:
        tail.append(p.rate_adv)
    tail += p.post
    if p.channel_phrase:
        tail.append(p.channel_phrase)
    rng.shuffle(tail)
    text = f"{head} of {p.subject(rng)}"
    if tail:
        text += f" {gerund} {' '.join(tail)}"
    if p.clauses:
        text += ", " + ", ".join(p.clauses)
    return _sentence(text)


def _shape_recording(p: _Parts, rng: random.Random) -> str:
    # "A phone recording of an old woman talking slowly in Spanish."
    if p.channel:
        head = _with_article(rng.choice(_CHANNEL_NOUN[p.channel]))
    else:
        head = rng.choice(["a recording", "an audio clip", "a clip"])
    tail: list[str] = []
    if p.language:
        tail.append(f"in {p.language}")
    if p.rate_adv:
        tail.append(p.rate_adv)
    if p.voice_adjs:
        tail.append(p.voice_phrase(rng))
    tail += p.post
    rng.shuffle(tail)
    text = f"{head} of {p.subject(rng)} {rng.choice(_SPEAK_GERUNDS)} {' '.join(tail)}"
    if p.clauses:
        text += ", " + ", ".join(p.clauses)
    return _sentence(text)


def _shape_listing(p: _Parts, rng: random.Random) -> str:
    # "A woman. Hoarse, slow voice. Speaking Italian." -- short tag-like fragments, as in audio-caption corpora.
    fragments = []
    if p.has_subject:
        fragments.append(_sentence(p.subject(rng)))
    adjs = [*([p.rate_adj] if p.rate_adj else []), *p.voice_adjs]
    if adjs:
        rng.shuffle(adjs)
        fragments.append(_sentence(f"{', '.join(adjs)} voice"))
    if p.language:
        fragments.append(_sentence(rng.choice([f"speaking {p.language}", f"{p.language} speech", p.language])))
    rest = [*p.post, *p.clauses, *([p.channel_phrase] if p.channel_phrase else [])]
    fragments += [_sentence(item) for item in rest]
    first, others = fragments[:1], fragments[1:]
    rng.shuffle(others)
    return " ".join(first + others)


_SHAPES = (_shape_speaks, _shape_speaks, _shape_speech_from, _shape_voice_of, _shape_recording, _shape_listing)


def make_caption(attributes: Mapping[str, Any], rng: random.Random) -> str:
    """One random description of a speaker with ``attributes`` (manifest keys; None = unknown, never mentioned)."""
    _check_attributes(attributes)
    kept = _kept(attributes, rng)
    if not kept:
        return rng.choice(_NOTHING_KNOWN)
    parts = _Parts(kept, rng)
    shape = rng.choice(_SHAPES)
    return shape(parts, rng)


def make_captions(attributes: Mapping[str, Any], seed: int, epoch: int, n: int) -> list[str]:
    """``n`` captions for one clip and epoch, fully determined by (attributes, seed, epoch, n).

    Pass ``clip_seed(corpus_seed, clip_id)`` as ``seed`` so clips with equal attributes differ.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"{seed}:{epoch}")
    return [make_caption(attributes, rng) for _ in range(n)]
