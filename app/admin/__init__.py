"""Staff access: API keys with roles (and countries for consular keys), and the audit log."""
