"""The conversation API: one event in, the replies out, the state kept in the database."""
