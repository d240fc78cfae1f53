"""ddnsd.reconcile."""
