"""``python -m ddnsd.emulator`` (same flags as ``ddnsd emulator``)."""

from ddnsd.emulator.cli import main

raise SystemExit(main())
