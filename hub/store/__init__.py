"""Query functions, apart from the models. Each takes the connection as keyword ``conn``.

Changes to a conversation and its event log go through :mod:`hub.journal`; these are the
reads, and the writes that change neither: bots, the hub's own keys, agents' notes and
canned responses.
"""
