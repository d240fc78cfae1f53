"""POST /v6/auth and token checks of the emulator, over a real socket."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from ddnsd.emulator.tokens import b64url_decode


def auth(emulator: Any, raw: bytes, sig: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["Signature"] = sig
    return requests.post(emulator.api_url + "/auth", data=raw, headers=headers, timeout=10)


def ping(emulator: Any, token: str) -> requests.Response:
    return requests.get(
        emulator.api_url + "/api-test", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, payload, _ = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(payload))


def test_signed_auth_issues_an_rs256_jwt(emulator: Any) -> None:
    raw, sig = emulator.signed_auth_body(expiration_time="1 hour", read_only=False, global_key=True)
    before = int(time.time())
    r = auth(emulator, raw, sig)
    assert r.status_code == 201
    assert set(r.json()) == {"token"}
    token = r.json()["token"]
    header, payload = claims(token)
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert header["jti"] == payload["jti"]
    assert payload["iss"] == payload["aud"] == "api.transip.nl"
    assert before <= payload["iat"] == payload["nbf"] <= int(time.time())
    assert payload["exp"] - payload["iat"] == 3600
    assert (payload["ro"], payload["gk"]) == (False, True)
    assert isinstance(payload["cid"], str)
    assert ping(emulator, token).json() == {"ping": "pong"}
    assert r.headers["X-Rate-Limit-Limit"] == "1000"


def test_default_lifetime_is_30_minutes(emulator: Any) -> None:
    raw, sig = emulator.signed_auth_body()
    body = json.loads(raw)
    del body["expiration_time"]
    raw = json.dumps(body).encode()
    sig = _sign(emulator, raw)
    _, payload = claims(auth(emulator, raw, sig).json()["token"])
    assert payload["exp"] - payload["iat"] == 1800


def _sign(emulator: Any, raw: bytes) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(emulator.private_key_path.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA512())).decode()


PHRASES = [
    ("3600 seconds", 3600),
    ("120 minutes", 7200),
    ("1 hour", 3600),
    ("48 hours", 172800),
    ("1 day", 86400),
    ("15 days", 15 * 86400),
    ("1 week", 7 * 86400),
    ("4 weeks", 28 * 86400),
    ("1 minute", 60),
    ("2 weeks", 14 * 86400),
    ("30 days", 30 * 86400),
    ("1 month", 30 * 86400),
]


@pytest.mark.parametrize(("phrase", "seconds"), PHRASES, ids=[p for p, _ in PHRASES])
def test_expiration_phrases(emulator: Any, phrase: str, seconds: int) -> None:
    raw, sig = emulator.signed_auth_body(expiration_time=phrase)
    r = auth(emulator, raw, sig)
    assert r.status_code == 201, r.text
    _, payload = claims(r.json()["token"])
    assert payload["exp"] - payload["iat"] == seconds


@pytest.mark.parametrize(
    "phrase",
    ["31 days", "5 weeks", "2 months", "0 seconds", "1 fortnight", "hour", "", "-1 hour", 3600],
    ids=lambda p: f"bad-{p!r}",
)
def test_bad_expiration_is_406(emulator: Any, phrase: Any) -> None:
    raw, sig = emulator.signed_auth_body(expiration_time=phrase)
    r = auth(emulator, raw, sig)
    assert r.status_code == 406
    assert r.json()["error"].startswith(f"Invalid expiration_time '{phrase}'")


REFUSALS = [
    ("missing-login", {"login": None}, 406, "Missing required parameter 'login'"),
    ("missing-nonce", {"nonce": None}, 406, "Missing required parameter 'nonce'"),
    ("short-nonce", {"nonce": "12345"}, 406, "Nonce must be between 6 and 32 characters"),
    ("long-nonce", {"nonce": "x" * 33}, 406, "Nonce must be between 6 and 32 characters"),
    ("unknown-login", {"login": "mallory"}, 401, "Unknown login 'mallory'"),
]


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_auth_refusals(emulator: Any, changes: dict[str, Any], status: int, message: str) -> None:
    raw, _ = emulator.signed_auth_body()
    body = {k: v for k, v in {**json.loads(raw), **changes}.items() if v is not None}
    raw = json.dumps(body).encode()
    r = auth(emulator, raw, _sign(emulator, raw))
    assert (r.status_code, r.json()) == (status, {"error": message})


def test_nonce_lengths_6_and_32_are_fine(emulator: Any) -> None:
    for nonce in ("123456", "y" * 32):
        raw, sig = emulator.signed_auth_body(nonce=nonce)
        assert auth(emulator, raw, sig).status_code == 201


def test_signature_must_match_the_exact_body(emulator: Any) -> None:
    raw, sig = emulator.signed_auth_body()
    tampered = raw.replace(b'"read_only": false', b'"read_only": true')
    assert tampered != raw
    r = auth(emulator, tampered, sig)
    assert (r.status_code, r.json()) == (401, {"error": "Invalid API signature"})
    r = auth(emulator, raw, None)
    assert (r.status_code, r.json()) == (401, {"error": "Signature header is missing"})
    r = auth(emulator, raw, "not base64!")
    assert (r.status_code, r.json()) == (401, {"error": "Invalid API signature"})


def test_other_key_is_refused(emulator_factory: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    emu = emulator_factory(users={"demo": pem})
    raw, sig = emu.signed_auth_body()
    r = auth(emu, raw, sig)
    assert (r.status_code, r.json()) == (401, {"error": "Invalid API signature"})


def test_reused_nonce_is_refused(emulator: Any) -> None:
    raw, sig = emulator.signed_auth_body(nonce="nonce-123456")
    assert auth(emulator, raw, sig).status_code == 201
    raw, sig = emulator.signed_auth_body(nonce="nonce-123456")  # new label, same nonce
    r = auth(emulator, raw, sig)
    assert (r.status_code, r.json()) == (
        401,
        {"error": "Nonce 'nonce-123456' has already been used"},
    )


def test_label_of_an_active_token_cannot_be_reused(emulator: Any) -> None:
    raw, sig = emulator.signed_auth_body(label="ddnsd-home")
    assert auth(emulator, raw, sig).status_code == 201
    raw, sig = emulator.signed_auth_body(label="ddnsd-home")
    r = auth(emulator, raw, sig)
    assert (r.status_code, r.json()) == (
        406,
        {"error": "An active access token with label 'ddnsd-home' already exists"},
    )
    emulator.revoke(all=True)  # a revoked token's label is free again
    raw, sig = emulator.signed_auth_body(label="ddnsd-home")
    assert auth(emulator, raw, sig).status_code == 201


TOKEN_PROBLEMS = [
    ("missing", None, "No access token provided: send 'Authorization: Bearer <token>'"),
    ("garbage", "Bearer abc.def.ghi", "Your access token is invalid; request a new one"),
    ("not-a-jwt", "Bearer nonsense", "Your access token is invalid; request a new one"),
    ("non-ascii", "Bearer t\xe9st", "Your access token is invalid; request a new one"),
    (
        "basic",
        "Basic dXNlcjpwYXNz",
        "No access token provided: send 'Authorization: Bearer <token>'",
    ),
]


@pytest.mark.parametrize(
    ("authorization", "message"),
    [t[1:] for t in TOKEN_PROBLEMS],
    ids=[t[0] for t in TOKEN_PROBLEMS],
)
def test_bad_authorization_is_401(emulator: Any, authorization: str | None, message: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = requests.get(emulator.api_url + "/domains", headers=headers, timeout=10)
    assert (r.status_code, r.json()) == (401, {"error": message})


def test_token_of_another_emulator_is_invalid(emulator_factory: Any) -> None:
    first, second = emulator_factory(), emulator_factory()
    token = first.token()
    r = ping(second, token)
    assert (r.status_code, r.json()) == (
        401,
        {"error": "Your access token is invalid; request a new one"},
    )


def test_expired_token_says_expired(emulator: Any) -> None:
    token = emulator.token()
    assert emulator.expire_tokens() == 1
    r = ping(emulator, token)
    assert r.status_code == 401
    assert r.json() == {"error": "Your access token has expired; request a new one"}
    assert ping(emulator, emulator.token()).status_code == 200  # a new one works


def test_revoked_token_says_revoked(emulator: Any) -> None:
    keep, drop = emulator.token(), emulator.token()
    jti = claims(drop)[1]["jti"]
    assert emulator.revoke(jti=jti) == 1
    r = ping(emulator, drop)
    assert (r.status_code, r.json()) == (
        401,
        {"error": "Your access token has been revoked; request a new one"},
    )
    assert ping(emulator, keep).status_code == 200
    emulator.revoke(all=True)
    assert ping(emulator, keep).status_code == 401


def test_tokens_listing_never_shows_the_token(emulator: Any) -> None:
    token = emulator.token(label="visible-label", read_only=True)
    listed = emulator.tokens()
    assert [(t["label"], t["read_only"], t["login"]) for t in listed] == [
        ("visible-label", True, "demo")
    ]
    assert token not in json.dumps(listed)
