"""webcare: social customer care — chat bot, escalation to humans, social listening, one shared store."""

__version__ = "0.1.0"
