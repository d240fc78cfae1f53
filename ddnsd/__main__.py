"""``python -m ddnsd``."""

from ddnsd.cli import run

run()
