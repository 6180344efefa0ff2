"""The demo shop's content (not code): NLU data, answer templates, knowledge base, catalogue, demo orders."""
