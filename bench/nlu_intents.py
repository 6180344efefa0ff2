"""Intent benchmarks on ../shared/data: CLINC150 (+ out of scope), BANKING77, xSID nl/en, en→nl.

Trains only on train splits (xSID: the valid split, as the issue asks), calibrates only on validation
splits, tests on test splits. Prints JSON and writes bench/results/nlu_intents.json.
Usage: python bench/nlu_intents.py [clinc150 banking77 xsid-nl xsid-en xsid-en-nl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nlu.config import NLUConfig
from nlu.datasets import INTENT_SETS, data_dir, xsid
from nlu.evaluate import evaluate_intents

KEYS = ("accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "macro_f1", "n_test", "n_train",
        "train_seconds", "examples_per_second", "encoder", "oos_threshold")


def main(names: list[str]) -> dict:
    root = data_dir()
    config = NLUConfig(cache_dir=".webcare/cache")
    results = {}
    for name in names:
        if name == "xsid-en-nl":  # cross-lingual: train on English, test on Dutch
            train, test, val = xsid(root, "en")["train"], xsid(root, "nl")["test"], None
        else:
            splits = INTENT_SETS[name](root)
            train, test, val = splits["train"], splits["test"], splits.get("val")
        report = evaluate_intents(config, train, test, "oos", val, progress=lambda m: print(m, file=sys.stderr))
        results[name] = {k: report.get(k) for k in KEYS}
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    return results


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["xsid-nl", "xsid-en", "xsid-en-nl", "banking77", "clinc150"]
    out = main(chosen)
    path = Path(__file__).parent / "results" / "nlu_intents.json"
    path.parent.mkdir(exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**previous, **out}, indent=2))
    print(json.dumps(out, indent=2))
