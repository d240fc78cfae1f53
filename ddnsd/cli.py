"""Command line: argparse sub-commands and exit codes; nothing else.

Exit codes (``ddnsd.errors``): 0 success / in sync, 1 something failed (a record, a
challenge, a check), 2 bad usage or configuration. Imports stay lazy so hook processes
start fast: a hook that a running daemon serves (``present``, ``cleanup``, ``hook``) loads
neither argparse nor logging, only what it takes to hand the work over.
"""

from __future__ import annotations

import sys

from ddnsd import __version__
from ddnsd.errors import EXIT_USAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

# Commands whose arguments are passed through verbatim (lego exec's RAW mode uses "--").
_PASSTHROUGH = ("present", "cleanup", "hook")
_GLOBAL_WITH_VALUE = ("-c", "--config", "--log-format", "--log-level")


def duration(text: str) -> float:
    """An option's duration ("5", "2.5s", "1m"): finite, above zero, at most an hour.

    argparse turns the ValueError into "invalid duration value: 'nan'" and exit 2.
    """
    from ddnsd.durations import HOUR, parse_duration

    return parse_duration(text, maximum=HOUR)


def http_url(text: str) -> str:
    """An option's URL: http:// or https://, a host, a valid port, nothing to percent-encode
    (what urllib would refuse with a traceback, or read from a file).

    argparse turns the ArgumentTypeError into "argument --url: 'foo' is not …" and exit 2.
    """
    import argparse
    from urllib.parse import urlsplit

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
    import argparse

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
    import argparse

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
    p.add_argument("--url", type=http_url, help="default: /healthz on [http] listen")
    p.add_argument("--timeout", type=duration, default=5.0, help="seconds (default: 5)")
    p = cmd("config-schema", "print the configuration reference generated from the code")
    p.add_argument("--markdown", action="store_true", help="markdown (the default)")
    p = cmd("emulator", "run the local TransIP API + authoritative DNS emulator")
    from ddnsd.emulator.cli import add_arguments

    add_arguments(p)
    p = cmd("demo", "live demo on the embedded emulator (what `make demo` runs)")
    p.add_argument("--changes", type=int, default=3, help="address changes to show (default 3)")
    p.add_argument("--screenshot", metavar="PNG", help="save the status page (headless chromium)")
    # Documented here for --help; parsed by _passthrough().
    sub.add_parser("present", help="ACME: add a TXT value (lego exec: FQDN VALUE, or -- RAW)")
    sub.add_parser("cleanup", help="ACME: remove a TXT value added by present")
    sub.add_parser(
        "hook",
        help="ACME client hooks: certbot-auth, certbot-cleanup, dehydrated HANDLER ARGS…",
    )
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


_FORMATS = ("text", "json")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _plain_globals(head: list[str]) -> tuple[str | None, str, str] | None:
    """(config, log format, log level) of a hook's global options written out in full
    (``-c FILE``, ``--log-level=debug``, …); None for anything else (an abbreviation,
    ``-cFILE``, a bad value, ``-h``), which argparse then parses as it always did."""
    found: dict[str, str] = {}
    i = 0
    while i < len(head):
        name, eq, value = head[i].partition("=")
        if not eq:
            if i + 1 >= len(head):
                return None
            value = head[i + 1]
            i += 1
        i += 1
        key = {"-c": "config", "--config": "config"}.get(name, name.removeprefix("--"))
        if key == "log-level":
            value = value.upper()
        good = {"config": not _value_is_option(value), "log-format": value in _FORMATS}
        good["log-level"] = value in _LEVELS
        if (eq and name == "-c") or not good.get(key, False):
            return None  # every value is checked: argparse refuses a bad one even if repeated
        found[key] = value
    return found.get("config"), found.get("log-format", "text"), found.get("log-level", "INFO")


def _value_is_option(value: str | None) -> bool:
    """argparse reads ``-c --log-level`` as a missing value, not as a file named so."""
    return value is not None and value.startswith("-") and value != "-"


def _hook_globals(command: str, head: list[str]) -> tuple[str | None, str, str] | int:
    """The hook's (config, log format, log level), or the exit code of a usage error."""
    plain = _plain_globals(head)
    if plain is not None:
        return plain
    import argparse

    gp = argparse.ArgumentParser(prog=f"ddnsd {command}", add_help=False)
    _add_globals(gp, suppress=False)
    try:
        g, unknown = gp.parse_known_args(head)
    except SystemExit as exc:
        return int(exc.code or 0)
    if unknown:
        print(f"ddnsd: unknown option {unknown[0]}", file=sys.stderr)
        return EXIT_USAGE
    return g.config, g.log_format, g.log_level


def _hook(command: str, head: list[str], rest: list[str]) -> int:
    """``present`` / ``cleanup`` / ``hook …``: handed to a running daemon when one answers
    on its socket (standard library only, no logging set-up), else done in-process."""
    if rest in (["-h"], ["--help"]):
        from ddnsd.acme.hooks import HELP

        print(HELP[command])
        return 0
    found = _hook_globals(command, head)
    if isinstance(found, int):
        return found
    config, fmt, level = found
    from ddnsd.config.environ import hook_environ
    from ddnsd.handoff.client import Printer, forward

    environ = hook_environ()
    code = forward(command, rest, config, environ, printer=Printer(fmt, level))
    if code is not None:
        return code
    from ddnsd import logs

    logs.setup(fmt, level)
    from ddnsd import commands

    return commands.acme(command, rest, config, environ)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    split = _split_passthrough(args_list)
    if split is not None:
        head, command, rest = split
        return _hook(command, head, rest)

    parser = build_parser()
    args = parser.parse_args(args_list)
    from ddnsd import logs

    logs.setup(args.log_format, args.log_level)
    from ddnsd import commands

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The ``ddnsd`` command: :func:`main`, then exit with its code.

    A hook's process (``present``, ``cleanup``, ``hook``) then ends without the
    interpreter's teardown, which frees every loaded module one by one: about 20 ms with
    requests loaded, and certbot waits for it four times per certificate. What teardown
    would do that matters still happens first: the exit handlers run (logging flushed and
    closed), stdout and stderr are flushed. Any other command, a hook that left a thread
    running, or an output that cannot be flushed exits the usual way.
    """
    argv = sys.argv[1:]
    code = main(argv)
    if _split_passthrough(argv) is not None:
        _exit_now(code)
    raise SystemExit(code)


def _exit_now(code: int) -> None:
    """Exit with ``code`` after the exit handlers and flushing (see :func:`run`); returns
    only when that is not safe."""
    import atexit
    import os

    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
