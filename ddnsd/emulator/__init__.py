"""The local TransIP REST API v6 emulator with its authoritative DNS (``ddnsd emulator``):
for tests, benchmarks, the demo and users' own trials. Imports nothing of the daemon but
the shared pure modules (``names``, ``durations``, ``listen``, ``model``)."""
