"""Hooks hand their work to the running daemon over a local Unix socket.

=============== ===========================================================================
module          role
=============== ===========================================================================
``protocol.py`` the JSON-lines wire format, pure (the contract is written there)
``client.py``   the hook's side: find the socket, send, relay progress, exit as told;
                standard library only
``peers.py``    who may connect: ``SO_PEERCRED`` and the pure allow/refuse decision
``server.py``   the daemon's listener: one thread per hook, progress lines relayed
``work.py``     what the daemon does with a request: the ACME front doors on its own
                challenge service (its token, request budget, journal)
=============== ===========================================================================
"""
