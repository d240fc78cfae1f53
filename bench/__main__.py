"""``python -m bench [ddns|ddns-rss|acme|budget|externaldns]``: run the benchmarks, print their
tables.

``ddns-rss`` is the memory section of ``ddns`` alone (RSS after 1 … 10,000 rounds).
"""

from __future__ import annotations

import importlib
import sys

#: name → "module" (its ``main()``) or "module:function"; ``ddns-rss`` is not run by default.
SUITES = {
    "ddns": "bench.bench_ddns",
    "acme": "bench.bench_acme",
    "budget": "bench.bench_budget",
    "externaldns": "bench.bench_externaldns",
    "ddns-rss": "bench.bench_ddns:rss_main",
}
DEFAULT = ["ddns", "acme", "budget", "externaldns"]


def compile_ddnsd() -> None:
    """Write ddnsd's bytecode first, as ``pip install`` does for a real install: start-up
    rows then measure ddnsd, not the compiling of its sources (an editable install under
    PYTHONDONTWRITEBYTECODE=1 would recompile every module in every process)."""
    import compileall
    from pathlib import Path

    import ddnsd

    compileall.compile_dir(str(Path(ddnsd.__file__).parent), quiet=1)


def main(argv: list[str]) -> int:
    names = argv or DEFAULT
    compile_ddnsd()
    for name in names:
        if name not in SUITES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        module_name, _, function = SUITES[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            print(f"# {name}: not available ({exc})\n")
            continue
        print(f"# {name}\n")
        getattr(module, function or "main")()
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
