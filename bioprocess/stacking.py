"""Stack frozen parameter dataclasses into arrays (one column per batch) and take subsets.

Every parameter object of the simulator is a frozen dataclass whose fields may be
scalars or 1-D arrays over stacked batches; these two helpers convert between a list of
per-batch objects and one object of arrays.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def stack(items: list[T]) -> T:
    """Stack per-batch dataclass instances of one type into one instance of arrays.

    Numeric fields become float arrays of length ``len(items)``; fields that are not
    numeric, or are declared ``field(metadata={"shared": True})``, must be equal in every
    item and are kept as they are.
    """
    if not items:
        raise ValueError("stack needs at least one item; got an empty list instead")
    first = items[0]
    out: dict[str, Any] = {}
    for f in fields(first):  # type: ignore[arg-type]
        values = [getattr(item, f.name) for item in items]
        numeric = all(
            isinstance(v, int | float | np.number | np.ndarray) and not isinstance(v, bool)
            for v in values
        )
        if numeric and not f.metadata.get("shared", False):
            out[f.name] = np.asarray([float(np.asarray(v)) for v in values])
        else:
            if any(np.any(v != values[0]) for v in values[1:]):
                raise ValueError(
                    f"field {f.name!r} must be numeric or equal in every stacked item; "
                    f"got {values!r} instead"
                )
            out[f.name] = values[0]
    return replace(first, **out)  # type: ignore[type-var]


def take(obj: T, index: Any) -> T:
    """Select stacked batches ``index`` from an instance whose fields may be arrays."""
    out: dict[str, Any] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray) and v.ndim:
            out[f.name] = v[index]
    return replace(obj, **out)  # type: ignore[type-var]
