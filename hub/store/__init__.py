"""Query functions, apart from the models. Each takes the connection as keyword ``conn``.

Writes to conversations go through :mod:`hub.journal`; these are the reads, and the few
writes that are not about a conversation (bots, the hub's own keys).
"""
