"""The Rasa assistant: domain, rules, stories, pipeline and its custom NLU components."""
