"""ddnsd.transip.http: the pure parts of the transport (path filling, answers)."""

from __future__ import annotations

import pytest

from ddnsd.transip.http import Answer, fill

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
    ("created", Answer(201), True, "HTTP 201 without an error message"),
    (
        "transip-error",
        Answer(404, b'{"error":"DNS Entry not found"}', "Not Found"),
        False,
        "DNS Entry not found",
    ),
    ("proxy-page", Answer(502, b"<html>down</html>", "Bad Gateway"), False, "Bad Gateway"),
    ("no-answer", Answer(0, reason="connection refused"), False, "connection refused"),
]


@pytest.mark.parametrize(
    ("answer", "ok", "message"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_answer(answer: Answer, ok: bool, message: str) -> None:
    assert (answer.ok, answer.message) == (ok, message)


def test_answer_repr_hides_the_body() -> None:
    assert "secret" not in repr(Answer(201, b'{"token":"secret"}'))
