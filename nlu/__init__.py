"""Natural-language understanding: language, intents, entities, affect and knowledge answers.

`Analyzer` is imported on first use: the NLU stack (numpy, scikit-learn, encoders) costs about a
second, and commands that only read the store or the content must not pay it.
"""

from typing import TYPE_CHECKING, Any

from webcare.nlu.config import NLUConfig
from webcare.nlu.types import Analysis, Entity, KnowledgeHit

if TYPE_CHECKING:
    from webcare.nlu.analyzer import Analyzer

__all__ = ["Analysis", "Analyzer", "Entity", "KnowledgeHit", "NLUConfig"]


def __getattr__(name: str) -> Any:
    if name == "Analyzer":
        from webcare.nlu.analyzer import Analyzer

        return Analyzer
    raise AttributeError(f"module 'nlu' has no attribute {name!r}")
