"""ddnsd.observe."""
