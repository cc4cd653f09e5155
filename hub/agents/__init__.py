"""The hub's own agents: accounts, sign-in, presence, and the desk's workspace."""
