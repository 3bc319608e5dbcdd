"""Consular contact requests: the user's side (through the dialogue) and the staff's (admin API)."""
