"""Listen throughput: generated mentions through triage (real NLU) into a SQLite file.

Mentions are generated from Dutch and English templates (complaints per topic, praise, questions,
news), with authors of varied reach, retweets, copy-paste bursts and one complaint spike. They go
through `Triage.process` in the batches the runner uses: dedupe, analysis, scoring, tickets, author
links, storms and ambassadors, each batch one transaction. Measured separately: the NLU alone,
the near-duplicate check alone, and triage with a precomputed analysis (the store's share).

    python bench/listen_throughput.py [--mentions 100000] [--nlu-mentions 100000]

`--mentions` runs triage with each template's real analysis computed once (the cost of everything
but the NLU); `--nlu-mentions` runs the full path with the real Analyzer on every text. Prints JSON and writes
bench/results/listen_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import run_info, write_result

from webcare.listeners.base import Mention
from webcare.listeners.config import ListenersConfig
from webcare.listeners.dedupe import NearDuplicates
from webcare.listeners.triage import Triage
from webcare.nlu.types import Analysis
from webcare.store import Store

COMPLAINTS = {
    "delivery": ["Mijn pakket {n} is al {d} dagen onderweg, waardeloos @acme", ("Bezorger heeft pakket {n} gewoon bij de "
                 "buren gegooid, ik ben er klaar mee"), "Order {n} still not delivered after {d} days @acme, terrible"],
    "payment": ["Al {d} keer dubbel betaald voor bestelling {n} en geen terugbetaling van acme",
                "Refund for order {n} takes {d} weeks already, unacceptable"],
    "app": ["De acme app crasht elke keer bij afrekenen ({d}e poging)", "Can't log in to the acme app since update {d}"],
}
PRAISE = ["Wat een topservice van @acme, pakket {n} binnen een dag!", ("Love my new airfryer from acme, order {n} was "
          "perfect"), "Super geholpen door de klantenservice van acme vandaag", "Acme delivered in {d} hours, great job"]
QUESTIONS = ["@acme hoe laat gaan jullie open op zondag?", "@acme can I return order {n} in store?",
             "@acme leveren jullie ook in België?"]
NEUTRAL = ["Acme opent een nieuwe winkel in Utrecht", "Acme kwartaalcijfers: omzet {d}% hoger",
           "Reading about acme's new return policy"]


def generate(count: int, seed: int = 7, start: float = 1_790_000_000.0) -> tuple[list[Mention], dict[str, str]]:
    """`count` mentions over a week, with one complaint spike about delivery on day 5.

    Also returns each text's template filled with fixed numbers: texts of one template differ only
    in order numbers and counts, so the 100,000 run analyses each template's text once.
    """
    rng = random.Random(seed)
    template_of: dict[str, str] = {}
    reach = [int(rng.lognormvariate(5, 2)) for _ in range(5000)]
    out: list[Mention] = []
    span = 7 * 86400
    for i in range(count):
        at = start + span * i / count
        spike = 5 * 86400 <= at - start < 5 * 86400 + 1800
        kind = "delivery" if spike and rng.random() < 0.7 else rng.choices(
            ["delivery", "payment", "app", "praise", "question", "neutral"], [8, 4, 3, 10, 5, 10])[0]
        pool = COMPLAINTS.get(kind) or {"praise": PRAISE, "question": QUESTIONS, "neutral": NEUTRAL}[kind]
        author = rng.randrange(5000) if kind != "praise" else rng.randrange(300)  # fans post more often
        template = rng.choice(pool)
        text = template.format(n=rng.randrange(10_000_000, 99_999_999), d=rng.randrange(2, 30))
        template_of[text] = template.format(n=40218833, d=5)
        repost = None
        if out and rng.random() < 0.08:  # a retweet of a recent mention
            original = out[-rng.randrange(1, min(len(out), 200) + 1)]
            text, repost = f"RT @{original.author}: {original.text}", original.external_id
            template_of[text] = template_of[original.text]
        out.append(Mention(source=rng.choice(["x", "x", "bluesky", "mastodon"]), external_id=f"g{i}", text=text,
                           author_id=f"a{author}", author=f"user{author}", author_reach=reach[author],
                           posted_at=at, query="acme", repost_of=repost))
    return out, template_of


class TemplateAnalyzer:
    """The real analysis of each text's template, computed beforehand: triage's cost without the NLU."""

    def __init__(self, analyses: dict[str, Analysis], template_of: dict[str, str]) -> None:
        self.analyses = analyses
        self.template_of = template_of

    def analyze_many(self, texts: list[str]) -> list[Analysis]:
        return [replace(self.analyses[self.template_of[t]], text=t) for t in texts]


def settings() -> ListenersConfig:
    return ListenersConfig.model_validate({
        "triage": {"brand_handles": ["@acme"], "topics": {"delivery": ["pakket", "bezorger", "delivered", "order"],
                                                          "payment": ["betaald", "refund"], "app": ["app"]}},
        "storms": {"window_minutes": 15, "min_count": 10, "z_threshold": 4},
    })


def run_triage(mentions: list[Mention], analyzer: Any, path: Path, batch: int = 200) -> dict[str, Any]:
    store = Store.open(f"sqlite:///{path}")
    triage = Triage(store, analyzer, settings(), clock=lambda: mentions[-1].posted_at or 0.0)
    totals = {"new": 0, "flagged": 0, "tickets": 0, "duplicates": 0, "storms": 0, "ambassadors": 0}
    started = time.perf_counter()
    for i in range(0, len(mentions), batch):
        result = triage.process(mentions[i:i + batch], cursor=("listener:bench", str(i)))
        for key in ("new", "flagged", "tickets", "duplicates"):
            totals[key] += getattr(result, key)
        totals["storms"] += len(result.storms)
        totals["ambassadors"] += len(result.ambassadors)
    seconds = time.perf_counter() - started
    store.close()
    return {"mentions": len(mentions), "seconds": round(seconds, 2),
            "mentions_per_s": round(len(mentions) / seconds, 1), **totals}


def dedupe_cost(mentions: list[Mention]) -> dict[str, Any]:
    near = NearDuplicates(50_000, 0.8)
    started = time.perf_counter()
    found = 0
    for i, m in enumerate(mentions):
        if near.find(m.text) is None:
            near.add(m.text, i)
        else:
            found += 1
    seconds = time.perf_counter() - started
    return {"mentions": len(mentions), "near_duplicates": found,
            "microseconds_per_mention": round(seconds / len(mentions) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--nlu-mentions", type=int, default=100_000)  # BENCHMARKS.md's table: both 100,000
    args = parser.parse_args()
    started = run_info()

    from webcare.nlu import Analyzer
    from webcare.nlu.config import NLUConfig

    config = NLUConfig(data_dir=str(ROOT / "responses"), model_dir=str(ROOT / ".webcare" / "bench-models"))
    analyzer = Analyzer.load_or_train(config)
    analyzer.analyze_many(["warm-up: de eerste analyse laadt modellen", "first call loads models"])
    result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}

    with tempfile.TemporaryDirectory() as tmp:
        small, _ = generate(args.nlu_mentions, seed=11)
        started = time.perf_counter()
        analyzer.analyze_many([m.text for m in small])
        nlu_seconds = time.perf_counter() - started
        result["nlu_only"] = {"texts": len(small), "texts_per_s": round(len(small) / nlu_seconds, 1)}
        result["full_real_nlu"] = run_triage(small, analyzer, Path(tmp) / "real.db")

        mentions, template_of = generate(args.mentions)
        templates = sorted(set(template_of.values()))
        analyses = dict(zip(templates, analyzer.analyze_many(templates), strict=True))
        result["triage_store_only"] = run_triage(mentions, TemplateAnalyzer(analyses, template_of),
                                                 Path(tmp) / "bench.db")
        result["dedupe"] = dedupe_cost(mentions)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    write_result("listen_throughput", result, started)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
