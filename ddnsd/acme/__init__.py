"""ACME DNS-01: challenge arithmetic (pure), the challenge service, its TransIP writes,
propagation, the journal of values added, and the hook front doors (certbot, lego,
dehydrated)."""
