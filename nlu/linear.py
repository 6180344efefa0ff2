"""Fitted linear models scored straight from their coefficients, all heads in one pass.

For one short text, scikit-learn's per-call input validation costs more than the arithmetic, and the
analyzer asks five models. `LinearScorer` stacks their `coef_`/`intercept_` into one weight matrix and
computes the same decision values (`X @ coef_.T + intercept_`) from the feature blocks as they come
(dense sentence vectors, sparse TF-IDF rows, word-list cues) without joining them first.
`probabilities` turns a logistic regression's decision values into `predict_proba`'s output.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit

from webcare.core.errors import NLUError


class LinearScorer:
    """Decision values of several fitted linear models whose features are a prefix of the same blocks."""

    def __init__(self, models: dict[str, Any], widths: list[int]) -> None:
        total = sum(widths)
        self.columns: dict[str, slice] = {}
        self.binary: set[str] = set()
        coefs, intercepts, start = [], [], 0
        for name, model in models.items():
            coef = np.asarray(model.coef_, np.float64)
            if coef.shape[1] > total:
                raise NLUError(f"{name} has {coef.shape[1]} features, the blocks only {total}")
            padded = np.zeros((coef.shape[0], total))
            padded[:, : coef.shape[1]] = coef
            coefs.append(padded)
            intercepts.append(np.broadcast_to(np.asarray(model.intercept_, np.float64), coef.shape[:1]))
            self.columns[name] = slice(start, start + coef.shape[0])
            if coef.shape[0] == 1:
                self.binary.add(name)
            start += coef.shape[0]
        weights = np.concatenate(coefs).T if coefs else np.zeros((total, 0))
        bounds = np.cumsum([0, *widths])
        self.blocks = [np.ascontiguousarray(weights[a:b]) for a, b in pairwise(bounds)]
        self.intercept = np.concatenate(intercepts) if intercepts else np.zeros(0)

    def decisions(self, blocks: list[Any]) -> dict[str, np.ndarray]:
        """Each model's `decision_function` on the rows of the blocks (1-D for binary models)."""
        if len(blocks) != len(self.blocks):
            raise NLUError(f"expected {len(self.blocks)} feature blocks, got {len(blocks)}")
        total = np.tile(self.intercept, (blocks[0].shape[0], 1))
        for block, weights in zip(blocks, self.blocks, strict=True):
            if sparse.issparse(block):
                total += np.asarray(block @ weights)
            else:
                total += np.asarray(block, np.float64) @ weights
        return {name: total[:, cols].ravel() if name in self.binary else total[:, cols]
                for name, cols in self.columns.items()}


def probabilities(decision: np.ndarray) -> np.ndarray:
    """A logistic regression's `predict_proba` from its decision values (binary: 1-D; else softmax)."""
    if decision.ndim == 1:
        p = expit(decision)
        return np.stack([1 - p, p], axis=1)
    z = decision - decision.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
