"""Export the live twin's set-point recommendations of a batch, with PROV-O lineage.

Each stored recommendation becomes a ``tf:SetPointRecommendation`` (a ``prov:Entity``) in
the batch's graph: the action, the expected effect and its uncertainty, one
``tf:SetPointChange`` per lever moved (current and proposed value, the proven range it
stays in), ``prov:wasGeneratedBy`` a ``tf:TwinRun`` activity that ``prov:used`` the batch,
and ``prov:wasDerivedFrom`` every batch it rests on (training batches and the batches that
proved the ranges). So "where did this recommendation come from?" is a few triples away
from the batches, and from them the raw signals (``tf:rawData``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import PROV

from ontology import TF


def _double(value: Any) -> Literal:
    return Literal(float(value), datatype=XSD.double)


def _time(value: Any) -> Literal:
    moment = value.to_native() if hasattr(value, "to_native") else value
    if isinstance(moment, datetime):
        return Literal(moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                       datatype=XSD.dateTime)
    return Literal(str(moment), datatype=XSD.dateTime)


def add_recommendations(g: Graph, rows: Iterable[dict[str, Any]], batch: URIRef,
                        iri: Callable[..., URIRef]) -> None:
    """Add the batch's recommendations (``Recommendation`` node properties) to its graph.

    ``iri(*segments)`` mints a site IRI (:class:`site_node.export.builder.SiteIris`).
    """
    for row in rows:
        rec_id = str(row["recommendation_id"]).rsplit("/", 1)[-1]
        batch_id = str(row["recommendation_id"]).rsplit("/", 1)[0]
        rec = iri("batch", batch_id, "recommendation", rec_id)
        run = iri("batch", batch_id, "twin-run", rec_id)
        g.add((rec, RDF.type, TF.SetPointRecommendation))
        g.add((rec, RDF.type, PROV.Entity))
        g.add((rec, TF.recommendedFor, batch))
        g.add((rec, TF.recommendedAction, Literal(row["action"])))
        g.add((rec, TF.atHour, _double(row["t_h"])))
        g.add((rec, TF.baselineTitre, _double(row["baseline_titre"])))
        g.add((rec, TF.expectedTitre, _double(row["expected_titre"])))
        g.add((rec, TF.expectedTitreGain, _double(row["expected_gain"])))
        g.add((rec, TF.gainLow, _double(row["gain_low"])))
        g.add((rec, TF.gainHigh, _double(row["gain_high"])))
        g.add((rec, TF.probabilityOfImprovement, _double(row["p_improve"])))
        g.add((rec, RDFS.comment, Literal(row["reason"])))
        g.add((rec, PROV.generatedAtTime, _time(row["created_at"])))
        g.add((rec, PROV.wasGeneratedBy, run))
        for evidence in row.get("evidence_batches") or []:
            g.add((rec, PROV.wasDerivedFrom, iri("batch", evidence)))
        for lever, change in sorted(json.loads(row.get("changes") or "{}").items()):
            node = iri("batch", batch_id, "recommendation", rec_id, "change", lever)
            g.add((rec, TF.proposesChange, node))
            g.add((node, RDF.type, TF.SetPointChange))
            g.add((node, TF.lever, Literal(lever)))
            g.add((node, TF.currentValue, _double(change["current"])))
            g.add((node, TF.proposedValue, _double(change["proposed"])))
            if change.get("unit"):
                g.add((node, TF.unitLabel, Literal(change["unit"])))
            for key, prop in (("range_low", TF.rangeLow), ("range_high", TF.rangeHigh)):
                if change.get(key) is not None:
                    g.add((node, prop, _double(change[key])))
        g.add((run, RDF.type, TF.TwinRun))
        g.add((run, RDF.type, PROV.Activity))
        g.add((run, PROV.used, batch))
        g.add((run, PROV.endedAtTime, _time(row["created_at"])))
        g.add((run, TF.twinModelVersion,
               Literal(f"{row.get('model_id', 'live-twin')} {row.get('model_version', '')}"
                       .strip())))
