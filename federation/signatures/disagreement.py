"""Disagreement features: a redundant measurement minus the measurement of record.

Why: some failures hide from every aligned statistic because the control loop hides them. A
drifting control probe is held at its set point by the loop, so the parameter of record looks
perfect and only small actuator changes remain; a pH probe offset is the same story. What
shows is the *disagreement* between the probe of record and a second measurement of the same
quantity — which is how sites detect these failures themselves (a redundant DO probe, an
offline blood-gas pH next to the online probe).

What the federation knows: a site's alignment declares such a second measurement with
``tf:redundantMeasurementOf`` a shared parameter, and alignment gives its phase statistics
``tf:redundantMeasurementOf`` and ``tf:alignedValue`` in the parameter's unit, beside the
record's ``tf:parameter`` features (``federation/align/apply.py``). Nothing here names a tag,
a site or a fault: only the declared link.

How: per batch, phase and statistic, ``redundant - record`` (canonical units) is one more
phase statistic of a derived parameter, ``<parameter IRI>#redundant-minus-record``
(:func:`disagreement_parameter`). It joins the feature rows and is then treated exactly like
every other phase statistic (``features.py``): robust z against the site's own reference
batches (the batch left out, the same minimum number of reference batches), counted only
past the same abnormality gate, collapsed onto event keys ("dissolved oxygen, redundant minus
record measurement, low during production"). Its row's ``source`` names both features and
the phase, space-separated (``"<redundant> <record> <phase>"``; IRIs hold no spaces): a
discovery run stores the disagreement as a ``tf:MeasurementDisagreement`` derived from both
features, with its value, and the ``tf:FeatureDeviation`` derived from it
(``rdf.add_feature_deviations``), so ``z = (difference - median) / scale`` can be checked by
hand from the two aligned values.

When a site declares several redundant measurements of one parameter, the one whose feature
IRI sorts first is compared in each phase and statistic (one disagreement per key).

**Off by default** (``FeatureOptions.disagreement``, ``DiscoveryOptions.disagreement``,
``benchmarks/analytics.py --disagreement``). Measured on 3-site x 40-batch campaigns
(2026-11-27; seeds 1-3, then the held-out seeds 4-6 once; the demo alignments declare a
redundant DO probe at two sites and offline pH at all three): faulty batches without signal
17 % -> 8 % (1-3) and 16 % -> 10 % (4-6); ARI over all faulty batches 0.640 -> 0.691 and
0.676 -> 0.732; fault-free seed 101 still 0 signatures; OUR/titre question unchanged. But
held-out matching fell: 0.864 (51/59) -> 0.824 (56/68) on 1-3 and 0.903 (65/72) -> 0.884
(61/69) on 4-6, below its 0.9 target there (end to end over all faulty batches tried 0.464 ->
0.491 and 0.596 -> 0.540). Why, on seeds 1-3: a probe drifts either way, so the sign of a
drift's disagreement splits its batches; a site without a redundant probe cannot show it
(its batches of that failure then have a signature they cannot match); and new groups move
the majority of others. The absolute disagreement instead of the signed one: ARI 0.710,
matching 0.783 (54/69) on 1-3; not kept either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from federation.signatures.features import FeatureRow

#: Fragment that makes a parameter IRI the IRI of its redundant-minus-record disagreement.
DISAGREEMENT_FRAGMENT = "#redundant-minus-record"


def disagreement_parameter(parameter: str) -> str:
    """The derived parameter ``redundant - record`` of a shared parameter IRI."""
    return parameter + DISAGREEMENT_FRAGMENT


def measured_parameter(iri: str) -> str | None:
    """The shared parameter a disagreement IRI compares two measurements of, else None."""
    return iri[: -len(DISAGREEMENT_FRAGMENT)] if iri.endswith(DISAGREEMENT_FRAGMENT) else None


def disagreement_sources(source: str) -> tuple[str, str, str] | None:
    """``(redundant feature, record feature, phase)`` IRIs of a disagreement row's source."""
    parts = source.split()
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def disagreement_rows(record: Iterable[FeatureRow], redundant: Iterable[FeatureRow],
                      phase_iris: Mapping[str, str]) -> list[FeatureRow]:
    """Per redundant row with a record row of the same batch, parameter, phase and statistic:
    a row of the disagreement parameter, valued ``redundant - record``, sourced from both
    features and the phase (``phase_iris``: redundant feature IRI -> its phase's IRI)."""
    by_key = {(r.batch, r.parameter, r.phase, r.statistic): r for r in record}
    out: dict[tuple[str, str, str, str], FeatureRow] = {}
    for row in sorted(redundant, key=lambda r: r.source):
        key = (row.batch, row.parameter, row.phase, row.statistic)
        of_record = by_key.get(key)
        if of_record is None or key in out:
            continue
        out[key] = FeatureRow(row.batch, disagreement_parameter(row.parameter), row.phase,
                              row.statistic, row.value - of_record.value,
                              f"{row.source} {of_record.source} "
                              f"{phase_iris.get(row.source, '')}".strip())
    return list(out.values())
