"""The account's RSA key: reading it from a PEM file, signing ``/auth`` bodies, naming it.

TransIP signs nothing itself: ddnsd signs the exact bytes of every ``POST /auth`` body
with the key generated in the control panel (PKCS#1 v1.5 over SHA-512). Errors name the
file, never its content.

Reading the file (permissions, form) is cheap and happens when a client is built;
parsing the key (``cryptography``, tens of milliseconds for an RSA check) only when a
token must be signed: a hook that reuses a cached token never pays for it. ``key_id``
names the key for the token cache without parsing it.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ddnsd.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

_KEY_KINDS = {
    "ECPrivateKey": "an EC",
    "EllipticCurvePrivateKey": "an EC",
    "Ed25519PrivateKey": "an Ed25519",
    "Ed448PrivateKey": "an Ed448",
    "DSAPrivateKey": "a DSA",
    "X25519PrivateKey": "an X25519",
    "X448PrivateKey": "an X448",
}


def load_private_key(path: str | os.PathLike[str], insecure: bool = False) -> rsa.RSAPrivateKey:
    """Load the account's RSA private key from a PEM file (:func:`read_key_file`, then
    :func:`parse_key`)."""
    return parse_key(read_key_file(path, insecure), path)


def read_key_file(path: str | os.PathLike[str], insecure: bool = False) -> bytes:
    """The PEM of the account's private key, read and checked without parsing the key.

    Accepts PKCS#8 (``BEGIN PRIVATE KEY``, what the TransIP control panel hands out) and
    PKCS#1 (``BEGIN RSA PRIVATE KEY``), with or without a UTF-8 byte-order mark and with
    LF or CRLF line ends (a key pasted on Windows).

    Like ssh, a key file that group or others may access (any of the ``0o077`` bits) is
    refused unless ``insecure`` is true (the ``insecure_key_permissions`` setting): that
    key can change every DNS record of the account. Errors name the file, never its
    content.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"private key file {p} does not exist; set private_key_file to the key "
            "generated in the TransIP control panel"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {p}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"private key file {p} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 and not insecure:
        raise ConfigError(
            f"private key file {p} is accessible by group or others (mode {mode:04o}): "
            f"run 'chmod 600 {p}', or set insecure_key_permissions = true to accept it"
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {p}: {exc.strerror}") from None

    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    data = data.replace(b"\r\n", b"\n").strip() + b"\n"

    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        raise ConfigError(
            f"private key file {p} is an OpenSSH key, but TransIP needs the PEM key from "
            "the control panel (a PEM file whose first line says BEGIN PRIVATE KEY)"
        )
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"ENCRYPTED" in data[:200]:
        raise ConfigError(
            f"private key file {p} is protected by a passphrase; ddnsd needs the key "
            "without one (openssl pkey -in KEY -out NEWKEY)"
        )
    if not re.search(rb"-----BEGIN (RSA )?PRIVATE KEY-----", data):
        raise ConfigError(
            f"private key file {p} does not contain a PEM private key (expected a "
            "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)"
        )
    return data


def parse_key(data: bytes, path: str | os.PathLike[str]) -> rsa.RSAPrivateKey:
    """The RSA key in ``data`` (from :func:`read_key_file`); ConfigError naming ``path``."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    p = Path(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(
            f"private key file {p} is protected by a passphrase; ddnsd needs the key "
            "without one (openssl pkey -in KEY -out NEWKEY)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"private key file {p} could not be parsed as a PEM private key; is it damaged "
            "or cut short?"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = _KEY_KINDS.get(type(key).__name__, "non-RSA")
        raise ConfigError(
            f"private key file {p} holds {kind} key, but TransIP keys are RSA; use the "
            "key generated in the TransIP control panel"
        )
    return key


def sign(body: bytes, key: rsa.RSAPrivateKey) -> str:
    """The ``Signature`` header for ``body``: base64(RSA PKCS#1 v1.5 over SHA-512).

    Same as ``openssl dgst -sha512 -sign KEY BODY | base64 -w0``. ``body`` must be the
    exact bytes that are sent.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = key.sign(body, padding.PKCS1v15(), hashes.SHA512())
    return base64.b64encode(raw).decode("ascii")


def key_id(data: bytes) -> str:
    """A name for the key in ``data`` (from :func:`read_key_file`): SHA-256 (hex) over a
    fixed prefix and the PEM. One key, one name; it tells nothing about the key itself."""
    return hashlib.sha256(b"ddnsd key id\0" + data).hexdigest()
