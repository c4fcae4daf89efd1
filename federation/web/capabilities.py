"""Which optional federation capabilities exist in this build, for the pages that show them.

The dashboard calls the capability modules' Python functions directly (not HTTP to itself).
A capability that is not part of this build gives its page an honest "not available yet",
never a broken page; :func:`missing` says which module is absent.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType


@cache
def module(name: str) -> ModuleType | None:
    """``federation.<name>`` if it can be imported, else None."""
    full = f"federation.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name and full.startswith(exc.name):  # the capability itself is not built
            return None
        raise  # a capability that exists but cannot import is a defect: never hide it


def missing(*names: str) -> list[str]:
    return [f"federation.{n}" for n in names if module(n) is None]
