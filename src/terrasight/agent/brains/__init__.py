"""Brains behind one small interface (:class:`~terrasight.agent.brains.base.Brain`):
``offline`` (rules and dialogue state), ``openai`` (any chat-completions server) and
``gguf`` (a local model through llama-cpp-python)."""
