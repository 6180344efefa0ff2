"""A small nl/en word list for sentiment, complaint and urgency: the signal used when no labelled
affect data is available (its scores are deliberately modest: it is a fallback, not a model).

`lexicon_features` also carries two general-purpose sentiment lexicons as priors for the heads, because
they generalise to tweets and reviews where a few thousand shop messages cannot: VADER (English valence
lexicon and rules, MIT) and Pattern's Dutch adjective lexicon (`data/nl-sentiment.json`, PDDL; see
`data/nl-sentiment-LICENSE.md`) with its intensifier and negation rules.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

NEGATIVE = set("""
slecht slechte waardeloos waardeloze kapot stuk boos woedend teleurgesteld teleurstellend belachelijk schandalig
klote kut traag nooit verschrikkelijk vreselijk ellendig balen baal irritant geïrriteerd klacht klagen
oplichting oplichters nep beschadigd defect fout verkeerd onacceptabel zwak jammer helaas ontevreden
bad worst terrible awful horrible broken angry furious disappointed disappointing ridiculous useless
scam fake damaged defective wrong unacceptable poor sadly unhappy annoyed annoying hate never slow rubbish
complaint complain
""".split())
POSITIVE = set("""
goed goede top super prima fijn blij tevreden snel geweldig fantastisch uitstekend perfect bedankt dank
topservice aanrader mooi handig vriendelijk heerlijk
good great excellent perfect happy satisfied fast amazing awesome fantastic thanks thank love lovely
wonderful nice helpful friendly recommend brilliant
""".split())
NEGATORS = set("niet geen nooit not no never don't dont isn't isnt wasn't wasnt".split())
COMPLAINT = re.compile(
    r"\b(klacht|klagen|kapot|stuk|beschadigd|defect|nog steeds niet|nog altijd niet|nooit ontvangen|niet ontvangen|"
    r"niet aangekomen|geld terug|terugbetaling|schandalig|belachelijk|oplichting|waardeloos|"
    r"complaint|complain|broken|damaged|defective|still not|never arrived|never received|not received|"
    r"refund|money back|ridiculous|scam|unacceptable|useless)\b",
    re.IGNORECASE,
)
URGENT = re.compile(
    r"\b(dringend|spoed|urgent|asap|zo snel mogelijk|direct|meteen|nu meteen|vandaag nog|immediately|"
    r"right now|emergency|noodgeval|gevaarlijk|dangerous|fire|brand|rook|smoke|fraude|fraud|gehackt|hacked)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w']+", re.UNICODE)
NL_NEGATORS = frozenset({"niet", "geen", "nooit", "gene", "ni", "nie", "niks", "niets", "nergens"})
DUTCH_LEXICON = Path(__file__).parent / "data" / "nl-sentiment.json"
_NEG_EMOJI = set("😡😠🤬😤😞😢😭👎💩🙄😒")
_POS_EMOJI = set("😀😃😄😁😊🙂😍🥰👍❤💯🎉🙏")


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@functools.cache
def _dutch() -> dict[str, tuple[float, float, float]]:
    """Word form -> (polarity -1..1, subjectivity 0..1, intensity ~0.5..2) from Pattern's Dutch lexicon."""
    return {w: (p, s, i) for w, (p, s, i) in json.loads(DUTCH_LEXICON.read_text(encoding="utf-8")).items()}


@functools.lru_cache(maxsize=65536)
def _dutch_entry(word: str) -> tuple[float, float, float] | None:
    """The lexicon entry of a word or of its base form ("slechte" -> slecht, "grote" -> groot, "mooiste")."""
    lexicon = _dutch()
    if word in lexicon:
        return lexicon[word]
    bases = []
    if word.endswith("e") and len(word) > 3:
        stem = word[:-1]
        bases.append(stem)
        if stem[-1] == stem[-2]:
            bases.append(stem[:-1])  # dikke -> dik
        bases.append(stem[:-1] + {"v": "f", "z": "s"}.get(stem[-1], stem[-1]))  # lieve -> lief
        if stem[-2] in "aeou" and stem[-3] not in "aeiou":  # grote -> groot, boze -> boos
            bases += [stem[:-1] + stem[-2] + last for last in dict.fromkeys((stem[-1], bases[-1][-1]))]
    bases += [word[: -len(end)] for end in ("ste", "st", "ere", "er") if word.endswith(end) and len(word) > len(end) + 2]
    return next((lexicon[b] for b in bases if b in lexicon), None)


def dutch_sentiment(words: list[str]) -> tuple[float, float, int]:
    """Pattern-style (polarity, subjectivity, number of opinion words) of lower-cased words: an intensifier
    scales the next word ("erg goed"), a negation just before flips and halves it ("niet slecht")."""
    found: list[list[float]] = []  # [polarity, subjectivity, negated]
    boost = 1.0
    for i, word in enumerate(words):
        entry = _dutch_entry(word)
        if entry is None:
            boost = 1.0
            continue
        p, s, intensity = entry
        negated = float(any(w in NL_NEGATORS for w in words[max(0, i - 2) : i]))
        if boost != 1.0 and found:  # the previous word modifies this one
            found[-1] = [max(-1.0, min(1.0, p * boost)), min(1.0, s * boost), max(found[-1][2], negated)]
        else:
            found.append([p, s, negated])
        boost = intensity
    if not found:
        return 0.0, 0.0, 0
    polarity = sum(-0.5 * p if n else p for p, _, n in found) / len(found)
    return polarity, sum(s for _, s, _ in found) / len(found), len(found)


def prior_features(text: str, words: list[str]) -> list[float]:
    """VADER's compound/positive/negative and the Dutch lexicon's polarity/subjectivity/coverage."""
    vader = _vader().polarity_scores(text)
    polarity, subjectivity, hits = dutch_sentiment(words)
    return [vader["compound"], vader["pos"], vader["neg"], polarity, subjectivity, min(hits, 3) / 3.0]


def lexicon_features(text: str) -> list[float]:
    """Word-list cues as model features: polarity, negated polarity, complaint and urgency cues, then the
    sentiment-lexicon priors of `prior_features`."""
    words = [w.lower() for w in _WORD.findall(text)]
    pos = neg = neg_pos = neg_neg = 0.0
    for i, w in enumerate(words):
        negated = any(p in NEGATORS for p in words[max(0, i - 3) : i])
        if w in POSITIVE:
            neg_pos, pos = (neg_pos + 1, pos) if negated else (neg_pos, pos + 1)
        elif w in NEGATIVE:
            neg_neg, neg = (neg_neg + 1, neg) if negated else (neg_neg, neg + 1)
    pos += sum(1 for ch in text if ch in _POS_EMOJI)
    neg += sum(1 for ch in text if ch in _NEG_EMOJI)
    squash = [min(v, 3.0) / 3.0 for v in (pos, neg, neg_pos, neg_neg)]
    return squash + [float(bool(COMPLAINT.search(text))), float(bool(URGENT.search(text))),
                     min(text.count("!"), 3) / 3.0, *prior_features(text, words)]


def lexicon_affect(text: str) -> dict[str, float]:
    """Sentiment in [-1, 1], complaint and urgency in [0, 1], from word lists with simple negation."""
    words = [w.lower() for w in _WORD.findall(text)]
    score = 0.0
    for i, w in enumerate(words):
        polarity = 1.0 if w in POSITIVE else -1.0 if w in NEGATIVE else 0.0
        if polarity and any(p in NEGATORS for p in words[max(0, i - 3) : i]):
            polarity = -polarity * 0.5  # "niet slecht", "not bad": mildly the other way
        score += polarity
    score += sum(1 for ch in text if ch in _POS_EMOJI) - sum(1 for ch in text if ch in _NEG_EMOJI)
    score += -0.5 if text.count("!") >= 3 and score < 0 else 0.0
    sentiment = max(-1.0, min(1.0, score / 3))
    complaint = 0.6 if COMPLAINT.search(text) else (0.3 if sentiment < -0.3 else 0.0)
    urgency = 0.8 if URGENT.search(text) else 0.3
    return {"sentiment": sentiment, "complaint": complaint, "urgency": urgency}
