"""ddnsd.transip.transport: the pure parts of the transport (path filling, answers, failures)."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests
import urllib3
import urllib3.util.ssl_match_hostname

from ddnsd.transip.transport import TransipAnswer, describe_failure, fill

FILLS = [
    # (id, template, params, path)
    ("no-params", "/api-test", None, "/api-test"),
    ("domain", "/domains/{domain}/dns", {"domain": "example.test"}, "/domains/example.test/dns"),
    (
        "pchar-kept",
        "/domains/{domain}",
        {"domain": "power-ranger$.nl"},
        "/domains/power-ranger$.nl",
    ),
    ("slash-escaped", "/domains/{domain}/dns", {"domain": "a/b"}, "/domains/a%2Fb/dns"),
    ("query-and-fragment-escaped", "/domains/{domain}", {"domain": "a?b#c"}, "/domains/a%3Fb%23c"),
    ("percent-escaped", "/domains/{domain}", {"domain": "50%"}, "/domains/50%25"),
]


@pytest.mark.parametrize(
    ("template", "params", "path"), [f[1:] for f in FILLS], ids=[f[0] for f in FILLS]
)
def test_fill(template: str, params: dict[str, str] | None, path: str) -> None:
    assert fill(template, params) == path


ANSWERS = [
    # (id, answer, ok, message)
    ("created", TransipAnswer(201), True, "HTTP 201 without an error message"),
    (
        "transip-error",
        TransipAnswer(404, b'{"error":"DNS Entry not found"}', "Not Found"),
        False,
        "DNS Entry not found",
    ),
    ("proxy-page", TransipAnswer(502, b"<html>down</html>", "Bad Gateway"), False, "Bad Gateway"),
    ("no-answer", TransipAnswer(0, reason="connection refused"), False, "connection refused"),
]


@pytest.mark.parametrize(
    ("answer", "ok", "message"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_answer(answer: TransipAnswer, ok: bool, message: str) -> None:
    assert (answer.ok, answer.message) == (ok, message)


def test_answer_repr_hides_the_body() -> None:
    assert "secret" not in repr(TransipAnswer(201, b'{"token":"secret"}'))


FAILURES: list[tuple[str, BaseException, str, bool]] = [
    (
        "connect-timeout",
        requests.exceptions.ConnectTimeout(),
        "connecting timed out after 5 s",
        False,
    ),
    ("read-timeout", requests.exceptions.ReadTimeout(), "no answer within 5 s", True),
    (
        "reset",
        requests.exceptions.ConnectionError("Connection aborted."),
        "the connection was dropped before an answer arrived",
        True,
    ),
    (
        "other",
        requests.exceptions.ChunkedEncodingError(),
        "the request failed (ChunkedEncodingError)",
        True,
    ),
]


def _tls(inner: BaseException, *, retried: bool = True) -> requests.exceptions.SSLError:
    """requests' SSLError as it wraps urllib3's (through ``MaxRetryError`` when urllib3's
    retry count ran out, directly otherwise), around the ``ssl`` error ``inner``."""
    wrapped = urllib3.exceptions.SSLError(inner)
    wrapped.__context__ = inner
    if not retried:
        return requests.exceptions.SSLError(wrapped)
    pool = urllib3.exceptions.MaxRetryError(None, "/v6/domains/x/dns", reason=wrapped)  # type: ignore[arg-type]
    pool.__cause__ = wrapped
    return requests.exceptions.SSLError(pool)


def _caused_by(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def _cycle() -> BaseException:
    inner = urllib3.exceptions.SSLError("record layer failure")
    outer = requests.exceptions.SSLError(inner)
    inner.__context__ = outer
    return outer


VERIFY_FAILED = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] verify failed")
READ_FAILED = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
HANDSHAKE = "TLS handshake failed (check the certificate)"
TLS_LOST = "the TLS connection failed before an answer arrived"

# Only a certificate that failed verification means "never sent": urllib3 raises the
# same SSLError when TLS fails while the answer is read, after the request went out.
FAILURES += [
    ("tls-certificate-refused", _tls(VERIFY_FAILED), HANDSHAKE, False),
    (
        "tls-hostname-mismatch-urllib3",
        _tls(urllib3.util.ssl_match_hostname.CertificateError("hostname mismatch")),
        HANDSHAKE,
        False,
    ),
    (
        "tls-certificate-refused-in-cause",
        _caused_by(requests.exceptions.SSLError("boom"), VERIFY_FAILED),
        HANDSHAKE,
        False,
    ),
    ("tls-failed-reading-the-answer", _tls(READ_FAILED), TLS_LOST, True),
    ("tls-failed-not-retried", _tls(READ_FAILED, retried=False), TLS_LOST, True),
    ("tls-unknown-cause", requests.exceptions.SSLError(), TLS_LOST, True),
    ("tls-cause-cycle", _cycle(), TLS_LOST, True),
]


@pytest.mark.parametrize(
    ("exc", "reason", "arrived"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_describe_failure(exc: BaseException, reason: str, arrived: bool) -> None:
    assert describe_failure(exc, 5.0) == (reason, arrived)


def test_describe_failure_refused_never_arrived() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(requests.RequestException) as caught:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert describe_failure(caught.value, 2.0) == ("connection refused", False)
