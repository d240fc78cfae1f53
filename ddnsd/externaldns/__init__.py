"""ddnsd as external-dns's TransIP webhook provider (``[external_dns]``).

external-dns (``--provider=webhook``) runs ddnsd as a sidecar and calls its webhook API
on ``[external_dns] listen`` (:mod:`.app`). Endpoints map to TransIP entries in
:mod:`.mapping` (pure); ``GET /records`` is served from :mod:`.view` (each zone read at
most every ``refresh``, updated in place by ddnsd's own writes); :mod:`.provider` applies
plans with single-entry writes through the one TransIP client and its request budget.
"""
