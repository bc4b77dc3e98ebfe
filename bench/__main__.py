"""`python -m bench`: run every bench/bench_*.py module's `main()` in turn (each prints its ratios)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    failed = 0
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        entry = getattr(module, "main", None)
        if not callable(entry):
            continue
        start = time.monotonic()
        try:
            entry()
        except Exception as exc:  # one broken bench must not hide the others' numbers
            failed += 1
            print(f"{info.name}: FAILED ({type(exc).__name__}: {exc})")
        print(f"# {info.name} took {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
