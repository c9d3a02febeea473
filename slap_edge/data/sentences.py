"""Sentences in many languages from a packaged text source: the locale word lists and name/place data of Faker.

Where Faker ships a word list for the locale (its ``lorem`` provider), a sentence is drawn from it. Otherwise the
sentence is made of the locale's own names, streets, cities, days and months; a provider counts only when the locale
itself implements it, so no English filler leaks into, say, Swedish. Digits are left out so that the word count of a
sentence is the number of spoken words (the speaking-rate label is checked against it).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

import numpy as np

# Localised providers used when a locale has no lorem word list, in order of preference.
_PHRASE_PROVIDERS = (
    ("address", "city"),
    ("address", "street_name"),
    ("person", "first_name"),
    ("person", "last_name"),
    ("date_time", "day_of_week"),
    ("date_time", "month_name"),
    ("address", "country"),
    ("job", "job"),
    ("color", "color_name"),
)


def _require_faker() -> Any:
    try:
        import faker
    except ImportError as exc:
        raise ImportError("sentences need Faker: pip install 'slap-edge[data]' (or pip install faker)") from exc
    return faker


@cache
def _faker(locale: str) -> Any:
    faker = _require_faker()
    try:
        return faker.Faker(locale)
    except AttributeError as exc:
        raise ValueError(f"Faker has no locale {locale!r}") from exc


@cache
def has_word_list(locale: str) -> bool:
    """True when Faker ships a lorem word list for ``locale`` (or for its language, e.g. de for de_CH)."""
    _require_faker()
    return importlib.util.find_spec(f"faker.providers.lorem.{locale}") is not None


@cache
def localized_methods(locale: str) -> tuple[str, ...]:
    """Names of the phrase providers that ``locale`` implements itself (not inherited from en_US or the default)."""
    fake = _faker(locale)
    names = []
    for provider, method in _PHRASE_PROVIDERS:
        if importlib.util.find_spec(f"faker.providers.{provider}.{locale}") is None:
            continue
        # The first provider that has the method is the one Faker calls; it must be this locale's own class (a
        # provider inherited from en_US would speak English names in, say, Swedish).
        owner = next((p for p in fake.providers if hasattr(p, method)), None)
        if owner is not None and type(owner).__module__.endswith(f".{locale}"):
            names.append(method)
    return tuple(names)


def _tokens(text: str) -> list[str]:
    return [t for t in text.replace(",", " ").split() if not any(c.isdigit() for c in t) and t.strip(".-")]


def make_sentence(locale: str, n_words: int, rng: np.random.Generator) -> str:
    """About ``n_words`` words of ``locale`` text; deterministic for the state of ``rng``."""
    if n_words < 1:
        raise ValueError(f"n_words must be at least 1, got {n_words}")
    fake = _faker(locale)
    fake.seed_instance(int(rng.integers(2**31 - 1)))
    if has_word_list(locale):
        words = [w for w in fake.words(nb=n_words) if w]
    else:
        methods = localized_methods(locale)
        if not methods:
            raise ValueError(f"Faker locale {locale!r} has neither a word list nor localised names to speak")
        words = []
        while len(words) < n_words:
            method = methods[int(rng.integers(len(methods)))]
            words.extend(_tokens(str(getattr(fake, method)())))
        words = words[:n_words]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."
