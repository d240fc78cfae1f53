"""Configuration: TOML file + ``DDNSD_*`` environment + secret files → checked settings.

=================== ==========================================================
module              role
=================== ==========================================================
``models.py``       the pydantic models, one a section
``fields.py``       the field types the models share (durations, names, sources)
``acme.py``         the models of [acme], [acme.httpreq], [[acme.accounts]]
``observe.py``      the models of [notify] and [http.status_auth] (models.py imports them)
``read.py``         file + environment overlay, one check a section, paths
``credentials.py``  secrets read from their files; ``web_auth`` for the listener
``render.py``       the effective configuration as TOML, secrets redacted
``schema.py``       docs/configuration.md
``environ.py``      systemd's and hook callers' variables
``runtime.py``      plain credential values the web layer takes (stdlib only)
``places.py``       config file, state dir, hook socket paths; TOML read (stdlib only)
``unsafe.py``       the reader's control-character check (stdlib only)
=================== ==========================================================

The reader is ``read.py``, ``load()`` its entry point.
"""
