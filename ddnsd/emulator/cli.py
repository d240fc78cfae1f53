"""``ddnsd emulator``: run the local TransIP v6 API + authoritative DNS until SIGINT/SIGTERM.

Exit codes: 0 after a signal, 2 for bad flags (unreadable key file, bad listen address,
a port that cannot be bound).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:8780", metavar="ADDRESS:PORT", help="HTTP API address"
    )
    parser.add_argument(
        "--dns-listen",
        default="127.0.0.1:8053",
        metavar="ADDRESS:PORT",
        help="authoritative DNS address (UDP and TCP)",
    )
    parser.add_argument("--login", default="demo", help="TransIP login name (default: demo)")
    parser.add_argument(
        "--public-key",
        required=True,
        metavar="PEM",
        help="public key of the login's key pair (verifies signed POST /v6/auth)",
    )
    parser.add_argument(
        "--domain",
        action="append",
        metavar="NAME",
        help="emulated domain; repeat for more (default: example.test)",
    )
    parser.add_argument("--state", metavar="FILE", help="keep zones in this JSON file")
    parser.add_argument(
        "--propagation-delay",
        type=delay,
        default=0.0,
        metavar="SECONDS",
        help="DNS serves a write only this long after it was made",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of API writes that fail (500, 409, slow, lost answer)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed for faults")
    parser.add_argument("--tls-cert", metavar="CERT", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="KEY", help="private key of --tls-cert")
    parser.add_argument(
        "--rate-limit", type=int, default=1000, help="requests per window per login (1000)"
    )
    parser.add_argument(
        "--rate-limit-window",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="the sliding rate-limit window (default 900, TransIP's 15 minutes)",
    )


def delay(text: str) -> float:
    """A delay in seconds, 0 allowed ("2", "1.5s"); NaN, infinity and negatives are not."""
    from ddnsd.durations import parse_duration

    return parse_duration(text, allow_zero=True)


def run(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from ddnsd.emulator.server import Emulator, EmulatorConfig
    from ddnsd.hostport import parse_listen

    def fail(message: str) -> int:
        print(f"ddnsd emulator: {message}", file=sys.stderr)
        return EXIT_USAGE

    flag = "--listen"
    try:
        host, port = parse_listen(args.listen)
        flag = "--dns-listen"
        dns_host, dns_port = parse_listen(args.dns_listen)
    except ValueError as exc:
        return fail(f"{flag} {exc}")
    try:
        pem = Path(args.public_key).read_bytes()
    except OSError as exc:
        return fail(f"cannot read --public-key {args.public_key}: {exc.strerror or exc}")
    try:
        serialization.load_pem_public_key(pem)
    except ValueError:
        return fail(f"--public-key {args.public_key} is not a PEM public key (BEGIN PUBLIC KEY)")
    if bool(args.tls_cert) != bool(args.tls_key):
        return fail("--tls-cert and --tls-key go together")
    if not 0.0 <= args.fault_rate <= 1.0:
        return fail("--fault-rate must be between 0 and 1")
    if args.rate_limit < 1:
        return fail("--rate-limit must be at least 1")
    if not 0 < args.rate_limit_window <= 86400:
        return fail("--rate-limit-window must be more than 0 and at most 86400 seconds")
    domains = [d.lower().rstrip(".") for d in (args.domain or ["example.test"])]
    config = EmulatorConfig(
        users={args.login: pem},
        domains=domains,
        host=host,
        port=port,
        dns_host=dns_host,
        dns_port=dns_port,
        propagation_delay=args.propagation_delay,
        fault_rate=args.fault_rate,
        seed=args.seed,
        rate_limit=args.rate_limit,
        rate_limit_window=args.rate_limit_window,
        state_file=args.state,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # before the ready line: a signal right after it must still end in a clean exit 0
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
    try:
        emulator = Emulator(config).start()
    except OSError as exc:
        return fail(f"cannot start: {exc.strerror or exc} (check --listen / --dns-listen / TLS)")
    except ValueError as exc:
        return fail(f"cannot start: {exc}")
    dns_h, dns_p = emulator.dns_address
    dns_text = f"[{dns_h}]:{dns_p}" if ":" in dns_h else f"{dns_h}:{dns_p}"
    print(
        f"ddnsd emulator: API {emulator.api_url}, DNS {dns_text} (udp+tcp), "
        f"login {args.login}, domains {', '.join(domains)}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):
            pass
    emulator.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ddnsd.emulator",
        description="Local TransIP REST API v6 + authoritative DNS emulator.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
