"""Text from outside: the one check of domain names and the characters nothing may hold.

PURE and standard-library only (the hook processes and the emulator use it too).

Every front door (hook arguments and certbot's variables, the HTTP API, router pushes,
the configuration) checks names with :func:`domain_name`, with full matches only:

* no control character and no whitespace anywhere (a newline would split a log line
  and, in a name, make an entry nobody asked for);
* ASCII only. An internationalized name is written in its IDNA form (``xn--`` labels,
  accepted as they are). Raw unicode is refused, with the ``xn--`` form in the sentence
  when the name is valid IDNA 2008: the standard library's codec implements IDNA 2003,
  which maps ``faß.de`` to ``fass.de`` (another domain) and treats the look-alike dots
  U+3002, U+FF0E and U+FF61 as dots, so ddnsd converts nothing itself;
* labels of 1 to 63 letters, digits, ``-`` and ``_`` (not starting or ending with
  ``-``), no empty label, at most 253 characters; one trailing dot is dropped.

:func:`unsafe_character` finds what may not appear even in free text.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 253
MAX_LABEL = 63
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
#: Control characters, and the unicode line and paragraph separators (they end lines too).
_UNSAFE_CATEGORIES = ("Cc", "Zl", "Zp")


def unsafe_character(text: str, *, spaces: bool = True) -> str | None:
    """The first character of ``text`` that no value may hold, or None.

    Control characters (C0, DEL, C1) and line/paragraph separators always; any
    whitespace too unless ``spaces`` is False (free text like a command line).
    """
    for ch in text:
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES or (spaces and ch.isspace()):
            return ch
    return None


def describe(ch: str) -> str:
    """``"\\n"`` → ``"a control character (U+000A)"``; ``" "`` → ``"a space (U+0020)"``."""
    if ch == " ":
        kind = "a space"
    elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        kind = "a control character"
    else:
        kind = "whitespace"
    return f"{kind} (U+{ord(ch):04X})"


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted and escaped like ``repr``, cut to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def domain_name(text: str, *, wildcard: bool = False) -> str:
    """``"_ACME-Challenge.Example.TEST."`` → ``"_acme-challenge.example.test"``.

    ValueError with one sentence naming ``text`` (escaped) and the rule it breaks.
    ``wildcard`` admits a first label ``*``.
    """
    if not text:
        raise ValueError("the name is empty; give a name like example.test")
    why = _why_not(text, wildcard)
    if why:
        raise ValueError(f"{shown(text)} is not a domain name: {why}")
    name = text.lower()
    return name[:-1] if name.endswith(".") else name


def _why_not(text: str, wildcard: bool) -> str:
    """What keeps ``text`` (not empty) from being a domain name, or ""."""
    bad = unsafe_character(text)
    if bad is not None:
        return f"it contains {describe(bad)}; names hold only letters, digits, '-', '_' and dots"
    if not text.isascii():
        return _idna_advice(text)
    labels = text.lower().removesuffix(".").split(".")
    if any(not label for label in labels):
        return "it has an empty label (a dot at the start, at the end or two in a row)"
    for i, label in enumerate(labels):
        if wildcard and i == 0 and label == "*" and len(labels) > 1:
            continue
        if len(label) > MAX_LABEL:
            return f"a label is longer than {MAX_LABEL} characters"
        if not _LABEL.fullmatch(label):
            return (
                f"label {shown(label, 20)} may hold only letters, digits, '-' and '_', "
                "and may not start or end with '-'"
            )
        if label.startswith("xn--") and not _punycode(label):
            return f"label {shown(label, 20)} is not valid punycode"
    if len(text.removesuffix(".")) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    return ""


def _punycode(label: str) -> bool:
    try:
        label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return True


def _idna_advice(text: str) -> str:
    """The sentence for a name with non-ASCII characters: write its xn-- form (shown)."""
    ascii_form = ""
    try:
        import idna  # IDNA 2008; installed with requests

        ascii_form = idna.encode(text.rstrip(".").lower(), strict=True).decode("ascii")
    except (ImportError, UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        pass
    first = next(ch for ch in text if not ch.isascii())
    advice = (
        f"it contains the non-ASCII character {first!r} (U+{ord(first):04X}); write "
        "internationalized names in their IDNA form (xn--…)"
    )
    return f"{advice}: {ascii_form!r}" if ascii_form else advice
