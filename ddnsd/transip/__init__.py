"""The TransIP REST API v6. Knows nothing of records or ACME beyond the label of the
work a request is charged to ("ddns" / "acme").

``client`` (one method per endpoint; ``TransipClient._call``, where every API call goes
out: token + transport + retry; ``make_client``) · ``transport`` (the one HTTP path to TransIP) ·
``budget`` (the request budget shared by every ddnsd process of a login; its pure
arithmetic in ``ledger``) · ``retry`` (the pure retry decision) · ``auth`` (token
sources) on ``keys``, ``tokens`` and ``token_cache`` · ``wire`` (JSON ⇄ model, TransIP's
error texts).
"""
