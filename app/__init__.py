"""Jol: the channel-agnostic backend (content, dialogue engine, conversation API)."""
