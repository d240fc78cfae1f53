"""A throw-away TransIP-style key pair for the emulator's login (demo, benchmarks, tests).

The private key file is created with mode 0600 from the first byte (never readable by
others, not even between write and chmod) and refuses to overwrite an existing file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class KeyPair:
    private_key_path: Path  # PKCS#8 PEM, mode 0600
    public_key_path: Path  # SubjectPublicKeyInfo PEM (what `ddnsd emulator --public-key` reads)
    public_pem: bytes  # the same public key, for EmulatorConfig(users={login: public_pem})


def write_keypair(directory: Path, name: str = "transip") -> KeyPair:
    """Generate RSA-2048 and write ``NAME.key`` (0600) and ``NAME.pub.pem`` into ``directory``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / f"{name}.key"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = directory / f"{name}.pub.pem"
    public.write_bytes(public_pem)
    return KeyPair(private, public, public_pem)
