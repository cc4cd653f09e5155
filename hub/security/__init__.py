"""Secrets, tokens and sanitising."""
