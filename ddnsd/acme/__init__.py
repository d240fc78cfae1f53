"""ddnsd.acme."""
