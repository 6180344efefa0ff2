"""Natural-language understanding: language, intents, entities, affect and knowledge answers."""

from nlu.analyzer import Analyzer
from nlu.config import NLUConfig
from nlu.types import Analysis, Entity, KnowledgeHit

__all__ = ["Analysis", "Analyzer", "Entity", "KnowledgeHit", "NLUConfig"]
