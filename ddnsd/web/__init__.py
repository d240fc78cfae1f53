"""The HTTP front door: a stdlib WSGI application (no framework) served by waitress.

``app.py`` assembles the routes (``/metrics``, ``/healthz``, ``/readyz`` and the parts
below) and is the WSGI entry; ``http.py`` holds the request/response plumbing, basic
auth and the lock-out guard; ``acme.py`` the lego httpreq and acme-dns routes;
``dyndns.py`` the dyndns2 router push; ``server.py`` binds and serves.

Every route is answered with one access-log line on the ``ddnsd.web`` logger (this
package's); the modules log on their own children of it (``ddnsd.web.acme``, …).
"""

from __future__ import annotations

import logging

access_log = logging.getLogger(__name__)
