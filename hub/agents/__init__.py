"""The hub's own agents and what they manage: accounts, sign-in, presence, the desk's
workspace, notes, canned responses, and (admins) the registered bots."""
