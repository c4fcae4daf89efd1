"""Soft-sensor and early-yield model cards, drift events and estimates in the site's RDF export.

Model cards and drift events go to the ``meta`` graph (the federation files them under the
model's sponsor through ``tf:ofProcess``); estimates go to their batch's graph. Only the
estimates that matter outside the site are exported — those paired with a lab value (the
evidence of the model's accuracy in use) and those out of domain — the full series stays
at the site. Lineage: ``prov:wasDerivedFrom`` the training batches, ``prov:wasGeneratedBy``
a ``tf:ModelTraining`` activity that ``prov:used`` them, ``prov:wasRevisionOf`` the
previous version.
"""

from __future__ import annotations

import json
from typing import Any

from neo4j import Driver
from rdflib import RDF, XSD, Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV

from ontology import TF

_MODELS = """
MATCH (m:SoftSensorModel)
OPTIONAL MATCH (m)<-[:ABOUT_MODEL]-(d:ModelDriftEvent)
RETURN m.model_id AS model_id, m.card AS card, m.created_at AS created_at,
       collect(d {.*}) AS drift ORDER BY m.model_id
"""

_YIELD_MODELS = """
MATCH (m:YieldModel)
RETURN m.model_id AS model_id, m.card AS card, m.created_at AS created_at ORDER BY m.model_id
"""

_ESTIMATES = """
MATCH (b:Batch)-[:HAS_ESTIMATE]->(e:Estimate)
WHERE b.batch_id IN $ids AND (e.reference IS NOT NULL OR NOT e.in_domain)
RETURN b.batch_id AS batch_id, collect(e {.*}) AS estimates
"""


def read_model_records(driver: Driver, batch_ids: list[str], database: str | None = None
                       ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Model cards (with drift events) and the exported estimates of ``batch_ids``."""
    models, _, _ = driver.execute_query(_MODELS, database_=database, routing_="r")
    estimates, _, _ = driver.execute_query(_ESTIMATES, ids=batch_ids, database_=database,
                                           routing_="r")
    yield_models, _, _ = driver.execute_query(_YIELD_MODELS, database_=database, routing_="r")
    return ([{"model_id": r["model_id"], "card": json.loads(r["card"]),
              "created_at": r["created_at"], "drift": list(r["drift"])} for r in models]
            + [{"model_id": r["model_id"], "card": json.loads(r["card"]),
                "created_at": r["created_at"], "drift": [], "kind": "early_yield"}
               for r in yield_models],
            {r["batch_id"]: list(r["estimates"]) for r in estimates})


def _double(value: float) -> Literal:
    return Literal(float(value), datatype=XSD.double)


def add_models(dataset: Dataset, models: list[dict[str, Any]],
               estimates: dict[str, list[dict[str, Any]]], iris: Any,  # noqa: ANN401
               dt: Any) -> None:  # noqa: ANN401 - builder's SiteIris and datetime literal
    """Add model cards and drift events to the meta graph, estimates to batch graphs."""
    meta = dataset.graph(iris.meta_graph)
    units = {row["model_id"]: row["card"].get("unit") or "1" for row in models}
    for row in models:
        if row.get("kind") == "early_yield":
            _yield_model(meta, row, iris, dt)
        else:
            _model(meta, row, iris, dt)
    for batch_id, rows in estimates.items():
        graph = dataset.graph(iris.batch_graph(batch_id))
        batch = iris("batch", batch_id)
        for row in rows:
            _estimate(graph, batch, batch_id, row, iris, units.get(row["model_id"], "1"))


def _model(g: Graph, row: dict[str, Any], iris: Any, dt: Any) -> None:  # noqa: ANN401
    card = row["card"]
    model = iris("model", row["model_id"])
    training = iris("model", row["model_id"], "training")
    metrics, domain = card["metrics"], card["domain"]
    g.add((model, RDF.type, TF.SoftSensorModel))
    g.add((model, TF.modelId, Literal(row["model_id"])))
    g.add((model, TF.modelVersion, Literal(int(card["version"]))))
    g.add((model, TF.targetAnalyte, Literal(card["target"])))
    g.add((model, TF.ofTag, iris("tag", card["target"])))
    g.add((model, TF.unitLabel, Literal(card.get("unit") or "1")))
    g.add((model, TF.ofProcess, iris("process", card["process"], card["process_version"])))
    g.add((model, TF.algorithm, Literal(card["algorithm_name"])))
    g.add((model, TF.hyperParameters, Literal(json.dumps(card["hyperparameters"],
                                                         sort_keys=True))))
    g.add((model, TF.preprocessing, Literal(card["preprocessing"])))
    g.add((model, TF.inputDescription, Literal(card["inputs"])))
    for key, prop in (("rmsecv", TF.rmsecv), ("rmsep", TF.rmsep), ("r2", TF.r2),
                      ("bias", TF.bias)):
        if metrics.get(key) is not None and metrics[key] == metrics[key]:  # not NaN
            g.add((model, prop, _double(metrics[key])))
    g.add((model, TF.intervalHalfWidth, _double(card["prediction_interval"]["half_width"])))
    g.add((model, TF.intervalCoverage, _double(card["prediction_interval"]["coverage"])))
    for key, prop in (("t2_limit_95", TF.t2Limit95), ("t2_limit_99", TF.t2Limit99),
                      ("q_limit_95", TF.qLimit95), ("q_limit_99", TF.qLimit99)):
        g.add((model, prop, _double(domain[key])))
    g.add((model, TF.trainingSpectra, Literal(int(card["n_training_spectra"]))))
    for key, prop in (("drivers", TF.driver), ("assumptions", TF.assumption),
                      ("limitations", TF.limitation)):
        for text in card[key]:
            g.add((model, prop, Literal(text)))
    for batch_id in card["validation_batches"]:
        g.add((model, TF.validatedOn, iris("batch", batch_id)))
    _training_lineage(g, model, training, row, iris, dt)
    g.add((training, DCTERMS.description, Literal(
        f"grouped cross-validation by batch over {len(card['selection'])} algorithms; "
        f"hold-out test on {len(card['validation_batches'])} batches")))
    for event in row["drift"]:
        node = iris("model", row["model_id"], "drift", event["event_id"])
        g.add((node, RDF.type, TF.ModelDriftEvent))
        g.add((node, TF.aboutModel, model))
        g.add((node, TF.driftKind, Literal(event["kind"])))
        g.add((node, TF.driftValue, _double(event["value"])))
        g.add((node, TF.driftLimit, _double(event["limit"])))
        g.add((node, TF.raisedAt, dt(event["raised_at"])))
        g.add((node, DCTERMS.description, Literal(event["description"])))


def _training_lineage(g: Graph, model: URIRef, training: URIRef, row: dict[str, Any],
                      iris: Any, dt: Any) -> None:  # noqa: ANN401
    """PROV-O lineage shared by every model card: the training activity and the batches it
    used, the version and the version it revises."""
    card = row["card"]
    for batch_id in card["training_batches"]:
        g.add((model, PROV.wasDerivedFrom, iris("batch", batch_id)))
        g.add((training, PROV.used, iris("batch", batch_id)))
    if int(card["version"]) > 1:
        g.add((model, PROV.wasRevisionOf, iris("model", row["model_id"].rsplit("-v", 1)[0]
                                                + f"-v{int(card['version']) - 1}")))
    g.add((model, OWL.versionInfo, Literal(str(card["version"]))))
    g.add((model, PROV.wasGeneratedBy, training))
    g.add((model, PROV.generatedAtTime, dt(row["created_at"])))
    g.add((training, RDF.type, TF.ModelTraining))
    g.add((training, PROV.endedAtTime, dt(row["created_at"])))
    g.add((training, PROV.wasAssociatedWith, iris.site))


def _yield_model(g: Graph, row: dict[str, Any], iris: Any, dt: Any) -> None:  # noqa: ANN401
    """An early-yield model card: typed tf:YieldModel and (its superclass) tf:SoftSensorModel,
    because the federation does no inference and files and scopes model cards by that type;
    held-out accuracy per cut-off as JSON, drivers per cut-off in words, PROV-O lineage to
    the training batches as for soft sensors."""
    card = row["card"]
    model = iris("model", row["model_id"])
    training = iris("model", row["model_id"], "training")
    g.add((model, RDF.type, TF.YieldModel))
    g.add((model, RDF.type, TF.SoftSensorModel))
    g.add((model, TF.modelId, Literal(row["model_id"])))
    g.add((model, TF.modelVersion, Literal(int(card["version"]))))
    g.add((model, TF.targetAnalyte, Literal(card["target"])))
    g.add((model, TF.unitLabel, Literal(card.get("unit") or "1")))
    g.add((model, TF.ofProcess, iris("process", card["process"], card["process_version"])))
    g.add((model, TF.algorithm, Literal(card["algorithm"])))
    g.add((model, TF.inputDescription, Literal(card["inputs"])))
    by_fraction = card["by_fraction"]
    g.add((model, TF.hyperParameters, Literal(json.dumps(
        {cut: {k: v for k, v in m.items() if k not in ("drivers", "accuracy_pct",
                                                       "mean_predictor_accuracy_pct")}
         for cut, m in by_fraction.items()}, sort_keys=True))))
    g.add((model, TF.yieldAccuracy, Literal(json.dumps(
        {cut: {"accuracy_pct": m["accuracy_pct"],
               "mean_predictor_accuracy_pct": m["mean_predictor_accuracy_pct"]}
         for cut, m in by_fraction.items()}, sort_keys=True))))
    for cut, m in by_fraction.items():
        for text in m["drivers"]:
            g.add((model, TF.driver, Literal(f"from the first {cut}: {text}")))
    for key, prop in (("assumptions", TF.assumption), ("limitations", TF.limitation)):
        for text in card.get(key, []):
            g.add((model, prop, Literal(text)))
    _training_lineage(g, model, training, row, iris, dt)
    g.add((training, DCTERMS.description, Literal(card.get("validation", ""))))


def _estimate(g: Graph, batch: URIRef, batch_id: str, row: dict[str, Any],
              iris: Any, unit: str) -> None:  # noqa: ANN401
    node = iris("batch", batch_id, "estimate", row["model_id"], f"{row['t_h']:.4f}")
    g.add((node, RDF.type, TF.Estimate))
    g.add((node, TF.ofBatch, batch))
    g.add((node, TF.fromModel, iris("model", row["model_id"])))
    g.add((node, TF.sampleHour, _double(row["t_h"])))
    g.add((node, TF.inDomain, Literal(bool(row["in_domain"]))))
    if row.get("value") is not None:
        g.add((node, TF.value, _double(row["value"])))
        g.add((node, TF.unitLabel, Literal(unit)))
        g.add((node, TF.intervalLow, _double(row["low"])))
        g.add((node, TF.intervalHigh, _double(row["high"])))
    if row.get("reference") is not None:
        g.add((node, TF.referenceValue, _double(row["reference"])))
    if row.get("reason"):
        g.add((node, TF.domainNote, Literal(row["reason"])))
