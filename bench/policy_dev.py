"""The dialogue policy's own check: short Dutch and English dialogues, each turn with its expected outcome.

Written by the policy's author while working on issue 13 (the conversation benchmark is bench/conversations.py):
`tuned` was used to tune the policy, `fresh` was written after tuning had stopped, `context` checks commands,
restarts, follow-ups and the queue; `final` was written last and run once, untuned. Run from the repository root:

    PYTHONPATH=$PWD python bench/policy_dev.py [-v]

A turn is (text, expected[, reply language]); expected is `ask:<slot>`, `handover`, `decline`,
`answer:fact|fact` (all facts in the replies, no hand-over, decline or fallback), `ok` (the same without
facts) or `any` (not scored).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webcare.bot.channels.base import IncomingMessage
from webcare.bot.engine import DialogueEngine
from webcare.bot.responses import Responses
from webcare.nlu import Analyzer
from webcare.nlu.config import NLUConfig
from webcare.nlu.language import LanguageDetector
from webcare.store import Store

SETS = {
    "tuned": [
  # --- complaint-ish questions that are answerable
  [("hoe kan ik iets retourneren, ik wil mijn stofzuiger terugsturen", "answer:30 dagen")],
  [("Hoelang duurt het voordat ik mijn geld terug krijg na een retour??", "answer:5 werkdagen")],
  [("wat is jullie telefoonnummer van de klantenservice", "answer:020 123 45 67")],
  [("wat kost verzenden naar belgie", "answer:75")],
  [("ik woon in duitsland, wat kost het om iets terug te sturen", "answer:6,95")],
  [("What's your customer service phone number?", "answer:020 123 45 67", "en")],
  [("how long until I get my refund after returning stuff", "answer:5 working days", "en")],
  [("how do i send back my kettle, it's not what i expected", "answer:30 days", "en")],
  # --- order status flows
  [("Waar blijft mijn bestelling? Ik heb al 2 weken gewacht", "ask:order_number"), ("12345678", "answer:12345678|PostNL")],
  [("waar is mijn pakket", "ask:order_number"), ("het is 40218833", "answer:40218833")],
  [("Where is my order?", "ask:order_number", "en"), ("It's 12345678", "answer:12345678|PostNL", "en")],
  [("mijn bestelling 12345678 is er nog steeds niet, waar blijft ie", "answer:12345678"),
   ("sorry, het is 40218833", "answer:40218833")],
  [("wanneer komt mn order 4021 8833", "any"), ("40218833", "answer:40218833")],
  [("ik wacht al eeuwen op mn spullen, dit is echt belachelijk", "ask:order_number"), ("55501234", "answer:55501234")],
  [("my parcel still hasn't arrived, this is ridiculous", "ask:order_number", "en"), ("order 66012345", "answer:66012345", "en")],
  # --- catalogue
  [("wat kost de Barista 500?", "answer:549")],
  [("hoeveel kost de robbie s7", "answer:449")],
  [("How much is the Krokant XL air fryer?", "answer:119", "en")],
  [("is de krokant duo op voorraad", "answer:Krokant Duo")],
  [("verkopen jullie ook fietsen?", "decline")],
  [("hebben jullie iPhones?", "decline")],
  [("do you sell bicycles?", "decline", "en")],
  [("verkopen jullie airfryers?", "answer:Krokant")],
  # --- knowledge over intent templates
  [("tot welk bedrag kan ik met klarna betalen?", "answer:1.500")],
  [("bezorgen jullie ook op zondag?", "answer:4,95")],
  [("krijgen studenten korting?", "answer:10%")],
  [("kan ik mijn oude koffiezetapparaat inruilen?", "answer:150")],
  [("Can I trade in my old robot vacuum?", "answer:150", "en")],
  [("do students get a discount?", "answer:10%", "en")],
  # --- out of scope
  [("hoe laat gaat de albert heijn naast jullie winkel in utrecht open?", "decline")],
  [("kunnen jullie ook mijn cv-ketel repareren?", "decline")],
  [("wat wordt het weer morgen?", "decline")],
  [("can you recommend a good pizza place in Rotterdam?", "decline", "en")],
  [("do you also install solar panels?", "decline", "en")],
  # --- hand-over triggers
  [("ik wil een medewerker spreken", "handover")],
  [("als dit niet opgelost wordt stap ik naar mijn advocaat", "handover")],
  [("mijn waterkoker begon te roken en er kwamen vonken uit", "handover")],
  [("er is met mijn account een bestelling geplaatst die ik niet heb gedaan", "handover")],
  [("I want to speak to a real person", "handover", "en")],
  [("my toaster caught fire!!", "handover", "en")],
  [("wat zijn de openingstijden van de winkel in amsterdam", "answer:21:00"), ("dat helpt niet", "handover")],
  [("how long is the warranty on coffee machines", "answer:3 years", "en"), ("that doesn't help", "handover", "en")],
  [("Dit is echt belachelijk, voor de derde keer is mijn pakket niet bezorgd en niemand helpt me!", "ask:order_number")],
  # --- follow-ups and language
  [("Wat zijn de openingstijden van jullie winkels?", "answer:18:00"), ("en op zondag?", "answer:zondag")],
  [("is de robbie mini op voorraad?", "answer:Robbie Mini"), ("when will it be back?", "ok", "en")],
  [("hoi", "ok"), ("wat kost verzending", "answer:4,95"), ("How long do I have to return something?", "answer:30 days", "en")],
  [("Hi", "ok", "en"), ("ok", "ok", "en")],
  # --- waiting
  [("ik wil een mens spreken", "handover"), ("wat zijn jullie openingstijden", "answer:17:30"), ("bedankt!", "ok"),
   ("laat maar", "any")],
  [("/escalate_ack", "any")],
  [("talk to a human please", "handover", "en"), ("thanks, bye", "ok", "en")],
],
    "fresh": [
  [("goeiedag, ik heb een klacht: mijn airfryer is kapot aangekomen, de lade zit helemaal scheef", "answer:14 dagen")],
  [("kan ik met paypal betalen", "answer:PayPal")],
  [("hoe lang heb ik garantie op mijn robotstofzuiger", "answer:3 jaar")],
  [("wanneer krijg ik mn geld terug? heb vorige week iets teruggestuurd", "answer:5 werkdagen")],
  [("ik heb mijn wachtwoord vergeten", "answer:1 uur")],
  [("hebben jullie een winkel in antwerpen", "answer:Meir")],
  [("hoeveel kost de mixo go", "answer:34")],
  [("is de kooktijd temp waterkoker leverbaar", "answer:Kooktijd Temp")],
  [("verkopen jullie ook wasmachines?", "decline")],
  [("hebben jullie ook laptops", "decline")],
  [("wat kost een playstation 5 bij jullie", "decline")],
  [("mijn bestelling is nog niet binnen", "ask:order_number"), ("bestelnummer is 31415926", "answer:31415926")],
  [("ik wil mijn bestelling annuleren", "ask:order_number"), ("40218833", "answer:40218833")],
  [("waar blijft bestelling 66012345?", "answer:66012345"), ("oh wacht, het was 12345678", "answer:12345678")],
  [("ge hebt mij nen kapotte blender gestuurd, wa moet ik nu doen", "ok")],
  [("hoe ontkalk ik mijn koffiemachine", "answer:2 volle")],
  [("kan ik mijn bestelling ophalen in de winkel?", "answer:2 uur")],
  [("mag ik een product retourneren als ik het al uitgepakt heb", "answer:uitpakken")],
  [("wie is de beste voetballer ter wereld", "decline")],
  [("ik wil mijn geld terug en als het niet snel geregeld is schakel ik een advocaat in", "handover")],
  [("mijn moeder is overleden en ik wil haar account opzeggen", "handover")],
  [("jullie hebben mijn adres en gegevens naar iemand anders gestuurd, dit is een datalek!", "handover")],
  [("hoe laat zijn jullie open", "answer:17:30"), ("nee dat helpt me niet", "handover")],
  [("kan iemand mij bellen?", "handover")],
  # english
  [("Can I pay with Apple Pay?", "answer:Apple Pay", "en")],
  [("how long is the warranty on a vacuum cleaner", "answer:2 years", "en")],
  [("my order hasn't shown up yet", "ask:order_number", "en"), ("12345678", "answer:12345678", "en")],
  [("I'd like to cancel my order 40218833", "answer:40218833", "en")],
  [("where's the store in Utrecht?", "answer:Oudegracht", "en")],
  [("do you ship to France?", "answer:don't ship", "en")],
  [("how much does the Robbie Max cost?", "answer:799", "en")],
  [("do you sell TVs?", "decline", "en")],
  [("do you sell iphones", "decline", "en")],
  [("what's the capital of Spain?", "decline", "en")],
  [("I want to file a complaint, your delivery guy threw my package over the fence and it's broken", "ok", "en")],
  [("I'm going to sue you if I don't get my money back", "handover", "en")],
  [("The kettle gave me an electric shock", "handover", "en")],
  [("Hoi, waar is mijn pakket?", "ask:order_number"), ("Sorry, I meant: where is my parcel? Order 12345678", "answer:12345678", "en")],
  [("How do I return an item?", "answer:30 days", "en"), ("and from Germany?", "answer:6.95", "en")],
  [("thanks for nothing, this bot is useless", "any")],
  [("Can I speak to someone please", "handover", "en"), ("actually never mind", "any"), ("what are your opening hours?", "answer:17:30", "en")],
],
    "context": [
  [("/escalate_ack", "any"), ("/fallback_again", "any"), ("/order_status", "ask:order_number"), ("het is 12345678", "answer:12345678")],
  [("waar is mijn bestelling", "ask:order_number"), ("/restart", "any"), ("12345678", "any")],
  [("is de robbie s7 op voorraad", "answer:Robbie S7"), ("and the other model?", "any", "en")],
  [("hoeveel kost de krokant xl", "answer:119,99"), ("en de krokant duo?", "answer:169")],
  [("ik wil een medewerker", "handover"), ("mijn bestelnummer is 40218833", "any"), ("/leave_queue", "any"), ("wat kost verzending", "answer:4,95")],
  [("ik wil een medewerker", "handover"), ("waar is mijn bestelling 12345678", "answer:12345678"), ("bedankt", "ok"), ("doei", "ok")],
  [("Wat zijn de openingstijden van de klantenservice?", "answer:17:30"), ("And on Saturday?", "answer:10:00", "en")],
  [("hallo", "ok"), ("What payment methods do you accept?", "answer:iDEAL", "en"), ("ok thanks", "ok", "en")],
  [("kan ik mijn adres nog wijzigen", "ok"), ("nee", "handover")],
  [("waar blijft mn pakket nou, al 3 dagen niks gehoord", "ask:order_number"), ("weet ik niet meer", "any"), ("55501234", "answer:55501234")],
],
    "final": [
        [("wanneer word mijn bestelling geleverd", "ask:order_number"), ("nr is 31415926", "answer:31415926")],
        [("ik heb een bestelling gedaan maar wil toch iets anders, kan ik annuleren? ordernummer 40218833", "answer:40218833")],
        [("hoeveel kost de vonk capsa", "answer:89"), ("is hij op voorraad?", "answer:Capsa")],
        [("verkopen jullie ook stofzuigerzakken voor miele?", "decline")],
        [("hebben jullie ook tuinmeubelen", "decline")],
        [("Do you sell gaming laptops?", "decline", "en")],
        [("wie heeft de tour de france gewonnen", "decline")],
        [("What's the weather like in Amsterdam tomorrow?", "decline", "en")],
        [("kan ik mijn retour ook in de winkel in utrecht afgeven?", "ok")],
        [("hoe lang duurt een reparatie ongeveer", "answer:10 werkdagen")],
        [("my robot vacuum won't connect to wifi", "answer:2.4 GHz", "en")],
        [("what's your return policy?", "answer:30 days", "en"), ("that's not what I asked", "handover", "en")],
        [("ik ben 83 en slechtziend, kan iemand mij helpen met bestellen?", "handover")],
        [("My kettle exploded and burned my hand", "handover", "en")],
        [("zijn jullie op zondag open?", "answer:zondag")],
        [("Is there a student discount?", "answer:10%", "en")],
        [("hoi, hoe lang is de garantie op een stofzuiger?", "answer:2 jaar"), ("and for a coffee machine?", "answer:3 years", "en")],
        [("echt belachelijk, mijn bestelling 66012345 is nog steeds niet binnen", "answer:66012345")],
        [("ik wil graag een mens spreken aub", "handover"), ("oh laat maar, al opgelost", "any")],
        [("is de huisraad chef keukenmachine leverbaar?", "answer:op voorraad")],
    ],
}
FAILED = ("decline", "fallback", "knowledge_unknown", "clarify")


def score_turn(expect: str, templates: list[str], body: str, handed: bool) -> bool:
    kind, _, facts = expect.partition(":")
    if kind == "any":
        return True
    if kind == "handover":
        return handed
    if kind == "ask":
        return f"ask_{facts}" in templates and not handed
    if kind == "decline":
        return any(t.startswith("decline") for t in templates) and not handed
    good = not handed and not any(t.startswith(FAILED) for t in templates)
    return good and all(f.lower() in body.lower() for f in facts.split("|") if kind == "answer")


def main(verbose: bool) -> None:
    config = NLUConfig(data_dir=str(ROOT / "responses"), model_dir=str(ROOT / ".webcare" / "test-models"))
    analyzer = Analyzer.load_or_train(config)
    responses = Responses.load(ROOT / "responses")
    detect = LanguageDetector(["nl", "en"], "nl", 3)
    names = sorted(responses.in_stock, key=len, reverse=True)
    for name, conversations in SETS.items():
        right = total = 0
        for n, conversation in enumerate(conversations):
            store = Store.memory()
            engine = DialogueEngine(store, analyzer, responses)
            waiting = False
            for text, expect, *language in conversation:
                replies = engine.handle(IncomingMessage("terminal", f"u{n}", f"u{n}", text))
                state = store.conversations()[0]["state"]
                handed, waiting = state == "waiting" and not waiting, state == "waiting"
                templates = [r.template or "" for r in replies]
                body = " ".join(r.text for r in replies)
                good = score_turn(expect, templates, body, handed)
                if language and body and expect != "any":
                    for product in names:  # Dutch product names say nothing about the reply's language
                        body = body.replace(product, "")
                    good = good and detect.detect(body)[0] == language[0]
                if expect != "any":
                    total += 1
                    right += good
                if verbose or not good:
                    print(f"{name}#{n} {'ok ' if good else 'XX '} {text!r} [{expect}] {templates} {body[:160]!r}")
        print(f"{name}: {right}/{total} = {right / total:.2f}")
        store.close()


if __name__ == "__main__":
    main("-v" in sys.argv)
