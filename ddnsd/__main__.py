"""``python -m ddnsd``."""

from ddnsd.cli import main

raise SystemExit(main())
