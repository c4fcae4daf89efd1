"""Run one benchmark module's ``main`` in this (child) process; write what it returns as JSON.

Used by :mod:`benchmarks.run_all`: ``python -m benchmarks._child MODULE OUT.json ARGS...``.
A ``main`` with a parameter gets the arguments; one without reads them from ``sys.argv``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import sys
from pathlib import Path


def _plain(value: object) -> object:
    """JSON-safe: NaN/inf as null, tuples as lists, unknown objects as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def run(module_name: str, out: Path, args: list[str]) -> None:
    module = importlib.import_module(f"benchmarks.{module_name}")
    sys.argv = [f"benchmarks.{module_name}", *args]
    main = module.main
    result = main(args) if inspect.signature(main).parameters else main()
    figures = result if isinstance(result, dict) else {}
    out.write_text(json.dumps(_plain(figures), indent=1))


if __name__ == "__main__":
    run(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
