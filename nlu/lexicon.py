"""A small nl/en word list for sentiment, complaint and urgency: the signal used when no labelled
affect data is available (its scores are deliberately modest: it is a fallback, not a model)."""

from __future__ import annotations

import re

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
_NEG_EMOJI = set("😡😠🤬😤😞😢😭👎💩🙄😒")
_POS_EMOJI = set("😀😃😄😁😊🙂😍🥰👍❤💯🎉🙏")


def lexicon_features(text: str) -> list[float]:
    """Word-list cues as model features: polarity, negated polarity, complaint and urgency cues."""
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
                     min(text.count("!"), 3) / 3.0]


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
