"""Equipment health in a batch's RDF graph: indicator values and drift events.

Called by :mod:`site_node.export.builder` for each batch record; reads the record's
``equipment_indicators`` and ``equipment_drifts`` (:mod:`site_node.export.records`). A drift
event sits in the graph of the latest batch of its evidence and points to the indicator
values of every evidence batch (``tf:evidence``), which sit in their own batch graphs.
"""

from __future__ import annotations

from typing import Any

from rdflib import RDF, XSD, Graph, Literal, URIRef

from ontology import TF


def _double(value: Any) -> Literal:
    return Literal(float(value), datatype=XSD.double)


def add_equipment_health(g: Graph, record: dict[str, Any], iris: Any, batch: URIRef) -> None:
    """Add the batch's equipment indicator values and the drift events it holds to ``g``."""
    batch_id = record["batch"]["batch_id"]
    for row in record.get("equipment_indicators") or []:
        value = iris("batch", batch_id, "equipment", row["asset"], row["indicator"])
        g.add((value, RDF.type, TF.EquipmentIndicatorValue))
        g.add((value, TF.ofBatch, batch))
        g.add((value, TF.aboutEquipment, iris("equipment", row["asset"])))
        g.add((value, TF.healthIndicator, Literal(row["indicator"])))
        g.add((value, TF.equipmentComponent, Literal(row["component"])))
        g.add((value, TF.value, _double(row["value"])))
        g.add((value, TF.unitLabel, Literal(row.get("unit") or "1")))
    for row in record.get("equipment_drifts") or []:
        event = iris("batch", batch_id, "equipment-drift", row["asset"], row["indicator"])
        g.add((event, RDF.type, TF.EquipmentDriftEvent))
        g.add((event, TF.ofBatch, batch))
        g.add((event, TF.aboutEquipment, iris("equipment", row["asset"])))
        g.add((event, TF.healthIndicator, Literal(row["indicator"])))
        g.add((event, TF.equipmentComponent, Literal(row["component"])))
        g.add((event, TF.driftRule, Literal(row["rule"])))
        g.add((event, TF.unitLabel, Literal(row.get("unit") or "1")))
        g.add((event, TF.detectedInBatch, iris("batch", row["detected_batch"])))
        if row.get("change_batch"):
            g.add((event, TF.changeStartBatch, iris("batch", row["change_batch"])))
        for evidence_batch in row["batches"]:
            g.add((event, TF.evidence, iris("batch", evidence_batch, "equipment", row["asset"],
                                            row["indicator"])))
        for key, prop in (("slope_per_batch", TF.slopePerBatch), ("mk_p", TF.trendPValue),
                          ("cusum_max", TF.cusumStatistic), ("sigma", TF.noiseScale),
                          ("baseline", TF.baselineValue), ("limit", TF.maintenanceLimit),
                          ("latest_fitted", TF.fittedLatestValue),
                          ("batches_to_limit", TF.batchesToLimit)):
            if row.get(key) is not None:
                g.add((event, prop, _double(row[key])))
        g.add((event, TF.kendallS, Literal(int(row["mk_s"]), datatype=XSD.integer)))
        g.add((event, TF.recommendation, Literal(row["recommendation"])))
