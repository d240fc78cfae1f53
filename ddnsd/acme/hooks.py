"""Front doors for ACME clients that run a program: lego exec, certbot, dehydrated.

Each takes a *factory* that builds the :class:`~ddnsd.acme.service.ChallengeService`
only when there is work to do, so handlers that need nothing (dehydrated's
``startup_hook``, ``deploy_cert``, …) load no config and build no client. Imports stay
light: the service module is imported inside the functions.

Names and values are checked here, before anything is loaded: a control character, a
blank, raw unicode or a malformed label is a usage error (exit 2, one line naming the
text, escaped), never a write.

Exit codes: 0 done, 1 failed (one line on stderr), 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from ddnsd.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BadInput, DdnsdError

if TYPE_CHECKING:
    from ddnsd.acme.service import ChallengeService

log = logging.getLogger(__name__)

ServiceFactory = Callable[[], "ChallengeService"]

LEGO_USAGE = (
    "usage: ddnsd present|cleanup FQDN VALUE, or ddnsd present|cleanup -- DOMAIN TOKEN KEYAUTH"
)
_WHO_WORKS = (
    "A running daemon (`ddnsd run`) does the work when it answers on its socket; otherwise\n"
    "this process does. Exit 0 done, 1 failed, 2 usage or configuration, 3 put off by\n"
    "TransIP's rate limit. See README.md (certbot, lego, dehydrated)."
)
#: ``ddnsd present|cleanup|hook -h``: what each front door takes.
HELP = {
    "present": (
        "usage: ddnsd [-c FILE] present FQDN VALUE\n"
        "       ddnsd [-c FILE] present -- DOMAIN TOKEN KEYAUTH   (lego exec, EXEC_MODE=RAW)\n\n"
        "Add the ACME DNS-01 TXT value at FQDN (_acme-challenge.<domain>.) as one entry and\n"
        "return once every authoritative nameserver serves it (lego exec's present).\n"
    ),
    "cleanup": (
        "usage: ddnsd [-c FILE] cleanup FQDN VALUE\n"
        "       ddnsd [-c FILE] cleanup -- DOMAIN TOKEN KEYAUTH   (lego exec, EXEC_MODE=RAW)\n\n"
        "Remove the TXT value that present added, and only that entry (lego exec's cleanup).\n"
    ),
    "hook": (
        "usage: ddnsd [-c FILE] hook certbot-auth|certbot-cleanup\n"
        "       ddnsd [-c FILE] hook dehydrated HANDLER ARGS...\n\n"
        'certbot: --manual-auth-hook "ddnsd hook certbot-auth" --manual-cleanup-hook\n'
        '"ddnsd hook certbot-cleanup" (certbot passes CERTBOT_DOMAIN, CERTBOT_VALIDATION).\n'
        'dehydrated: HOOK=a script that runs `exec ddnsd hook dehydrated "$@"`\n'
        "(deploy_challenge / clean_challenge; other handlers exit 0; HOOK_CHAIN works).\n"
    ),
}
HELP = {command: text + "\n" + _WHO_WORKS for command, text in HELP.items()}
DEHYDRATED_USAGE = (
    "usage: ddnsd hook dehydrated deploy_challenge|clean_challenge "
    "DOMAIN TOKEN_FILENAME TOKEN_VALUE [DOMAIN TOKEN_FILENAME TOKEN_VALUE ...]"
)


def _err(stderr: TextIO | None) -> TextIO:
    return stderr if stderr is not None else sys.stderr


def _run(
    action: str,
    items: Sequence[tuple[str, str]],
    factory: ServiceFactory,
    stderr: TextIO | None,
    *,
    wait: bool = True,
    wait_for: Sequence[str] = (),
) -> int:
    """Build the service, clean up stale entries, then present or clean up ``items``.

    ``wait=False`` presents without waiting for the nameservers; ``wait_for`` names whose
    journalled values must all be served before returning (certbot's last auth hook).
    """
    what = ", ".join(fqdn for fqdn, _ in items)
    try:
        service = factory()
        try:
            service.cleanup_stale(wait=True)  # like the challenge: waits out a rate limit
        except DdnsdError as exc:  # never let old leftovers block a new challenge
            log.warning("cleaning up stale ACME entries failed: %s", exc)
        if action == "present":
            service.present_all(items, wait=wait and not wait_for)
            if wait_for:
                service.wait_journal(wait_for)
        else:
            first: DdnsdError | None = None
            for fqdn, value in items:
                try:
                    service.cleanup(fqdn, value)
                except DdnsdError as exc:
                    first = first or exc
            if first is not None:
                raise first
    except DdnsdError as exc:
        print(f"ddnsd: {action} {what} failed: {exc}", file=_err(stderr))
        return EXIT_FAILED
    return EXIT_OK


def _usage(message: str, stderr: TextIO | None) -> int:
    print(f"ddnsd: {message}", file=_err(stderr))
    return EXIT_USAGE


def _acme_name(domain: str) -> str:
    from ddnsd.acme.challenge import challenge_name

    return challenge_name(domain)


def _checked(fqdn: str, value: str) -> tuple[str, str]:
    """(normalised name, value) given as they are; BadInput for a malformed one."""
    from ddnsd.acme.challenge import check_value, normalize_name

    return normalize_name(fqdn), check_value(value)


def _raw_value(key_auth: str) -> str:
    """The TXT value of a key authorization, which must be one clean ASCII word."""
    from ddnsd.acme.challenge import challenge_value, check_value

    check_value(key_auth)
    return challenge_value(key_auth)


def lego_exec(
    action: str, args: Sequence[str], factory: ServiceFactory, *, stderr: TextIO | None = None
) -> int:
    """lego ``--dns exec``: ``present|cleanup FQDN VALUE`` or RAW ``-- DOMAIN TOKEN KEYAUTH``."""
    if action not in ("present", "cleanup"):
        return _usage(f"unknown action {action!r}; {LEGO_USAGE}", stderr)
    rest = list(args)
    raw = bool(rest) and rest[0] == "--"
    if raw:
        rest = rest[1:]
    try:
        if len(rest) == 3:  # RAW mode (also when the "--" was eaten on the way)
            domain, _token, key_auth = rest
            items = [(_acme_name(domain), _raw_value(key_auth))]
        elif len(rest) == 2 and not raw:
            items = [_checked(rest[0], rest[1])]
        else:
            return _usage(LEGO_USAGE, stderr)
    except BadInput as exc:
        return _usage(f"{action}: {exc}", stderr)
    return _run(action, items, factory, stderr)


def certbot(
    action: str,
    environ: Mapping[str, str],
    factory: ServiceFactory,
    *,
    stderr: TextIO | None = None,
) -> int:
    """certbot ``--manual-auth-hook`` (``auth``) / ``--manual-cleanup-hook`` (``cleanup``)."""
    if action not in ("auth", "cleanup"):
        return _usage(
            f"unknown certbot hook {action!r}; use certbot-auth or certbot-cleanup", stderr
        )
    domain = environ.get("CERTBOT_DOMAIN", "")
    value = environ.get("CERTBOT_VALIDATION", "")
    if not domain or not value:
        missing = "CERTBOT_DOMAIN" if not domain else "CERTBOT_VALIDATION"
        return _usage(
            f"{missing} is not set; run this as certbot's --manual-auth-hook / "
            "--manual-cleanup-hook with --preferred-challenges dns",
            stderr,
        )
    remaining = environ.get("CERTBOT_REMAINING_CHALLENGES", "").strip()
    try:
        items = [_checked(_acme_name(domain), value)]
        # certbot runs every auth hook, then validates: a hook with challenges still to
        # come only adds its value; the last one waits for all of this certificate's.
        others = [d for d in environ.get("CERTBOT_ALL_DOMAINS", "").split(",") if d]
        wait_for = [_acme_name(d) for d in others] if remaining == "0" else []
    except BadInput as exc:
        return _usage(f"certbot-{action}: {exc}", stderr)
    if action == "cleanup":
        return _run("cleanup", items, factory, stderr)
    if remaining.isdigit() and int(remaining) > 0:
        log.info("%s: %s more challenge(s) follow; the last hook waits for all", domain, remaining)
        return _run("present", items, factory, stderr, wait=False)
    return _run("present", items, factory, stderr, wait_for=wait_for)


def dehydrated(
    args: Sequence[str], factory: ServiceFactory, *, stderr: TextIO | None = None
) -> int:
    """dehydrated hook: ``HANDLER ARGS…``; only the two challenge handlers do anything."""
    if not args:
        return _usage(DEHYDRATED_USAGE, stderr)
    handler, rest = args[0], list(args[1:])
    if handler not in ("deploy_challenge", "clean_challenge"):
        return EXIT_OK  # startup_hook, deploy_cert, exit_hook, the probe, future handlers
    if not rest or len(rest) % 3:
        return _usage(DEHYDRATED_USAGE, stderr)
    try:
        items = [_checked(_acme_name(rest[i]), rest[i + 2]) for i in range(0, len(rest), 3)]
    except BadInput as exc:
        return _usage(f"{handler}: {exc}", stderr)
    return _run("present" if handler == "deploy_challenge" else "cleanup", items, factory, stderr)


def dispatch(
    command: str,
    args: Sequence[str],
    factory: ServiceFactory,
    environ: Mapping[str, str],
    *,
    stderr: TextIO | None = None,
) -> int:
    """``ddnsd present|cleanup …`` and ``ddnsd hook certbot-auth|certbot-cleanup|dehydrated …``."""
    if command in ("present", "cleanup"):
        return lego_exec(command, args, factory, stderr=stderr)
    if command == "hook":
        if not args:
            return _usage("usage: ddnsd hook certbot-auth|certbot-cleanup|dehydrated …", stderr)
        kind, rest = args[0], args[1:]
        if kind in ("certbot-auth", "certbot-cleanup"):
            if rest:
                return _usage(f"ddnsd hook {kind} takes no arguments", stderr)
            return certbot(kind.removeprefix("certbot-"), environ, factory, stderr=stderr)
        if kind == "dehydrated":
            return dehydrated(rest, factory, stderr=stderr)
        return _usage(
            f"unknown hook {kind!r}; use certbot-auth, certbot-cleanup or dehydrated", stderr
        )
    return _usage(f"unknown ACME command {command!r}", stderr)
