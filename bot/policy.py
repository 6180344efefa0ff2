"""Small, pure pieces of the dialogue policy: what a message asks of the catalogue, whether it is a
follow-up to the previous question, and the configured rules (risk categories, reactions, leaving the queue).

The decision itself lives in `bot.engine._Turn.decide`; docs/dialogue.md describes the whole policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FLAGS = re.IGNORECASE
PRICE = re.compile(r"\b(kost|kosten|prijs|prijzen|duur|goedkoo?p\w*|neerleggen|betalen voor|how much|price[sd]?|"
                   r"cost[s]?|expensive|cheap\w*|pay for)\b",
                   _FLAGS)
STOCK = re.compile(
    r"\b(voorraad|leverbaar|beschikbaar|verkrijgbaar|uitverkocht|weer binnen|op stock|in stock|out of stock|"
    r"available|availability|sold out|back in stock|be back|weer (leverbaar|op voorraad|beschikbaar))\b|"
    r"\bvo{1,2}r{1,2}a{1,2}d\b|\b(can i (still )?(buy|order|get)|nog (te )?(koop|kopen|bestellen|krijgen))\b", _FLAGS)
# "do you sell X", "is X in stock", "how much is X": the X the customer asks about.
_OBJECT = [re.compile(p, _FLAGS) for p in (
    (r"\b(?:verkopen|verkoopt|verkoop|hebben|hebt|heeft|voeren|voert|leveren|levert)\s+(?:jullie|je|jij|u|ge|gij|julle)\s+(?:ook\s+|nog\s+|eigenlijk\s+)*"
    r"(?P<obj>[^?.!,]+)"),
    r"\b(?:kan|kun|kunt)\s+(?:ik|je|men)\s+(?:bij\s+(?:jullie|u)\s+)?(?:ook\s+)?(?P<obj>[^?.!,]+?)\s+(?:kopen|bestellen)\b",
    r"\b(?:wat|hoeveel)\s+(?:kost|kosten)\s+(?P<obj>[^?.!,]+)",
    r"\bprijs\s+van\s+(?P<obj>[^?.!,]+)",
    r"\b(?:is|zijn)\s+(?P<obj>[^?.!,]+?)\s+(?:nog\s+|weer\s+)?(?:op voorraad|leverbaar|beschikbaar|verkrijgbaar|uitverkocht)",
    r"\bdo\s+(?:you|u|ya)\s+(?:guys\s+)?(?:also\s+|even\s+)?(?:sell|have|stock|carry)\s+(?P<obj>[^?.!,]+)",
    r"\bcan\s+i\s+(?:also\s+)?(?:buy|order|get)\s+(?P<obj>[^?.!,]+?)\s+(?:from\s+you|at\s+huisraad|here|with\s+you)",
    r"\bhow\s+much\s+(?:is|are|does|do|for|would)\s+(?P<obj>[^?.!,]+?)(?:\s+cost)?\s*(?:[?.!,]|$)",
    r"\bprice\s+of\s+(?P<obj>[^?.!,]+)",
    r"\b(?:is|are)\s+(?P<obj>[^?.!,]+?)\s+(?:still\s+|back\s+)?(?:in stock|available|sold out)",
)]
_FILLER = re.compile(
    r"\b(de|het|een|die|dat|deze|dit|ook|nog|eigenlijk|bij|jullie|je|u|hier|the|a|an|any|some|also|from|you|"
    r"guys|here|at|huisraad|there|still|back|in|op|te|koop|me|mij|misschien|maybe|please|pls|aub|ff|even)\b", _FLAGS)
# "welke robotstofzuigers …", "what kind of air fryers …", "what about kettles?": the range of a category
_RANGE = re.compile(r"\b(?:welke|wat voor(?: soort| type)?|what (?:kinds?|sorts?|types?) of|which|what about|how about|"
                    r"en wat met|hoe zit het met)\s+(?P<obj>[^\W\d_]+(?:\s[^\W\d_]+)?)",
                    _FLAGS)
_PRONOUN = re.compile(r"^\s*(het|dat|die|deze|dit|hem|ze|it|that|this|they|them|those|these|one)?\s*$", _FLAGS)
FOLLOW_UP = re.compile(
    r"^\s*(en|maar|ook|and|but|also|what about|how about|and what about|en wat|en hoe|en als|en bij|en voor|"
    r"en de|en het|en in|en op|en naar|and the|and for|and in|and on|and to|or)\b", _FLAGS)
OTHER_MODEL = re.compile(r"\b(ander(e)? (model|versie|type|uitvoering)|other (model|one|version|type)s?|"
                         r"(welke|which) (andere|other)|alternatie\w*)\b", _FLAGS)
# "the bakery next to your store": a neighbouring business, not the shop
NEIGHBOUR = re.compile(
    r"\b(naast|tegenover|vlakbij|dichtbij|in de buurt van|om de hoek bij|rond) (jullie|de huisraad|huisraad|uw|je) "
    r"(winkel|filiaal|zaak|vestiging)|\b(next to|near|opposite|across from|close to|around the corner from) "
    r"(your|the huisraad|huisraad) (store|shop)|\bnext door\b|\bhiernaast\b", _FLAGS)
# "still not here", "waar blijft …", "waiting for weeks": a customer waiting for an order
ORDER_WAIT = re.compile(
    r"\b(waar (blijft|is)|nog (steeds |altijd )?(niet|niks|geen|ni)|wacht\w* (al|nog|op)|al (\w+ )?(weken|dagen)|"
    r"still (not|no|hasn|haven|isn|waiting)|not (arrived|here|delivered|received)|"
    r"niet (bezorgd|geleverd|aangekomen|ontvangen|binnen|toegekomen)|(niks|niets) (meer )?gehoord|"
    r"heard nothing|haven'?t heard|"
    r"(hasn'?t|haven'?t|didn'?t|never) (arrived|come|shown|received|got)|where('?s| is)|waiting)\b", _FLAGS)
# "hoe staat die ervoor?", "check order …": the status of an order is asked
STATUS_QUESTION = re.compile(r"\b(status|check|hoe staat|staat (die|het|hij|ze)|waar (is|blijft)|where|track\w*|"
                             r"when will|wanneer (komt|wordt|is)|how is|what'?s happening)\b", _FLAGS)
# "when will it get here?", "wanneer komt mijn pakket?": arrival of an order
ARRIVAL_QUESTION = re.compile(
    r"\b(when will (it|they|my \w+|the \w+) (get here|arrive|come|be (here|delivered))|where('?s| is) my|"
    r"wanneer (komt|komen|krijg|wordt|is) (mijn|het|hij|de|ie|m)\b|waar (blijft|is) (mijn|m[ne]|het|de)|"
    r"waar (mijn|m'?n|mn|het|de) \w+ (blijft|blijven))", _FLAGS)
# "No. I asked something else.", "nee, ik bedoel …": a message that opens by saying no
SAYS_NO = re.compile(r"^\W*(nee+|neen|neuh|nope|no+|nah)\b(?!\s+(problem|probleem|need|worries))", _FLAGS)
# "bedankt", "no need, thanks": a message that thanks (a "no" in it declines politely)
THANKS = re.compile(r"\b(bedankt|dank (je|u)|dankje(wel)?|dankuwel|merci|thanks|thank you|thx|cheers)\b", _FLAGS)
# the answer to "what is your order number?" when the customer does not have it
SLOT_UNKNOWN = re.compile(
    r"\b(weet ik (niet|ni)( meer)?|geen idee|kwijt|heb ik niet|niet bij de hand|kan ik niet vinden|"
    r"(i )?(do ?n[o']t|dont) (know|have)( it)?|no idea|lost it|can'?t find( it)?)\b", _FLAGS)
# "is daar iemand?", "how much longer?": a waiting customer asks about the wait
WAITING_QUESTION = re.compile(
    r"\b(is (daar|er) (al )?iemand|iemand daar|hoe lang (nog|duurt|moet)|nog (lang|even) wachten|wanneer (komt|kom) "
    r"(er )?(iemand|een medewerker|de medewerker)|any(one|body) (there|here)|how (much )?long(er)?|still waiting|"
    r"when will (someone|somebody|an agent|a person))|^\W*(hallo+|hello+|hey+|hoi+|hi+)\W*\?+\W*$", _FLAGS)
# "ik heb … besteld", "my order": the customer speaks of an order they placed
OWN_ORDER = re.compile(
    r"\b(ik heb\b.{0,60}?\bbesteld|(mijn|m'?n|mn) (bestelling|pakket\w*|order)|i('ve| have)? ordered\b|"
    r"my (order|parcel|package|delivery))\b", _FLAGS)
ORDER_TOPIC = re.compile(
    r"\b(bestelling\w*|besteld|pakket\w*|pakje|order\w*|parcel|package|levering|geleverd|bezorg\w*|deliver\w*|"
    r"spullen|my stuff)\b", _FLAGS)
# "do you speak English?", "spreken jullie Nederlands?": the customer asks for a language
LANGUAGE_ASKED = re.compile(
    r"\b(?:do you|can you|can we|could we|spreek je|spreekt u|spreken jullie|kunnen we|kan ik)\b.{0,20}?"
    r"\b(english|engels|dutch|nederlands|vlaams)\b", _FLAGS)
# function words that tell Dutch from English in short messages, where statistical detection is unsure
FUNCTION_WORDS = {
    "nl": frozenset("de het een ik je jij jullie mijn mn wat waar hoe niet en van op voor met kan kun wil heb "
                    "dat die er naar ook nog bij wordt hebben mag moet welke wanneer hoeveel waarom ge gij da wa ni "
                    "geen graag bedankt dank hoi hallo doei".split()),
    "en": frozenset("the a an i you your my what where how not and of on for with can want have that it to do "
                    "does are will when which why much many from please me there at be hi hello thanks thank "
                    "yes no bye".split()),
}


def function_word_language(text: str, lenient: bool = False) -> str | None:
    """nl or en when the message's function words clearly say so (at least 2, twice the other's count;
    `lenient`: one, and none of the other language's)."""
    words = re.findall(r"[a-z']+", text.lower().replace("'s", " is"))
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}
    (best, n), (_, other) = sorted(counts.items(), key=lambda kv: -kv[1])
    if lenient and n >= 1 and other == 0:
        return best
    return best if n >= 2 and n >= 2 * other else None
_PRONOUN_REFERENCE = re.compile(r"\b(het|hij|hem|die|deze|dat ding|it|that one|this one|the other (model|one))\b",
                                _FLAGS)


# "can you plumb in my dishwasher?", "kunnen jullie mijn cv-ketel repareren?": a service asked for something
_SERVICE = [re.compile(p, _FLAGS) for p in (
    (r"\b(?:can|could|do|will)\s+(?:you|u)\s+(?:guys\s+)?(?:also\s+)?(?:install|plumb|fit|connect|mount|repair|fix|"
    r"service|clean|paint|build|assemble|hang)\s+(?:in\s+)?(?P<obj>[^?.!,]+)"),
    (r"\b(?:kunnen|kunt|doen|willen)\s+(?:jullie|je|u|ge)\s+(?:ook\s+)?(?P<obj>[^?.!,]+?)\s+(?:installeren|aansluiten|"
    r"monteren|repareren|maken|plaatsen|ophangen|schoonmaken|onderhouden|leggen|bouwen)\b"),
)]


def service_object(text: str) -> str | None:
    """What a customer asks the shop to install, repair or fit, fillers removed."""
    for pattern in _SERVICE:
        match = pattern.search(text)
        if match:
            words = " ".join(_FILLER.sub(" ", match.group("obj")).split())
            words = re.sub(r"^((my|mijn|mn|m'n|our|onze|ons|new|nieuwe|oude|old)\s+)+", "", words, flags=_FLAGS)
            return None if _PRONOUN.match(words) else words
    return None


def asked_object(text: str) -> str | None:
    """The thing a "do you sell / is … in stock / how much is …" question asks about, fillers removed."""
    for pattern in _OBJECT:
        match = pattern.search(text)
        if match:
            words = _FILLER.sub(" ", match.group("obj"))
            words = " ".join(words.split())
            return None if _PRONOUN.match(words) else words
    return None


def range_object(text: str) -> str | None:
    """The words right after "which" / "welke" / "what kind of": the category a range question may name."""
    match = _RANGE.search(text)
    return match.group("obj") if match else None


def is_follow_up(text: str, max_words: int = 9, max_words_pronoun: int = 5) -> bool:
    """A short, elliptical message that leans on the previous question ("en op zondag?", "and the other model?").

    Opened by a connective ("en", "and", "what about") up to `max_words`; otherwise a pronoun that refers back
    ("is het op voorraad?") only up to `max_words_pronoun`: a longer message carries its own subject, and its
    "het" or "die" is an article ("Wat kost het verzenden naar België?")."""
    words = text.split()
    if not words or len(words) > max_words:
        return False
    return bool(FOLLOW_UP.match(text) or (len(words) <= max_words_pronoun and refers_back(text)))


def refers_back(text: str) -> bool:
    """A pronoun that points at the previous topic ("is het …", "that one", "the other model")."""
    return bool(_PRONOUN_REFERENCE.search(text))


@dataclass
class Rules:
    """Compiled regular-expression rules from config: risk categories, negative reactions, leaving the queue."""

    risks: dict[str, list[re.Pattern[str]]]
    reactions: list[re.Pattern[str]]
    leave: list[re.Pattern[str]]

    @classmethod
    def compile(cls, risks: dict[str, list[str]], reactions: list[str], leave: list[str]) -> Rules:
        return cls({name: [re.compile(p, _FLAGS) for p in patterns] for name, patterns in risks.items()},
                   [re.compile(p, _FLAGS) for p in reactions], [re.compile(p, _FLAGS) for p in leave])

    def risk(self, text: str) -> str | None:
        """The first risk category the text falls in, if any."""
        return next((name for name, patterns in self.risks.items() if any(p.search(text) for p in patterns)), None)

    def negative_reaction(self, text: str) -> bool:
        return any(p.search(text) for p in self.reactions)

    def leaves_queue(self, text: str) -> bool:
        return any(p.search(text) for p in self.leave)
