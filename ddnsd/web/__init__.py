"""The HTTP front door: a stdlib WSGI application (no framework) served by waitress.

``app.py`` assembles the routes (``/metrics``, ``/healthz``, ``/readyz`` and the parts
below) and is the WSGI entry; ``wsgi.py`` holds the request/response plumbing, basic
auth and the lock-out guard; ``acme.py`` the lego httpreq and acme-dns routes;
``dyndns.py`` the dyndns2 router push; ``server.py`` binds and serves.

Every route is answered with one access-log line on the ``ddnsd.web`` logger
(``app.access_log``); the modules log on their own children of it (``ddnsd.web.acme``, …).
"""
