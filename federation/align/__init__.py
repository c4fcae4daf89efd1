"""Align what a site publishes to the shared vocabulary, with its reviewed alignment file.

Pure functions on rdflib graphs (no HTTP, no store):

- :func:`load_alignment` reads ``ontology/alignments/<site>.ttl`` into a frozen
  :class:`Alignment` (a site without a file gets an empty one, version ``"none"``);
- :func:`align_batch_graph` adds shared-parameter statements and converted values to a batch
  graph (the conversion rules per statistic are in :mod:`federation.align.apply`); features
  of a site-local tag declared ``tf:redundantMeasurementOf`` a parameter get that link and
  converted values, but no ``tf:parameter`` (not the value of record);
- :func:`align_meta_graph` adds the tag -> parameter mappings to the site's meta graph;
- :func:`align_check` lists what is not mapped, with ranked suggestions; :func:`render`
  prints it.

How a mapped tag's values are converted, with its conversion ``canonical = m * site + c``
(details and edge cases in :mod:`federation.align.apply`):

===========================  ==================================================
what                         aligned
===========================  ==================================================
``mean``, ``min``, ``max``   ``m * v + c`` (min and max swap when ``m < 0``)
``slope`` (per hour)         ``m * v``
``area``                     ``m * area + c * phase_duration_h`` (omitted, with a
                             ``tf:alignmentNote``, when ``c != 0`` and the phase
                             duration is unknown)
``t_min``, ``t_max``, ``n``  unchanged
deviation ``peakExcess``     ``|m| * peakExcess`` (a difference: no offset);
                             ``tf:alignedDirection`` flipped when ``m < 0``
quality result value         ``m * v + c``
===========================  ==================================================

Modules: :mod:`~federation.align.model` (frozen values), :mod:`~federation.align.units`
(conversions, with pint), :mod:`~federation.align.loader` (the file),
:mod:`~federation.align.apply` (aligning graphs), :mod:`~federation.align.similarity` and
:mod:`~federation.align.check` (suggestions).
"""

from federation.align.apply import (
    ALIGNMENT_NAMESPACE,
    AlignmentResult,
    align_batch_graph,
    align_meta_graph,
)
from federation.align.check import AlignCheckReport, Suggestion, UnmappedItem, align_check, render
from federation.align.loader import alignment_path, default_directory, load_alignment
from federation.align.model import (
    NO_ALIGNMENT_VERSION,
    Alignment,
    AlignmentError,
    AttributeMapping,
    FailureModeMapping,
    TagMapping,
    UnitConversion,
)

__all__ = [
    "ALIGNMENT_NAMESPACE",
    "NO_ALIGNMENT_VERSION",
    "AlignCheckReport",
    "Alignment",
    "AlignmentError",
    "AlignmentResult",
    "AttributeMapping",
    "FailureModeMapping",
    "Suggestion",
    "TagMapping",
    "UnitConversion",
    "UnmappedItem",
    "align_batch_graph",
    "align_check",
    "align_meta_graph",
    "alignment_path",
    "default_directory",
    "load_alignment",
    "render",
]
