"""Custom Rasa NLU components (referenced by module path from bot/config.yml)."""
