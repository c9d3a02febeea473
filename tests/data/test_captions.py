"""Captions: deterministic for seed and epoch, varied, never mentioning an unknown attribute."""

from __future__ import annotations

import random
import re

import pytest

from slap_edge.data.captions import clip_seed, make_caption, make_captions
from slap_edge.data.languages import LANGUAGE_NAMES, language_name

FULL = {
    "sex": "female",
    "age_group": "elderly",
    "age": 71,
    "language": "fr",
    "accent": "bavarian",
    "pitch": "high",
    "rate": "slow",
    "quality": "tremor",
    "loudness": "normal",  # "at a high volume" would collide with the pitch words checked below
    "channel": "telephone",
    "health": "dysphonia",
    "intonation": "expressive",
}
# Words that may appear only when the attribute is known (checked as whole words, case-insensitive).
WORDS = {
    "sex": "woman man female male girl boy lady gentleman guy her his grandmother grandfather",
    "age_group": "child kid elderly old older senior adult grown grown-up young little grandmother grandfather",
    "age": "year-old twenties thirties forties fifties sixties seventies eighties nineties",
    "language": " ".join({n for n in LANGUAGE_NAMES.values()}),
    "accent": "accent bavarian",
    "pitch": "pitch pitched high-pitched low-pitched deep shrill squeaky bass-heavy high low",
    "rate": "slow slowly fast quick quickly rapid rapidly hurried hurry pace paced speed unhurried leisurely",
    "quality": "clear steady breathy airy wispy whisper whispered whispering hushed creaky gravelly croaky "
    "vocal-fry hoarse raspy rough husky trembling shaky quavering wobbly tremor smooth healthy-sounding",
    "loudness": "quiet quietly soft softly faint loud loudly booming forceful volume loudness audibly",
    "channel": "phone telephone narrowband noise noisy echo echoey echoing reverberant studio clean background",
    "health": "dysphonia disorder affected",
    "intonation": "monotone flat monotonous expressionless droning intonation intoned melody melodic expressive "
    "expressively expression lively animated sing-song note",
}


def _mentions(caption: str, words: str) -> list[str]:
    lowered = caption.lower()
    found = []
    for word in words.split():
        if re.search(rf"(?<![\w-]){re.escape(word.lower())}(?![\w-])", lowered):
            found.append(word)
    return found


def test_make_captions_is_determined_by_seed_and_epoch() -> None:
    seed = clip_seed(7, "syn-000123")
    first = make_captions(FULL, seed, epoch=0, n=5)
    assert first == make_captions(FULL, seed, epoch=0, n=5)
    assert first != make_captions(FULL, seed, epoch=1, n=5)
    assert first != make_captions(FULL, clip_seed(7, "syn-000124"), epoch=0, n=5)
    assert clip_seed(7, "a") == clip_seed(7, "a") != clip_seed(8, "a")
    assert len(first) == 5 and all(isinstance(c, str) and c.endswith(".") for c in first)
    assert make_captions(FULL, seed, 0, 0) == []


@pytest.mark.parametrize("unknown", sorted(WORDS))
def test_unknown_attributes_are_never_mentioned(unknown: str) -> None:
    attributes = dict(FULL)
    attributes[unknown] = None
    if unknown == "age_group":
        attributes["age"] = None  # an age in years states the age group too
    if unknown == "sex":
        attributes["age_group"] = "adult"  # "grandmother" would state the sex
    captions = make_captions(attributes, seed=11, epoch=0, n=300)
    leaks = [(c, _mentions(c, WORDS[unknown])) for c in captions if _mentions(c, WORDS[unknown])]
    assert not leaks, leaks[:3]


def test_known_attributes_are_mentioned_often_but_not_always() -> None:
    attributes = {"sex": "male", "quality": "hoarse", "language": "de", "rate": "fast"}
    captions = make_captions(attributes, seed=3, epoch=2, n=400)
    for key in attributes:
        share = sum(bool(_mentions(c, WORDS[key])) for c in captions) / len(captions)
        assert 0.6 < share < 1.0, (key, share)  # attribute dropout leaves some out


def test_unmarked_poles_are_named() -> None:
    attributes = {"pitch": "mid", "rate": "normal", "quality": "modal", "loudness": "normal", "channel": "clean"}
    text = " ".join(make_captions(attributes, seed=5, epoch=0, n=300)).lower()
    for phrase in ("a steady voice", "a clear voice", "at a normal pace", "medium-pitched", "normal volume", "clean"):
        if phrase.startswith("a "):
            assert re.search(rf"\b{phrase[2:]}", text), phrase
        else:
            assert phrase in text, phrase


def test_captions_vary_in_shape_and_wording() -> None:
    attributes = {"sex": "female", "age_group": "child", "pitch": "high", "rate": "fast", "language": "es"}
    captions = make_captions(attributes, seed=1, epoch=0, n=200)
    assert len(set(captions)) >= 150
    openings = {c.split()[0] for c in captions}
    assert len(openings) >= 5  # several sentence shapes, not one template
    assert any(c.startswith(("Fast", "High", "Rapid", "Quick", "Hurried", "Shrill", "Squeaky")) for c in captions)


def test_nothing_known_still_gives_a_caption_that_claims_nothing() -> None:
    rng = random.Random(0)
    for _ in range(20):
        caption = make_caption({"sex": None, "language": None}, rng)
        assert caption and not any(_mentions(caption, words) for words in WORDS.values())


def test_language_names() -> None:
    assert len(LANGUAGE_NAMES) >= 40
    espeak_common = "af ar bg bn ca cmn cs cy da de el en eo es et eu fa fi fr ga gu he hi hr hu hy id is it ja ka "
    espeak_common += "kn ko la lt lv mk ml mr ms nb ne nl pa pl pt ro ru sk sl sq sr sv sw ta te th tr uk ur vi yue"
    assert all(language_name(code) for code in espeak_common.split())
    assert language_name("pt-br") == "Brazilian Portuguese" and language_name("en-US") == "American English"
    assert language_name("de-AT") == "German" and language_name("xx") is None


def test_bad_attributes_are_rejected() -> None:
    rng = random.Random(0)
    with pytest.raises(ValueError, match=r"quality='gargle' is not accepted"):
        make_caption({"quality": "gargle"}, rng)
    with pytest.raises(ValueError, match=r"unknown attribute 'colour'"):
        make_caption({"colour": "red"}, rng)


def test_intonation_is_named_and_an_old_attribute_set_draws_as_before() -> None:
    for value, words in (
        ("monotone", "monotone flat monotonous expressionless droning intonation melody note"),
        ("expressive", "expressive expressively expression lively animated melodic sing-song intonation melody"),
    ):
        captions = make_captions({"sex": "male", "intonation": value}, seed=4, epoch=0, n=200)
        share = sum(bool(_mentions(c, words)) for c in captions) / len(captions)
        assert 0.6 < share < 1.0, (value, share)
    # A clip without the attribute (every corpus made before it existed) gets the captions it always got.
    old = {k: v for k, v in FULL.items() if k != "intonation"}
    assert make_captions(old, 9, 0, 50) == make_captions({**old, "intonation": None}, 9, 0, 50)
    with pytest.raises(ValueError, match="intonation='singing' is not accepted"):
        make_caption({"intonation": "singing"}, random.Random(0))
