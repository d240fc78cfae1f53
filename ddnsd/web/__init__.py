"""ddnsd.web."""
