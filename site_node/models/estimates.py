"""Apply a stored soft sensor to batches' spectra: estimates (with interval, domain flags and
the paired lab value) replace that model's earlier estimates of the batch, the batch gets a
new revision (so the next sync carries them), and drift is checked. On ingest, the active
(latest) version of every soft sensor of the batch's process is applied to its new spectra."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from neo4j import Driver

from bioprocess.errors import TwinfedError
from bioprocess.models.drift import DriftFinding, check_drift
from bioprocess.models.pairing import default_tolerance_h
from site_node.models.data import spectra_with_lab
from site_node.models.store import load_soft_sensor


@dataclass
class ApplyReport:
    model_id: str
    batches: int = 0
    estimates: int = 0
    out_of_domain: int = 0
    compared: int = 0
    drift: list[DriftFinding] = field(default_factory=list)
    seconds: float = 0.0


def apply_soft_sensor(driver: Driver, model_id: str, *, site_code: str,
                      batch_ids: list[str] | None = None, database: str | None = None
                      ) -> ApplyReport:
    """Estimate ``model_id``'s target for every spectrum of the batches (default: every batch
    of the model's process holding spectra)."""
    started = time.perf_counter()
    sensor, card = load_soft_sensor(driver, model_id, database)
    selection = spectra_with_lab(driver, sensor.target, process=card["process"],
                                 batch_ids=batch_ids, database=database)
    report = ApplyReport(model_id)
    for batch in selection.batches:
        estimates = sensor.apply(batch.spectra, batch.wavenumbers)
        reference = np.full(batch.t_h.size, np.nan)
        tolerance = default_tolerance_h(batch.t_h)
        for t, value in zip(batch.lab_t_h, batch.lab_values, strict=True):
            nearest = int(np.argmin(np.abs(batch.t_h - t)))
            if abs(batch.t_h[nearest] - t) <= tolerance:
                reference[nearest] = value
        rows = [{"t_h": float(t), "value": _num(v), "low": _num(lo), "high": _num(hi),
                 "t2": _num(t2), "q": _num(q), "in_domain": bool(ok), "reason": why,
                 "reference": _num(ref)}
                for t, v, lo, hi, t2, q, ok, why, ref in zip(
                    batch.t_h, estimates.value, estimates.low, estimates.high, estimates.t2,
                    estimates.q, estimates.in_domain, estimates.reason, reference, strict=True)]
        _write(driver, site_code, model_id, batch.batch_id, rows, database)
        report.batches += 1
        report.estimates += len(rows)
        report.out_of_domain += int((~estimates.in_domain).sum())
        report.compared += int(np.isfinite(reference).sum())
    report.drift = _check_and_record_drift(driver, model_id, card, database)
    report.seconds = time.perf_counter() - started
    return report


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _write(driver: Driver, site_code: str, model_id: str, batch_id: str, rows: list[dict],
           database: str | None) -> None:
    def write(tx):  # noqa: ANN001, ANN202
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev", code=site_code)  # lock
        tx.run("MATCH (:Batch {batch_id: $id})-[:HAS_ESTIMATE]->(e:Estimate {model_id: $model}) "
               "DETACH DELETE e", id=batch_id, model=model_id)
        tx.run("MATCH (b:Batch {batch_id: $id}), (m:SoftSensorModel {model_id: $model}) "
               "UNWIND $rows AS r CREATE (b)-[:HAS_ESTIMATE]->(e:Estimate {model_id: $model, "
               "t_h: r.t_h, value: r.value, low: r.low, high: r.high, t2: r.t2, q: r.q, "
               "in_domain: r.in_domain, reason: r.reason, reference: r.reference})"
               "-[:FROM_MODEL]->(m)", id=batch_id, model=model_id, rows=rows)
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 WITH s "
               "MATCH (b:Batch {batch_id: $id}) SET b.rev = s.rev", code=site_code, id=batch_id)

    with driver.session(database=database) as session:
        session.execute_write(write)


def _check_and_record_drift(driver: Driver, model_id: str, card: dict,
                            database: str | None) -> list[DriftFinding]:
    """Judge the model's estimates on batches it was not trained on; record new findings
    (one event per model and kind while the condition lasts)."""
    records, _, _ = driver.execute_query(
        "MATCH (b:Batch)-[:HAS_ESTIMATE]->(e:Estimate {model_id: $id}) "
        "WHERE NOT b.batch_id IN $training "
        "RETURN e.in_domain AS ok, e.value - e.reference AS residual "
        "ORDER BY b.start, e.t_h", id=model_id, training=card["training_batches"],
        database_=database, routing_="r")
    in_domain = np.array([bool(r["ok"]) for r in records], bool)
    residuals = np.array([r["residual"] for r in records if r["ok"] and r["residual"] is not None],
                         float)
    findings = check_drift(in_domain, residuals, rmsecv=float(card["metrics"]["rmsecv"]),
                           unit=card.get("unit", ""))
    for finding in findings:
        driver.execute_query(
            "MATCH (m:SoftSensorModel {model_id: $id}) "
            "WHERE NOT EXISTS { (m)<-[:ABOUT_MODEL]-(:ModelDriftEvent {kind: $kind}) } "
            "CREATE (m)<-[:ABOUT_MODEL]-(:ModelDriftEvent {event_id: $event, model_id: $id, "
            "kind: $kind, raised_at: datetime($at), value: $value, limit: $limit, n: $n, "
            "description: $text})",
            id=model_id, kind=finding.kind, event=str(uuid.uuid4()),
            at=datetime.now(UTC).isoformat(), value=finding.value, limit=finding.limit,
            n=finding.n, text=finding.description, database_=database)
    return findings


@dataclass(frozen=True)
class IngestEstimates:
    """What the active version of one soft sensor estimated on a newly ingested batch; on
    failure ``error`` says why (the batch itself is stored either way)."""

    batch_id: str
    model_id: str
    estimates: int = 0
    out_of_domain: int = 0
    drift: tuple[str, ...] = ()
    error: str | None = None


def active_models(driver: Driver, batch_id: str, database: str | None = None) -> list[str]:
    """The latest version of every soft sensor of the batch's process — none when the batch
    holds no spectra."""
    records, _, _ = driver.execute_query(
        "MATCH (b:Batch {batch_id: $id}) WHERE EXISTS { (b)-[:HAS_SPECTRA]->() } "
        "MATCH (m:SoftSensorModel {process: b.process}) "
        "WITH m.target AS target, max(m.version) AS version, b.process AS process "
        "MATCH (m:SoftSensorModel {target: target, process: process, version: version}) "
        "RETURN m.model_id AS id ORDER BY id", id=batch_id, database_=database, routing_="r")
    return [r["id"] for r in records]


def estimate_ingested_batch(driver: Driver, batch_id: str, *, site_code: str,
                            database: str | None = None) -> list[IngestEstimates]:
    """Apply every active soft sensor of the batch's process to its spectra (on ingest).

    Each model's estimates of the batch are written in one transaction (all or none), so a
    model that fails leaves the batch as ingested and its earlier estimates as they were; the
    failure is returned, never raised — the ingest of the batch has already succeeded.
    """
    results = []
    for model_id in active_models(driver, batch_id, database):
        try:
            report = apply_soft_sensor(driver, model_id, site_code=site_code,
                                       batch_ids=[batch_id], database=database)
        except Exception as exc:  # noqa: BLE001 - any model failure is reported, not raised
            detail = str(exc) if isinstance(exc, TwinfedError) else f"{type(exc).__name__}: {exc}"
            results.append(IngestEstimates(batch_id, model_id, error=detail))
        else:
            results.append(IngestEstimates(batch_id, model_id, report.estimates,
                                           report.out_of_domain,
                                           tuple(f.description for f in report.drift)))
    return results
