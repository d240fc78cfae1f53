"""ddnsd.emulator."""
