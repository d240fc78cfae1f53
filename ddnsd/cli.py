"""Command line: the argparse parser of every sub-command, and the ACME hooks' hand-off.

``commands.py`` does the work of each command and returns its exit code
(``ddnsd.errors``): 0 success / in sync, 1 something failed (a record, a challenge, a
check), 2 bad usage or configuration. The ACME hooks (``present``, ``cleanup``,
``hook``) take their arguments verbatim (:func:`_split_passthrough` sets ddnsd's own
options apart), go to a running daemon over its Unix socket when one answers
(:mod:`ddnsd.handoff.client`), and are otherwise done in this process.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from ddnsd import __version__, commands, logs
from ddnsd.acme.hooks import HELP
from ddnsd.config.environ import hook_environ
from ddnsd.durations import HOUR, parse_duration
from ddnsd.emulator.cli import add_arguments as add_emulator_arguments
from ddnsd.errors import EXIT_USAGE
from ddnsd.handoff.client import Printer, forward

# Commands whose arguments are passed through verbatim (lego exec's RAW mode uses "--").
_PASSTHROUGH = ("present", "cleanup", "hook")
_GLOBAL_WITH_VALUE = ("-c", "--config", "--log-format", "--log-level")


def duration(text: str) -> float:
    """An option's duration ("5", "2.5s", "1m"): finite, above zero, at most an hour.

    argparse turns the ValueError into "invalid duration value: 'nan'" and exit 2.
    """
    return parse_duration(text, maximum=HOUR)


def http_url(text: str) -> str:
    """An option's URL: http:// or https://, a host, a valid port, nothing to percent-encode
    (what urllib would refuse with a traceback, or read from a file).

    argparse turns the ArgumentTypeError into "argument --url: 'foo' is not …" and exit 2.
    """
    try:
        url = urlsplit(text)
        url.port  # noqa: B018 - a port that is not a number or past 65535: ValueError
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({exc})") from None
    beside_host = text.replace(url.netloc, "", 1)  # a host name may be IDN; the rest is sent
    if any(c <= " " or c == "\x7f" for c in text) or not beside_host.isascii():
        raise argparse.ArgumentTypeError(
            f"{text!r} has a space, a control or a non-ASCII character; percent-encode it"
        )
    if url.scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    if not url.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} has no host")
    return text


def _add_globals(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=d,
        help="config file (default: $DDNSD_CONFIG, else /etc/ddnsd/config.toml)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=argparse.SUPPRESS if suppress else "text",
        help="log line format (default: text)",
    )
    p.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        default=argparse.SUPPRESS if suppress else "INFO",
        help="least severe level logged (default: INFO)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddnsd",
        description="Dynamic DNS and ACME DNS-01 for TransIP (REST API v6).",
    )
    parser.add_argument("--version", action="version", version=f"ddnsd {__version__}")
    _add_globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _add_globals(p, suppress=True)
        return p

    cmd("run", "run the daemon: keep records in sync, serve metrics/health/ACME HTTP")
    p = cmd("once", "one round; exit 0 when every record is in sync, 1 when one failed")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p = cmd("status", "what the daemon (or the state dir) knows; exit 0 when all is in sync")
    p.add_argument("--json", action="store_true", help="the /api/status document as JSON")
    p.add_argument("--url", type=http_url, help="default: /api/status on [http] listen")
    p.add_argument("--timeout", type=duration, default=5.0, help="seconds (default: 5)")
    cmd("check-config", "validate the config and print it, secrets redacted")
    cmd("ip", "show what each address source says and the agreed address")
    p = cmd("healthcheck", "exit 0 when the daemon's /healthz answers 200 (for containers)")
    p.add_argument(
        "--ready",
        action="store_true",
        help="ask /readyz instead: 0 only while records are kept (the image's HEALTHCHECK)",
    )
    p.add_argument("--url", type=http_url, help="default: /healthz (/readyz) on [http] listen")
    p.add_argument("--timeout", type=duration, default=5.0, help="seconds (default: 5)")
    p = cmd("config-schema", "print the configuration reference generated from the code")
    p.add_argument("--markdown", action="store_true", help="markdown (the default)")
    p = cmd("emulator", "run the local TransIP API + authoritative DNS emulator")
    add_emulator_arguments(p)
    p = cmd("demo", "live demo on the embedded emulator (what `make demo` runs)")
    p.add_argument("--changes", type=int, default=3, help="address changes to show (default 3)")
    p.add_argument("--screenshot", metavar="PNG", help="save the status page (headless chromium)")
    hooks = {
        "present": "ACME: add a TXT value (lego exec: FQDN VALUE, or -- RAW)",
        "cleanup": "ACME: remove a TXT value added by present",
        "hook": "ACME client hooks: certbot-auth, certbot-cleanup, dehydrated HANDLER ARGS…",
    }
    for name, text in hooks.items():
        # The hook's own arguments are set apart first (_split_passthrough); this parser
        # reads ddnsd's options around them. -h is a hook argument: see main().
        _add_globals(sub.add_parser(name, help=text, add_help=False), suppress=True)
    return parser


def _split_passthrough(argv: list[str]) -> tuple[list[str], str, list[str]] | None:
    """For present/cleanup/hook: (global args, command, verbatim rest) — else None."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        break
    if i >= len(argv) or argv[i] not in _PASSTHROUGH:
        return None
    head, command, rest = argv[:i], argv[i], argv[i + 1 :]
    # ddnsd's own options may follow the command (`hook certbot-auth -c FILE`); everything
    # after a "--" belongs to the hook (lego's RAW mode).
    kept: list[str] = []
    j = 0
    while j < len(rest):
        a = rest[j]
        if a == "--":
            kept += rest[j:]
            break
        if a in _GLOBAL_WITH_VALUE and j + 1 < len(rest):
            head += rest[j : j + 2]
            j += 2
            continue
        if a.startswith(("--config=", "--log-format=", "--log-level=")):
            head.append(a)
        else:
            kept.append(a)
        j += 1
    rest = kept
    return head, command, rest


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    split = _split_passthrough(args_list)
    if split is None:
        args = parser.parse_args(args_list)
    else:
        head, command, rest = split
        if rest in (["-h"], ["--help"]):
            print(HELP[command])
            return 0
        try:
            # After the command, so a usage error names it ("ddnsd present: error: …").
            args, unknown = parser.parse_known_args([command, *head])
        except SystemExit as exc:
            return int(exc.code or 0)
        if unknown:
            print(f"ddnsd: unknown option {unknown[0]}", file=sys.stderr)
            return EXIT_USAGE
        return _hook(command, rest, args)
    logs.setup(args.log_format, args.log_level)
    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        return 130


def _hook(command: str, rest: list[str], args: argparse.Namespace) -> int:
    """``present`` / ``cleanup`` / ``hook …``: handed to a running daemon when one answers
    on its socket (its progress lines printed in this process's log format and level),
    else done in this process."""
    environ = hook_environ()
    printer = Printer(args.log_format, args.log_level)
    code = forward(command, rest, args.config, environ, printer=printer)
    if code is not None:
        return code
    logs.setup(args.log_format, args.log_level)
    return commands.acme(command, rest, args.config, environ)


def run() -> None:
    """The ``ddnsd`` command: :func:`main`, then exit with its code."""
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
