"""The admins' pages: agents, bots, canned responses, and the live overview."""
