"""Language detection with lingua, restricted to a few languages, with a rule for very short texts."""

from __future__ import annotations

import functools
import re

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from webcare.core.errors import NLUError

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


@functools.cache
def _detector(codes: tuple[str, ...]):
    try:
        languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(c)) for c in codes]
    except (AttributeError, ValueError) as e:
        raise NLUError(f"unknown language code in {codes}: {e}") from e
    if len(languages) < 2:
        return None
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


class LanguageDetector:
    """Detects one of `languages`; falls back to the context's (or the default) language when unsure."""

    def __init__(self, languages: list[str], default: str, short_text_words: int = 3) -> None:
        self.languages = [c.lower() for c in languages]
        self.default = default
        self.short_text_words = short_text_words

    def detect(self, text: str, fallback: str | None = None) -> tuple[str, float]:
        """(language, confidence in [0, 1])."""
        fallback = fallback or self.default
        words = _WORD.findall(text)
        detector = _detector(tuple(self.languages))
        if detector is None:
            return self.languages[0], 1.0
        if not words:
            return fallback, 0.0
        best = detector.compute_language_confidence_values(" ".join(words))[0]
        language = best.language.iso_code_639_1.name.lower()
        confidence = round(float(best.value), 4)
        # short texts ("ok", "thanks", "hoi"): keep the conversation's language unless lingua is sure
        if len(words) <= self.short_text_words and language != fallback and confidence < (
                0.85 if len(words) == 1 else 0.6):
            return fallback, 0.5
        return language, confidence
