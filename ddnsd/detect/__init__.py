"""ddnsd.detect."""
