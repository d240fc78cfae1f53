"""The process environment is read in ``ddnsd/config/`` only (docs/design.md, "Seams").

import-linter holds the import seams (pyproject.toml); reading ``os.environ`` is not an
import, so this test holds that one: outside ``config/`` the environment may only be
handed on whole (``dict(os.environ)`` for a child process, or to a reader in ``config/``),
never looked into.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ddnsd"
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_reads(source: str) -> list[int]:
    """Lines where ``source`` looks into the environment: ``os.getenv(…)``,
    ``os.environ[…]``, ``os.environ.get(…)``; ``f(os.environ)`` hands it on and is fine."""
    tree = ast.parse(source)
    handed_on = {
        id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call) for arg in node.args
    }
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in ENV_NAMES
        and id(node) not in handed_on
    )


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("import os\nx = os.environ.get('A')\n", [2]),
        ("import os\nx = os.environ['A']\n", [2]),
        ("import os\nx = os.getenv('A')\n", [2]),
        ("import os\nenv = dict(os.environ)\n", []),
        ("import os\nfind(path, os.environ)\n", []),
        ("import os\nfor k in os.environ:\n    pass\n", [2]),
    ],
    ids=["get", "subscript", "getenv", "copied-for-a-child", "handed-to-config", "iterated"],
)
def test_environment_reads_are_found(source: str, lines: list[int]) -> None:
    assert environment_reads(source) == lines


def test_only_config_reads_the_environment() -> None:
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if "config" not in path.relative_to(PACKAGE).parts[:1]
        and (lines := environment_reads(path.read_text()))
    }
    assert found == {}
