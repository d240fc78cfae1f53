"""ddnsd: dynamic DNS and ACME DNS-01 for the TransIP REST API v6."""

__version__ = "0.1.0"
