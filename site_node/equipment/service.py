"""Compute equipment health at the site: indicators per asset and batch, drift, actions.

Which asset a batch's data speak about: the vessel of each unit operation, i.e. the
equipment it uses that has a working volume (instruments and actuators fitted to the
vessel — its DO probe, sparger, base pump — are judged through it; the ``component`` of
each indicator says which). Tags become parameters through the site's alignment
(:mod:`site_node.equipment.roles`); indicators and drift come from
:mod:`bioprocess.equipment_health`.

Results are owned by batches, like the analysis results: each batch holds its
``EquipmentIndicator`` nodes, and each drift event is held by the latest batch of its
evidence (``EVIDENCE`` links all of them). A batch whose equipment results changed gets a
new site revision, so the next sync carries them to the federation.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from neo4j import Driver, ManagedTransaction

from bioprocess.equipment_health.drift import DriftAssessment, DriftRule, assess_drift
from bioprocess.equipment_health.indicators import INDICATORS, batch_indicators
from bioprocess.equipment_health.trend import robust_sigma
from site_node.equipment.roles import ParameterRoles, load_roles

_USES = """
MATCH (b:Batch)-[:HAS_UNIT_OPERATION]->(:UnitOperation)-[:USES_EQUIPMENT]->(q:Equipment)
WHERE q.working_volume_l IS NOT NULL AND b.status IN ['complete', 'aborted', 'rejected']
RETURN DISTINCT q.equipment_id AS asset, q.kind AS kind, b.batch_id AS batch_id,
       b.start AS start, b.process AS process, b.sponsor AS sponsor
ORDER BY asset, process, start, batch_id
"""
_SERIES = """
MATCH (b:Batch)-[:HAS_SERIES]->(ts:TimeSeries)
WHERE b.batch_id IN $ids AND ts.tag IN $tags
RETURN b.batch_id AS batch_id, ts.tag AS tag, ts.t AS t, ts.v AS v
"""
_LAB = """
MATCH (b:Batch)-[:HAS_LAB_RESULT]->(l:LabResult)
WHERE b.batch_id IN $ids AND l.analyte IN $tags
RETURN b.batch_id AS batch_id, l.analyte AS tag, collect([l.t_h, l.value]) AS samples
"""


@dataclass
class AssetHealth:
    """One asset's batches of one process, in order: indicator values and assessments.

    Drift is judged per asset *and process*: indicators such as controller effort depend on
    the culture, and a process belongs to one sponsor, so the evidence of a drift event
    never mixes sponsors' batches (nor lands in a graph another sponsor's users cannot see).
    """

    asset: str
    kind: str
    batches: list[str]
    indicators: dict[str, dict[str, float]]  # batch_id -> indicator -> value
    assessments: list[DriftAssessment] = field(default_factory=list)
    process: str = ""

    @property
    def drifts(self) -> list[DriftAssessment]:
        return [a for a in self.assessments if a.drifting]


@dataclass
class HealthReport:
    """What ``twinfed site equipment health`` computed."""

    site: str
    assets: list[AssetHealth]
    notes: list[str]
    changed_batches: list[str] = field(default_factory=list)

    @property
    def drifts(self) -> list[DriftAssessment]:
        return [d for a in self.assets for d in a.drifts]


def _series_by_batch(driver: Driver, ids: list[str], tags: list[str],
                     database: str | None) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    rows, _, _ = driver.execute_query(_SERIES, ids=ids, tags=tags, database_=database,
                                      routing_="r")
    for r in rows:
        out[r["batch_id"]][r["tag"]] = (np.asarray(r["t"], float), np.asarray(r["v"], float))
    rows, _, _ = driver.execute_query(_LAB, ids=ids, tags=tags, database_=database,
                                      routing_="r")
    for r in rows:
        samples = np.array(sorted(s for s in r["samples"] if s[0] is not None),
                           dtype=float).reshape(-1, 2)
        out[r["batch_id"]][r["tag"]] = (samples[:, 0], samples[:, 1])
    return out


def compute_health(driver: Driver, site_code: str, *, rule: DriftRule | None = None,
                   roles: ParameterRoles | None = None,
                   database: str | None = None) -> HealthReport:
    """Indicators of every vessel asset in every batch it ran, and drift per indicator."""
    units_rows, _, _ = driver.execute_query("MATCH (t:Tag) RETURN t.name AS name, "
                                            "t.unit AS unit", database_=database, routing_="r")
    roles = roles or load_roles(site_code, {r["name"]: r["unit"] for r in units_rows})
    uses, _, _ = driver.execute_query(_USES, database_=database, routing_="r")
    by_asset: dict[tuple[str, str], AssetHealth] = {}
    for r in uses:
        key = (r["asset"], r["process"] or "")
        health = by_asset.setdefault(key, AssetHealth(r["asset"], r["kind"] or "", [], {},
                                                      process=key[1]))
        health.batches.append(r["batch_id"])
    ids = sorted({b for h in by_asset.values() for b in h.batches})
    series = _series_by_batch(driver, ids, sorted(roles.roles), database) if ids else {}
    per_batch = {b: batch_indicators(roles.signals(series.get(b, {}))) for b in ids}
    for health in by_asset.values():
        health.indicators = {b: per_batch[b] for b in health.batches}
    _assess(list(by_asset.values()), rule or DriftRule())
    notes = list(roles.notes)
    if not roles.roles:
        notes.append("no tag has a parameter role: no indicator can be computed")
    return HealthReport(site_code, sorted(by_asset.values(), key=lambda h: (h.asset, h.process)),
                        notes)


def _assess(assets: list[AssetHealth], rule: DriftRule) -> None:
    """Drift per asset and indicator; the noise scale is pooled over assets of one kind."""
    groups: dict[tuple[str, str], list[tuple[AssetHealth, list[str], list[float]]]] = (
        defaultdict(list))
    for health in assets:
        for name in INDICATORS:
            batches = [b for b in health.batches if name in health.indicators[b]]
            if batches:
                values = [health.indicators[b][name] for b in batches]
                groups[(health.kind, name)].append((health, batches, values))
    for (_, name), members in sorted(groups.items()):
        sigma = robust_sigma([v for _, _, v in members]) or 0.0
        for health, batches, values in members:
            if len(batches) >= rule.min_batches:
                health.assessments.append(
                    assess_drift(health.asset, name, batches, values, sigma, rule))


def _payloads(report: HealthReport) -> dict[str, dict[str, Any]]:
    payloads: dict[str, dict[str, Any]] = {}
    for health in report.assets:
        for batch_id in health.batches:
            p = payloads.setdefault(batch_id, {"batch_id": batch_id, "indicators": [],
                                               "drifts": []})
            for name, value in sorted(health.indicators[batch_id].items()):
                spec = INDICATORS[name]
                p["indicators"].append({"asset": health.asset, "indicator": name,
                                        "component": spec.component, "value": float(value),
                                        "unit": spec.unit})
    for health in report.assets:
        for d in health.drifts:
            payloads[d.batches[-1]]["drifts"].append(drift_record(d, health.kind, health.process))
    for p in payloads.values():
        p["hash"] = hashlib.sha256(json.dumps(
            {"i": p["indicators"], "d": p["drifts"]}, sort_keys=True,
            default=lambda x: round(x, 9) if isinstance(x, float) else x).encode()).hexdigest()
    return payloads


def drift_record(d: DriftAssessment, kind: str, process: str = "") -> dict[str, Any]:
    """A drift assessment as the properties of its ``EquipmentDriftEvent`` node."""
    return {
        "event_id": f"{d.asset}/{process}/{d.indicator}", "asset": d.asset,
        "asset_kind": kind, "process": process,
        "indicator": d.indicator, "component": d.component, "unit": d.unit, "rule": d.rule,
        "detected_batch": d.batches[d.detected_index] if d.detected_index is not None else None,
        "change_batch": d.batches[d.change_index] if d.change_index is not None else None,
        "batches": list(d.batches), "values": [float(v) for v in d.values],
        "slope_per_batch": d.slope_per_batch, "intercept": d.intercept, "mk_s": d.mk_s,
        "mk_p": d.mk_p, "cusum_max": d.cusum_max, "sigma": d.sigma, "baseline": d.baseline,
        "limit": d.limit, "latest_fitted": d.latest_fitted,
        "batches_to_limit": d.batches_to_limit, "recommendation": d.recommendation(),
    }


def store_health(driver: Driver, report: HealthReport, *,
                 database: str | None = None) -> list[str]:
    """Replace the equipment results of every batch whose results changed; bump their rev."""
    payloads = _payloads(report)

    def work(tx: ManagedTransaction) -> list[str]:
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev", code=report.site)  # lock
        hashes = {r["id"]: r["hash"] for r in tx.run(
            "MATCH (b:Batch) WHERE b.batch_id IN $ids RETURN b.batch_id AS id, "
            "b.equipment_hash AS hash", ids=list(payloads))}
        changed = [p for p in payloads.values() if hashes.get(p["batch_id"]) != p["hash"]]
        if not changed:
            return []
        tx.run("UNWIND $batches AS p MATCH (b:Batch {batch_id: p.batch_id}) "
               "OPTIONAL MATCH (b)-[:HAS_EQUIPMENT_INDICATOR|HAS_EQUIPMENT_DRIFT]->(old) "
               "DETACH DELETE old", batches=changed)
        tx.run(
            "UNWIND $batches AS p MATCH (b:Batch {batch_id: p.batch_id}) "
            "CALL (b, p) { UNWIND p.indicators AS i MATCH (q:Equipment {equipment_id: i.asset}) "
            "  CREATE (b)-[:HAS_EQUIPMENT_INDICATOR]->(:EquipmentIndicator {asset: i.asset, "
            "    indicator: i.indicator, component: i.component, value: i.value, "
            "    unit: i.unit})-[:OF_EQUIPMENT]->(q) } "
            "CALL (b, p) { UNWIND p.drifts AS d MATCH (q:Equipment {equipment_id: d.asset}) "
            "  CREATE (b)-[:HAS_EQUIPMENT_DRIFT]->(e:EquipmentDriftEvent)-[:OF_EQUIPMENT]->(q) "
            "  SET e = d "
            "  WITH e, d UNWIND d.batches AS eb MATCH (x:Batch {batch_id: eb}) "
            "  CREATE (e)-[:EVIDENCE]->(x) } "
            "SET b.equipment_hash = p.hash", batches=changed)
        for p in changed:
            tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 WITH s "
                   "MATCH (b:Batch {batch_id: $id}) SET b.rev = s.rev",
                   code=report.site, id=p["batch_id"])
        return [p["batch_id"] for p in changed]

    with driver.session(database=database) as session:
        return session.execute_write(work)


def update_equipment_health(driver: Driver, site_code: str, *, rule: DriftRule | None = None,
                            database: str | None = None) -> HealthReport:
    """Compute and store: the whole job of ``twinfed site equipment health``."""
    report = compute_health(driver, site_code, rule=rule, database=database)
    report.changed_batches = store_health(driver, report, database=database)
    return report


_DRIFTS = """
MATCH (e:EquipmentDriftEvent)
OPTIONAL MATCH (e)-[:EVIDENCE]->(b:Batch)
OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d:Deviation)
OPTIONAL MATCH (b)-[:HAS_DEVIATION_EVENT]->(de:DeviationEvent)
WITH e, b, count(DISTINCT d) AS records, count(DISTINCT de) AS events
RETURN e {.*} AS event,
       collect({batch_id: b.batch_id, deviations: records, deviation_events: events}) AS batches
ORDER BY event.asset, event.indicator
"""


def stored_drifts(driver: Driver, *, database: str | None = None) -> list[dict[str, Any]]:
    """Drift events stored at the site, with per evidence batch its deviation counts."""
    rows, _, _ = driver.execute_query(_DRIFTS, database_=database, routing_="r")
    return [{**dict(r["event"]), "evidence": [b for b in r["batches"] if b["batch_id"]]}
            for r in rows]
