"""ddnsd.transip keys, tokens and auth: key loading, signing, JWT expiry math, labels."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ddnsd.emulator.tokens import DEMO_TOKEN  # the seed's demo token, verbatim
from ddnsd.errors import ConfigError, TransipAuthError
from ddnsd.transip.auth import KeyAuth, StaticTokenAuth
from ddnsd.transip.budget import DDNS
from ddnsd.transip.keys import key_id, load_private_key, read_key_file, sign
from ddnsd.transip.tokens import jwt_claims, make_label, token_schedule
from ddnsd.transip.transport import Transport


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def _need_openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is required for this test (CI=true forbids skipping)")
        pytest.skip("openssl not installed")
    return found


# ----------------------------------------------------------------------------- key loading

PKCS8 = serialization.PrivateFormat.PKCS8
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL
BOM = b"\xef\xbb\xbf"


def _crlf(b: bytes) -> bytes:
    return b.replace(b"\n", b"\r\n")


def _same(b: bytes) -> bytes:
    return b


LOADABLE: list[tuple[str, serialization.PrivateFormat, Callable[[bytes], bytes], int, bool]] = [
    ("pkcs8", PKCS8, _same, 0o600, False),
    ("pkcs1", PKCS1, _same, 0o600, False),
    ("pkcs8/bom", PKCS8, lambda b: BOM + b, 0o600, False),
    ("pkcs1/crlf", PKCS1, _crlf, 0o600, False),
    ("pkcs8/bom+crlf", PKCS8, lambda b: BOM + _crlf(b), 0o400, False),
    ("pkcs8/leading-blank-lines", PKCS8, lambda b: b"\n\n" + b, 0o600, False),
    ("pkcs8/0644/insecure-override", PKCS8, _same, 0o644, True),
    ("pkcs1/0660/insecure-override", PKCS1, _same, 0o660, True),
]


@pytest.mark.parametrize(
    ("fmt", "mangle", "mode", "insecure"),
    [c[1:] for c in LOADABLE],
    ids=[c[0] for c in LOADABLE],
)
def test_load_private_key_accepts(
    tmp_path: Path,
    key: rsa.RSAPrivateKey,
    fmt: serialization.PrivateFormat,
    mangle: Callable[[bytes], bytes],
    mode: int,
    insecure: bool,
) -> None:
    path = _write(tmp_path / "k.pem", mangle(_pem(key, fmt)), mode)
    loaded = load_private_key(path, insecure=insecure)
    assert loaded.private_numbers() == key.private_numbers()


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, PKCS8, serialization.NoEncryption()
    )


def _encrypted_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, PKCS8, serialization.BestAvailableEncryption(b"secret")
    )


def _truncated_pem(key: rsa.RSAPrivateKey) -> bytes:
    lines = _pem(key, PKCS8).splitlines()
    return b"\n".join(lines[:5] + lines[-1:]) + b"\n"


REFUSED: list[tuple[str, Callable[[rsa.RSAPrivateKey], bytes | None], int, str]] = [
    (
        "group-readable",
        lambda k: _pem(k, PKCS8),
        0o640,
        "private key file {p} is accessible by group or others (mode 0640): "
        "run 'chmod 600 {p}', or set insecure_key_permissions = true to accept it",
    ),
    (
        "world-readable",
        lambda k: _pem(k, PKCS1),
        0o644,
        "private key file {p} is accessible by group or others (mode 0644): "
        "run 'chmod 600 {p}', or set insecure_key_permissions = true to accept it",
    ),
    (
        "group-writable",
        lambda k: _pem(k, PKCS8),
        0o620,
        "private key file {p} is accessible by group or others (mode 0620): "
        "run 'chmod 600 {p}', or set insecure_key_permissions = true to accept it",
    ),
    (
        "missing",
        lambda k: None,
        0o600,
        "private key file {p} does not exist; set private_key_file to the key generated "
        "in the TransIP control panel",
    ),
    (
        "garbage",
        lambda k: b"this is not a key\n",
        0o600,
        "private key file {p} does not contain a PEM private key (expected a "
        "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)",
    ),
    (
        "empty",
        lambda k: b"",
        0o600,
        "private key file {p} does not contain a PEM private key (expected a "
        "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)",
    ),
    (
        "public-key-only",
        lambda k: k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        0o600,
        "private key file {p} does not contain a PEM private key (expected a "
        "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block)",
    ),
    (
        "truncated",
        _truncated_pem,
        0o600,
        "private key file {p} could not be parsed as a PEM private key; is it damaged or "
        "cut short?",
    ),
    (
        "not-rsa",
        lambda k: _ec_pem(),
        0o600,
        "private key file {p} holds an EC key, but TransIP keys are RSA; use the key "
        "generated in the TransIP control panel",
    ),
    (
        "encrypted",
        _encrypted_pem,
        0o600,
        "private key file {p} is protected by a passphrase; ddnsd needs the key without "
        "one (openssl pkey -in KEY -out NEWKEY)",
    ),
    (
        "openssh-format",
        lambda k: k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
        0o600,
        "private key file {p} is an OpenSSH key, but TransIP needs the PEM key from the "
        "control panel (a PEM file whose first line says BEGIN PRIVATE KEY)",
    ),
]


@pytest.mark.parametrize(
    ("content", "mode", "expected"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_load_private_key_refuses_with_one_clear_line(
    tmp_path: Path,
    key: rsa.RSAPrivateKey,
    content: Callable[[rsa.RSAPrivateKey], bytes | None],
    mode: int,
    expected: str,
) -> None:
    path = tmp_path / "transip.key"
    data = content(key)
    if data is not None:
        _write(path, data, mode)
    with pytest.raises(ConfigError) as caught:
        load_private_key(path)
    text = str(caught.value)
    assert text == expected.format(p=path)
    assert "\n" not in text
    # never any key material in the message
    for line in (data or b"").splitlines()[1:-1]:
        assert line.decode(errors="replace") not in text


def test_load_private_key_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_private_key(tmp_path)


# ----------------------------------------------------------------------------- signing

BODIES = [
    ("seed-example", b'{"login":"test-user","nonce":"98475920834","read_only":false}'),
    ("empty", b""),
    ("unicode", json.dumps({"label": "ddnsd-hu\u00efs-1"}, ensure_ascii=False).encode()),
    ("spaces-matter", b'{"login": "test-user"}'),
]


@pytest.mark.parametrize("body", [b for _, b in BODIES], ids=[i for i, _ in BODIES])
def test_sign_is_pkcs1v15_sha512_base64(key: rsa.RSAPrivateKey, body: bytes) -> None:
    signature = sign(body, key)
    raw = base64.b64decode(signature, validate=True)
    assert len(raw) == 256  # RSA-2048
    key.public_key().verify(raw, body, padding.PKCS1v15(), hashes.SHA512())
    assert sign(body, key) == signature  # PKCS#1 v1.5 is deterministic


@pytest.mark.parametrize("body", [b for _, b in BODIES], ids=[i for i, _ in BODIES])
def test_signature_verifies_with_openssl(
    tmp_path: Path, key: rsa.RSAPrivateKey, body: bytes
) -> None:
    openssl = _need_openssl()
    pub = tmp_path / "pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    data = tmp_path / "body.json"
    data.write_bytes(body)
    sig = tmp_path / "body.sig"
    sig.write_bytes(base64.b64decode(sign(body, key)))
    verify = subprocess.run(
        [openssl, "dgst", "-sha512", "-verify", str(pub), "-signature", str(sig), str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Verified OK" in verify.stdout


def test_signature_equals_openssl_dgst_sign(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    """The seed's recipe (openssl dgst -sha512 -sign | base64) gives the same header."""
    openssl = _need_openssl()
    keyfile = _write(tmp_path / "k.pem", _pem(key, PKCS8))
    body = BODIES[0][1]
    data = tmp_path / "body.json"
    data.write_bytes(body)
    made = subprocess.run(
        [openssl, "dgst", "-sha512", "-sign", str(keyfile), str(data)],
        capture_output=True,
        check=True,
    )
    assert base64.b64encode(made.stdout).decode() == sign(body, key)


def test_key_id_names_a_key_without_showing_it(key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    path = _write(tmp_path / "k.pem", _pem(key, PKCS8))
    pem = read_key_file(path)
    kid = key_id(pem)
    assert len(kid) == 64 and int(kid, 16) >= 0
    assert kid == key_id(read_key_file(path))  # stable
    assert kid != hashlib.sha256(pem).hexdigest()  # not a bare hash of the key file
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert key_id(read_key_file(_write(tmp_path / "o.pem", _pem(other, PKCS8)))) != kid


# ----------------------------------------------------------------------------- JWT


def _jwt(payload: object, pad: bool = False) -> str:
    raw = json.dumps(payload).encode()
    body = base64.urlsafe_b64encode(raw).decode()
    if not pad:
        body = body.rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


JWTS = [
    ("seed-demo-token", DEMO_TOKEN, {"iat": 1582201550, "exp": 2118745550, "cid": "60449"}),
    ("unpadded", _jwt({"iat": 1, "exp": 2, "x": "ÿÿ"}), {"iat": 1, "exp": 2}),
    ("padded", _jwt({"iat": 1, "exp": 2, "x": "a"}, pad=True), {"iat": 1, "exp": 2}),
    ("opaque-token", "0123456789abcdef", {}),
    ("two-parts", "a.b", {}),
    ("bad-base64", "a.!!!.c", {}),
    ("not-json", "a." + base64.urlsafe_b64encode(b"nope").decode() + ".c", {}),
    ("json-list", _jwt([1, 2]), {}),
]


@pytest.mark.parametrize(("token", "subset"), [j[1:] for j in JWTS], ids=[j[0] for j in JWTS])
def test_jwt_claims(token: str, subset: dict[str, object]) -> None:
    claims = jwt_claims(token)
    assert {k: claims.get(k) for k in subset} == subset
    if not subset:
        assert claims == {}


SCHEDULES: list[tuple[str, dict[str, object], float, float | None, tuple[float, float] | None]] = [
    # (id, claims, received_at, fallback lifetime, expected (renew_at, expires_at))
    ("1h/renew-at-80%", {"iat": 1000, "exp": 4600}, 1000.0, None, (1000 + 2880, 4600)),
    ("30min", {"iat": 0, "exp": 1800}, 50.0, None, (50 + 1440, 50 + 1800)),
    # lifetime from the token, anchored at our clock: skew does not matter
    ("server-clock-ahead", {"iat": 10_000_000, "exp": 10_003_600}, 500.0, None, (3380, 4100)),
    ("server-clock-behind", {"iat": 0, "exp": 3600}, 9e9, None, (9e9 + 2880, 9e9 + 3600)),
    ("nbf-when-no-iat", {"nbf": 100, "exp": 1100}, 100.0, None, (900, 1100)),
    ("exp-only", {"exp": 2000}, 1000.0, None, (1800, 2000)),
    ("no-exp/fallback", {}, 0.0, 3600.0, (2880, 3600)),
    ("no-exp/no-fallback", {}, 0.0, None, None),
    ("already-expired", {"iat": 10, "exp": 10}, 99.0, None, (99, 99)),
    ("bool-is-not-a-time", {"iat": True, "exp": 3600}, 0.0, None, (2880, 3600)),
    ("string-exp-ignored", {"iat": 0, "exp": "3600"}, 0.0, 60.0, (48, 60)),
]


@pytest.mark.parametrize(
    ("claims", "received", "fallback", "expected"),
    [s[1:] for s in SCHEDULES],
    ids=[s[0] for s in SCHEDULES],
)
def test_token_schedule(
    claims: dict[str, object],
    received: float,
    fallback: float | None,
    expected: tuple[float, float] | None,
) -> None:
    assert token_schedule(claims, received, fallback) == expected


LABELS = [
    ("plain", "myhost", 123, "ddnsd-myhost-123"),
    ("fqdn-keeps-first-label", "home.example.net", 5, "ddnsd-home-5"),
    ("odd-characters", "my_host!", 7, "ddnsd-my-host--7"),
    ("empty-host", "", 9, "ddnsd-host-9"),
    ("long-host", "h" * 80, 1, "ddnsd-" + "h" * 40 + "-1"),
]


@pytest.mark.parametrize(
    ("host", "ns", "label"), [c[1:] for c in LABELS], ids=[c[0] for c in LABELS]
)
def test_make_label(host: str, ns: int, label: str) -> None:
    assert make_label(host, ns) == label


def test_make_label_is_unique_per_call() -> None:
    assert len({make_label("h", time.time_ns()) for _ in range(50)}) == 50


# ----------------------------------------------------------------------------- KeyAuth body


def test_auth_body_fields(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    path = _write(tmp_path / "k.pem", _pem(key, PKCS8))
    auth = KeyAuth(Transport("http://127.0.0.1:1/v6/"), "demo", path)
    first, second = auth.auth_body(), auth.auth_body()
    assert set(first) == {"login", "nonce", "read_only", "expiration_time", "label", "global_key"}
    assert first["login"] == "demo"
    assert first["global_key"] is True and first["read_only"] is False
    assert first["expiration_time"] == "1 hour"
    assert 6 <= len(first["nonce"]) <= 32
    assert first["nonce"] != second["nonce"] and first["label"] != second["label"]
    assert first["label"].startswith("ddnsd-")
    assert auth.api_url == "http://127.0.0.1:1/v6"
    assert "BEGIN" not in repr(auth)


def test_key_auth_refuses_empty_login(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    path = _write(tmp_path / "k.pem", _pem(key, PKCS8))
    with pytest.raises(ConfigError, match="login is empty"):
        KeyAuth(Transport("http://127.0.0.1:1/v6"), "", path)


# ----------------------------------------------------------------------------- static token


STATIC = [
    ("plain", "abc.def.ghi", "abc.def.ghi"),
    ("trailing-newline", "abc.def.ghi\n", "abc.def.ghi"),
    ("crlf-and-spaces", "  abc.def.ghi\r\n", "abc.def.ghi"),
    ("bom", "\ufeffabc.def.ghi\n", "abc.def.ghi"),
]


@pytest.mark.parametrize(("content", "token"), [s[1:] for s in STATIC], ids=[s[0] for s in STATIC])
def test_static_token_reads_file(tmp_path: Path, content: str, token: str) -> None:
    path = tmp_path / "token"
    path.write_text(content, encoding="utf-8")
    assert StaticTokenAuth(path).token(DDNS) == token


STATIC_BAD = [
    (
        "missing",
        None,
        "access token file {p} does not exist; write the token generated in "
        "the TransIP control panel to it",
    ),
    (
        "empty",
        "\n  \n",
        "access token file {p} is empty; write the token generated in the "
        "TransIP control panel to it",
    ),
    (
        "two-words",
        "abc def",
        "access token file {p} holds more than one word; it must contain only the token",
    ),
    (
        "not-printable-ascii",
        "abc\u2019def\n",
        "access token file {p} holds characters a TransIP token never has (only printable "
        "ASCII); write the token generated in the TransIP control panel to it",
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"), [s[1:] for s in STATIC_BAD], ids=[s[0] for s in STATIC_BAD]
)
def test_static_token_clear_errors(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        StaticTokenAuth(path)
    assert str(caught.value) == expected.format(p=path)


def test_static_token_cannot_renew(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(DEMO_TOKEN + "\n", encoding="utf-8")
    auth = StaticTokenAuth(path)
    assert auth.expires_at() == 2118745550
    auth.invalidate("some-other-token")  # not ours: ignored
    assert auth.token(DDNS) == DEMO_TOKEN
    auth.invalidate(DEMO_TOKEN)
    with pytest.raises(TransipAuthError) as caught:
        auth.token(DDNS)
    text = str(caught.value)
    assert text == (
        f"TransIP refused the access token in {path} as expired or revoked, and ddnsd "
        "cannot renew a token generated in the control panel: generate a new one and "
        f"write it to {path}"
    )
    assert DEMO_TOKEN not in text
    # a rotated file is picked up
    path.write_text("new.token.value\n", encoding="utf-8")
    assert auth.token(DDNS) == "new.token.value"
