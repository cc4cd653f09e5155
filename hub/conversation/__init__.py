"""Conversations: the units of work that change them, and the service that runs them.

- :mod:`.opening`: an escalation becomes a conversation and is routed along its chain;
- :mod:`.agent_side`: what a provider reports (through its context);
- :mod:`.user_side`: what the chatbot sends (messages, reads, files, closing, rating);
- :mod:`.ending`: the one way a conversation ends and returns to the bot;
- :mod:`.delivery`: the outbox handler that carries user-side work to a provider;
- :mod:`.service`: the operations the API and the dashboard call.
"""
