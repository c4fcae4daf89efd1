"""Model cards in the site graph (soft sensors and early-yield models): saved once, never
overwritten (a retrain is a new version).

The fitted model travels with its card as a pickled artifact with its SHA-256; it is only
ever unpickled from the site's own Neo4j after the hash is checked.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import Driver, ManagedTransaction

from bioprocess.errors import NotFoundError, ValidationError
from bioprocess.models.softsensor import SoftSensor
from bioprocess.models.yield_prediction import YieldModels


@dataclass(frozen=True)
class StoredModel:
    model_id: str
    version: int
    card: dict[str, Any]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=float)


def _next_version(tx: ManagedTransaction, label: str, target: str, process: str) -> int:
    """The next version of the (target, process) model stored under ``label`` (one of this
    module's own node labels, never user input)."""
    tx.run("MATCH (s:Site) SET s.rev = s.rev")  # serialise versioning with other writers
    row = tx.run(f"MATCH (m:{label} {{target: $target, process: $process}}) "
                 "RETURN max(m.version) AS v", target=target, process=process).single()
    return int(row["v"] or 0) + 1


def save_soft_sensor(driver: Driver, sensor: SoftSensor, *, process: str, process_version: str,
                     sponsor: str, database: str | None = None) -> StoredModel:
    """Store ``sensor`` as the next version of its (target, process) model."""
    artifact = pickle.dumps(sensor, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(artifact).hexdigest()

    def write(tx: ManagedTransaction) -> StoredModel:
        version = _next_version(tx, "SoftSensorModel", sensor.target, process)
        model_id = f"{_slug(sensor.target)}-{_slug(process)}-v{version}"
        card = {**sensor.card, "model_id": model_id, "version": version,
                "process": process, "process_version": process_version, "sponsor": sponsor,
                "artifact_sha256": digest}
        tx.run("""
            CREATE (m:SoftSensorModel {model_id: $id, target: $target, process: $process,
              process_version: $version_of_process, sponsor: $sponsor, algorithm: $algorithm,
              version: $version, created_at: datetime($created), metrics: $metrics,
              domain: $domain, card: $card, artifact: $artifact,
              artifact_sha256: $digest, kind: 'soft_sensor'})
            WITH m
            OPTIONAL MATCH (prev:SoftSensorModel {target: $target, process: $process,
                                                  version: $version - 1})
            FOREACH (_ IN CASE WHEN prev IS NULL THEN [] ELSE [1] END |
              CREATE (m)-[:REVISION_OF]->(prev))
            WITH m
            UNWIND $training AS id MATCH (b:Batch {batch_id: id}) CREATE (m)-[:TRAINED_ON]->(b)
            WITH DISTINCT m
            UNWIND $validation AS id MATCH (b:Batch {batch_id: id})
            CREATE (m)-[:VALIDATED_ON]->(b)""",
               id=model_id, target=sensor.target, process=process,
               version_of_process=process_version, sponsor=sponsor,
               algorithm=sensor.card["algorithm"], version=version,
               created=datetime.now(UTC).isoformat(), metrics=_json(sensor.card["metrics"]),
               domain=_json(sensor.card["domain"]), card=_json(card), artifact=artifact,
               digest=digest, training=card["training_batches"],
               validation=card["validation_batches"])
        return StoredModel(model_id, version, card)

    with driver.session(database=database) as session:
        return session.execute_write(write)


def list_models(driver: Driver, database: str | None = None) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (m:SoftSensorModel) OPTIONAL MATCH (m)<-[:FROM_MODEL]-(e:Estimate) "
        "WITH m, count(e) AS estimates OPTIONAL MATCH (m)<-[:ABOUT_MODEL]-(d:ModelDriftEvent) "
        "RETURN m.model_id AS model_id, m.target AS target, m.process AS process, "
        "m.version AS version, m.algorithm AS algorithm, m.metrics AS metrics, "
        "m.created_at AS created_at, estimates, count(d) AS drift_events "
        "ORDER BY m.target, m.process, m.version", database_=database, routing_="r")
    return [{**dict(r), "metrics": json.loads(r["metrics"] or "{}")} for r in records]


def _stored_card(records: list, model_id: str) -> dict[str, Any]:
    """The card of the one model node ``records`` found, with when it was stored."""
    if not records:
        raise NotFoundError(f"model '{model_id}' is not stored at this site; "
                            "`twinfed site softsensor list` shows the models")
    card = json.loads(records[0]["card"])
    card["created_at"] = records[0]["created_at"].to_native().isoformat()
    return card


def model_card(driver: Driver, model_id: str, database: str | None = None) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (m:SoftSensorModel {model_id: $id}) "
        "OPTIONAL MATCH (m)<-[:ABOUT_MODEL]-(d:ModelDriftEvent) "
        "RETURN m.card AS card, m.created_at AS created_at, "
        "collect(d {.kind, .value, .limit, .n, .description}) AS drift",
        id=model_id, database_=database, routing_="r")
    card = _stored_card(records, model_id)
    card["drift_events"] = list(records[0]["drift"])
    return card


def _load_artifact(driver: Driver, label: str, model_id: str, database: str | None
                   ) -> tuple[Any, dict[str, Any]]:
    """A stored model node's fitted object and card; refuses an artifact whose hash does not
    match (``label`` is one of this module's own node labels, never user input)."""
    records, _, _ = driver.execute_query(
        f"MATCH (m:{label} {{model_id: $id}}) RETURN m.artifact AS artifact, "
        "m.artifact_sha256 AS digest, m.card AS card",
        id=model_id, database_=database, routing_="r")
    if not records:
        raise NotFoundError(f"model '{model_id}' is not stored at this site")
    artifact = bytes(records[0]["artifact"])
    if hashlib.sha256(artifact).hexdigest() != records[0]["digest"]:
        raise ValidationError(f"model '{model_id}': the stored artifact does not match its "
                              "SHA-256; retrain the model")
    return pickle.loads(artifact), json.loads(records[0]["card"])  # noqa: S301 - own store


def load_soft_sensor(driver: Driver, model_id: str, database: str | None = None
                     ) -> tuple[SoftSensor, dict[str, Any]]:
    """The fitted model and its card; refuses an artifact whose hash does not match."""
    return _load_artifact(driver, "SoftSensorModel", model_id, database)


# ---------------------------------------------------------------------------------------------
# Early-yield models: the same discipline (versioned, never overwritten, lineage, artifact hash)
# ---------------------------------------------------------------------------------------------


def save_yield_models(driver: Driver, models: YieldModels, *, process: str,
                      process_version: str, sponsor: str, database: str | None = None
                      ) -> StoredModel:
    """Store ``models`` as the next version of the (target, process) early-yield model."""
    artifact = pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(artifact).hexdigest()

    def write(tx: ManagedTransaction) -> StoredModel:
        version = _next_version(tx, "YieldModel", models.target, process)
        model_id = f"yield-{_slug(models.target)}-{_slug(process)}-v{version}"
        card = {**models.card(), "model_id": model_id, "version": version,
                "process": process, "process_version": process_version, "sponsor": sponsor,
                "artifact_sha256": digest}
        tx.run("""
            CREATE (m:YieldModel {model_id: $id, target: $target, process: $process,
              process_version: $version_of_process, sponsor: $sponsor, version: $version,
              created_at: datetime($created), card: $card, artifact: $artifact,
              artifact_sha256: $digest, kind: 'early_yield'})
            WITH m
            OPTIONAL MATCH (prev:YieldModel {target: $target, process: $process,
                                             version: $version - 1})
            FOREACH (_ IN CASE WHEN prev IS NULL THEN [] ELSE [1] END |
              CREATE (m)-[:REVISION_OF]->(prev))
            WITH m
            UNWIND $training AS id MATCH (b:Batch {batch_id: id}) CREATE (m)-[:TRAINED_ON]->(b)""",
               id=model_id, target=models.target, process=process,
               version_of_process=process_version, sponsor=sponsor, version=version,
               created=datetime.now(UTC).isoformat(), card=_json(card), artifact=artifact,
               digest=digest, training=models.training_batches)
        return StoredModel(model_id, version, card)

    with driver.session(database=database) as session:
        return session.execute_write(write)


def list_yield_models(driver: Driver, database: str | None = None) -> list[dict[str, Any]]:
    """Every version of every early-yield model, with its held-out accuracy per cut-off."""
    records, _, _ = driver.execute_query(
        "MATCH (m:YieldModel) RETURN m.model_id AS model_id, m.target AS target, "
        "m.process AS process, m.version AS version, m.card AS card, "
        "m.created_at AS created_at ORDER BY m.target, m.process, m.version",
        database_=database, routing_="r")
    return [{**{k: r[k] for k in ("model_id", "target", "process", "version", "created_at")},
             "by_fraction": json.loads(r["card"])["by_fraction"]} for r in records]


def yield_model_card(driver: Driver, model_id: str, database: str | None = None
                     ) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (m:YieldModel {model_id: $id}) RETURN m.card AS card, m.created_at AS created_at",
        id=model_id, database_=database, routing_="r")
    return _stored_card(records, model_id)


def load_yield_models(driver: Driver, model_id: str, database: str | None = None
                      ) -> tuple[YieldModels, dict[str, Any]]:
    """The fitted early-yield models and their card; refuses a tampered artifact."""
    return _load_artifact(driver, "YieldModel", model_id, database)
