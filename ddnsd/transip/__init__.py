"""ddnsd.transip."""
