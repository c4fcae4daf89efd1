"""SHACL shapes for site exports and knowledge packages; validation that reports in plain words."""

from __future__ import annotations

import functools
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

import pyshacl
from rdflib import Dataset, Graph

from ontology import bind_prefixes
from shapes.report import ValidationReport, Violation, violations_from_report

__all__ = [
    "FAST_SETTINGS",
    "INFERENCE_OPTIONS",
    "SHAPES_NAMES",
    "ValidationReport",
    "Violation",
    "load_shapes",
    "validate",
]

#: The shape sets in this package: ``<name>.ttl``.
SHAPES_NAMES: Final = ("site-export", "knowledge-package")
#: What ``validate(..., inference=...)`` accepts (pyshacl's pre-validation inference options).
INFERENCE_OPTIONS: Final = ("none", "rdfs", "owlrl", "both")

#: Keyword arguments passed to :func:`pyshacl.validate` (``inference`` is replaced per call).
#:
#: Chosen for speed on whole exports: no inference (the shapes name every class a resource must
#: carry, so nothing needs to be inferred, and without inference pyshacl validates in place
#: instead of copying the data), no SHACL-AF rules or functions, no SHACL-JS, no meta-validation
#: of the shapes (tests/test_shapes.py does that once), no owl:imports, and every result reported
#: rather than stopping at the first. Warnings and infos are listed but do not fail the data.
FAST_SETTINGS: Final = MappingProxyType(
    {
        "inference": "none",
        "advanced": False,
        "js": False,
        "meta_shacl": False,
        "do_owl_imports": False,
        "abort_on_first": False,
        "allow_warnings": True,
        "allow_infos": True,
        "debug": False,
    }
)


def _shapes_text(name: str) -> str:
    if name not in SHAPES_NAMES:
        raise ValueError(f"shapes name must be one of {SHAPES_NAMES}; got {name!r} instead")
    return resources.files(__package__).joinpath(f"{name}.ttl").read_text(encoding="utf-8")


def load_shapes(name: str = "site-export") -> Graph:
    """A new graph holding the shapes ``shapes/<name>.ttl`` (see :data:`SHAPES_NAMES`)."""
    graph = bind_prefixes(Graph())
    graph.bind("sh", "http://www.w3.org/ns/shacl#")
    return graph.parse(data=_shapes_text(name), format="turtle")


@functools.cache
def _cached_shapes(name: str) -> Graph:
    """The shapes pyshacl validates against, parsed once per process (never handed out)."""
    return load_shapes(name)


def validate(
    data: Graph | Dataset,
    shapes_name: str = "site-export",
    *,
    inference: str = "none",
) -> ValidationReport:
    """Validate ``data`` against the named shapes and explain every result in a sentence.

    A :class:`rdflib.Dataset` (or ConjunctiveGraph) is validated as the union of all its
    graphs, named and default, so links between a batch graph and the site's meta graph
    resolve. ``data`` is not modified (with inference, pyshacl works on a copy).
    """
    if inference not in INFERENCE_OPTIONS:
        raise ValueError(f"inference must be one of {INFERENCE_OPTIONS}; got {inference!r} instead")
    shapes = _cached_shapes(shapes_name)
    settings: dict[str, Any] = {**FAST_SETTINGS, "inference": inference}
    # pyshacl switches a Dataset to default_union=True to see every graph; put it back after.
    saved_union = data.default_union if isinstance(data, Dataset) else None
    try:
        conforms, report_graph, _ = pyshacl.validate(data, shacl_graph=shapes, **settings)
        violations = violations_from_report(report_graph, shapes, data)
    finally:
        if isinstance(data, Dataset) and saved_union is not None:
            data.default_union = saved_union
    return ValidationReport(
        conforms=bool(conforms),
        violations=violations,
        text="\n".join(v.sentence() for v in violations),
        shapes_name=shapes_name,
    )
