"""Chatlayer's Offloading Webhook: a Chatlayer bot hands its users to the hub.

Chatlayer calls one URL per integration (``/v1/chatlayer/<name>``): a health check, every
message of every session (``event: "messages"``, kept as the bot-side history), and the
offload itself (``event: "offload"``, an escalation). What the agents say, and the end of
the chat, go back through Chatlayer's REST API from the outbox. docs/chatlayer.md is the
guide; the modules:

- :mod:`~hub.chatlayer.settings`: the ``[chatlayer.<name>]`` tables of the config file;
- :mod:`~hub.chatlayer.schemas`: Chatlayer's request bodies and the hub's answers;
- :mod:`~hub.chatlayer.endpoint`: the route, its token check and its errors;
- :mod:`~hub.chatlayer.incoming`: what each event does (history, relay, escalation);
- :mod:`~hub.chatlayer.history`: the kept history and each session's coordinates;
- :mod:`~hub.chatlayer.transcript`: Chatlayer's messages as transcript items;
- :mod:`~hub.chatlayer.outgoing`: envelopes as Chatlayer messages;
- :mod:`~hub.chatlayer.delivery`: the journal tap and the outbox handler;
- :mod:`~hub.chatlayer.client`: the one class that calls Chatlayer's API;
- :mod:`~hub.chatlayer.channel`: what the application holds, and the history's purge.

This package imports nothing here: :mod:`hub.settings` imports its settings module.
"""
