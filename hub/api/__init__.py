"""The v1 chatbot API. Each module registers its routes on :data:`hub.api.registry.api`."""
