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
``places.py``       config file, state dir and hook socket paths (stdlib only)
``unsafe.py``       the control-character check of both readers (stdlib only)
=================== ==========================================================

The reader is ``read.py``, not ``load.py``: a submodule named ``load`` would replace the
package's ``load()`` as soon as something imported it. The package's names load lazily,
so a module that needs only the plain runtime types (``ddnsd.config.runtime``) or the
durations does not pay for pydantic; keep ``_MODULES``, ``__all__`` and the
TYPE_CHECKING imports in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ddnsd import lazy

if TYPE_CHECKING:
    from ddnsd.config.credentials import notify_targets, read_secret, status_auth, web_auth
    from ddnsd.config.environ import hook_environ, process_env
    from ddnsd.config.fields import parse_duration
    from ddnsd.config.models import Settings
    from ddnsd.config.places import (
        CREDENTIAL_KEY_NAME,
        DEFAULT_CONFIG,
        DEFAULT_STATE_DIR,
        config_path,
    )
    from ddnsd.config.read import load
    from ddnsd.config.render import redacted, to_toml
    from ddnsd.config.schema import schema_markdown

_MODULES = {
    "DEFAULT_STATE_DIR": "places",
    "Settings": "models",
    "parse_duration": "fields",
    "CREDENTIAL_KEY_NAME": "places",
    "DEFAULT_CONFIG": "places",
    "config_path": "places",
    "load": "read",
    "read_secret": "credentials",
    "web_auth": "credentials",
    "status_auth": "credentials",
    "notify_targets": "credentials",
    "redacted": "render",
    "to_toml": "render",
    "schema_markdown": "schema",
    "hook_environ": "environ",
    "process_env": "environ",
}

__all__ = [
    "CREDENTIAL_KEY_NAME",
    "DEFAULT_CONFIG",
    "DEFAULT_STATE_DIR",
    "Settings",
    "config_path",
    "hook_environ",
    "load",
    "notify_targets",
    "parse_duration",
    "process_env",
    "read_secret",
    "redacted",
    "schema_markdown",
    "status_auth",
    "to_toml",
    "web_auth",
]


__getattr__ = lazy.exports(__name__, _MODULES, globals())
